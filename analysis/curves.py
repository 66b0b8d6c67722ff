"""Training curves for `dvc plots show` / `dvc plots diff` and the dashboard: one small tidy CSV per experiment,
``results/<paper>/<scale>/curves/<experiment>.csv`` with columns ``step, seed, loss`` (the training loss of each
seed, at most MAX_POINTS steps per seed, evenly spaced, the first and last kept), written beside claims.json by the
verification step and committed with it, so two commits' curves can be overlaid. Experiments whose history has no
loss column (measurements, feature tables), or whose runs kept no history (rebuilt from a per-seed table:
repro/records_from_table.py), have no curve, and an earlier verification's curve of them is removed.
"""
from __future__ import annotations

import csv
from pathlib import Path

from repro import runio

LOSS_COLUMNS = ("train_loss", "loss")
STEP_COLUMNS = ("step", "epoch")


def curve(history: Path) -> dict[float, float] | None:
    rows = runio.read_history(history)
    if not rows:
        return None
    x = next((c for c in STEP_COLUMNS if c in rows[0]), None)
    y = next((c for c in LOSS_COLUMNS if any(c in r for r in rows)), None)
    if not x or not y:
        return None
    return {r[x]: r[y] for r in rows if y in r}


MAX_POINTS = 200


def thin(steps: list, n: int = MAX_POINTS) -> list:
    """At most ``n`` of ``steps``, evenly spaced, the first and the last kept."""
    if len(steps) <= n:
        return list(steps)
    idx = sorted({round(i * (len(steps) - 1) / (n - 1)) for i in range(n)})
    return [steps[i] for i in idx]


def write(results: Path, paper: str, scale: str, experiments, seeds) -> list[Path]:
    out_dir = runio.verdict_dir(results, paper, scale) / "curves"
    written = []
    for e in experiments:
        per_seed = {}
        for s in seeds:
            h = runio.run_dir(results, paper, e, scale, s) / "history.csv"
            c = curve(h) if h.exists() else None
            if c:
                per_seed[s] = c
        if not per_seed:
            # none of the runs behind these verdicts kept a curve (a measurement, or runs rebuilt from a per-seed
            # table): an older verification's file would show runs that are not these
            (out_dir / f"{e}.csv").unlink(missing_ok=True)
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        rows = ["step,seed,loss"]
        for s, c in per_seed.items():
            for step in thin(sorted(c)):
                rows.append(f"{int(step) if float(step).is_integer() else step},{s},{c[step]:.6g}")
        path = out_dir / f"{e}.csv"
        runio.atomic_write(path, "\n".join(rows) + "\n")
        written.append(path)
    return written


def read(path: Path) -> dict[str, tuple[list[float], list[float]]]:
    """``{seed: (steps, losses)}`` from one curves file."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    with open(path) as fh:
        for row in csv.DictReader(fh):
            xs, ys = out.setdefault(row["seed"], ([], []))
            xs.append(float(row["step"]))
            ys.append(float(row["loss"]))
    return out
