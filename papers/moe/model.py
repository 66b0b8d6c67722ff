"""The language models compared: a decoder-only transformer from repro/nn whose feed-forward sub-layers are dense, or,
in every ``moe.every``-th block (Switch: every other one), a mixture of experts (layer.py).

FLOP matching (Switch Section 2, Fig. 4): each expert is the dense FFN's shape with d_ff / k hidden units, so a token
routed to k experts costs what the dense FFN costs (plus the router); ``moe.flop_matched: false`` gives each expert
the full d_ff, as Switch Table 1's top-2 MoE-Base (more FLOPs per token). The training loss is the next-token
cross-entropy plus every MoE layer's auxiliary losses; the training step's gating noise comes from the data stream
key of that step, so a resumed run draws the same noise.
"""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from papers.moe.layer import MoEFFN, collect, gating_noise
from repro import seeding, text
from repro.lm_recipe import eval_windows, optimizer
from repro.nn.transformer import MLP, TransformerLM, next_token_loss
from repro.train import Task


def make_ffn_factory(cfg: dict):
    """The per-block FFN constructor: dense MLP, or MoEFFN in blocks every-1, 2*every-1, ... (0-based)."""
    m, e = cfg["lm"], cfg["moe"]
    d, d_ff = m["d_model"], m["d_ff"]
    block = itertools.count()

    def make(rngs):
        i = next(block)
        if not e["experts"] or i % e["every"] != e["every"] - 1:
            return MLP(d, d_ff // d, rngs=rngs)
        return MoEFFN(
            d,
            d_ff // e["k"] if e["flop_matched"] else d_ff,
            e["experts"],
            rngs=rngs,
            k=e["k"],
            router=e["router"],
            capacity_factor=None if e["dropless"] else e["capacity_factor"],
            group_size=e["group_size"],
            dispatch=e["dispatch"],
            balance_coef=e["balance_coef"],
            z_coef=e["z_coef"],
            importance_coef=e["importance_coef"],
            load_coef=e["load_coef"],
            router_init_scale=e["router_init_scale"],
            layer_id=i,
        )

    return make


def build_model(cfg: dict, vocab_size: int, seed: int) -> TransformerLM:
    m = cfg["lm"]
    if m["d_ff"] % m["d_model"] or m["d_ff"] % cfg["moe"]["k"]:
        raise ValueError(f"lm.d_ff={m['d_ff']} must be a multiple of d_model and of moe.k")
    return TransformerLM(
        vocab_size,
        m["d_model"],
        m["layers"],
        m["heads"],
        m["context"],
        rngs=nnx.Rngs(params=seeding.key(seed, "init")),
        make_ffn=make_ffn_factory(cfg),
    )


def routing_stats(found: dict) -> dict:
    """Scalars over the MoE layers of one call: dropped token-choices and max/mean expert load, both layer means."""
    if not found["counts"]:
        return {"dropped": jnp.float32(0.0), "max_load": jnp.float32(1.0)}
    ratio = [jnp.max(c) / jnp.mean(c) for c in found["counts"]]
    return {"dropped": jnp.mean(jnp.stack(found["dropped"])), "max_load": jnp.mean(jnp.stack(ratio))}


def forward(model, x, y, noise_key=None):
    """(cross-entropy, auxiliary loss, routing scalars, per-layer expert counts) of one batch."""
    with gating_noise(noise_key):
        ce = next_token_loss(model(x), y)
    found = collect(model)
    aux = sum(found["aux"]) if found["aux"] else jnp.float32(0.0)
    return ce, aux, routing_stats(found), found["counts"]


def build_task(cfg: dict, seed: int, corpus: text.CharCorpus, model: TransformerLM | None = None) -> Task:
    """``model``: an already built model (repro/cost_plan.py hands an abstract one); default: ``build_model``."""
    ctx, bs = cfg["lm"]["context"], cfg["train"]["batch_size"]
    train_tokens = jnp.asarray(corpus.train)
    val_x, val_y = eval_windows(cfg, corpus)
    noisy = cfg["moe"]["experts"] and cfg["moe"]["router"] == "noisy"

    def batch(key):
        x, y = text.random_windows(key, train_tokens, bs, ctx)
        return x, y, jax.random.fold_in(key, 1)

    def loss(model, b):
        ce, aux, stats, _ = forward(model, b[0], b[1], b[2] if noisy else None)
        return ce + aux, {"ce": ce, "aux": aux, **stats}

    def evaluate(model):
        ce, _, stats, _ = forward(model, val_x, val_y)
        return {"val_loss": ce, "val_dropped": stats["dropped"], "val_max_load": stats["max_load"]}

    def expert_load(model):
        """The final model's share of validation token-choices per expert, per MoE layer (before capacity drops)."""
        counts = jax.jit(lambda m: forward(m, val_x, val_y)[3])(model)
        return {"expert_load": [(np.asarray(c) / np.sum(c)).tolist() for c in counts]}

    return Task(
        model=build_model(cfg, corpus.vocab_size, seed) if model is None else model,
        optimizer=optimizer(cfg),
        batch=batch,
        loss=loss,
        evaluate=evaluate,
        items_per_step=bs * ctx,
        final_metrics=expert_load,
    )
