"""H3 (Fu, Dao, Saab, Thomas, Rudra, Re 2023, "Hungry Hungry Hippos"), the third architecture of Mamba Table 1.

The H3 layer (H3 paper, Section 3.1 and Algorithm 1, one channel per head):

    q, k, v = u W_Q, u W_K, u W_V
    y       = q * SSM_diag( SSM_shift(k) * v )          (elementwise products: the multiplicative gates)
    out     = y W_O

SSM_shift is a state-space model whose A is the shift matrix and B = e_1: its state after step t is the last m inputs
[k_t, k_{t-1}, ..., k_{t-m+1}], so its output C . x_t + D k_t is a causal convolution of width m with the learned C
(the H3 paper's "shift SSM", which lets a token be compared with its predecessors). SSM_diag is the inner layer that
Mamba Table 1 varies: S4D (the H3 row), Hyena's long convolution (the Hyena row) or S6 (the "H3 + S6" row).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from papers.mamba.causal_conv import causal_conv_fft


class ShiftSSM(nnx.Module):
    """The shift SSM of H channels with an m-dimensional state: y_t = sum_{j<m} C_j k_{t-j} + D k_t."""

    FP32_PARAMS = ("C", "D")          # the SSM's parameters stay float32 under train.precision=bf16

    def __init__(self, channels: int, n_state: int, *, rngs: nnx.Rngs):
        self.C = nnx.Param(jax.random.normal(rngs.params(), (n_state, channels)) / jnp.sqrt(n_state))
        self.D = nnx.Param(jax.random.normal(rngs.params(), (channels,)))     # as the H3 code's ssm_k_D

    def __call__(self, k):
        """k: (batch, L, H). The convolution view, by FFT: C is a causal filter m taps long (cut to L when m > L);
        the m shifted multiply-adds would be a graph m times as large, slow to compile and, at L = 512, to run."""
        return (causal_conv_fft(k, self.C[...][:k.shape[1]]) + self.D[...] * k).astype(k.dtype)

    def recurrent(self, k):
        """The same map as the state-space recurrence x_t = S x_{t-1} + e_1 k_t, y_t = C . x_t + D k_t (S: the
        shift), for tests and step-by-step inference."""
        m = self.C.shape[0]

        def step(x, k_t):                                   # x: (batch, m, H), x[:, j] = k_{t-j}
            x = jnp.concatenate([k_t[:, None], x[:, :-1]], axis=1)
            return x, jnp.einsum("bmh,mh->bh", x, self.C[...]) + self.D[...] * k_t

        x0 = jnp.zeros((k.shape[0], m, k.shape[2]), k.dtype)
        _, y = jax.lax.scan(step, x0, jnp.swapaxes(k, 0, 1))
        return jnp.swapaxes(y, 0, 1)
