"""Judge every claim of a paper from its runs: ``python -m analysis.verify papers/mamba --scale cpu``.

Reads ``claims.yaml`` and ``config.yaml`` from the paper folder and ``metrics.json`` of each run, writes
``results/<paper>/claims.json`` and ``claims.csv``, logs reported and reproduced values with the verdicts to MLflow,
and prints the table.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from pathlib import Path

import pandas as pd

from analysis import curves
from analysis.claims import ClaimsError, experiments_of, load_claims
from analysis.verdicts import NOT_RUN, judge
from repro import config as rconfig
from repro import export, provenance, runio, tracking
from repro.checkpoint import CheckpointError
from repro.data import blocked_experiments


class MissingRunError(FileNotFoundError):
    pass


class RunNotRun(Exception):
    """A run measured everything but this metric, and said why in its metrics.json (``not_run: {metric: why}``):
    e.g. attention at a length whose L x L scores do not fit in memory, or a length beyond this scale's range."""


def collect(results: Path, paper: str, scale: str, experiments, seeds, metric: str, paper_dir: Path) -> dict:
    out = {}
    for e in experiments:
        vals = []
        for s in seeds:
            path = runio.run_dir(results, paper, e, scale, s) / "metrics.json"
            if not path.exists():
                raise MissingRunError(
                    f"{path} is missing: run it with `snakemake {paper_dir.as_posix()} --config scale={scale}` "
                    f"(or python -m papers.{paper}.experiment --experiment {e} --scale {scale} --seed {s})")
            m = json.loads(path.read_text())
            why = (m.get("not_run") or {}).get(metric)
            if why:
                raise RunNotRun(f"{e}: {why}")
            if metric not in m:
                raise MissingRunError(f"{path} has no metric {metric!r} (has: {', '.join(sorted(m))})")
            vals.append(float(m[metric]))
        out[e] = vals
    return out


def check_final_params(run_dir: Path, metrics: dict) -> None:
    """A run's exported final parameters must be the ones it wrote (a shared or pulled run could be damaged)."""
    if metrics.get("final_params_sha256"):
        try:
            export.check(run_dir, metrics["final_params_sha256"])
        except CheckpointError as e:
            raise MissingRunError(str(e)) from e


def runs_behind(results: Path, paper: str, scale: str, experiments, seeds) -> list[dict]:
    """The training runs a claim's number comes from: experiment, seed and MLflow run id (null where the run was not
    tracked), so the dashboard and the MLflow UI lead from a verdict to its runs."""
    out = []
    for e in experiments:
        for s in seeds:
            f = runio.run_dir(results, paper, e, scale, s) / "mlflow_run_id"
            out.append({"experiment": e, "seed": s, "mlflow_run_id": f.read_text().strip() if f.exists() else None})
    return out


def run_provenance(results: Path, paper: str, scale: str, experiments, seeds) -> dict:
    """What stands behind the verdicts: the commits the runs were trained at ({commit: dirty flag}) and the
    machines, devices and package versions they recorded. Runs that predate a field in metrics.json are looked up
    in their MLflow run's tags (git_commit, version.<package>; the run id is in the run directory)."""
    commits, machines, devices, packages, missing = {}, set(), set(), {}, []
    for e in experiments:
        for s in seeds:
            d = runio.run_dir(results, paper, e, scale, s)
            m = json.loads((d / "metrics.json").read_text())
            check_final_params(d, m)
            if m.get("machine"):
                machines.add(m["machine"])
            if m.get("devices"):
                devices.add(m["devices"])
            for k, v in (m.get("packages") or {}).items():
                packages.setdefault(k, set()).add(v)
            if "git_commit" in m:
                commits[m["git_commit"]] = m.get("git_dirty", "unknown")
            if ("git_commit" not in m or "packages" not in m) and (d / "mlflow_run_id").exists():
                missing.append(((d / "mlflow_run_id").read_text().strip(), "git_commit" not in m))
    if missing and tracking.enabled():
        try:
            client = tracking.client()
            for run_id, need_commit in missing:
                tags = client.get_run(run_id).data.tags
                if need_commit:
                    commits[tags.get("git_commit", "unknown")] = tags.get("git_dirty", "unknown")
                for k, v in tags.items():
                    if k.startswith("version."):
                        packages.setdefault(k[len("version."):], set()).add(v)
        except Exception:  # provenance is best effort when the store is elsewhere
            commits.setdefault("unknown", "unknown")
    return {"runs_git": commits,
            "runs_provenance": {"machines": sorted(machines) or ["not recorded (runs predate the field)"],
                                "devices": sorted(devices), "packages": {k: sorted(v) for k, v in sorted(packages.items())}}}


def verify(paper_dir: Path, scale: str, results: Path | None = None) -> dict:
    paper_dir = Path(paper_dir)
    results = Path(results or tracking.results_dir())
    pcfg = rconfig.load_paper_config(paper_dir / "config.yaml")
    claims = load_claims(paper_dir / "claims.yaml", experiments=list(pcfg["experiments"]))
    paper, seeds = pcfg["paper"], rconfig.seeds(pcfg, scale)
    blocked = blocked_experiments(pcfg, scale)
    rows, skipped = [], set()
    for claim in claims["claims"]:
        rule = claim["rule"]
        row = {"id": claim["id"], "statement": claim["statement"], "source": claim["source"],
               "metric": claim["metric"], "kind": rule["kind"], "rule": rule,
               "secondary": bool(claim.get("secondary", False)),
               "deviation": claim.get("deviations", {}).get(scale, "")}
        needs = [e for e in experiments_of(claim) if e in blocked]
        if "not_run" in claim:
            row.update(verdict=NOT_RUN, reason=claim["not_run"], reproduced=None)
        elif needs:
            row.update(verdict=NOT_RUN, reason=f"{needs[0]}: {blocked[needs[0]]}", reproduced=None)
            skipped.add(claim["id"])
        else:
            try:
                values = collect(results, paper, scale, experiments_of(claim), seeds, claim["metric"], paper_dir)
            except RunNotRun as why:
                row.update(verdict=NOT_RUN, reason=str(why), reproduced=None)
            else:
                row.update(judge(claim, values))
                row["seeds"] = seeds
                row["runs"] = runs_behind(results, paper, scale, experiments_of(claim), seeds)
        rows.append(row)
    used = sorted({e for c in claims["claims"] if "not_run" not in c and c["id"] not in skipped
                   for e in experiments_of(c)})
    behind = run_provenance(results, paper, scale, used, seeds)
    summary = {}
    for r in rows:
        summary[r["verdict"]] = summary.get(r["verdict"], 0) + 1
    return {"paper": paper, "title": claims["paper"]["title"], "scale": scale,
            "evidence": scale != "smoke", "note": "smoke scale: proves the pipeline, not evidence" if scale == "smoke" else "",
            **tracking.git_state(), **behind,
            "verified": {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                         "machine": provenance.machine(), "packages": provenance.packages()},
            "experiments": used, "seeds": seeds, "claims": rows,
            "summary": summary}


def _fmt(x, digits=1):
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def table(report: dict) -> pd.DataFrame:
    rows = []
    for r in report["claims"]:
        rule, rep = r["rule"], r.get("reproduced") or {}
        if r["kind"] in ("value", "bound"):
            reported = (f"{rule['reported']:g}" + (f" ± {rule['reported_spread']:g}" if "reported_spread" in rule else "")
                        if r["kind"] == "value" else f"{rule['direction']} {rule['bound']:g}")
            ours = f"{_fmt(rep['mean'])} ± {_fmt(rep['std'])} (n={rep['n']})" if rep else ""
            ci = f"[{_fmt(rep['ci_low'])}, {_fmt(rep['ci_high'])}]" if rep else ""
        elif r["kind"] == "ordering":
            reported = f"{' , '.join(rule['better'])} > {' , '.join(rule['worse'])} by >= {rule['margin']:g}"
            ours = f"gap {_fmt(rep.get('gap'))}" if rep else ""
            ci = ""
        else:
            what = "exponent" if rule["fit"] == "loglog" else "slope"
            reported = (f"{what} {rule['direction']} {rule['bound']:g}" if "bound" in rule
                        else f"{what} {rule['expected']:g} ± {rule['tolerance']:g}")
            ours = f"{_fmt(rep.get('slope'), 2)}" if rep else ""
            ci = f"[{_fmt(rep.get('ci_low'), 2)}, {_fmt(rep.get('ci_high'), 2)}]" if rep else ""
        rows.append({"claim": r["id"], "source": r["source"], "reported": reported, "ours": ours,
                     "95% CI": ci, "verdict": r["verdict"]})
    return pd.DataFrame(rows)


def finite(x):
    """JSON has no infinity: an undefined bound (one seed) is written as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [finite(v) for v in x]
    return x


def write(report: dict, results: Path) -> Path:
    out = Path(results) / report["paper"]
    runio.write_json(out / "claims.json", finite(report))
    flat = []
    for r in report["claims"]:
        rep = r.get("reproduced") or {}
        flat.append({"paper": report["paper"], "scale": report["scale"], "id": r["id"], "kind": r["kind"],
                     "source": r["source"], "metric": r["metric"], "reported": r["rule"].get("reported"),
                     "reproduced_mean": rep.get("mean", rep.get("gap", rep.get("slope"))),
                     "reproduced_std": rep.get("std"), "ci_low": rep.get("ci_low"), "ci_high": rep.get("ci_high"),
                     "n_seeds": rep.get("n"), "verdict": r["verdict"], "reason": r["reason"],
                     "deviation": r["deviation"]})
    runio.atomic_write(out / "claims.csv", pd.DataFrame(finite(flat)).to_csv(index=False))
    return out / "claims.json"


def log_to_mlflow(report: dict) -> dict:
    """One parent run per verification and one child run per claim, so the MLflow UI compares claims as rows.
    Returns where they are: {experiment_id, verify_run_id, claim_run_ids: {claim: run id}}."""
    client = tracking.client()
    exp = tracking.experiment_id(client, report["paper"])
    base_tags = {"paper": report["paper"], "scale": report["scale"], "kind": "verification",
                 "git_commit": report["git_commit"], "git_dirty": report["git_dirty"]}
    parent = client.create_run(exp, run_name=f"verify/{report['scale']}", tags=base_tags)
    claim_runs = {}
    for r in report["claims"]:
        rep = r.get("reproduced") or {}
        tags = {**base_tags, "claim": r["id"], "verdict": r["verdict"], "source": r["source"],
                "reason": r["reason"][:5000], "mlflow.parentRunId": parent.info.run_id, "kind": "claim"}
        child = client.create_run(exp, run_name=f"claim/{r['id']}/{report['scale']}", tags=tags)
        metrics = {"reported": r["rule"].get("reported"), "reproduced": rep.get("mean", rep.get("gap", rep.get("slope"))),
                   "reproduced_std": rep.get("std"), "ci_low": rep.get("ci_low"), "ci_high": rep.get("ci_high")}
        for k, v in metrics.items():
            if v is not None and math.isfinite(v):
                client.log_metric(child.info.run_id, k, float(v))
                client.log_metric(parent.info.run_id, f"{k}.{r['id']}", float(v))
        client.set_tag(parent.info.run_id, f"verdict.{r['id']}", r["verdict"])
        client.set_terminated(child.info.run_id)
        claim_runs[r["id"]] = child.info.run_id
    client.set_terminated(parent.info.run_id)
    return {"experiment_id": exp, "verify_run_id": parent.info.run_id, "claim_run_ids": claim_runs}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paper_dir", type=Path)
    p.add_argument("--scale", default="cpu")
    p.add_argument("--results", type=Path, default=None)
    p.add_argument("--no-track", action="store_true")
    args = p.parse_args(argv)
    try:
        report = verify(args.paper_dir, args.scale, args.results)
        path = write(report, args.results or tracking.results_dir())
        curves.write(args.results or tracking.results_dir(), report["paper"], args.scale, report["experiments"],
                     report["seeds"])
        if not args.no_track and tracking.enabled():
            # the verdicts are on disk first: an unreachable store loses nothing; then the ids join them
            report["mlflow"] = log_to_mlflow(report)
            write(report, args.results or tracking.results_dir())
    except (ClaimsError, rconfig.ConfigError, MissingRunError, tracking.TrackingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"\n{report['title']} — scale {report['scale']}{' (' + report['note'] + ')' if report['note'] else ''}")
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table(report).to_string(index=False))
    print(f"\nwritten: {path} and claims.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
