"""The small character-level language model whose residual stream the SAEs read (issue 4, item 5).

A GPT-2-layout transformer from repro/nn on TinyShakespeare, trained with repro.train's loop (jitted chunks, Orbax
checkpoints, exact resume). AdamW with a linear warm-up and cosine decay, as nanoGPT's character-level set-up; the
final checkpoint is what the SAE experiments load.
"""
from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
from flax import nnx

from repro import export, seeding, text
from repro.lm_recipe import eval_windows, optimizer
from repro.checkpoint import CheckpointError
from repro.nn.transformer import TransformerLM, next_token_loss
from repro.train import Task


def build_model(cfg: dict, vocab_size: int, seed: int) -> TransformerLM:
    m = cfg["lm"]
    return TransformerLM(vocab_size, m["d_model"], m["layers"], m["heads"], m["context"],
                         rngs=nnx.Rngs(params=seeding.key(seed, "init")))


def build_task(cfg: dict, seed: int, corpus: text.CharCorpus, model: TransformerLM | None = None) -> Task:
    """``model``: an already built model (repro/cost_plan.py hands an abstract one); default: ``build_model``."""
    ctx, bs = cfg["lm"]["context"], cfg["train"]["batch_size"]
    train_tokens = jnp.asarray(corpus.train)
    val_x, val_y = eval_windows(cfg, corpus)

    def loss(model, b):
        loss_value = next_token_loss(model(b[0]), b[1])
        return loss_value, {}

    def evaluate(model):
        return {"val_loss": next_token_loss(model(val_x), val_y)}

    model = build_model(cfg, corpus.vocab_size, seed) if model is None else model
    return Task(model=model, optimizer=optimizer(cfg),
                batch=lambda key: text.random_windows(key, train_tokens, bs, ctx), loss=loss, evaluate=evaluate,
                items_per_step=bs * ctx)


def load_trained(lm_cfg: dict, seed: int, run_dir: Path, vocab_size: int) -> TransformerLM:
    """The final weights of a finished LM run: its exported final parameters (repro/export.py), checked against
    the sha256 its metrics.json recorded (so a run restored by `dvc pull`, without Orbax folders, serves too)."""
    metrics = Path(run_dir) / "metrics.json"
    if not metrics.exists():
        raise CheckpointError(f"{run_dir} holds no finished language-model run; train it first: python -m "
                              f"papers.sae.experiment --experiment {lm_cfg['run']['experiment']} "
                              f"--scale {lm_cfg['run']['scale']}")
    graphdef, params, rest = nnx.split(build_model(lm_cfg, vocab_size, seed), nnx.Param, ...)
    params = export.read(params, run_dir, json.loads(metrics.read_text()).get("final_params_sha256"))
    return nnx.merge(graphdef, params, rest)
