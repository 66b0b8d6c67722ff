"""S4D: the diagonal state-space layer (Gu, Gupta, Goel, Re 2022), as Mamba's LTI "S4" inner layer.

Each of H channels has a diagonal state matrix A (M modes), B = 1, a trained output vector C and step delta:

    recurrent view (ZOH):  h_t = exp(delta A) h_{t-1} + (exp(delta A) - 1) / A * u_t ;  y_t = c Re(<C, h_t>) + D u_t
    convolution view:      K_l = c Re( sum_n C_n (exp(delta A_n) - 1) / A_n * exp(l delta A_n) ) ;  y = K * u + D u

with c = 2 for the complex inits (M = N/2 modes standing for conjugate pairs) and c = 1 for S4D-Real (M = N real modes)
(S4D paper, Eq. 5 and Section 3). The convolution is applied by FFT with padding to 2L. Parameters stay fp32.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from papers.mamba.causal_conv import causal_conv_fft

INITS = ("lin", "inv", "real")


def init_A(init: str, n_state: int):
    """Diagonal A for the S4D inits (S4D paper, Section 4.1; the S4D code keeps the pi in S4D-Lin)."""
    if init == "lin":
        n = jnp.arange(n_state // 2)
        return -0.5 * jnp.ones(n_state // 2), math.pi * n
    if init == "inv":
        n = jnp.arange(n_state // 2)
        return -0.5 * jnp.ones(n_state // 2), (n_state / math.pi) * (n_state / (2 * n + 1) - 1)
    if init == "real":
        return -(jnp.arange(n_state) + 1.0), jnp.zeros(n_state)
    raise ValueError(f"unknown S4D init {init!r}; valid: {', '.join(INITS)}")


class S4D(nnx.Module):
    def __init__(self, channels: int, n_state: int = 64, init: str = "lin", dt_min: float = 1e-3,
                 dt_max: float = 1e-1, *, rngs: nnx.Rngs):
        a_re, a_im = init_A(init, n_state)
        modes = a_re.shape[0]
        self.complex = init != "real"
        self.log_neg_a_re = nnx.Param(jnp.log(-jnp.broadcast_to(a_re, (channels, modes))).astype(jnp.float32))
        a_im = jnp.broadcast_to(a_im, (channels, modes)).astype(jnp.float32)
        self.a_im = nnx.Param(a_im) if self.complex else nnx.Variable(a_im)
        scale = math.sqrt(0.5) if self.complex else 1.0
        self.c_re = nnx.Param(scale * jax.random.normal(rngs.params(), (channels, modes)))
        self.c_im = nnx.Param(scale * jax.random.normal(rngs.params(), (channels, modes)) if self.complex
                              else jnp.zeros((channels, modes)))
        u = jax.random.uniform(rngs.params(), (channels,))
        self.log_dt = nnx.Param(math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min)))
        self.D = nnx.Param(jnp.ones((channels,)))

    # the SSM's parameters stay float32 under train.precision=bf16 (repro/precision.py)
    FP32_PARAMS = ("log_neg_a_re", "a_im", "c_re", "c_im", "log_dt", "D")

    def _discrete(self):
        A = -jnp.exp(self.log_neg_a_re[...]) + 1j * self.a_im[...]
        dtA = jnp.exp(self.log_dt[...])[:, None] * A
        C = self.c_re[...] + 1j * self.c_im[...]
        return dtA, (jnp.exp(dtA) - 1.0) / A, C, (2.0 if self.complex else 1.0)

    def kernel(self, length: int):
        """K of shape (H, L): the convolution view (S4D paper, Eq. 5; Vandermonde form)."""
        dtA, B_bar, C, c = self._discrete()
        powers = jnp.exp(dtA[:, :, None] * jnp.arange(length))  # (H, M, L)
        return c * jnp.real(jnp.einsum("hm,hml->hl", C * B_bar, powers))

    def __call__(self, u):
        """u: (batch, L, H) -> (batch, L, H) by FFT convolution, in float32, returned in u's precision."""
        u32 = u.astype(jnp.float32)
        return (causal_conv_fft(u32, self.kernel(u.shape[1]).T) + u32 * self.D[...]).astype(u.dtype)

    def recurrent(self, u):
        """The same map run as a recurrence (the recurrent view); used for tests and step-by-step inference."""
        u = u.astype(jnp.float32)
        dtA, B_bar, C, c = self._discrete()
        A_bar = jnp.exp(dtA)

        def step(h, u_t):  # h: (batch, H, M) complex
            h = A_bar * h + B_bar * u_t[..., None]
            return h, c * jnp.real(jnp.einsum("bhm,hm->bh", h, C))

        h0 = jnp.zeros((u.shape[0],) + A_bar.shape, jnp.complex64)
        _, y = jax.lax.scan(step, h0, jnp.swapaxes(u, 0, 1))
        return jnp.swapaxes(y, 0, 1) + u * self.D[...]
