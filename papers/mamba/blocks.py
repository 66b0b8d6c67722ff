"""The three architectures of Mamba Table 1, each taking an inner sequence layer (S4D, S6 or Hyena's long convolution).

- ``MambaBlock`` (Mamba, Figure 3): in_proj d -> 2 d_inner (x, z); causal depthwise conv1d (k=4) -> SiLU -> SSM;
  multiply by SiLU(z); out_proj.
- ``NoGateBlock``: the SSM layer with no multiplicative branch and no convolution: in_proj d -> d_inner, SSM,
  SiLU, out_proj.
- ``H3Block`` (H3 paper, Algorithm 1; papers/mamba/h3.py): q, k, v projections d -> d; q * inner(shift_ssm(k) * v);
  out_proj.
Each sits in a pre-norm residual stack (``model.SequenceModel``).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from papers.mamba.causal_conv import causal_taps
from papers.mamba.h3 import ShiftSSM
from papers.mamba.hyena import HyenaFilter
from papers.mamba.s4d import S4D
from papers.mamba.s6 import S6

LAYERS = ("s4", "s6", "hyena")
ARCHITECTURES = ("no_gate", "mamba", "h3")
SHIFT_STATE = 64     # H3's shift SSM: a causal convolution over the last 64 tokens (the H3 code's d_state)


def inner_layer(kind: str, channels: int, cfg: dict, rngs: nnx.Rngs, d_model: int):
    if kind == "s6":
        # Delta's low-rank projection: dt_rank = ceil(d_model / 16), the reference code's default (mamba_simple.py),
        # d_model the block's width, not the SSM's d_inner channels
        return S6(channels, n_state=cfg["d_state"], dt_rank=math.ceil(d_model / 16), scan_method=cfg["scan_method"],
                  rngs=rngs)
    if kind == "s4":
        return S4D(channels, n_state=cfg["s4_state"], init=cfg["s4_init"], rngs=rngs)
    if kind == "hyena":
        return HyenaFilter(channels, rngs=rngs)
    raise ValueError(f"unknown inner layer {kind!r}; valid: {', '.join(LAYERS)}")


class CausalDepthwiseConv(nnx.Module):
    """y_t = b + sum_k w_k * x_{t-k}, per channel: Mamba's short convolution (d_conv = 4) before the SSM.

    Written as K shifted multiply-adds (causal_conv.causal_taps).
    """

    def __init__(self, channels: int, width: int, *, rngs: nnx.Rngs):
        bound = 1.0 / math.sqrt(width)  # PyTorch Conv1d's default init (fan_in = width for a depthwise conv)
        self.weight = nnx.Param(jax.random.uniform(rngs.params(), (width, channels), minval=-bound, maxval=bound))
        self.bias = nnx.Param(jax.random.uniform(rngs.params(), (channels,), minval=-bound, maxval=bound))

    def __call__(self, x):  # (batch, L, channels); weight[k] multiplies x_{t-k}
        return self.bias[...] + causal_taps(x, self.weight[...])


def _out_proj(d_inner: int, d_model: int, n_layer: int, rngs: nnx.Rngs):
    # the reference code rescales out_proj by 1/sqrt(n_layer) so the residual stream does not grow with depth
    init = nnx.initializers.variance_scaling(1.0 / n_layer, "fan_in", "truncated_normal")
    return nnx.Linear(d_inner, d_model, use_bias=False, kernel_init=init, rngs=rngs)


class MambaBlock(nnx.Module):
    def __init__(self, d_model: int, layer: str, cfg: dict, n_layer: int, *, rngs: nnx.Rngs):
        d_inner = cfg["expand"] * d_model
        self.in_proj = nnx.Linear(d_model, 2 * d_inner, use_bias=False, rngs=rngs)
        self.conv = CausalDepthwiseConv(d_inner, cfg["d_conv"], rngs=rngs)
        self.ssm = inner_layer(layer, d_inner, cfg, rngs, d_model)
        self.out_proj = _out_proj(d_inner, d_model, n_layer, rngs)

    def __call__(self, x):
        x, z = jnp.split(self.in_proj(x), 2, axis=-1)
        x = jax.nn.silu(self.conv(x))
        return self.out_proj(self.ssm(x) * jax.nn.silu(z))


class NoGateBlock(nnx.Module):
    def __init__(self, d_model: int, layer: str, cfg: dict, n_layer: int, *, rngs: nnx.Rngs):
        d_inner = cfg["expand"] * d_model
        self.in_proj = nnx.Linear(d_model, d_inner, use_bias=False, rngs=rngs)
        self.ssm = inner_layer(layer, d_inner, cfg, rngs, d_model)
        self.out_proj = _out_proj(d_inner, d_model, n_layer, rngs)

    def __call__(self, x):
        return self.out_proj(jax.nn.silu(self.ssm(self.in_proj(x))))


class H3Block(nnx.Module):
    """H3 with head dimension 1 (H3 paper, Section 3.1): width d_model, no expansion."""

    def __init__(self, d_model: int, layer: str, cfg: dict, n_layer: int, *, rngs: nnx.Rngs):
        self.in_proj = nnx.Linear(d_model, 3 * d_model, use_bias=False, rngs=rngs)      # W_Q, W_K, W_V
        self.shift = ShiftSSM(d_model, SHIFT_STATE, rngs=rngs)
        self.ssm = inner_layer(layer, d_model, cfg, rngs, d_model)
        self.out_proj = _out_proj(d_model, d_model, n_layer, rngs)

    def __call__(self, x):
        q, k, v = jnp.split(self.in_proj(x), 3, axis=-1)
        return self.out_proj(q * self.ssm(self.shift(k) * v))


BLOCKS = {"mamba": MambaBlock, "no_gate": NoGateBlock, "h3": H3Block}


def make_block(arch: str, d_model: int, layer: str, cfg: dict, n_layer: int, rngs: nnx.Rngs):
    if arch not in BLOCKS:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHITECTURES)}")
    return BLOCKS[arch](d_model, layer, cfg, n_layer, rngs=rngs)

