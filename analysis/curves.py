"""Training curves for `dvc plots show` / `dvc plots diff`: one small CSV per experiment,
``results/<paper>/curves/<experiment>.csv`` with columns ``step, seed0, seed1, ...`` (the training loss of each
seed), written beside claims.json by the verification step and committed with it, so two commits' curves can be
overlaid. Experiments whose history has no loss column (measurements, feature tables) have no curve.
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


def write(results: Path, paper: str, scale: str, experiments, seeds) -> list[Path]:
    out_dir = Path(results) / paper / "curves"
    written = []
    for e in experiments:
        per_seed = {}
        for s in seeds:
            h = runio.run_dir(results, paper, e, scale, s) / "history.csv"
            c = curve(h) if h.exists() else None
            if c:
                per_seed[f"seed{s}"] = c
        if not per_seed:
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        steps = sorted(set().union(*per_seed.values()))
        path = out_dir / f"{e}.csv"
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["step", *per_seed])
            for step in steps:
                w.writerow([int(step) if float(step).is_integer() else step,
                            *(f"{c[step]:.6g}" if step in c else "" for c in per_seed.values())])
        written.append(path)
    return written
