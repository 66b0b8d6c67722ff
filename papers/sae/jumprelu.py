"""JumpReLU SAE (Rajamanoharan et al. 2024, "Jumping Ahead"): z = pre * H(pre - theta), theta = exp(log_theta) > 0
per latent, trained on ||x - x_hat||^2 + lambda * L0 with straight-through pseudo-derivatives (their eq. 11-12):
with the rectangle kernel K(u) = 1{|u| < 1/2} and bandwidth eps,

    d JumpReLU / d theta = -(theta / eps) K((pre - theta) / eps)      d H(pre - theta) / d theta = -(1/eps) K(...)

and no gradient to ``pre`` through the step (H is treated as a constant there).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx


def _rect(u):
    return (jnp.abs(u) < 0.5).astype(u.dtype)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def jumprelu(pre, theta, eps):
    return pre * (pre > theta)


def _jr_fwd(pre, theta, eps):
    return jumprelu(pre, theta, eps), (pre, theta, eps)


def _jr_bwd(eps, res, g):
    pre, theta, _ = res
    d_pre = g * (pre > theta)
    d_theta = g * (-(theta / eps) * _rect((pre - theta) / eps))
    d_theta = jnp.sum(d_theta.reshape(-1, theta.shape[-1]), 0)
    return d_pre, d_theta


jumprelu.defvjp(_jr_fwd, _jr_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def step(pre, theta, eps):
    return (pre > theta).astype(pre.dtype)


def _st_fwd(pre, theta, eps):
    return step(pre, theta, eps), (pre, theta, eps)


def _st_bwd(eps, res, g):
    pre, theta, _ = res
    d_theta = jnp.sum((g * (-(1.0 / eps) * _rect((pre - theta) / eps))).reshape(-1, theta.shape[-1]), 0)
    return jnp.zeros_like(pre), d_theta


step.defvjp(_st_fwd, _st_bwd)


class JumpReluSAE(nnx.Module):
    FP32_PARAMS = ("log_theta",)      # the thresholds stay float32 under train.precision=bf16 (repro/precision.py)

    def __init__(self, d: int, n_latents: int, *, rngs: nnx.Rngs, init_threshold: float = 0.001):
        w = jax.random.normal(rngs.params(), (n_latents, d))
        w = w / jnp.linalg.norm(w, axis=-1, keepdims=True)
        self.w_dec = nnx.Param(w)
        self.w_enc = nnx.Param(w.T)
        self.b_enc = nnx.Param(jnp.zeros((n_latents,)))
        self.b_dec = nnx.Param(jnp.zeros((d,)))
        self.log_theta = nnx.Param(jnp.full((n_latents,), jnp.log(init_threshold)))

    def pre_activations(self, x):
        return (x - self.b_dec[...]) @ self.w_enc[...] + self.b_enc[...]

    def __call__(self, x, eps: float = 0.001):
        pre = self.pre_activations(x)
        z = jumprelu(pre, jnp.exp(self.log_theta[...]), eps)
        return z @ self.w_dec[...] + self.b_dec[...], z


def jumprelu_loss(model: JumpReluSAE, x, l0_coef: float, eps: float = 0.001):
    """Mean over the batch of ||x - x_hat||^2 + l0_coef * ||z||_0 (the L0 term differentiable through ``step``)."""
    pre = model.pre_activations(x)
    theta = jnp.exp(model.log_theta[...])
    z = jumprelu(pre, theta, eps)
    x_hat = z @ model.w_dec[...] + model.b_dec[...]
    l0 = jnp.mean(jnp.sum(step(pre, theta, eps), -1))
    return jnp.mean(jnp.sum((x - x_hat).astype(jnp.float32) ** 2, -1)) + l0_coef * l0.astype(jnp.float32), (x_hat, z)
