"""Causal per-channel convolution, y_t = sum_{s<W} w_s x_{t-s}: written out as W shifted multiply-adds (Mamba's
4-tap convolution; the reference for tests of long ones) and by FFT (S4D's and Hyena's long convolutions, H3's
64-tap shift SSM)."""
from __future__ import annotations

import jax.numpy as jnp


def causal_taps(x, w):
    """x: (batch, L, H), w: (W, H) with w[s] multiplying x_{t-s}; XLA's grouped convolution is several times slower
    on CPU. O(L W)."""
    width, length = w.shape[0], x.shape[1]
    padded = jnp.pad(x, ((0, 0), (width - 1, 0), (0, 0)))
    return sum(w[s] * padded[:, width - 1 - s: width - 1 - s + length] for s in range(width))


def causal_conv_fft(u, h):
    """The same with a long filter, h: (at most L, H), by FFT zero-padded to 2L (so the circular convolution is the
    linear one; a shorter filter is zero-padded with the rest). O(L log L)."""
    length = u.shape[1]
    n_fft = 2 * length
    u, h = u.astype(jnp.float32), h.astype(jnp.float32)          # FFTs in float32 (also under train.precision=bf16)
    y = jnp.fft.irfft(jnp.fft.rfft(u, n=n_fft, axis=1) * jnp.fft.rfft(h, n=n_fft, axis=0), n=n_fft, axis=1)
    return y[:, :length]
