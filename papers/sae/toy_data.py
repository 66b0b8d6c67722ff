"""Synthetic data with known ground truth, deterministic per seed.

- Sharkey, Braun & Millidge 2022: 512 unit-norm feature directions drawn from N(0, I) in 256 dimensions (not
  orthogonal); feature i is active with probability 0.99^i * 5/512 (a decaying profile), with magnitude U(0, 1); the
  correlated variant draws a per-example probability vector by pushing a correlated normal through its CDF.
- Elhage et al. 2022 (toy models of superposition): each of n features is, independently, zero with probability
  1 - p and U(0, 1) otherwise; importance 0.9^i weights the reconstruction loss.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.stats import norm


def feature_directions(key, n_features: int = 512, dim: int = 256) -> jax.Array:
    d = jax.random.normal(key, (n_features, dim))
    return d / jnp.linalg.norm(d, axis=1, keepdims=True)


def activation_probabilities(n_features: int = 512, decay: float = 0.99, mean_active: float = 5.0) -> jax.Array:
    return decay ** jnp.arange(n_features) * mean_active / n_features


def correlation_factor(key, n_features: int = 512) -> jax.Array:
    """A random correlation matrix's Cholesky factor (for the correlated variant)."""
    a = jax.random.normal(key, (n_features, n_features)) / jnp.sqrt(n_features)
    cov = a @ a.T + jnp.eye(n_features)
    d = jnp.sqrt(jnp.diag(cov))
    return jnp.linalg.cholesky(cov / d[:, None] / d[None, :])


def sharkey_batch(key, directions, probs, batch: int, chol=None):
    """(x (batch, dim), coefficients (batch, n_features)). With ``chol``, feature activity is correlated: a
    correlated standard normal z per example, active where Phi(z) < p (marginals stay p)."""
    k_on, k_mag = jax.random.split(key)
    n = probs.shape[0]
    if chol is None:
        active = jax.random.uniform(k_on, (batch, n)) < probs
    else:
        z = jax.random.normal(k_on, (batch, n)) @ chol.T
        active = norm.cdf(z) < probs
    coef = jnp.where(active, jax.random.uniform(k_mag, (batch, n)), 0.0)
    return coef @ directions, coef


def superposition_batch(key, n_features: int, batch: int, p_active):
    """Toy-model inputs: (batch, [instances,] n_features); ``p_active`` scalar or one per instance.

    One 32-bit random word per entry gives both 16-bit uniforms (on/off and magnitude): half the random bits of two
    draws, which matters on CPU where threefry dominates a toy model's step."""
    p = jnp.asarray(p_active)
    shape = (batch, *p.shape, n_features)
    bits = jax.random.bits(key, shape, jnp.uint32)
    u_on = (bits >> 16).astype(jnp.float32) / 65536.0
    u_mag = ((bits & 0xFFFF).astype(jnp.float32) + 0.5) / 65536.0
    return jnp.where(u_on < p[..., None], u_mag, 0.0)
