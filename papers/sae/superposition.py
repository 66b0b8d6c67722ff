"""Toy models of superposition (Elhage et al. 2022): x' = ReLU(W^T W x + b), W (m hidden, n features).

Loss: sum_i importance_i (x_i - x'_i)^2, averaged over the batch (the paper's importance-weighted MSE).
Dimensions per feature (their Section "Feature Dimensionality"): D* = m / ||W||_F^2 for the whole model and
D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2 per feature (W_i the i-th column); an antipodal pair gives 1/2 each.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from papers.sae.toy_data import superposition_batch
from repro import fit


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


def instances_objective(n_features: int, m_hidden: int, p_active, importance, *, batch: int = 1024,
                        lr: float = 1e-3):
    """(graphdef, objective) of one toy model per feature probability in ``p_active`` trained together: AdamW on the
    summed importance-weighted losses, each batch (batch, instances, n) fresh from the step's key."""
    p_active = jnp.asarray(p_active)
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: ToyModel(n_features, m_hidden, rngs=nnx.Rngs(params=0))))
    imp = jnp.asarray(importance)

    def loss_all(p, x, _):  # x: (batch, instances, n)
        per = jax.vmap(lambda q, xi: importance_loss(nnx.merge(graphdef, q), xi, imp), in_axes=(0, 1))(p, x)
        per = per.astype(jnp.float32)
        return per.sum(), per

    return graphdef, fit.Objective(
        loss=loss_all, optimizer=optax.adamw(lr),
        batch=lambda k, _: superposition_batch(k, n_features, batch, p_active),
        after_update=lambda p, e, loss, per, x, t: (p, e, {"loss": per.mean()}))


def init_instances(key, n_features: int, m_hidden: int, n_instances: int):
    """Each instance's parameters from its own key, stacked on a leading axis."""
    return jax.vmap(lambda k: nnx.state(ToyModel(n_features, m_hidden, rngs=nnx.Rngs(params=k)), nnx.Param))(
        jax.random.split(key, n_instances))


def fit_instances(key, n_features: int, m_hidden: int, p_active, importance, *, steps: int, batch: int = 1024,
                  lr: float = 1e-3, mesh=None, precision: str = "fp32"):
    """Train one toy model per feature probability in ``p_active`` (the paper's instances), AdamW, one jitted scan.
    With a device mesh the parameters are replicated and each batch is split over the devices (repro/parallel.py).
    Returns the stacked W (instances, m, n) and b (instances, n), and the per-step mean loss."""
    n_inst = jnp.asarray(p_active).shape[0]
    k_init, k_data = jax.random.split(key)
    params = init_instances(k_init, n_features, m_hidden, n_inst)
    _, objective = instances_objective(n_features, m_hidden, p_active, importance, batch=batch, lr=lr)
    objective = dataclasses.replace(objective, precision=precision)          # train.precision (repro/precision.py)
    state, rows = fit.run_all(objective, objective.init(params), steps=steps, data_key=k_data, mesh=mesh)
    params, losses = state.params, rows["loss"]
    return np.asarray(params["w"][...]), np.asarray(params["b"][...]), np.asarray(losses)
