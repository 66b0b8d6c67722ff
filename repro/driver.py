"""The one run driver: every seed of every experiment of every paper runs through ``run_seed``.

    python -m papers.<p>.experiment --experiment E --scale S [--seed K | --seeds 0,1,2] [--set k=v ...]

A paper's ``experiment.py`` calls ``main(paper_dir, workload)`` with ``workload(cfg) -> repro.workload.Workload``.
Each seed is its own run (DESIGN.md, "A run"): results/<p>/runs/<experiment>/<scale>/seed<k>/ with config.yaml,
history.csv, the workload's checkpoints, metrics.json (written last: its presence means the run is complete) and an
MLflow run that always ends FINISHED, FAILED or KILLED. A seed whose metrics.json exists with the same config is
skipped; a run directory of another config is refused. With ``--seeds`` (papers whose runs take seconds: one
start-up, one compilation) the experiment writes ``seeds.json`` (``--marker``) beside the seeds when all are done:
the workflow's declared output (workflows/paper.smk). With ``--group N`` a workload that has ``run_group`` trains N
seeds side by side in one compiled program (seeds as a batch axis); each is still its own run, and its metrics.json
names the seeds it was trained with (``trained_with_seeds``: the group changes the floating-point summation order, so
a seed's numbers are those of its group, equal to the seed alone within rounding).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from repro import config as rconfig
from repro import compile_cache, export, provenance, runio, share, tracking
from repro.checkpoint import CheckpointError
from repro.data import DataError
from repro.progress import Progress

SUMMARY_KEYS = ("test_accuracy", "accuracy", "loss")


def claim_ids(paper_dir: Path, experiment: str) -> list[str]:
    """Ids of the claims in ``claims.yaml`` that use this experiment (for the run's tags)."""
    path = Path(paper_dir) / "claims.yaml"
    if not path.exists():
        return []
    out = []
    for c in (rconfig.safe_load(path.read_text()) or {}).get("claims", []):
        rule = c.get("rule") or {}
        used = set(c.get("experiments") or []) | set(rule.get("better") or []) | set(rule.get("worse") or [])
        if experiment in used:
            out.append(c.get("id"))
    return out


def data_tag(cfg: dict) -> str:
    tfds_name = (cfg.get("data") or {}).get("tfds")
    if tfds_name:
        from repro import tfds_data
        return f"tensorflow-datasets {tfds_name} ({tfds_data.data_dir()})"
    return (cfg.get("data") or {}).get("registry") or "synthetic (generated from the seed)"


def start_tracker(paper_dir: Path, cfg: dict, chash: str, seed: int, run_dir: Path, git: dict):
    """The MLflow run of one run, tagged as DESIGN.md's tracking contract asks."""
    r = cfg["run"]
    tags = {"paper": r["paper"], "experiment": r["experiment"], "scale": r["scale"], "seed": seed,
            "claims": ",".join(claim_ids(paper_dir, r["experiment"])), "config_hash": chash, "data": data_tag(cfg),
            "run_dir": str(run_dir), **git, **tracking.package_versions()}
    return tracking.RunTracker(r["paper"], f"{r['experiment']}/{r['scale']}/seed{seed}", tags, tracking.flatten(cfg),
                               run_dir)


class _Open:
    """One seed's run while it trains: what ``_finish`` and ``_end`` need."""

    def __init__(self, seed: int, run_dir: Path, chash: str, git: dict, tracker):
        self.seed, self.run_dir, self.chash, self.git, self.tracker = seed, run_dir, chash, git, tracker
        self.status, self.metrics, self.t0 = "FAILED", None, time.perf_counter()


def _open(paper_dir: Path, cfg: dict, seed: int, run_dir: Path, track: bool) -> dict | _Open:
    """A finished run's metrics, or the run opened: config-hash check, config.yaml, its MLflow run started."""
    chash = rconfig.config_hash(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_file = run_dir / "config.yaml"
    if cfg_file.exists():
        old = rconfig.load_yaml(cfg_file).get("config_hash")
        if old != chash:
            raise CheckpointError(f"{run_dir} holds a run of another config (a different config hash: {old}, now "
                                  f"{chash}); delete {run_dir} to start it over, or restore the config it was run with")
        if (run_dir / "metrics.json").exists():
            return json.loads((run_dir / "metrics.json").read_text())
    elif (run_dir / "metrics.json").exists():   # rebuilt from a per-seed table, no config.yaml (records_from_table)
        m = json.loads((run_dir / "metrics.json").read_text())
        if m.get("config_hash", chash) != chash:
            raise CheckpointError(f"{run_dir} holds a run of another config (a different config hash: "
                                  f"{m['config_hash']}, now {chash}); delete {run_dir} to start it over")
        return m
    for mark in (share.RESTORED, share.RECONSTRUCTED):   # trained here and now, whatever the directory held before
        (run_dir / mark).unlink(missing_ok=True)
    runio.write_yaml(cfg_file, {**cfg, "seed": seed, "config_hash": chash})
    git, tracker = tracking.git_state(), None
    if track and tracking.enabled():
        tracker = start_tracker(Path(paper_dir), cfg, chash, seed, run_dir, git)
    return _Open(seed, run_dir, chash, git, tracker)


def _finish(run: _Open, cfg: dict, outcome, extra: dict | None = None) -> dict | None:
    """Write a finished seed's files, metrics.json last; None (status KILLED) when it stopped early."""
    if outcome is None or outcome[0] is None:
        run.status = "KILLED"                     # stopped early: resumes from its checkpoints
        return None
    metrics, history = outcome
    if metrics.get("final_params") is not None:
        metrics = {**metrics, "final_params_sha256": export.write(metrics["final_params"], run.run_dir)}
    metrics.pop("final_params", None)
    metrics.setdefault("wall_time_s", time.perf_counter() - run.t0)    # what the next plan's time estimate reads
    metrics = {**metrics, **(extra or {}), "seed": run.seed, "config_hash": run.chash, **cfg["run"],
               "git_commit": run.git.get("git_commit", "unknown"), "git_dirty": run.git.get("git_dirty", "unknown"),
               **provenance.of_run()}
    runio.write_history(run.run_dir / "history.csv", history or [{"step": 0}])
    runio.write_json(run.run_dir / "metrics.json", metrics)  # written last: its presence means the run is complete
    run.status, run.metrics = "FINISHED", metrics
    return metrics


def _end(run: _Open) -> None:
    """Every tracked run ends in a final state."""
    if not run.tracker:
        return
    if run.status == "FINISHED":
        run.tracker.log_metrics({k: v for k, v in run.metrics.items()
                                 if isinstance(v, (int, float)) and not isinstance(v, bool)},
                                step=int(run.metrics.get("steps") or 0))
        for name in ("metrics.json", "history.csv", "config.yaml"):
            run.tracker.log_artifact(run.run_dir / name)
    run.tracker.finish(run.status)


def run_seed(workload, paper_dir: Path, cfg: dict, seed: int, run_dir: Path, *, track: bool = True,
             progress: bool = False, stop_after: int | None = None) -> dict | None:
    """One seed of one experiment; its metrics, or None when ``stop_after`` stopped it (to be resumed)."""
    run = _open(paper_dir, cfg, seed, run_dir, track)
    if isinstance(run, dict):
        return run
    try:
        return _finish(run, cfg, workload.run(seed, run.run_dir, tracker=run.tracker, progress=progress,
                                              stop_after=stop_after))
    finally:
        _end(run)


def run_group(workload, paper_dir: Path, cfg: dict, seeds: list[int], run_dirs: list[Path], *, track: bool = True,
              progress: bool = False, stop_after: int | None = None) -> dict:
    """Several seeds of one experiment trained side by side (``workload.run_group``: one compiled program, the
    seeds a batch axis), each still its own run: its directory, config.yaml, checkpoints, metrics.json and MLflow
    run. Seeds already finished are skipped. {seed: metrics or None (stopped early)}."""
    done, runs = {}, []
    try:
        for seed, run_dir in zip(seeds, run_dirs):
            run = _open(paper_dir, cfg, seed, run_dir, track)
            if isinstance(run, dict):
                done[seed] = run
            else:
                runs.append(run)
        if runs:
            group = [r.seed for r in runs]
            outcomes = workload.run_group(group, [r.run_dir for r in runs], trackers=[r.tracker for r in runs],
                                          progress=progress, stop_after=stop_after)
            for run, outcome in zip(runs, outcomes or [None] * len(runs)):
                done[run.seed] = _finish(run, cfg, outcome, {"trained_with_seeds": group})
    finally:
        for run in runs:
            _end(run)
    return {s: done[s] for s in seeds}


def run(paper_dir: Path, workload, experiment: str, scale: str, seed: int, overrides=None,
        run_dir: Path | None = None, track: bool = True, progress: bool = False, stop_after: int | None = None):
    """One seed of one experiment (default run directory: results/<paper>/runs/<experiment>/<scale>/seed<k>)."""
    pcfg = rconfig.load_paper_config(Path(paper_dir) / "config.yaml")
    cfg = rconfig.resolve(pcfg, experiment, scale, overrides)
    run_dir = run_dir or runio.run_dir(tracking.results_dir(), pcfg["paper"], experiment, scale, seed)
    return run_seed(workload(cfg), paper_dir, cfg, seed, run_dir, track=track, progress=progress,
                    stop_after=stop_after)


def run_experiment(paper_dir: Path, workload, experiment: str, scale: str, seeds=None, overrides=None,
                   track: bool = True, quiet: bool = False, marker: str | None = "seeds.json",
                   progress: bool = False, stop_after: int | None = None, group: int = 1) -> dict:
    """Every seed of one experiment in this process ({seed: metrics}); then the marker file beside them.
    ``group`` > 1: seeds side by side, that many per compiled program, where the workload has ``run_group``
    (0: all the seeds in one group); other workloads run their seeds one after the other."""
    paper_dir = Path(paper_dir)
    pcfg = rconfig.load_paper_config(paper_dir / "config.yaml")
    cfg = rconfig.resolve(pcfg, experiment, scale, overrides)
    seeds = list(seeds) if seeds is not None else rconfig.seeds(pcfg, scale)
    results = tracking.results_dir()
    work = workload(cfg)                    # built before any run is tracked: a bad setting leaves no MLflow run
    done = {}
    events = Progress(f"{pcfg['paper']} {experiment} {scale}", len(seeds), unit="seed", every=0)
    size = (group or len(seeds)) if hasattr(work, "run_group") else 1
    for first in range(0, len(seeds), size):
        t0 = time.perf_counter()
        batch = seeds[first:first + size]
        dirs = [runio.run_dir(results, pcfg["paper"], experiment, scale, seed) for seed in batch]
        if size > 1:
            ran = run_group(work, paper_dir, cfg, batch, dirs, track=track, progress=progress,
                            stop_after=stop_after)
        else:
            ran = {batch[0]: run_seed(work, paper_dir, cfg, batch[0], dirs[0], track=track, progress=progress,
                                      stop_after=stop_after)}
        done.update(ran)
        for seed, m in ran.items():
            if m is None:
                continue
            if not quiet:
                shown = {k: m[k] for k in SUMMARY_KEYS if k in m} or {k: v for k, v in list(m.items())[:3]}
                print(f"{experiment} seed {seed}: {shown} ({time.perf_counter() - t0:.1f} s"
                      f"{f' for {len(batch)} seeds side by side' if size > 1 else ''})", flush=True)
        finished = [m for m in ran.values() if m is not None]
        if finished:
            events.update(first + len(batch), **{k: finished[-1][k] for k in SUMMARY_KEYS
                                                 if isinstance(finished[-1].get(k), float)})
    events.close()
    if marker and all(m is not None for m in done.values()):
        where = runio.run_dir(results, pcfg["paper"], experiment, scale, 0).parent / marker
        runio.write_json(where, {"experiment": experiment, "scale": scale, "config_hash": rconfig.config_hash(cfg),
                                  "seeds": {str(s): m for s, m in done.items()}})
    return done


def main(paper_dir: Path, workload, argv=None) -> int:
    p = argparse.ArgumentParser(description=f"Train seeds of one {Path(paper_dir).name} experiment")
    p.add_argument("--experiment", required=True)
    p.add_argument("--scale", default="cpu")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--seed", type=int, help="one seed, with a progress bar (the workflow's per-seed jobs)")
    which.add_argument("--seeds", help="comma-separated seeds (default: the scale's seeds from config.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable), e.g. --set train.steps=100")
    p.add_argument("--run-dir", type=Path, help="with --seed: the run's directory (default: "
                   "results/<paper>/runs/<experiment>/<scale>/seed<k>)")
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.add_argument("--marker", default="seeds.json",
                   help="with --seeds: the file written beside the seeds when all are done (the workflow's output; "
                        "an adaptive design's later looks write seeds.<n>.json)")
    p.add_argument("--group", type=int, default=1, metavar="N",
                   help="with --seeds: train N seeds side by side in one compiled program where the experiment "
                        "supports it (0: all of them; each seed stays its own run); default 1, one after another")
    args = p.parse_args(argv)
    if "/" in args.marker or not args.marker.endswith(".json"):
        print(f"error: --marker {args.marker!r} must be a file name ending in .json", file=sys.stderr)
        return 2
    compile_cache.enable()
    one = args.seed is not None
    if args.run_dir and not one:
        print("error: --run-dir needs --seed (one run)", file=sys.stderr)
        return 2
    if args.group < 0:
        print(f"error: --group {args.group}: a number of seeds (0: all of them)", file=sys.stderr)
        return 2
    seeds = [args.seed] if one else [int(s) for s in args.seeds.split(",")] if args.seeds else None
    try:
        if one:
            done = {args.seed: run(paper_dir, workload, args.experiment, args.scale, args.seed, args.overrides,
                                   args.run_dir, track=not args.no_track, progress=True)}
        else:
            done = run_experiment(paper_dir, workload, args.experiment, args.scale, seeds, args.overrides,
                                  track=not args.no_track, marker=args.marker, group=args.group)
    except (rconfig.ConfigError, CheckpointError, tracking.TrackingError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:      # a setting the paper's code cannot build (e.g. an unknown architecture name)
        print(f"error: {Path(paper_dir).name} {args.experiment} ({args.scale}): {e}", file=sys.stderr)
        return 2
    if one:
        print({k: v for k, v in done[args.seed].items() if isinstance(v, (int, float))})
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
