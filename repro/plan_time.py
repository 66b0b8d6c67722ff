"""How long a workflow will take, said before it starts, from the run times recorded at the same scale.

The verification step records, per experiment, the median wall time of one seed's run (training, evaluation and
compilation, from each run's metrics.json) in ``results/<paper>/<scale>/timings.json``, with the machine it was
measured on; the cpu scale's file is committed beside its verdicts. When Snakemake reads the Snakefile the workflow
counts the runs still to do and prints one line per paper: the runs, their summed time, and the wall time on this
machine's cores (jobs run side by side, one core each: the sum over the cores, but never less than the longest
job). A scale never run on any machine says so instead of guessing.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from repro import progress, runio

FILE = "timings.json"
REPO = Path(__file__).resolve().parents[1]
# starting Python, importing JAX and the paper's code: once per job (measured: 6-9 s on this 2-core machine)
JOB_START_S = 8.0


def record(results: Path, paper: str, scale: str, experiments, seeds) -> dict:
    """Write the scale's timings from the runs present; returns them."""
    out, machines = {}, set()
    for e in experiments:
        times = []
        for s in seeds:
            m = runio.run_dir(results, paper, e, scale, s) / "metrics.json"
            if m.exists():
                metrics = json.loads(m.read_text())
                if isinstance(metrics.get("wall_time_s"), (int, float)):
                    times.append(float(metrics["wall_time_s"]))
                    machines.add(str(metrics.get("machine") or ""))
        if times:
            out[e] = {"seconds_per_seed": round(statistics.median(times), 2), "runs": len(times)}
    if not out:
        return {}
    data = {"scale": scale, "machine": "; ".join(sorted(m for m in machines if m)), "experiments": out}
    runio.write_json(runio.verdict_dir(results, paper, scale) / FILE, data)
    return data


def load(results: Path, paper: str, scale: str) -> dict | None:
    f = runio.verdict_dir(results, paper, scale) / FILE
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        return None


def missing(results: Path, paper: str, scale: str, experiments, seeds) -> dict[str, int]:
    """{experiment: seeds without a finished run}."""
    out = {}
    for e in experiments:
        n = sum(not (runio.run_dir(results, paper, e, scale, s) / "metrics.json").exists() for s in seeds)
        if n:
            out[e] = n
    return out


def estimate(results: Path, paper: str, scale: str, experiments, seeds, cores: int, per_experiment: bool) -> str:
    """One line: what is left to train and how long it should take here."""
    todo = missing(results, paper, scale, experiments, seeds)
    if not todo:
        return f"{paper} ({scale}): every run of the first {len(seeds)} seeds is done"
    runs = sum(todo.values())
    rec = load(results, paper, scale)
    known = (rec or {}).get("experiments", {})
    if not known:
        return (f"{paper} ({scale}): {runs} runs to train in {len(todo)} experiments; no run times recorded at this "
                f"scale yet (results/{paper}/{scale}/{FILE} is written by the first verification)"
                + (f"; an estimate from the compiled steps' FLOPs: python -m repro.cost_plan papers/{paper} --scale "
                   f"{scale}" if (REPO / "papers" / paper / "cost.py").exists() else ""))
    typical = statistics.median(v["seconds_per_seed"] for v in known.values())
    jobs = []
    for e, n in todo.items():
        per = known.get(e, {}).get("seconds_per_seed", typical)
        jobs += [JOB_START_S + n * per] if per_experiment else [JOB_START_S + per] * n
    total = sum(jobs)
    wall = max(total / max(cores, 1), max(jobs))
    guessed = [e for e in todo if e not in known]
    return (
        f"{paper} ({scale}): {runs} run{'s' if runs != 1 else ''} to train, about {progress.duration(total)} of work, "
        f"~{progress.duration(wall)} on {cores} cores (run times recorded on {rec.get('machine') or 'a machine'}"
        + (f"; {len(guessed)} experiments without a record taken at the median" if guessed else "")
        + ")"
    )
