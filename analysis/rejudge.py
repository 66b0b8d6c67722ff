"""Re-judge a paper's claims from the per-seed values a claims.json recorded, under today's claims.yaml and rules.

    python -m analysis.rejudge papers/mamba [--scale cpu] [--from results/mamba/cpu/claims.json] [--write]

For when the runs themselves are not at hand (a fresh clone holds claims.json, not the runs): every verdict in a
claims.json keeps the per-seed values behind it (``values``: {experiment: {seed: value}}), so anyone can judge them
again. Files written before that field recorded, per claim, the values of value and bound claims and of each
experiment of an ordering, in seed order; those are read too. A claim whose values were not recorded (e.g. a trend
before per-seed slopes) cannot be re-judged: it says so, as ``not run``, naming the command that re-runs it.
The report says where its numbers came from (``rejudged_from``) and keeps the runs' provenance and MLflow ids.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from analysis import terminal
from analysis import verify as V
from analysis.claims import ClaimsError, experiments_of, load_claims
from repro import config as rconfig
from repro import runio, tracking


def recorded_values(old: dict, experiments_by_id: dict | None = None) -> dict:
    """``{(experiment, metric): {seed: value}}`` from a claims.json, new format or old. An old row that does not
    name its experiment is matched to today's claim of the same id and metric (``experiments_by_id``)."""
    pool: dict = {}
    experiments_by_id = experiments_by_id or {}
    for row in old.get("claims", []):
        rep, metric = row.get("reproduced") or {}, row.get("metric")
        if row.get("values"):
            for e, vals in row["values"].items():
                pool.setdefault((e, metric), {}).update({int(s): float(v) for s, v in vals.items()})
            continue
        seeds = row.get("seeds") or old.get("seeds") or []
        if row.get("kind") in ("value", "bound") and isinstance(rep.get("values"), list):
            exp = ((row.get("experiments") or [None])[0] or _only_experiment(row)
                   or (experiments_by_id.get((row.get("id"), metric)) or [None])[0])
            if exp:
                pool.setdefault((exp, metric), {}).update(dict(zip(seeds, rep["values"])))
        for e, summ in (rep.get("per_experiment") or {}).items():
            if isinstance(summ.get("values"), list):
                pool.setdefault((e, metric), {}).update(dict(zip(seeds, summ["values"])))
    return pool


def _only_experiment(row):
    exps = {r["experiment"] for r in row.get("runs") or []}
    return exps.pop() if len(exps) == 1 else None


class Recorded:
    """A verification source (analysis/verify.py) that reads a claims.json instead of run directories."""

    def __init__(self, old: dict, paper_dir: Path, scale: str):
        claims = load_claims(Path(paper_dir) / "claims.yaml")["claims"]
        by_id = {(c["id"], c["metric"]): experiments_of(c) for c in claims if c["rule"]["kind"] in ("value", "bound")}
        self.old, self.pool, self.paper_dir, self.scale = old, recorded_values(old, by_id), paper_dir, scale
        self.runs_by = {}
        for row in old.get("claims", []):
            for r in row.get("runs") or []:
                self.runs_by[(r["experiment"], r["seed"])] = r

    def values(self, experiments, seeds, metric, required):
        out = {}
        for e in experiments:
            got = self.pool.get((e, metric))
            if not got or any(s not in got for s in seeds[:required]):
                raise V.RunNotRun(f"{e}: its per-seed {metric!r} values are not recorded in the claims.json this was "
                                  f"re-judged from; re-run it: snakemake {self.paper_dir.as_posix()} "
                                  f"--config scale={self.scale}")
            out[e] = {s: got[s] for s in seeds if s in got}
        return out

    def runs(self, experiments, seeds):
        return [self.runs_by.get((e, s), {"experiment": e, "seed": s, "mlflow_run_id": None})
                for e in experiments for s in seeds]

    def commits(self, experiments, seeds):
        return sorted(self.old.get("runs_git") or {}) or ["unknown"]

    def provenance(self, experiments, seeds):
        return {"runs_git": self.old.get("runs_git") or {}, "runs_provenance": self.old.get("runs_provenance") or {}}


def rejudge(paper_dir: Path, scale: str, source_file: Path) -> dict:
    old = json.loads(Path(source_file).read_text())
    if old.get("scale") != scale:
        raise rconfig.ConfigError(f"{source_file} holds scale {old.get('scale')!r} verdicts, not {scale!r}")
    report = V.verify(paper_dir, scale, source=Recorded(old, Path(paper_dir), scale))
    report["rejudged_from"] = {"file": _relative(source_file), "file_commit": _last_commit(source_file),
                               "verified_at_commit": old.get("git_commit"),
                               "verified": old.get("verified"),
                               "note": "re-judged from the per-seed values this file recorded; the runs were not "
                                       "read again"}
    return report


def _relative(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(tracking.REPO).as_posix()
    except ValueError:
        return str(path)


def _last_commit(path: Path) -> str | None:
    """The commit that last wrote the file read (None when it is not committed as it is)."""
    import subprocess
    p = Path(path).resolve()
    run = lambda *a: subprocess.run(["git", *a], cwd=p.parent, capture_output=True, text=True)  # noqa: E731
    if run("diff", "--quiet", "HEAD", "--", p.name).returncode != 0:
        return None
    out = run("log", "-1", "--format=%H", "--", p.name)
    return out.stdout.strip() or None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paper_dir", type=Path)
    p.add_argument("--scale", default="cpu")
    p.add_argument("--from", dest="source", type=Path, default=None,
                   help="default: results/<paper>/<scale>/claims.json")
    p.add_argument("--write", action="store_true", help="write results/<paper>/<scale>/claims.json and claims.csv")
    args = p.parse_args(argv)
    results = tracking.results_dir()
    source = args.source or runio.verdict_dir(results, args.paper_dir.name, args.scale) / "claims.json"
    try:
        report = rejudge(args.paper_dir, args.scale, source)
    except (ClaimsError, rconfig.ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(terminal.render(report, color=sys.stdout.isatty()), end="")
    if args.write:
        print(f"written: {V.write(report, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
