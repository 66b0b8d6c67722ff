"""The mixture-of-experts feed-forward layer (Switch Transformer Section 2; Shazeer et al. 2017 Section 2).

E experts, each a GELU FFN like the dense layer's (d -> d_ff -> d), weights stacked on an expert axis; a float32
router; tokens routed in groups of ``group_size`` with a per-group expert capacity (dispatch.py). The layer records
what the training loss and the measurements need with ``sow`` (nnx.Intermediate): ``aux`` (the weighted sum of its
auxiliary losses), the separate losses, the fraction of token-choices dropped, and the token-choices per expert.
"""
from __future__ import annotations

import contextlib
import contextvars
import math

import jax
import jax.numpy as jnp
from flax import nnx

from papers.moe import dispatch as D
from papers.moe import routing as R

ROUTERS = ("softmax", "noisy")


# The key for this step's gating noise, set around a forward pass by ``gating_noise``: a trace-time value (no
# mutable state inside jitted code); None, the default, means no noise, as at evaluation.
_NOISE_KEY: contextvars.ContextVar = contextvars.ContextVar("moe_gating_noise", default=None)


@contextlib.contextmanager
def gating_noise(key):
    """Noisy routers draw their noise from ``key`` (folded with each layer's id) inside this block."""
    token = _NOISE_KEY.set(key)
    try:
        yield
    finally:
        _NOISE_KEY.reset(token)


class MoEFFN(nnx.Module):
    def __init__(self, d_model: int, d_ff: int, n_experts: int, *, rngs: nnx.Rngs, k: int = 1,
                 router: str = "softmax", capacity_factor: float | None = 1.25, group_size: int = 256,
                 dispatch: str = "gather", balance_coef: float = 0.01, z_coef: float = 0.0,
                 importance_coef: float = 0.0, load_coef: float = 0.0, router_init_scale: float = 0.1,
                 layer_id: int = 0):
        if router not in ROUTERS:
            raise ValueError(f"unknown router {router!r}; valid: {', '.join(ROUTERS)}")
        if dispatch not in D.PATHS:
            raise ValueError(f"unknown dispatch path {dispatch!r}; valid: {', '.join(D.PATHS)}")
        if not 1 <= k <= n_experts:
            raise ValueError(f"k={k} must be between 1 and the number of experts ({n_experts})")
        if dispatch == "ragged" and capacity_factor is not None:
            raise ValueError("the ragged path is dropless: set moe.dropless: true with it")
        if load_coef and router != "noisy":
            raise ValueError("the load loss needs the noisy router's smooth load estimate (router: noisy)")
        self.n_experts, self.k, self.router = n_experts, k, router
        self.capacity_factor, self.group_size, self.path = capacity_factor, group_size, dispatch
        self.coefs = {"balance": balance_coef, "z": z_coef, "importance": importance_coef, "load": load_coef}
        if router == "noisy":   # Shazeer: W_g and W_noise start at zero (equal gates, noise std softplus(0))
            self.w_gate = nnx.Param(jnp.zeros((d_model, n_experts), jnp.float32))
            self.w_noise = nnx.Param(jnp.zeros((d_model, n_experts), jnp.float32))
        else:                   # Switch Section 2.4: truncated normal with std sqrt(scale / fan_in), scale 0.1
            std = math.sqrt(router_init_scale / d_model)
            self.w_gate = nnx.Param(std * jax.random.truncated_normal(rngs.params(), -2.0, 2.0,
                                                                      (d_model, n_experts), jnp.float32))
        init = nnx.initializers.lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(0,))
        self.w_up = nnx.Param(init(rngs.params(), (n_experts, d_model, d_ff)))
        self.b_up = nnx.Param(jnp.zeros((n_experts, d_ff)))
        self.w_down = nnx.Param(init(rngs.params(), (n_experts, d_ff, d_model)))
        self.b_down = nnx.Param(jnp.zeros((n_experts, d_model)))
        self.layer_id = layer_id

    # the router stays float32 under train.precision=bf16 (Switch section 2.4, "selective precision")
    FP32_PARAMS = ("w_gate", "w_noise")

    def route(self, x32):
        logits = x32 @ self.w_gate[...]
        if self.router == "softmax":
            return R.softmax_top_k(logits, self.k), None
        key = _NOISE_KEY.get()
        key = None if key is None else jax.random.fold_in(key, self.layer_id)
        return R.noisy_top_k(logits, x32 @ self.w_noise[...], self.k, key)

    def __call__(self, x):
        shape, d = x.shape, x.shape[-1]
        tokens = x.reshape(-1, d)
        g = self.group_size if self.path != "ragged" else tokens.shape[0]
        if tokens.shape[0] % g:
            raise ValueError(f"{tokens.shape[0]} tokens do not split into groups of {g}: set moe.group_size to a "
                             "divisor of batch * context")
        groups = tokens.reshape(-1, g, d)
        routing, load_prob = self.route(groups.astype(jnp.float32))
        cap = D.capacity(g, self.n_experts, self.k, self.capacity_factor)
        weights = (self.w_up[...], self.b_up[...], self.w_down[...], self.b_down[...])
        y, kept = D.dispatch(self.path, groups, routing.experts, routing.gates, weights, cap)
        losses = {"balance": R.switch_balance_loss(routing, self.n_experts), "z": R.z_loss(routing.logits),
                  "importance": R.importance_loss(routing, self.n_experts)}
        if load_prob is not None:
            losses["load"] = R.load_loss(load_prob, self.n_experts)
        aux = sum(c * losses[name] for name, c in self.coefs.items() if c)
        self.sow(nnx.Intermediate, "aux", jnp.asarray(aux, jnp.float32))
        self.sow(nnx.Intermediate, "losses", losses)
        self.sow(nnx.Intermediate, "dropped", 1.0 - jnp.mean(kept.astype(jnp.float32)))
        self.sow(nnx.Intermediate, "counts", R.expert_counts(routing.experts, self.n_experts))
        return y.reshape(shape).astype(x.dtype)


def collect(model: nnx.Module) -> dict:
    """Pop what the MoE layers sowed during the last call: per-layer lists under each name (empty for a dense model)."""
    found = nnx.pop(model, nnx.Intermediate)
    out = {"aux": [], "losses": [], "dropped": [], "counts": []}
    for path, var in nnx.to_flat_state(found):
        out[path[-1]].extend(var.get_value())      # sow appends to a tuple: one entry per call
    return out
