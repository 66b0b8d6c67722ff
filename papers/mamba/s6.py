"""The S6 layer: a selective SSM whose delta, B and C depend on the input (Mamba, Algorithm 2).

Initialisation as the authors' reference code: A = -exp(A_log) with A_log = log(1..N) per channel (S4D-Real),
D = 1, delta = softplus(dt_proj(x) + bias) with the bias the inverse softplus of dt ~ LogUniform[1e-3, 1e-1]
(floor 1e-4), dt_proj weights uniform in +-dt_rank^-1/2.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from papers.mamba.selective_scan import selective_scan


class S6(nnx.Module):
    def __init__(self, channels: int, n_state: int = 16, dt_rank: int | None = None, dt_min: float = 1e-3,
                 dt_max: float = 1e-1, dt_floor: float = 1e-4, scan_method: str = "auto", *, rngs: nnx.Rngs):
        self.n_state = n_state
        self.dt_rank = dt_rank or math.ceil(channels / 16)
        self.scan_method = scan_method
        self.x_proj = nnx.Linear(channels, self.dt_rank + 2 * n_state, use_bias=False, rngs=rngs)
        bound = self.dt_rank ** -0.5
        self.dt_proj = nnx.Linear(self.dt_rank, channels, rngs=rngs,
                                  kernel_init=nnx.initializers.uniform(2 * bound))
        self.dt_proj.kernel[...] = self.dt_proj.kernel[...] - bound  # uniform(-bound, bound)
        u = jax.random.uniform(rngs.params(), (channels,))
        dt = jnp.maximum(jnp.exp(math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min))), dt_floor)
        self.dt_proj.bias[...] = dt + jnp.log(-jnp.expm1(-dt))  # inverse softplus
        self.A_log = nnx.Param(jnp.log(jnp.broadcast_to(jnp.arange(1, n_state + 1, dtype=jnp.float32),
                                                        (channels, n_state))))
        self.D = nnx.Param(jnp.ones((channels,), jnp.float32))

    # kept in float32 under train.precision=bf16 (repro/precision.py), as the reference code keeps A_log, D and the
    # delta bias (dt_proj's bias is added inside its float32 scan)
    FP32_PARAMS = ("A_log", "D", "dt_proj")

    def __call__(self, x):
        """x: (batch, L, channels) -> (batch, L, channels). The projections run in x's precision, delta (softplus)
        and the selective scan in float32, the output in x's precision."""
        dt, B, C = jnp.split(self.x_proj(x), [self.dt_rank, self.dt_rank + self.n_state], axis=-1)
        delta = jax.nn.softplus(self.dt_proj(dt).astype(jnp.float32))
        A = -jnp.exp(self.A_log[...])
        return selective_scan(x, delta, A, B, C, self.D[...], method=self.scan_method).astype(x.dtype)  # f32 inside
