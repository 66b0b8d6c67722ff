"""Routers: which experts each token goes to, with what gate weight, and the auxiliary losses that keep them balanced.

- Softmax top-k router: Switch Transformer top-1 (Fedus et al. 2022, eqs. 1-2: gate = p_i(x), the chosen expert's
  router probability), top-k with the gates renormalised over the chosen experts (GShard / Shazeer's softmax over
  KeepTopK, which is the same thing).
- Noisy top-k gating (Shazeer et al. 2017, eqs. 3-5): H = x W_g + N(0, 1) * softplus(x W_noise), gates =
  softmax(KeepTopK(H, k)); the noise only while training.
- Losses: the Switch load-balancing loss (eqs. 4-6), the router z-loss (ST-MoE, eq. 5), Shazeer's importance loss
  (Appendix A, eq. 6) and load loss with its smooth load estimator (Appendix A, eqs. 8-10).

Everything here runs in float32 whatever the model's dtype (Switch, Section 2.4: a bfloat16 router diverges).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Routing(NamedTuple):
    experts: jax.Array   # (..., tokens, k) int32: the chosen experts, best first
    gates: jax.Array     # (..., tokens, k) float32: their weights in the combination
    probs: jax.Array     # (..., tokens, E) float32: softmax of the clean router logits (Switch's p_i(x))
    logits: jax.Array    # (..., tokens, E) float32: the clean router logits (for the z-loss)


def softmax_top_k(logits, k: int) -> Routing:
    """Switch (k=1: the gate is the chosen expert's probability, not renormalised) and top-k (k>1: renormalised)."""
    logits = logits.astype(jnp.float32)
    probs = jax.nn.softmax(logits, axis=-1)
    top_p, experts = jax.lax.top_k(probs, k)
    gates = top_p if k == 1 else top_p / jnp.sum(top_p, axis=-1, keepdims=True)
    return Routing(experts.astype(jnp.int32), gates, probs, logits)


def noisy_top_k(clean, raw_noise_std, k: int, key=None) -> tuple[Routing, jax.Array]:
    """Shazeer's noisy top-k gating. ``clean`` = x W_g, ``raw_noise_std`` = x W_noise; ``key`` None: no noise (eval).

    Returns the routing and the smooth load estimate P(x, i) (eq. 9), the probability that expert i would still be
    chosen under a fresh draw of its own noise with the other experts' noisy logits fixed.
    """
    clean = clean.astype(jnp.float32)
    std = jax.nn.softplus(raw_noise_std.astype(jnp.float32))
    noisy = clean if key is None else clean + jax.random.normal(key, clean.shape, jnp.float32) * std
    top_h, experts = jax.lax.top_k(noisy, min(k + 1, noisy.shape[-1]))
    gates = jax.nn.softmax(top_h[..., :k], axis=-1)
    # eq. 10: kth_excluding(H, k, i) is the (k+1)-th largest of H when i is in the top k, else the k-th largest
    chosen = jnp.any(jax.nn.one_hot(experts[..., :k], noisy.shape[-1], dtype=bool), axis=-2)
    threshold = jnp.where(chosen, top_h[..., k:k + 1] if top_h.shape[-1] > k else -jnp.inf, top_h[..., k - 1:k])
    load_prob = jax.scipy.stats.norm.cdf((clean - threshold) / jnp.maximum(std, 1e-9))
    routing = Routing(experts[..., :k].astype(jnp.int32), gates, jax.nn.softmax(clean, axis=-1), clean)
    return routing, load_prob


def expert_counts(experts, n_experts: int):
    """Token-choices per expert, summed over every leading axis: (E,) float32 (before any capacity drop)."""
    return jnp.sum(jax.nn.one_hot(experts, n_experts, dtype=jnp.float32), axis=tuple(range(experts.ndim)))


def switch_balance_loss(routing: Routing, n_experts: int):
    """Switch eq. 4: N * sum_i f_i * P_i, without the alpha (the caller scales it), computed per group of tokens and
    averaged over the groups, as Switch and Mesh-TensorFlow compute it (the groups are the leading axes of
    ``routing``; (tokens, k) is one group). Per group, because capacity is per group: two groups with opposite
    imbalances would score a perfect 1 if pooled.

    f_i is the fraction of token-choices that go to expert i, every chosen expert counted, divided by tokens * k: so
    the loss is 1 at perfectly uniform routing for any k (some implementations leave out the 1/k and get k). f_i
    carries no gradient (it is a count); P_i, the mean router probability, does.
    """
    choices = jax.nn.one_hot(routing.experts, n_experts, dtype=jnp.float32)          # (..., tokens, k, E)
    counts = jax.lax.stop_gradient(jnp.sum(choices, axis=(-3, -2)))                  # (..., E)
    f = counts / jnp.sum(counts, axis=-1, keepdims=True)
    p = jnp.mean(routing.probs, axis=-2)                                              # (..., E)
    return n_experts * jnp.mean(jnp.sum(f * p, axis=-1))


def z_loss(logits):
    """ST-MoE eq. 5: mean over tokens of logsumexp(router logits)^2 (without its coefficient)."""
    return jnp.mean(jax.nn.logsumexp(logits.astype(jnp.float32), axis=-1) ** 2)


def cv_squared(x):
    """Squared coefficient of variation, var / mean^2 (Shazeer Appendix A; population variance)."""
    x = x.astype(jnp.float32)
    return jnp.var(x) / (jnp.mean(x) ** 2 + 1e-10)


def importance_loss(routing: Routing, n_experts: int):
    """Shazeer eq. 6 without w_importance: CV(Importance)^2, Importance_i = sum over tokens of the gate to expert i."""
    per_expert = jax.nn.one_hot(routing.experts, n_experts, dtype=jnp.float32) * routing.gates[..., None]
    return cv_squared(jnp.sum(per_expert.reshape(-1, n_experts), axis=0))


def load_loss(load_prob, n_experts: int):
    """Shazeer eq. 11 without w_load: CV(Load)^2 with the smooth estimator Load_i = sum over tokens of P(x, i)."""
    return cv_squared(jnp.sum(load_prob.reshape(-1, n_experts), axis=0))
