"""What DVC versions and shares of a paper's runs: a copy, ``results/<paper>/shared/``, of every run directory without
its Orbax step folders (metrics.json, history.csv, config.yaml, final_params.msgpack and the per-experiment seed
markers).

    python -m repro.share pack mamba       # the DVC stage runs this after the workflow: runs -> shared
    python -m repro.share restore mamba    # the workflow does this by itself: shared -> runs, missing files only

Why a copy and not ``results/<paper>/runs`` itself: ``dvc exp run`` first checks out the outputs recorded in
dvc.lock, with force, and deletes an output it has no record of. Had the runs directory been the output, a
``dvc exp run`` after a plain ``snakemake`` would delete every run that Snakemake trained. DVC owns ``shared/`` (it
may delete and re-create it at will: it is rebuilt from the runs), and nothing but Snakemake's jobs writes the runs.
After a ``dvc pull`` the workflow restores the pulled runs that are missing here, never overwriting a file, so
finished runs are not trained again.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from repro import tracking

SHARED = "shared"
LOCAL_ONLY = {"checkpoints"}     # Orbax step folders: timestamps inside; the final parameters travel as msgpack


def _files(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in LOCAL_ONLY and not d.startswith("."))
        for f in sorted(filenames):
            if not f.endswith(".tmp"):
                yield Path(dirpath) / f


def pack(results: Path, paper: str) -> int:
    """Rebuild ``shared/`` from ``runs/`` (written aside, then swapped in). Returns the number of files."""
    runs, shared = Path(results) / paper / "runs", Path(results) / paper / SHARED
    tmp = shared.with_name(SHARED + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = 0
    if runs.exists():
        for f in _files(runs):
            dst = tmp / f.relative_to(runs)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dst)
            n += 1
    shutil.rmtree(shared, ignore_errors=True)
    tmp.rename(shared)
    return n


def restore(results: Path, paper: str) -> int:
    """Copy into ``runs/`` the files of ``shared/`` it lacks; an existing file is never overwritten. Returns the
    number of run directories that gained their metrics.json (finished runs restored)."""
    runs, shared = Path(results) / paper / "runs", Path(results) / paper / SHARED
    if not shared.is_dir():
        return 0
    finished = 0
    for f in _files(shared):
        dst = runs / f.relative_to(shared)
        if dst.exists():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copy2(f, tmp)
        tmp.rename(dst)
        finished += f.name == "metrics.json"
    return finished


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["pack", "restore"])
    p.add_argument("paper")
    p.add_argument("--results", type=Path, default=None)
    args = p.parse_args(argv)
    results = args.results or tracking.results_dir()
    if args.action == "pack":
        n = pack(results, args.paper)
        print(f"{args.paper}: {n} files of its runs copied to {results / args.paper / SHARED} (what DVC shares)")
    else:
        n = restore(results, args.paper)
        print(f"{args.paper}: {n} finished runs restored from {results / args.paper / SHARED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
