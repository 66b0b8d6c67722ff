"""What DVC versions and shares of a paper's runs: a copy, ``results/<paper>/shared/``, of every run directory without
its Orbax step folders (metrics.json, history.csv, config.yaml, final_params.msgpack and the per-experiment seed
markers).

    python -m repro.share pack mamba       # the DVC stage runs this after the workflow: runs -> shared
    python -m repro.share restore mamba    # the workflow does this by itself: shared -> runs, missing files only
    python -m repro.share record mamba --scale cpu          # finished runs -> results/mamba/cpu/runs (git)
    python -m repro.share restore-record mamba --scale cpu  # results/mamba/cpu/runs -> runs, missing runs only

Why a copy and not ``results/<paper>/runs`` itself: ``dvc exp run`` first checks out the outputs recorded in
dvc.lock, with force, and deletes an output it has no record of. Had the runs directory been the output, a
``dvc exp run`` after a plain ``snakemake`` would delete every run that Snakemake trained. DVC owns ``shared/`` (it
may delete and re-create it at will: it is rebuilt from the runs), and nothing but Snakemake's jobs writes the runs.
After a ``dvc pull`` the workflow restores the pulled runs that are missing here, never overwriting a file, so
finished runs are not trained again.

Run records (``record``/``restore-record``) are the git-committed counterpart, for a long run that spans machines or
sessions with no DVC remote between them: ``results/<paper>/<scale>/runs/<experiment>/seed<k>/`` holds a finished
run's small files (metrics.json, history.csv, config.yaml, its MLflow id) but not its parameters, which would weigh
on every clone. A run restored from a record says so in ``restored_from_record`` (verification then skips the
parameters' checksum, as there are none, and counts such runs in the provenance). Restoring is explicit: a plain
``snakemake papers/<p>`` on a fresh clone still trains every run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from repro import export, runio, tracking

SHARED = "shared"
LOCAL_ONLY = {"checkpoints"}     # Orbax step folders: timestamps inside; the final parameters travel as msgpack
RECORDS = "runs"                 # results/<paper>/<scale>/runs: the committed run records
NOT_RECORDED = {export.FILENAME}  # parameters: megabytes per run, not for git
RESTORED = "restored_from_record"  # written into a run directory restored from a record
RECONSTRUCTED = "reconstructed_from_table"   # in a record rebuilt from a per-seed table (repro/records_from_table.py)
MTIMES = "mtimes.json"           # in a record: its files' modification times (git keeps none; run_table reads them)


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
        if f.name == "metrics.json":
            forget_incomplete(dst)
            finished += 1
    return finished


def _finished_runs(root: Path):
    """``(experiment, seed directory)`` of every finished run under ``root/<experiment>/[<scale>/]seed<k>``."""
    for metrics in sorted(root.glob("*/seed*/metrics.json")):
        yield metrics.parent.parent.name, metrics.parent


def record(results: Path, paper: str, scale: str) -> int:
    """Copy every finished run of ``scale`` (one with its metrics.json) into its record, parameters and checkpoints
    left out; a record that differs from its run (the run was trained again) is replaced. Returns how many records
    were written or changed."""
    runs, records = Path(results) / paper / "runs", runio.verdict_dir(results, paper, scale) / RECORDS
    changed = 0
    for metrics in sorted(runs.glob(f"*/{scale}/seed*/metrics.json")):
        run = metrics.parent
        dst = records / run.parent.parent.name / run.name
        files = [f for f in _files(run) if f.name not in NOT_RECORDED | {RESTORED} and not f.name.startswith(".")]
        if all((dst / f.relative_to(run)).exists()
               and (dst / f.relative_to(run)).read_bytes() == f.read_bytes() for f in files):
            continue
        mtimes = {str(f.relative_to(run)): f.stat().st_mtime_ns for f in files}
        for old in _files(dst) if dst.is_dir() else ():     # what the run no longer holds (trained again since)
            if str(old.relative_to(dst)) not in mtimes and old.name != MTIMES:
                old.unlink()
        runio.write_json(dst / MTIMES, mtimes)
        for f in sorted(files, key=lambda f: f.name == "metrics.json"):   # metrics.json last: a record is whole
            runio.atomic_write(dst / f.relative_to(run), f.read_bytes())
        changed += 1
    return changed


def restore_record(results: Path, paper: str, scale: str) -> int:
    """Bring back, from their records, the finished runs of ``scale`` that ``runs/`` lacks (a run directory with its
    own metrics.json is never touched; a half-trained one is completed from the record, its checkpoints left as
    they are). Returns the number of runs restored."""
    runs, records = Path(results) / paper / "runs", runio.verdict_dir(results, paper, scale) / RECORDS
    if not records.is_dir():
        return 0
    restored = 0
    for experiment, rec in _finished_runs(records):
        run = runs / experiment / scale / rec.name
        if (run / "metrics.json").exists():
            continue
        mtimes = json.loads((rec / MTIMES).read_text()) if (rec / MTIMES).exists() else {}
        for f in sorted(_files(rec), key=lambda f: f.name == "metrics.json"):
            if f.name == MTIMES:
                continue
            name = str(f.relative_to(rec))
            runio.atomic_write(run / name, f.read_bytes())
            if name in mtimes:      # when the run wrote it, not when it came back (run_table's metrics_written_utc)
                os.utime(run / name, ns=(mtimes[name], mtimes[name]))
        runio.atomic_write(run / RESTORED, f"{rec}\n")
        forget_incomplete(run / "metrics.json")
        restored += 1
    return restored


def forget_incomplete(output: Path, workdir: Path | None = None) -> bool:
    """Clear Snakemake's "incomplete" mark on ``output``, if a killed job left one: Snakemake would otherwise force the
    job again and delete the restored file first. The mark is ``.snakemake/incomplete/<base64 of the output's path
    relative to the working directory>`` (Snakemake's persistence layout; `snakemake --cleanup-metadata FILE` clears
    the same). Returns whether there was one."""
    import base64
    workdir = Path(workdir or Path.cwd()).resolve()
    try:
        rel = Path(output).resolve().relative_to(workdir)
    except ValueError:
        return False
    key = base64.urlsafe_b64encode(str(rel).encode()).decode()
    parts = [key[i:i + 254] for i in range(0, len(key), 254)]      # a name over 255 characters is split in folders
    mark = (workdir / ".snakemake" / "incomplete").joinpath(*["@" + s for s in parts[:-1]], parts[-1])
    if mark.exists():
        mark.unlink()
        return True
    return False


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["pack", "restore", "record", "restore-record"])
    p.add_argument("paper")
    p.add_argument("--scale", default="cpu", choices=runio.SCALES, help="record / restore-record: which scale")
    p.add_argument("--results", type=Path, default=None)
    args = p.parse_args(argv)
    results = args.results or tracking.results_dir()
    if args.action == "pack":
        n = pack(results, args.paper)
        print(f"{args.paper}: {n} files of its runs copied to {results / args.paper / SHARED} (what DVC shares)")
    elif args.action == "restore":
        n = restore(results, args.paper)
        print(f"{args.paper}: {n} finished runs restored from {results / args.paper / SHARED}")
    elif args.action == "record":
        n = record(results, args.paper, args.scale)
        print(f"{args.paper}: {n} run records written or updated in "
              f"{runio.verdict_dir(results, args.paper, args.scale) / RECORDS} (commit them)")
    else:
        n = restore_record(results, args.paper, args.scale)
        print(f"{args.paper}: {n} finished runs restored from "
              f"{runio.verdict_dir(results, args.paper, args.scale) / RECORDS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
