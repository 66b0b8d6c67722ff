"""Training a Flax NNX model (a ``Task``): repro/fit.py's loop plus evaluation on a schedule, Orbax checkpoints, exact
resume, a progress bar and per-chunk tracking. repro/driver.py writes the run's files.

A paper supplies a ``Task``. The loop runs ``log_every`` steps per call of one jitted ``lax.scan`` (no per-step
Python); the batch for step t is ``task.batch(fold_in(data_key, t))``, so a run stopped at a checkpoint and started
again sees the same data and ends with the same numbers.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from tqdm import tqdm

from repro import fit, parallel, seeding
from repro import config as rconfig
from repro.precision import fp32_params
from repro.progress import Progress
from repro.checkpoint import Checkpointer, CheckpointError, restore_group


@dataclasses.dataclass
class Task:
    model: nnx.Module                                  # initialised from the run's seed
    optimizer: optax.GradientTransformation
    batch: Callable[[jax.Array], Any]                  # key -> batch (jittable)
    loss: Callable[[nnx.Module, Any], tuple]           # (model, batch) -> (loss, {metric: value})
    evaluate: Callable[[nnx.Module], dict]             # model -> {metric: value} on fixed validation data (jittable)
    items_per_step: int = 1                            # tokens (or examples) per step, for throughput
    items_name: str = "tok"
    # measurements of the final model beyond ``evaluate`` (e.g. accuracy at many test lengths), merged into the
    # run's metrics; may return ``not_run: {metric: why}`` for what it could not measure
    final_metrics: Callable[[nnx.Module], dict] | None = None


@dataclasses.dataclass
class Measurement:
    """A run that measures instead of training (e.g. how time grows with sequence length).

    ``measure()`` returns (metrics, history rows); the run writes them as a training run would (metrics.json last).
    """
    measure: Callable[[], tuple[dict, list[dict]]]


def objective(task: Task, precision: str = "fp32"):
    """The task as repro/fit.py's objective over its parameters, trained in ``precision`` (train.precision,
    repro/precision.py): (objective, graphdef, the model's other state)."""
    graphdef, params, rest = nnx.split(task.model, nnx.Param, ...)
    obj = fit.Objective(loss=lambda p, batch, _: task.loss(nnx.merge(graphdef, p, rest), batch),
                        optimizer=task.optimizer, batch=lambda key, _: task.batch(key), precision=precision,
                        fp32_params=fp32_params(task.model))
    return obj, graphdef, params, rest


def fit_task(task: Task, cfg: dict, seed: int, run_dir: Path, tracker=None, progress: bool = True,
             stop_after: int | None = None):
    """Train to ``cfg['train']['steps']``; resume from ``run_dir/checkpoints`` when it holds a checkpoint.

    ``stop_after`` ends the process's work early (after that many steps in total), as a kill would: used by tests.
    Returns (final metrics with the parameters under ``final_params``, history rows), or None when stopped early;
    repro/driver.py writes the run's files.
    """
    config_hash = rconfig.config_hash(cfg)
    tc = cfg["train"]
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    obj, graphdef, params, rest = objective(task, tc.get("precision", "fp32"))
    state = obj.init(params)
    data_key = seeding.key(seed, "data")
    ckpt = Checkpointer(run_dir / "checkpoints", keep=tc.get("keep_checkpoints", 2))
    start, history, wall_before = 0, [], 0.0
    latest = ckpt.latest_step()
    if latest is not None:
        state, meta = ckpt.restore(latest, state)
        if meta.get("config_hash") != config_hash:
            raise CheckpointError(f"checkpoint {ckpt.directory / str(latest)} was written with another config "
                                  f"(hash {meta.get('config_hash')}, now {config_hash}); delete {run_dir} to start "
                                  "this run over with the new config")
        start, history, wall_before = latest, meta["history"], meta["wall_time_s"]
    mesh = parallel.mesh(tc.get("devices", 1))

    log_every, total = tc["log_every"], tc["steps"]
    eval_every = tc.get("eval_every") or total
    t0 = time.perf_counter()
    state = parallel.replicate(state, mesh)
    evaluate = jax.jit(lambda p: task.evaluate(nnx.merge(graphdef, p, rest))).lower(state.params).compile()
    eval_compile_s = time.perf_counter() - t0   # compiled before the loop, so throughput is the steady-state rate
    bar = tqdm(total=total, initial=start, disable=not progress, unit="step", dynamic_ncols=True,
               desc=f"{cfg['run']['experiment']} seed{seed}")
    events = Progress(f"{cfg['run']['paper']} {cfg['run']['experiment']} {cfg['run']['scale']} seed {seed}", total,
                      start=start)        # a line now and then on a workflow job's terminal (repro/progress.py)
    last_eval = {k: v for k, v in (history[-1] if history else {}).items() if k.startswith("eval_")}

    def on_chunk(step, state, rows, seconds):
        nonlocal last_eval
        metrics = {k: float(jnp.mean(v)) for k, v in rows.items()}
        rate = log_every * task.items_per_step / seconds
        row = {"step": step, **{f"train_{k}": v for k, v in metrics.items()}, f"{task.items_name}_per_s": rate}
        if step % eval_every == 0 or step == total:
            last_eval = {f"eval_{k}": float(v) for k, v in evaluate(state.params).items()}
            row.update(last_eval)
        history.append(row)
        if tracker:
            tracker.log_metrics(row, step)
        bar.update(log_every)
        events.update(step, loss=metrics["loss"])
        bar.set_postfix(loss=f"{metrics['loss']:.3f}", **{f"{task.items_name}/s": f"{rate:,.0f}"},
                        **{k: f"{v:.3g}" for k, v in last_eval.items()})

    def save(step, state, seconds):
        ckpt.save(step, state, {"history": history, "config_hash": config_hash,
                                "wall_time_s": wall_before + eval_compile_s + seconds})

    try:
        result = fit.run(obj, state, steps=total, data_key=data_key, chunk=log_every, start=start, mesh=mesh,
                         on_chunk=on_chunk, save=save, save_every=tc.get("checkpoint_every") or total,
                         stop_after=stop_after)
    finally:
        bar.close()
        events.close()
        ckpt.close()
    if not result.finished:
        return None
    params = result.state.params
    extra = task.final_metrics(nnx.merge(graphdef, params, rest)) if task.final_metrics else {}
    final = {
        **{k[5:]: v for k, v in last_eval.items()},
        **extra,
        "train_loss": history[-1]["train_loss"] if history else None,
        "steps": total,
        "wall_time_s": wall_before + time.perf_counter() - t0,
        "compile_time_s": eval_compile_s + result.compile_s,
        "n_params": int(sum(x.size for x in jax.tree.leaves(params))),
        "final_params": params,
    }
    return final, history


def group_objective(tasks: list[Task], precision: str = "fp32"):
    """The objective of seeds trained side by side (the first task's loss, optimiser and batches; every task has the
    same model structure) and each seed's initial state. The model's non-parameter state rides in ``extra``, so that
    it is per seed too. Returns (graphdef, objective, states)."""
    parts = [nnx.split(t.model, nnx.Param, ...) for t in tasks]
    graphdef, task = parts[0][0], tasks[0]
    obj = fit.Objective(loss=lambda p, batch, rest: task.loss(nnx.merge(graphdef, p, rest), batch),
                        optimizer=task.optimizer, batch=lambda key, _: task.batch(key), precision=precision,
                        fp32_params=fp32_params(task.model))
    return graphdef, obj, [obj.init(params, rest) for _, params, rest in parts]


def fit_tasks(tasks: list[Task], cfg: dict, seeds: list[int], run_dirs: list[Path], trackers=None,
              progress: bool = False, stop_after: int | None = None):
    """Several seeds' Tasks (same config, so the same model structure) trained side by side in one compiled program:
    repro/fit.py's loop with the seeds a vmapped axis, each with its own initialisation, data stream
    (``seeding.key(seed, "data")``), evaluation, history and checkpoints (in its own run directory). A group stopped
    part-way resumes from the latest step every seed has checkpointed and ends with the numbers of an uninterrupted
    group. Each seed's numbers equal its run alone (``fit_task``) up to floating-point reassociation.
    Returns [(metrics, history)] in the order of ``seeds``, or None when ``stop_after`` stopped the group."""
    config_hash = rconfig.config_hash(cfg)
    tc = cfg["train"]
    if str(tc.get("devices", 1)) not in ("1", "None"):
        raise rconfig.ConfigError("seeds side by side run on one device: set train.devices=1 or train them one "
                                  "after another (--group 1)")
    graphdef, obj, states = group_objective(tasks, tc.get("precision", "fp32"))
    task = tasks[0]
    ckpts = [Checkpointer(Path(d) / "checkpoints", keep=tc.get("keep_checkpoints", 2)) for d in run_dirs]
    start, states, metas = restore_group(ckpts, states, config_hash)
    histories = [m["history"] for m in metas] if metas else [[] for _ in seeds]
    wall_before = metas[0]["wall_time_s"] if metas else 0.0
    log_every, total = tc["log_every"], tc["steps"]
    eval_every = tc.get("eval_every") or total
    t0 = time.perf_counter()
    state = fit.stack(states)
    evaluate = jax.jit(jax.vmap(lambda p, rest: task.evaluate(nnx.merge(graphdef, p, rest)))).lower(
        state.params, state.extra).compile()
    eval_compile_s = time.perf_counter() - t0
    events = Progress(f"{cfg['run']['paper']} {cfg['run']['experiment']} {cfg['run']['scale']} seeds "
                      f"{','.join(map(str, seeds))}", total, start=start)
    last_eval = [{k: v for k, v in (h[-1] if h else {}).items() if k.startswith("eval_")} for h in histories]

    def on_chunk(step, state, rows, seconds):
        means = {k: jnp.mean(v, axis=0) for k, v in rows.items()}       # (seeds,) per metric
        rate = log_every * task.items_per_step * len(seeds) / seconds
        evals = None
        if step % eval_every == 0 or step == total:
            evals = jax.device_get(evaluate(state.params, state.extra))
        for i, history in enumerate(histories):
            row = {"step": step, **{f"train_{k}": float(v[i]) for k, v in means.items()},
                   f"{task.items_name}_per_s": rate / len(seeds)}
            if evals is not None:
                last_eval[i] = {f"eval_{k}": float(v[i]) for k, v in evals.items()}
                row.update(last_eval[i])
            history.append(row)
            if trackers and trackers[i]:
                trackers[i].log_metrics(row, step)
        events.update(step, loss=float(means["loss"][0]))

    def save(step, state, seconds):
        for i, ckpt in enumerate(ckpts):
            ckpt.save(step, fit.unstack(state, i), {"history": histories[i], "config_hash": config_hash,
                                                    "wall_time_s": wall_before + eval_compile_s + seconds})

    try:
        result = fit.run(obj, state, steps=total, data_key=fit.stack([seeding.key(s, "data") for s in seeds]),
                         chunk=log_every, start=start, on_chunk=on_chunk, save=save,
                         save_every=tc.get("checkpoint_every") or total, stop_after=stop_after, batched=True)
    finally:
        events.close()
        for c in ckpts:
            c.close()
    if not result.finished:
        return None
    out = []
    for i, t in enumerate(tasks):
        s = fit.unstack(result.state, i)
        extra = t.final_metrics(nnx.merge(graphdef, s.params, s.extra)) if t.final_metrics else {}
        out.append(({
            **{k[5:]: v for k, v in last_eval[i].items()},
            **extra,
            "train_loss": histories[i][-1]["train_loss"] if histories[i] else None,
            "steps": total,
            "wall_time_s": (wall_before + time.perf_counter() - t0) / len(seeds),    # the group's time, shared out
            "compile_time_s": (eval_compile_s + result.compile_s) / len(seeds),
            "n_params": int(sum(x.size for x in jax.tree.leaves(s.params))),
            "final_params": s.params,
        }, histories[i]))
    return out
