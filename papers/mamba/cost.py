"""The cost of one Mamba-paper experiment at a scale (repro/cost_plan.py): its training and evaluation steps from
abstract shapes, through the same task builders the runs use (experiment.py, induction_task.py, smnist_task.py).

    python -m repro.cost_plan papers/mamba --scale full
"""
from __future__ import annotations

import jax
from flax import nnx

from papers.mamba import experiment, induction_task, smnist_task
from repro.cost_plan import CostSpec, task_steps

# sequential and permuted MNIST read every image of the TFDS splits (task.train_examples / test_examples 0)
MNIST = {"train": 60000, "test": 10000}
# parameter counts the paper states, with where
PAPER_PARAMS = {"induction-mamba": (74_000, "Mamba Table 2 (Table 11): 'Mamba (74K params)', 2 layers, D=64")}


def evaluations(train: dict) -> int:
    """How often repro/train.py's loop evaluates: every eval_every steps and at the end."""
    every = train.get("eval_every") or train["steps"]
    return train["steps"] // every + (train["steps"] % every != 0)


def spec(cfg: dict) -> CostSpec:
    kind, tr = cfg["task"]["kind"], cfg["train"]
    if kind == "timing":
        t = cfg["task"]
        return CostSpec(not_costed=f"no training: times one forward pass (batch 1) at {len(t['timing_lengths'])} "
                                   f"lengths, {t['timing_repeats']} rounds")
    note = ""
    if kind == "selective_copying":
        model = nnx.eval_shape(lambda: experiment.build_model(cfg, 0))
        train, evaluate, n = task_steps(lambda m: experiment.selective_copying_task(cfg, 0, model=m), model,
            precision=cfg["train"].get("precision", "fp32"))
    elif kind == "induction":
        model = nnx.eval_shape(lambda: induction_task.build_model(cfg, 0))
        train, evaluate, n = task_steps(lambda m: induction_task.build_task(cfg, 0, model=m), model,
            precision=cfg["train"].get("precision", "fp32"))
        longest = max(cfg["task"]["test_lengths"])
        how = ("recurrent: a sequential step per token" if cfg["model"]["kind"] != "attention" else
               f"the parallel forward, to {cfg['task']['attention_max_length']} tokens")
        note = (f"not in the estimate: the final test at {len(cfg['task']['test_lengths'])} lengths to {longest} "
                f"tokens ({how})")
    elif kind == "sequential_mnist":
        t = cfg["task"]
        n_train = t["train_examples"] or MNIST["train"]
        n_test = t["test_examples"] or MNIST["test"]
        data = (jax.ShapeDtypeStruct((n_train, 784), "float32"), jax.ShapeDtypeStruct((n_train,), "int32"),
                jax.ShapeDtypeStruct((n_test, 784), "float32"), jax.ShapeDtypeStruct((n_test,), "int32"))
        model = nnx.eval_shape(lambda: smnist_task.build_model(cfg, 0))
        train, evaluate, n = task_steps(lambda m, *d: smnist_task.task_from_arrays(cfg, 0, *d, model=m), model, data,
            precision=cfg["train"].get("precision", "fp32"))
        note = f"MNIST's {n_train} training and {n_test} test images as arguments (the run closes over them)"
    else:
        raise ValueError(f"no cost for task.kind {kind!r}")
    stated = PAPER_PARAMS.get(cfg["run"]["experiment"]) if cfg["run"]["scale"] == "full" else None
    if stated:
        note = "; ".join(filter(None, [note, f"paper's count: {stated[1]}"]))
    return CostSpec(train=train, evaluate=evaluate, steps=tr["steps"], evals=evaluations(tr), n_params=n,
                    paper_params=stated[0] if stated else None, note=note)
