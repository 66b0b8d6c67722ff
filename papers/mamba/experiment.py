"""Mamba Table 1 (selective copying), Table 2 (induction heads), its time-vs-length claim, and S4 on sequential
MNIST: build a run from its resolved config; the command line is repro/driver.py's.

    python -m papers.mamba.experiment --experiment s6-mamba --scale cpu --seed 0
"""
from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from papers.mamba import induction_task, selective_copying, smnist_task, timing
from papers.mamba.model import SequenceModel
from repro import seeding
from repro import driver
from repro.workload import Training
from repro.config import ConfigError
from repro.train import Task

PAPER_DIR = Path(__file__).parent


def answer_loss(model, inputs, targets):
    """Cross entropy and accuracy (percent) on the answer positions only: the last n_tokens outputs."""
    logits = model(inputs)[:, -targets.shape[1]:].astype(jnp.float32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()
    accuracy = 100.0 * jnp.mean(jnp.argmax(logits, -1) == targets)
    return loss, accuracy


def build_task(cfg: dict, seed: int) -> Task:
    kind = cfg["task"]["kind"]
    if kind == "induction":
        return induction_task.build_task(cfg, seed)
    if kind == "timing":
        return timing.build(cfg, seed)
    if kind == "sequential_mnist":
        return smnist_task.build_task(cfg, seed)
    if kind != "selective_copying":
        raise ConfigError(f"unknown task.kind {kind!r}; valid: selective_copying, induction, timing, sequential_mnist")
    return selective_copying_task(cfg, seed)


def build_model(cfg: dict, seed: int) -> SequenceModel:
    """Table 1's model for a selective-copying config."""
    return SequenceModel({**cfg["model"], "vocab_size": cfg["task"]["vocab_size"]},
                         rngs=nnx.Rngs(params=seeding.key(seed, "init")))


def selective_copying_task(cfg: dict, seed: int, model: SequenceModel | None = None) -> Task:
    """``model``: an already built model (repro/cost_plan.py hands an abstract one); default: ``build_model``."""
    t, tr = cfg["task"], cfg["train"]
    model = build_model(cfg, seed) if model is None else model

    def batch(key, size=tr["batch_size"]):
        return selective_copying.batch(key, size, t["seq_len"], t["n_tokens"], t["vocab_size"])

    def loss(model, b):
        loss_value, accuracy = answer_loss(model, *b)
        return loss_value, {"accuracy": accuracy}

    # a fixed validation set shared by every seed, evaluated in batches to bound memory
    n_batches = max(1, t["eval_examples"] // t["eval_batch"])
    eval_keys = jax.random.split(jax.random.key(t["eval_seed"]), n_batches)

    def evaluate(model):
        def one(key):
            return answer_loss(model, *batch(key, t["eval_batch"]))
        losses, accs = jax.lax.map(one, eval_keys)
        return {"loss": jnp.mean(losses), "accuracy": jnp.mean(accs)}

    optimizer = optax.adam(tr["lr"])  # constant learning rate, no weight decay (Mamba App. E.1)
    return Task(model=model, optimizer=optimizer, batch=batch, loss=loss, evaluate=evaluate,
                items_per_step=tr["batch_size"] * (t["seq_len"] + t["n_tokens"]))


def workload(cfg: dict) -> Training:
    return Training(cfg, build_task)


def main(argv=None) -> int:
    return driver.main(PAPER_DIR, workload, argv)


if __name__ == "__main__":
    sys.exit(main())
