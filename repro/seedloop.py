"""Every seed of one experiment in one process (for papers whose runs take seconds: one start-up, one compilation).

    python -m papers.<p>.experiment --experiment E --scale S [--seeds 0,1,2] [--set k=v ...]

A paper's entry point calls ``main(paper_dir, make_task)``; ``make_task(cfg)`` returns
``task(cfg, seed, run_dir, stop_after=None) -> (metrics, history rows)`` (metrics None if stopped early). A task
returns its trained parameters (any pytree of arrays) under ``metrics["final_params"]``: they are exported to the run's
final_params.msgpack (repro/export.py) and replaced by their sha256.
Each seed is its own run (DESIGN.md, "A run"): results/<p>/runs/<experiment>/<scale>/seed<k>/ with metrics.json
(written last), history.csv, config.yaml, the task's checkpoints and an MLflow run. A seed whose metrics.json exists
with the same config is skipped; a seed with a different config is refused. When all seeds are done the experiment
writes ``seeds.json`` (``--marker``) beside them (the workflow's declared output, see workflows/paper.smk).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from repro import config as rconfig
from repro import export, provenance, runio, tracking
from repro.checkpoint import CheckpointError
from repro.cli import data_tag, start_tracker
from repro.data import DataError
from repro.progress import Progress

SUMMARY_KEYS = ("test_accuracy", "accuracy", "loss")


def run_seed(task, cfg: dict, chash: str, paper_dir: Path, seed: int, run_dir: Path, track: bool = True,
             stop_after: int | None = None):
    """One seed; returns its metrics (None if stopped early by ``stop_after``)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_file = run_dir / "config.yaml"
    if cfg_file.exists():
        old = rconfig.load_yaml(cfg_file).get("config_hash")
        if old != chash:
            raise CheckpointError(f"{run_dir} holds a run of a different config (hash {old}, now {chash}); delete "
                                  f"{run_dir} to start it over, or restore the config it was run with")
        if (run_dir / "metrics.json").exists():
            return json.loads((run_dir / "metrics.json").read_text())
    runio.write_yaml(cfg_file, {**cfg, "seed": seed, "config_hash": chash})
    git, tracker = tracking.git_state(), None
    if track and tracking.enabled():
        tracker = start_tracker(paper_dir, cfg, chash, seed, run_dir, git,
                                data_tag(cfg))
    t0 = time.perf_counter()
    try:
        metrics, history = task(cfg, seed, run_dir, stop_after=stop_after)
    except BaseException:
        if tracker:
            tracker.finish("FAILED")
        raise
    if metrics is None:
        return None
    if metrics.get("final_params") is not None:
        metrics = {**metrics, "final_params_sha256": export.write(metrics["final_params"], run_dir)}
    metrics.pop("final_params", None)
    metrics.setdefault("wall_time_s", time.perf_counter() - t0)    # what the next plan's time estimate reads
    metrics = {**metrics, "seed": seed, "config_hash": chash, "git_commit": git.get("git_commit", "unknown"),
               "git_dirty": git.get("git_dirty", "unknown"), **provenance.of_run()}
    runio.write_history(run_dir / "history.csv", history or [{"step": 0}])
    if tracker:
        tracker.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, step=0)
        for name in ("history.csv", "config.yaml"):
            tracker.log_artifact(run_dir / name)
    runio.write_json(run_dir / "metrics.json", metrics)  # written last: its presence means the run is complete
    if tracker:
        tracker.log_artifact(run_dir / "metrics.json")
        tracker.finish()
    return metrics


def run_experiment(paper_dir: Path, make_task, experiment: str, scale: str, seeds=None, overrides=None,
                   track: bool = True, quiet: bool = False, marker: str = "seeds.json") -> dict:
    paper_dir = Path(paper_dir)
    pcfg = rconfig.load_paper_config(paper_dir / "config.yaml")
    cfg = rconfig.resolve(pcfg, experiment, scale, overrides)
    seeds = list(seeds) if seeds is not None else rconfig.seeds(pcfg, scale)
    chash = rconfig.config_hash(cfg)
    results = tracking.results_dir()
    task = make_task(cfg)
    done = {}
    events = Progress(f"{pcfg['paper']} {experiment} {scale}", len(seeds), unit="seed", every=0)
    for i, seed in enumerate(seeds):
        t0 = time.perf_counter()
        run_dir = runio.run_dir(results, pcfg["paper"], experiment, scale, seed)
        m = run_seed(task, cfg, chash, paper_dir, seed, run_dir, track)
        done[seed] = m
        if not quiet:
            shown = {k: m[k] for k in SUMMARY_KEYS if k in m} or {k: v for k, v in list(m.items())[:3]}
            print(f"{experiment} seed {seed}: {shown} ({time.perf_counter() - t0:.1f} s)", flush=True)
        events.update(i + 1, **{k: m[k] for k in SUMMARY_KEYS if isinstance(m.get(k), float)})
    events.close()
    where = runio.run_dir(results, pcfg["paper"], experiment, scale, 0).parent / marker
    runio.write_json(where, {"experiment": experiment, "scale": scale, "config_hash": chash,
                              "seeds": {str(s): m for s, m in done.items()}})
    return done


def main(paper_dir: Path, make_task, argv=None) -> int:
    p = argparse.ArgumentParser(description=f"Train every seed of one {Path(paper_dir).name} experiment")
    p.add_argument("--experiment", required=True)
    p.add_argument("--scale", default="cpu")
    p.add_argument("--seeds", help="comma-separated seeds (default: the scale's seeds from config.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.add_argument("--marker", default="seeds.json",
                   help="the file written beside the seeds when all are done (the workflow's output; an adaptive "
                        "design's later looks write seeds.<n>.json)")
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    if "/" in args.marker or not args.marker.endswith(".json"):
        print(f"error: --marker {args.marker!r} must be a file name ending in .json", file=sys.stderr)
        return 2
    try:
        run_experiment(paper_dir, make_task, args.experiment, args.scale, seeds, args.overrides,
                       track=not args.no_track, marker=args.marker)
    except (rconfig.ConfigError, CheckpointError, tracking.TrackingError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def sibling_run(cfg: dict, experiment: str, seed: int) -> Path:
    """The run directory of another experiment of the same paper and scale, same seed."""
    return runio.run_dir(tracking.results_dir(), cfg["run"]["paper"], experiment, cfg["run"]["scale"], seed)


def finished_metrics(cfg: dict, experiment: str, seed: int) -> dict:
    """The metrics of a finished sibling run (a ``needs`` dependency); a clear error naming the command if absent."""
    f = sibling_run(cfg, experiment, seed) / "metrics.json"
    if not f.exists():
        raise rconfig.ConfigError(f"{f} is missing: run experiment {experiment!r} for seed {seed} first "
                                  f"(python -m papers.{cfg['run']['paper']}.experiment --experiment {experiment} "
                                  f"--scale {cfg['run']['scale']} --seeds {seed})")
    return json.loads(f.read_text())

