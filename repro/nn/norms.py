"""Normalisation layers."""
import jax
import jax.numpy as jnp
from flax import nnx


class RMSNorm(nnx.Module):
    """RMSNorm (Zhang & Sennrich 2019): x / rms(x) * weight, computed in fp32."""

    FP32_PARAMS = ("weight",)         # stays float32 under train.precision=bf16 (repro/precision.py)

    def __init__(self, dim: int, eps: float = 1e-5):
        self.weight = nnx.Param(jnp.ones((dim,), jnp.float32))
        self.eps = eps

    def __call__(self, x):
        x32 = x.astype(jnp.float32)
        return (x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps) * self.weight[...]).astype(
            x.dtype
        )
