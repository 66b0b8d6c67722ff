"""The one interface every experiment of every paper implements (in the spirit of AlgoPerf's workloads and flax's
``train_and_evaluate``): a paper's ``experiment.py`` has ``workload(cfg) -> Workload`` for a resolved config, and
repro/driver.py runs its seeds.

    workload.run(seed, run_dir, *, tracker=None, progress=False, stop_after=None) -> (metrics, history) | None

``metrics`` is a flat dict (numbers, strings, lists); parameters returned under ``metrics["final_params"]`` (any
pytree of arrays) are exported by the driver to final_params.msgpack. ``history`` is a list of rows ({"step": ...}).
``None`` means the work stopped early (``stop_after``, the tests' kill) and resumes from the run's checkpoints.
The driver owns the rest: the run directory, config.yaml, the config-hash check, tracking, metrics.json (last).

A workload whose runs are too small to keep the cores busy may also train several seeds side by side in one
compiled program (seeds as a batch axis, repro/fit.py ``batched``):

    workload.run_group(seeds, run_dirs, *, trackers=None, progress=False, stop_after=None)
        -> [(metrics, history)] in the order of seeds | None

each seed checkpointed in its own run directory, so that a killed group resumes exactly (papers/gnn/experiment.py).
The driver uses it when asked to (``--group``; workflows/paper.smk's ``SEEDS_PER_PROGRAM``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

Outcome = tuple[dict, list[dict]]


class Workload(Protocol):
    def run(self, seed: int, run_dir: Path, *, tracker=None, progress: bool = False,
            stop_after: int | None = None) -> Outcome | None: ...


class Training:
    """A gradient-trained model: ``build_task(cfg, seed)`` gives a repro.train.Task, trained by repro/train.py's
    loop (chunks, evaluation, checkpoints, exact resume); or a repro.train.Measurement, which measures instead."""

    def __init__(self, cfg: dict, build_task: Callable):
        self.cfg, self.build_task = cfg, build_task

    def run(self, seed, run_dir, *, tracker=None, progress=False, stop_after=None):
        from repro import train
        task = self.build_task(self.cfg, seed)
        if isinstance(task, train.Measurement):
            return task.measure()
        return train.fit_task(task, self.cfg, seed, Path(run_dir), tracker=tracker, progress=progress,
                              stop_after=stop_after)

    def run_group(self, seeds, run_dirs, *, trackers=None, progress=False, stop_after=None):
        """The seeds' Tasks side by side in one compiled program (repro.train.fit_tasks); Measurements, which time
        things, one after another."""
        from repro import train
        tasks = [self.build_task(self.cfg, seed) for seed in seeds]
        if any(isinstance(t, train.Measurement) for t in tasks):
            return [t.measure() for t in tasks]
        return train.fit_tasks(tasks, self.cfg, list(seeds), [Path(d) for d in run_dirs], trackers=trackers,
                               progress=progress, stop_after=stop_after)


class Function:
    """A run that takes seconds: ``fn(cfg, seed) -> (metrics, history)``, no checkpoints (a killed run starts over
    and, being deterministic, ends with the same numbers)."""

    def __init__(self, cfg: dict, fn: Callable):
        self.cfg, self.fn = cfg, fn

    def run(self, seed, run_dir, *, tracker=None, progress=False, stop_after=None):
        return self.fn(self.cfg, seed)


class Resumable:
    """A run that keeps checkpoints in its run directory: ``fn(cfg, seed, run_dir, tracker=, progress=,
    stop_after=) -> (metrics, history) | None``."""

    def __init__(self, cfg: dict, fn: Callable):
        self.cfg, self.fn = cfg, fn

    def run(self, seed, run_dir, *, tracker=None, progress=False, stop_after=None):
        return self.fn(self.cfg, seed, Path(run_dir), tracker=tracker, progress=progress, stop_after=stop_after)
