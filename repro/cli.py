"""Command line for one run: ``python -m papers.<p>.experiment --experiment E --scale S --seed K [--set k=v ...]``.

A paper's entry point calls ``main(paper_dir, build_task)`` with ``build_task(cfg, seed) -> repro.train.Task``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from repro import config as rconfig
from repro import provenance, runio, tracking
from repro.checkpoint import CheckpointError
from repro.data import DataError
from repro.train import Measurement, train


def claim_ids(paper_dir: Path, experiment: str) -> list[str]:
    """Ids of the claims in ``claims.yaml`` that use this experiment (for the run's tags)."""
    path = paper_dir / "claims.yaml"
    if not path.exists():
        return []
    claims = (yaml.safe_load(path.read_text()) or {}).get("claims", [])
    out = []
    for c in claims:
        rule = c.get("rule") or {}
        used = set(c.get("experiments") or []) | set(rule.get("better") or []) | set(rule.get("worse") or [])
        if experiment in used:
            out.append(c.get("id"))
    return out


def start_tracker(paper_dir: Path, cfg: dict, chash: str, seed: int, run_dir: Path, git: dict, data: str):
    """The MLflow run of one training run, tagged as DESIGN.md's tracking contract asks."""
    r = cfg["run"]
    tags = {"paper": r["paper"], "experiment": r["experiment"], "scale": r["scale"], "seed": seed,
            "claims": ",".join(claim_ids(Path(paper_dir), r["experiment"])), "config_hash": chash, "data": data,
            "run_dir": str(run_dir), **git, **tracking.package_versions()}
    return tracking.RunTracker(r["paper"], f"{r['experiment']}/{r['scale']}/seed{seed}", tags, tracking.flatten(cfg),
                               run_dir)


def data_tag(cfg: dict) -> str:
    tfds_name = (cfg.get("data") or {}).get("tfds")
    if tfds_name:
        from repro import tfds_data
        return f"tensorflow-datasets {tfds_name} ({tfds_data.data_dir()})"
    return (cfg.get("data") or {}).get("registry") or "synthetic (generated from the seed)"


def run(paper_dir: Path, build_task, experiment: str, scale: str, seed: int, overrides=None,
        run_dir: Path | None = None, track: bool = True, progress: bool = True, stop_after: int | None = None):
    paper_dir = Path(paper_dir)
    paper_cfg = rconfig.load_paper_config(paper_dir / "config.yaml")
    cfg = rconfig.resolve(paper_cfg, experiment, scale, overrides)
    paper = paper_cfg["paper"]
    chash = rconfig.config_hash(cfg)
    run_dir = Path(run_dir or runio.run_dir(tracking.results_dir(), paper, experiment, scale, seed))
    run_dir.mkdir(parents=True, exist_ok=True)
    # built before the run is tracked: a task that cannot be built leaves no MLflow run behind
    task = build_task(cfg, seed)
    tracker, git = None, tracking.git_state()
    if track and tracking.enabled():
        tracker = start_tracker(paper_dir, cfg, chash, seed, run_dir, git, data_tag(cfg))
    status, metrics = "FAILED", None
    try:
        if isinstance(task, Measurement):
            metrics, rows = task.measure()
            metrics = {**metrics, "seed": seed, "config_hash": chash, **cfg["run"], **git, **provenance.of_run()}
            runio.write_yaml(run_dir / "config.yaml", {**cfg, "seed": seed, "config_hash": chash})
            runio.write_history(run_dir / "history.csv", rows or [{"step": 0}])
            if tracker:
                tracker.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, 0)
            runio.write_json(run_dir / "metrics.json", metrics)
        else:
            metrics = train(task, cfg, seed, run_dir, tracker=tracker, config_hash=chash, progress=progress,
                            stop_after=stop_after, provenance=git)
        status = "FINISHED" if metrics else "KILLED"      # stopped early (stop_after): resumes from its checkpoint
    finally:
        if tracker:                                       # every tracked run ends in a final state
            if status == "FINISHED":
                for name in ("metrics.json", "history.csv", "config.yaml"):
                    tracker.log_artifact(run_dir / name)
            tracker.finish(status)
    return metrics


def main(paper_dir: Path, build_task, argv=None) -> int:
    p = argparse.ArgumentParser(description=f"Train one run of {Path(paper_dir).name}")
    p.add_argument("--experiment", required=True)
    p.add_argument("--scale", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable), e.g. --set train.steps=100")
    p.add_argument("--run-dir", type=Path, help="default: results/<paper>/runs/<experiment>/<scale>/seed<k>")
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    args = p.parse_args(argv)
    try:
        metrics = run(paper_dir, build_task, args.experiment, args.scale, args.seed, args.overrides,
                      args.run_dir, track=not args.no_track)
    except (rconfig.ConfigError, CheckpointError, tracking.TrackingError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:      # a setting the paper's code cannot build (e.g. an unknown architecture name)
        print(f"error: {Path(paper_dir).name} {args.experiment} ({args.scale}): {e}", file=sys.stderr)
        return 2
    print({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    return 0
