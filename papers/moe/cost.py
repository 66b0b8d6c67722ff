"""The cost of one MoE-paper experiment at a scale (repro/cost_plan.py): the language model's training and evaluation
steps from abstract shapes, through the task builder the runs use (model.py).

    python -m repro.cost_plan papers/moe --scale full

The Switch Transformers paper states parameter counts only for its T5-sized models (Switch-Base and up), not for the
4-layer character-level models trained here, so no experiment has a paper count to compare with.
"""
from __future__ import annotations

import functools

from flax import nnx

from papers.moe import model as M
from repro import text
from repro.cost_plan import CostSpec, task_steps


@functools.lru_cache(maxsize=2)
def corpus(name: str) -> text.CharCorpus:
    """The character corpus (1.1 MB): its length and vocabulary fix the data's shapes; the runs close over it."""
    return text.load_chars(name)


def evaluations(train: dict) -> int:
    every = train.get("eval_every") or train["steps"]
    return train["steps"] // every + (train["steps"] % every != 0)


def spec(cfg: dict) -> CostSpec:
    if cfg["task"]["kind"] == "speedup":
        return CostSpec(not_costed=f"no training: reads the finished runs of {cfg['speedup']['baseline']} and "
                                   f"{cfg['speedup']['model']}")
    chars = corpus(cfg["data"]["registry"])
    model = nnx.eval_shape(lambda: M.build_model(cfg, chars.vocab_size, 0))
    train, evaluate, n = task_steps(lambda m: M.build_task(cfg, 0, chars, model=m), model,
            precision=cfg["train"].get("precision", "fp32"))
    note = ""
    if cfg["moe"]["experts"] and cfg["moe"]["dispatch"] == "ragged":
        note = ("jax.lax.ragged_dot lowers to a dense product over every expert on this backend: these FLOPs count "
                "every expert for every token (a GPU's grouped matmul does not)")
    return CostSpec(train=train, evaluate=evaluate, steps=cfg["train"]["steps"], evals=evaluations(cfg["train"]),
                    n_params=n, note=note)
