"""Seeds side by side against one after another: for each experiment, the steady-state time of S seeds trained in
one compiled program (repro.train.fit_tasks: the seeds a vmapped axis) against S times one seed's, taken in one run
on this machine, compilation apart. A ratio above 1 is what grouping a job's seeds would save.

    .venv/bin/python benchmarks/bench_seed_groups.py [--seeds 10] [--steps 40] moe:switch-e8 sae:lm mamba:s6-mamba

An experiment is paper:name at the cpu scale (--scale to change it). The same chunk of --steps training steps is
timed for one seed and for the group (the median of --repeats calls after a warm-up call); the evaluation is not
timed (it runs every eval_every steps, the same for both).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def tasks_for(paper: str, cfg: dict, seeds: list[int]):
    from repro import text
    if paper == "moe":
        from papers.moe import model
        corpus = text.load_chars(cfg["data"]["registry"])
        return [model.build_task(cfg, s, corpus) for s in seeds]
    if paper == "sae":
        from papers.sae import lm
        corpus = text.load_chars(cfg["data"]["registry"])
        return [lm.build_task(cfg, s, corpus) for s in seeds]
    if paper == "mamba":
        from papers.mamba.experiment import build_task
        return [build_task(cfg, s) for s in seeds]
    raise SystemExit(f"no task builder for paper {paper!r} (moe, sae, mamba)")


def chunk_seconds(tasks, seeds, steps: int, repeats: int) -> float:
    """Median seconds of one compiled chunk of ``steps`` steps for these seeds side by side (one seed: unbatched)."""
    import jax

    from repro import fit, seeding
    from repro.train import group_objective
    _, obj, states = group_objective(tasks)
    keys = [seeding.key(s, "data") for s in seeds]
    batched = len(seeds) > 1
    state, key = (fit.stack(states), fit.stack(keys)) if batched else (states[0], keys[0])
    run = fit.chunk_fn(obj, steps, batched=batched).lower(state, jax.numpy.int32(0), key, None).compile()
    jax.block_until_ready(run(state, jax.numpy.int32(0), key, None))          # warm-up
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(run(state, jax.numpy.int32(steps * (r + 1)), key, None))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiments", nargs="+", help="paper:experiment")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--scale", default="cpu")
    args = p.parse_args(argv)
    import jax

    from repro import config as rconfig
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; jax {jax.__version__}; "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}; {args.scale} scale; {args.seeds} seeds; chunks of "
          f"{args.steps} steps, median of {args.repeats}")
    print(f"{'experiment':28s} {'1 seed s':>9s} {f'{args.seeds} side by side s':>20s} {'ratio':>7s}")
    for spec in args.experiments:
        paper, name = spec.split(":")
        cfg = rconfig.resolve(rconfig.load_paper_config(REPO / "papers" / paper / "config.yaml"), name, args.scale)
        seeds = list(range(args.seeds))
        tasks = tasks_for(paper, cfg, seeds)
        one = chunk_seconds(tasks[:1], seeds[:1], args.steps, args.repeats)
        group = chunk_seconds(tasks, seeds, args.steps, args.repeats)
        print(f"{spec:28s} {one:9.3f} {group:20.3f} {args.seeds * one / group:6.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
