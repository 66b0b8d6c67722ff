"""The four papers' smoke workflows together, from empty results and a cold compilation cache, as a fresh clone runs
them (issue 21, item 5: under 5 minutes on 2 cores):

    .venv/bin/python benchmarks/bench_smoke.py [--tracking on|off] [--cores 2]

One `snakemake papers/mamba papers/gnn papers/sae papers/moe --config scale=smoke` in a scratch copy of the
repository's code (data from the offline mirror ../shared/data when present, else fetched). Prints the wall time, the
CPU time of the jobs, and per paper the number of training jobs and the sum of their compile and run times read from
the runs' metrics.json (what a job spends compiling rather than training).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
PAPERS = ("mamba", "gnn", "sae", "moe")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tracking", choices=("on", "off"), default="on", help="MLflow tracking of every run (default on)")
    p.add_argument("--cores", type=int, default=2)
    args = p.parse_args(argv)
    from repo_copy import copy_repo

    mirror = REPO.parent / "shared" / "data"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "REPRO_TRACKING": args.tracking}
    for var in ("REPRO_RESULTS", "MLFLOW_TRACKING_URI", "XLA_FLAGS", "JAX_COMPILATION_CACHE_DIR", "REPRO_JAX_CACHE"):
        env.pop(var, None)
    if mirror.exists():
        env["REPRO_DATA_MIRROR"] = str(mirror)
    with tempfile.TemporaryDirectory() as tmp:
        work = copy_repo(Path(tmp) / "repo")
        t0 = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run([sys.executable, "-m", "snakemake", *(f"papers/{p}" for p in PAPERS), "--config",
                            "scale=smoke", "--cores", str(args.cores)], cwd=work, env=env, capture_output=True,
                           text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            print(r.stdout[-3000:] + r.stderr[-3000:], file=sys.stderr)
            return 1
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; --cores {args.cores}; "
              f"MLflow tracking {args.tracking}; empty results, cold compilation cache")
        print(f"four smoke workflows together: {wall:.0f} s wall ({wall / 60:.1f} min), {cpu:.0f} s CPU")
        print(f"{'paper':6s} {'runs':>5s} {'compile s':>10s} {'run s':>7s}")
        for paper in PAPERS:
            runs = [json.loads(m.read_text()) for m in (work / "results" / paper / "runs").glob("*/smoke/seed*/"
                                                                                                   "metrics.json")]
            compile_s = sum(m.get("compile_time_s") or 0.0 for m in runs)
            run_s = sum(m.get("wall_time_s") or 0.0 for m in runs)
            print(f"{paper:6s} {len(runs):5d} {compile_s:10.1f} {run_s:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
