"""Toy models of superposition (Elhage et al. 2022): x' = ReLU(W^T W x + b), W (m hidden, n features).

Loss: sum_i importance_i (x_i - x'_i)^2, averaged over the batch (the paper's importance-weighted MSE).
Dimensions per feature (their Section "Feature Dimensionality"): D* = m / ||W||_F^2 for the whole model and
D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2 per feature (W_i the i-th column); an antipodal pair gives 1/2 each.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


class ToyModel(nnx.Module):
    def __init__(self, n_features: int, m_hidden: int, *, rngs: nnx.Rngs):
        self.w = nnx.Param(nnx.initializers.xavier_normal()(rngs.params(), (m_hidden, n_features)))
        self.b = nnx.Param(jnp.zeros((n_features,)))

    def __call__(self, x):
        h = x @ self.w[...].T
        return jax.nn.relu(h @ self.w[...] + self.b[...])


def importance_loss(model: ToyModel, x, importance):
    return jnp.mean(jnp.sum(importance * (x - model(x)) ** 2, -1))


def dimensions_per_feature(w) -> np.ndarray:
    """D_i for every feature (column of w); 0 for features the model does not represent (zero column)."""
    w = np.asarray(w, np.float64)
    norms2 = np.sum(w ** 2, 0)
    unit = w / np.maximum(np.sqrt(norms2), 1e-12)
    overlap = (unit.T @ w) ** 2                       # (i, j): (W_i_hat . W_j)^2
    return np.where(norms2 > 1e-12, norms2 / np.maximum(overlap.sum(1), 1e-12), 0.0)


def dimensions_per_feature_total(w) -> float:
    """D* = m / ||W||_F^2."""
    w = np.asarray(w, np.float64)
    return float(w.shape[0] / np.sum(w ** 2))
