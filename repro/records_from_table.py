"""Rebuild run records (repro/share.py) from a committed per-seed table, for finished runs whose directories were lost.

    python -m repro.records_from_table mamba --scale cpu --table results/mamba/cpu/evidence/final-run-per-seed.csv

The table is ``python -m analysis.run_table``'s CSV: one row per finished run, its numeric metrics to six decimals
and its provenance (commit, dirty flag, config hash, steps, wall time, when its metrics were written). Each row
becomes a record holding a ``metrics.json`` with those values and ``reconstructed_from_table``, which names the table
and the commit it was read at; ``restore-record`` then brings the runs back for the workflow and the verification,
which judge them like any run and count them in the provenance. What the table never held stays lost, and the record
says so by leaving it out: the run's curves (history.csv), parameters, resolved config, machine and package versions,
and any non-numeric result (a metric's ``not_run`` reason). A record already present is kept unless ``--replace``
(a run trained again since has its own, fuller record).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import subprocess
import sys
from pathlib import Path

from repro import runio, share, tracking

RECONSTRUCTED = share.RECONSTRUCTED
TEXT = {"experiment", "config_hash", "git_commit", "git_dirty", "metrics_written_utc", "machine"}


def _number(text: str):
    v = float(text)
    return int(v) if v.is_integer() and "." not in text and "e" not in text.lower() else v


def _full_commit(short: str, repo: Path) -> str:
    """The full hash of a commit the table names by its first ten characters (kept short where git cannot say)."""
    r = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{short}^{{commit}}"], cwd=repo,
                       capture_output=True, text=True)
    return r.stdout.strip() or short


def _table_commit(table: Path, repo: Path) -> str:
    r = subprocess.run(["git", "log", "-1", "--format=%H", "--", str(table.resolve())], cwd=repo,
                       capture_output=True, text=True)
    return r.stdout.strip() or "uncommitted"


def metrics_of(row: dict, paper: str, scale: str, repo: Path) -> dict:
    """A row of the table as the metrics.json its run wrote, less what the table does not hold."""
    m = {"paper": paper, "scale": scale, "experiment": row["experiment"], "seed": int(row["seed"])}
    for k, v in row.items():
        if k in TEXT or k == "seed" or v in ("", None):
            continue
        m[k] = _number(v)
    for k in ("config_hash", "git_dirty", "machine"):
        if row.get(k):
            m[k] = row[k]
    if row.get("git_commit"):
        m["git_commit"] = _full_commit(row["git_commit"], repo)
    return m


def rebuild(results: Path, paper: str, scale: str, table: Path, repo: Path, replace: bool = False) -> int:
    """Write a record for every row of ``table``; returns how many were written."""
    records = runio.verdict_dir(results, paper, scale) / share.RECORDS
    source = {"table": str(table), "table_commit": _table_commit(table, repo),
              "precision": "six decimals (analysis/run_table.py)",
              "lost": ["history.csv", "final parameters", "config.yaml", "machine", "package versions",
                       "non-numeric results (not_run reasons)"]}
    written = 0
    with open(table) as fh:
        for row in csv.DictReader(fh):
            dst = records / row["experiment"] / f"seed{int(row['seed'])}"
            if (dst / "metrics.json").exists() and not replace:
                continue
            if dst.exists():
                for f in dst.iterdir():
                    f.unlink()
            when = row.get("metrics_written_utc")
            if when:   # restore-record gives the run its metrics' time back (run_table's looks read it)
                t = datetime.datetime.strptime(when, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
                runio.write_json(dst / share.MTIMES, {"metrics.json": int(t.timestamp()) * 10 ** 9})
            runio.write_json(dst / RECONSTRUCTED, source)
            runio.write_json(dst / "metrics.json", metrics_of(row, paper, scale, repo))
            written += 1
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m repro.records_from_table", description=__doc__.splitlines()[0])
    p.add_argument("paper")
    p.add_argument("--scale", default="cpu", choices=runio.SCALES)
    p.add_argument("--table", type=Path, required=True, help="an analysis.run_table CSV of the lost runs")
    p.add_argument("--replace", action="store_true", help="also over records already present")
    p.add_argument("--results", type=Path, default=None)
    a = p.parse_args(argv)
    if not a.table.exists():
        print(f"records_from_table: {a.table} does not exist (an `analysis.run_table --out` CSV)", file=sys.stderr)
        return 2
    results = a.results or tracking.results_dir()
    n = rebuild(results, a.paper, a.scale, a.table, Path.cwd(), a.replace)
    print(f"{a.paper}: {n} run records rebuilt from {a.table} in "
          f"{runio.verdict_dir(results, a.paper, a.scale) / share.RECORDS} (then: python -m repro.share "
          f"restore-record {a.paper} --scale {a.scale})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
