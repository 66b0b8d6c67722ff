"""Hyena's implicit long convolution (Poli et al. 2023, Section 3.3) as an inner layer of Mamba Table 1.

Each of H channels convolves its whole past with a filter as long as the sequence. The filter is not stored tap by
tap: it is a function of the position, an FFN of a positional encoding, times an exponentially decaying window
(Hyena, eq. 7 and Appendix D.2):

    z_t = [t / L, cos(2 pi k t / L), sin(2 pi k t / L)]_{k=1..K}          (positional encoding, 2K+1 features)
    h_t = exp(-alpha_c * t / L) * FFN(z_t)                                  (FFN: Linear-Sin-Linear-Sin-Linear)
    y   = h * u + D u                                                       (causal convolution, by FFT)

Sin(x) = sin(w x) with a trained frequency w per unit. Defaults as the Hyena code's HyenaFilter: emb_dim 3 (K = 1),
FFN width ("order") 16, w = 1, the skip D drawn from N(0, 1); the decay rates alpha_c spread evenly over the channels
between its "fast" and "slow" decays (a window that falls to 1e-2 at 30% and at 150% of the sequence). Ours takes the
band frequencies k = 1..K and t / L; the code spaces its frequencies from 1e-4 to K-1 and normalises t by L-1.
Mamba Table 1 runs it in place of the SSM of the H3 architecture (the Hyena row) and of the Mamba block.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from papers.mamba.causal_conv import causal_conv_fft


class Sin(nnx.Module):
    def __init__(self, width: int, freq: float = 1.0):
        self.freq = nnx.Param(freq * jnp.ones((width,)))

    def __call__(self, x):
        return jnp.sin(self.freq[...] * x)


class HyenaFilter(nnx.Module):
    """The implicit long convolution of one Hyena order (H channels)."""

    FP32_PARAMS = ("ffn", "D")        # the implicit filter and the skip stay float32 under train.precision=bf16

    def __init__(self, channels: int, *, bands: int = 1, width: int = 16, freq: float = 1.0,
                 fast_decay: float = 0.3, slow_decay: float = 1.5, target: float = 1e-2, rngs: nnx.Rngs):
        self.bands = bands
        emb = 2 * bands + 1
        self.ffn = nnx.List([nnx.Linear(emb, width, rngs=rngs), Sin(width, freq),
                             nnx.Linear(width, width, rngs=rngs), Sin(width, freq),
                             nnx.Linear(width, channels, use_bias=False, rngs=rngs)])
        # window exp(-alpha t/L): alpha_c from -ln(target)/slow to -ln(target)/fast, one per channel
        self.alpha = nnx.Variable(jnp.linspace(-math.log(target) / slow_decay, -math.log(target) / fast_decay,
                                               channels))
        self.D = nnx.Param(jax.random.normal(rngs.params(), (channels,)))

    def positions(self, length: int):
        t = jnp.arange(length, dtype=jnp.float32)[:, None]
        k = jnp.arange(1, self.bands + 1, dtype=jnp.float32)[None, :]
        angle = 2.0 * math.pi * k * t / length
        return jnp.concatenate([t / length, jnp.cos(angle), jnp.sin(angle)], axis=1)      # (L, 2K+1)

    def filter(self, length: int):
        """h: (L, H), the filter for sequences of ``length`` tokens."""
        z = self.positions(length)
        for f in self.ffn:
            z = f(z)
        t = jnp.arange(length, dtype=jnp.float32)[:, None] / length
        return z * jnp.exp(-self.alpha[...] * t)

    def __call__(self, u):
        """u: (batch, L, H) -> (batch, L, H), computed in float32, returned in u's precision."""
        u32 = u.astype(jnp.float32)
        return (causal_conv_fft(u32, self.filter(u.shape[1])) + u32 * self.D[...]).astype(u.dtype)
