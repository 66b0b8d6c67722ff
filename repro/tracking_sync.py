"""Send to MLflow what a run could not, because the tracking store went away while it trained.

    python -m repro.tracking_sync RUN_DIR [RUN_DIR ...]      # or --all: every run under results/ that needs it

A run whose store stopped answering finishes anyway and leaves ``mlflow_unsynced.json`` beside its metrics.json
(repro/tracking.py). This logs the history rows after the last step the store received, the final metrics and the
run's files, marks the MLflow run finished, and removes the marker. If the store no longer knows the run (a new
database), a new MLflow run is created with the run's tags and parameters.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from repro import config as rconfig
from repro import tracking

TAGS = ("paper", "experiment", "scale", "seed", "config_hash", "git_commit", "git_dirty")


def _recreate(client, run_dir: Path, metrics: dict) -> str:
    from mlflow.entities import Param
    cfg = rconfig.load_yaml(run_dir / "config.yaml")
    run_cfg = cfg.get("run", {})
    tags = {k: str(metrics.get(k, run_cfg.get(k, ""))) for k in TAGS}
    name = f"{tags['experiment']}/{tags['scale']}/seed{tags['seed']}"
    run = client.create_run(tracking.experiment_id(client, tags["paper"]), run_name=name,
                            tags={**tags, "run_dir": str(run_dir), "synced_later": "true"})
    params = [Param(k, str(v)[:6000]) for k, v in tracking.flatten(cfg).items()]
    for i in range(0, len(params), 100):
        client.log_batch(run.info.run_id, params=params[i:i + 100])
    (run_dir / "mlflow_run_id").write_text(run.info.run_id)
    return run.info.run_id


def sync(run_dir: Path) -> str:
    """Returns what was done, in a line."""
    from mlflow.entities import Metric
    run_dir = Path(run_dir)
    marker = run_dir / tracking.RunTracker.UNSYNCED
    if not marker.exists():
        return f"{run_dir}: nothing to sync"
    if not (run_dir / "metrics.json").exists():
        return f"{run_dir}: still unfinished (no metrics.json); run it to the end first"
    state, metrics = json.loads(marker.read_text()), json.loads((run_dir / "metrics.json").read_text())
    client = tracking.client()
    run_id = state.get("run_id")
    try:
        client.get_run(run_id)
    except Exception:
        run_id = _recreate(client, run_dir, metrics)
        state["synced_step"] = -1
    now = int(time.time() * 1000)
    points = []
    with open(run_dir / "history.csv") as fh:
        for row in csv.DictReader(fh):
            step = int(float(row.pop("step")))
            if step > state["synced_step"]:
                points += [Metric(k, float(v), now, step) for k, v in row.items() if v not in ("", None)]
    points += [Metric(k, float(v), now, 0) for k, v in metrics.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    for i in range(0, len(points), 1000):
        client.log_batch(run_id, metrics=points[i:i + 1000])
    for name in ("history.csv", "config.yaml", "metrics.json"):
        if (run_dir / name).exists():
            client.log_artifact(run_id, str(run_dir / name))
    client.set_terminated(run_id, status="FINISHED")
    marker.unlink()
    return f"{run_dir}: {len(points)} metric values sent to run {run_id}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="*", type=Path)
    p.add_argument("--all", action="store_true", help="every run under the results directory that needs it")
    args = p.parse_args(argv)
    dirs = list(args.run_dirs)
    if args.all:
        dirs += [m.parent for m in sorted(tracking.results_dir().rglob(tracking.RunTracker.UNSYNCED))]
    if not dirs:
        print("error: name run directories, or --all", file=sys.stderr)
        return 2
    try:
        for d in dirs:
            print(sync(d))
    except tracking.TrackingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
