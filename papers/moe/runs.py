"""What one seed of an MoE-paper experiment does.

- ``lm``: train a dense or MoE language model with repro.train (jitted chunks, Orbax checkpoints, exact resume), then
  measure the final model on the validation windows: loss, dropped token-choices, max/mean expert load, and the
  expert-load histogram per MoE layer (written to expert_load.json for the figures). Throughput is the median of the
  training chunks' tokens per second (compilation excluded).
- ``speedup``: no training; steps the MoE run needed to reach the same seed's dense model's final validation loss
  (linear interpolation between evaluations), and dense steps / that (Switch Fig. 4 right: 7.5x at 64 experts).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from papers.moe import model as M
from repro import driver, runio, text
from repro.train import fit_task


def train_lm(cfg: dict, seed: int, run_dir: Path, tracker=None, progress=False, stop_after=None):
    corpus = text.load_chars(cfg["data"]["registry"])
    task = M.build_task(cfg, seed, corpus)
    out = fit_task(task, cfg, seed, run_dir, tracker=tracker, progress=progress, stop_after=stop_after)
    if out is None:
        return None
    final, history = out
    runio.write_json(run_dir / "expert_load.json", {"layers": final["expert_load"], "note": "fraction of validation "
                                                    "token-choices routed to each expert, per MoE layer, before "
                                                    "capacity drops"})
    rates = [r["tok_per_s"] for r in history if "tok_per_s" in r]
    metrics = {**{k: final[k] for k in ("val_loss", "val_dropped", "val_max_load")},
               "train_loss": final["train_loss"], "tok_per_s": float(np.median(rates)) if rates else None,
               "n_params": final["n_params"], "steps": final["steps"], "wall_time_s": final["wall_time_s"],
               "final_params": final["final_params"]}
    return metrics, history


def steps_to_reach(history: list[dict], target: float) -> float | None:
    """First step at which the validation loss reaches ``target``, linear between evaluations; None if never."""
    points = [(r["step"], r["eval_val_loss"]) for r in history if "eval_val_loss" in r]
    prev = None
    for step, loss in points:
        if loss <= target:
            if prev is None or prev[1] == loss:
                return float(step)
            return float(prev[0] + (prev[1] - target) / (prev[1] - loss) * (step - prev[0]))
        prev = (step, loss)
    return None


def speedup(cfg: dict, seed: int):
    sp = cfg["speedup"]
    dense = driver.finished_metrics(cfg, sp["baseline"], seed)
    driver.finished_metrics(cfg, sp["model"], seed)
    curve = runio.read_history(driver.sibling_run(cfg, sp["model"], seed) / "history.csv")
    reached = steps_to_reach(curve, dense["val_loss"])
    steps = dense["steps"]
    metrics = {"dense_final_val_loss": dense["val_loss"], "dense_steps": steps,
               "steps_to_dense_loss": reached if reached is not None else float("nan"),
               # not reached within the run: the speed-up is at most 1 (reported as such, never invented)
               "step_speedup": steps / reached if reached else 1.0, "reached": reached is not None}
    return metrics, [{"step": 0}]
