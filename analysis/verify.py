"""Judge every claim of a paper from its runs: ``python -m analysis.verify papers/mamba --scale cpu``.

Reads ``claims.yaml`` and ``config.yaml`` from the paper folder and ``metrics.json`` of each run, writes
``results/<paper>/<scale>/claims.json`` and ``claims.csv``, logs reported and reproduced values with the verdicts to
MLflow,
and prints the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from pathlib import Path

from analysis import curves, dvc_plots, terminal
from analysis import rule_history
from analysis.claims import ClaimsError, experiments_of, load_claims, metric_range, our_choices, target_basis
from analysis.sequential import judge_sequential
from analysis.rule_text import digits, headline, numbers, reported_text
from analysis.verdicts import ALPHA, INCONCLUSIVE, NOT_RUN, VERDICTS
from repro import config as rconfig
from repro import export, plan_time, provenance, runio, share, tracking
from repro.checkpoint import CheckpointError
from repro.availability import blocked_experiments


class MissingRunError(FileNotFoundError):
    pass


class RunNotRun(Exception):
    """A run measured everything but this metric, and said why in its metrics.json (``not_run: {metric: why}``):
    e.g. attention at a length whose L x L scores do not fit in memory, or a length beyond this scale's range."""


def collect(
    results: Path, paper: str, scale: str, experiments, seeds, metric: str, paper_dir: Path, required: int | None = None
) -> dict:
    """``{experiment: {seed: value}}`` over the runs present; the first ``required`` seeds (default: all) must be."""
    required = len(seeds) if required is None else required
    out = {}
    for e in experiments:
        vals = {}
        for i, s in enumerate(seeds):
            path = runio.run_dir(results, paper, e, scale, s) / "metrics.json"
            if not path.exists():
                if i < required:
                    raise MissingRunError(
                        f"{path} is missing: run it with `snakemake {paper_dir.as_posix()} --config scale={scale}` "
                        f"(or python -m papers.{paper}.experiment --experiment {e} --scale {scale} --seed {s})"
                    )
                continue
            m = json.loads(path.read_text())
            why = (m.get("not_run") or {}).get(metric)
            if why:
                raise RunNotRun(f"{e}: {why}")
            if metric not in m:
                raise MissingRunError(f"{path} has no metric {metric!r} (has: {', '.join(sorted(m))})")
            vals[s] = float(m[metric])
        out[e] = vals
    return out


def run_commits(results: Path, paper: str, scale: str, experiments, seeds) -> list[str]:
    """The commits a claim's runs were trained at (``unknown`` for runs that predate the record)."""
    out = set()
    for e in experiments:
        for s in seeds:
            m = json.loads((runio.run_dir(results, paper, e, scale, s) / "metrics.json").read_text())
            out.add(m.get("git_commit") or rule_history.UNKNOWN)
    return sorted(out)


def run_config_hashes(results: Path, paper: str, scale: str, experiments, seeds) -> set[str]:
    """The config hashes a claim's runs recorded (``unknown`` for runs without one)."""
    return {
        json.loads((runio.run_dir(results, paper, e, scale, s) / "metrics.json").read_text()).get("config_hash")
        or rule_history.UNKNOWN
        for e in experiments
        for s in seeds
    }


def check_final_params(run_dir: Path, metrics: dict) -> None:
    """A run's exported final parameters must be the ones it wrote (a shared or pulled run could be damaged). A run
    restored from its committed record (repro/share.py) has no parameters to check: it says so in its directory."""
    if metrics.get("final_params_sha256") and not (run_dir / share.RESTORED).exists():
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
    commits, machines, devices, packages, missing, restored, rebuilt = {}, set(), set(), {}, [], 0, 0
    for e in experiments:
        for s in seeds:
            d = runio.run_dir(results, paper, e, scale, s)
            m = json.loads((d / "metrics.json").read_text())
            check_final_params(d, m)
            restored += (d / share.RESTORED).exists()
            rebuilt += (d / share.RECONSTRUCTED).exists()
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
                        packages.setdefault(k[len("version.") :], set()).add(v)
        except Exception:  # provenance is best effort when the store is elsewhere
            commits.setdefault("unknown", "unknown")
    return {
        "runs_git": commits,
        "runs_provenance": {
            "machines": sorted(machines) or ["not recorded (runs predate the field)"],
            "devices": sorted(devices),
            "packages": {k: sorted(v) for k, v in sorted(packages.items())},
            # runs whose files came back from their committed records (python -m repro.share restore-record)
            **({"restored_from_record": restored} if restored else {}),
            # of those, runs rebuilt from a committed per-seed table after their directories were lost
            **({"reconstructed_from_table": rebuilt} if rebuilt else {}),
        },
    }


class RunDirs:
    """Where a verification reads its numbers: each run's directory under ``results`` (the usual source;
    analysis/rejudge.py has another, a claims.json's recorded per-seed values)."""

    def __init__(self, results: Path, paper: str, scale: str, paper_dir: Path):
        self.results, self.paper, self.scale, self.paper_dir = results, paper, scale, paper_dir

    def values(self, experiments, seeds, metric, required):
        return collect(self.results, self.paper, self.scale, experiments, seeds, metric, self.paper_dir, required)

    def runs(self, experiments, seeds):
        return runs_behind(self.results, self.paper, self.scale, experiments, seeds)

    def commits(self, experiments, seeds):
        return run_commits(self.results, self.paper, self.scale, experiments, seeds)

    def provenance(self, experiments, seeds):
        return run_provenance(self.results, self.paper, self.scale, experiments, seeds)

    def config_hashes(self, experiments, seeds):
        return run_config_hashes(self.results, self.paper, self.scale, experiments, seeds)


def verify(paper_dir: Path, scale: str, results: Path | None = None, max_seeds: int | None = None, source=None) -> dict:
    """Judge every claim from the runs present (``max_seeds``: only the first so many seeds, as at a sequential
    look: analysis/seed_plan.py)."""
    paper_dir = Path(paper_dir)
    results = Path(results or tracking.results_dir())
    pcfg = rconfig.load_paper_config(paper_dir / "config.yaml")
    claims = load_claims(paper_dir / "claims.yaml", experiments=list(pcfg["experiments"]))
    paper, design = pcfg["paper"], rconfig.seed_design(pcfg, scale)
    source = source or RunDirs(results, paper, scale, paper_dir)
    seeds, looks = design["seeds"][:max_seeds], design["looks"]
    blocked = blocked_experiments(pcfg, scale)
    rows, used = [], {}
    for claim in claims["claims"]:
        rule = claim["rule"]
        row = {
            "id": claim["id"],
            "statement": claim["statement"],
            "source": claim["source"],
            "metric": claim["metric"],
            "kind": rule["kind"],
            "rule": rule,
            "experiments": experiments_of(claim),
            "range": list(claims["metrics"][claim["metric"]]["range"]),
            "target": target_basis(rule),
            "our_choices": our_choices(rule),
            "secondary": bool(claim.get("secondary", False)),
            "deviation": claim.get("deviations", {}).get(scale, ""),
        }
        needs = [e for e in experiments_of(claim) if e in blocked]
        if "not_run" in claim:
            row.update(verdict=NOT_RUN, reason=claim["not_run"], reproduced=None)
        elif needs:
            row.update(verdict=NOT_RUN, reason=f"{needs[0]}: {blocked[needs[0]]}", reproduced=None)
        else:
            try:
                values = source.values(experiments_of(claim), seeds, claim["metric"], looks[0])
            except RunNotRun as why:
                row.update(verdict=NOT_RUN, reason=str(why), reproduced=None)
            else:
                row.update(judge_sequential(claim, values, looks, ALPHA, metric_range(claims, claim["metric"])))
                n = row["sequential"]["n_seeds"]
                row["seeds"] = seeds[:n]
                row["values"] = {e: {str(k): v for k, v in vals.items()} for e, vals in values.items()}
                row["runs"] = source.runs(experiments_of(claim), seeds[:n])
                for e in experiments_of(claim):
                    used[e] = max(used.get(e, 0), n)
                row["rule_status"] = rule_history.status(
                    paper_dir / "claims.yaml", claim, source.commits(experiments_of(claim), seeds[:n])
                )
                row["no_spread"] = no_spread(row)
        if "rule_status" not in row:
            row["rule_status"] = rule_history.status(paper_dir / "claims.yaml", claim, [])
        rows.append(row)
    behind = {"runs_git": {}, "runs_provenance": {}}
    for e, n in used.items():  # provenance over every run a verdict used
        got = source.provenance([e], seeds[:n])
        behind["runs_git"].update(got["runs_git"])
        for k, v in got["runs_provenance"].items():
            if isinstance(v, dict):
                into = behind["runs_provenance"].setdefault(k, {})
                for kk, vv in v.items():
                    into[kk] = sorted(set(into.get(kk, [])) | set(vv))
            elif isinstance(v, int):   # a count (restored_from_record)
                behind["runs_provenance"][k] = behind["runs_provenance"].get(k, 0) + v
            else:
                behind["runs_provenance"][k] = sorted(set(behind["runs_provenance"].get(k, [])) | set(v))
    # runs trained with another configuration than the scale's (a `set=` override, or config.yaml changed since):
    # their verdicts are not the scale's, and say so
    changed = []
    if hasattr(source, "config_hashes"):
        for e, n in sorted(used.items()):
            if source.config_hashes([e], seeds[:n]) != {rconfig.config_hash(rconfig.resolve(pcfg, e, scale))}:
                changed.append(e)
    summary, flags = (
        {},
        {
            "fragile": 0,
            "no spread": 0,
            "rule changed after its runs": 0,
            "judged against our choice": 0,
            "judged in a band we chose": 0,
        },
    )
    for r in rows:
        summary[r["verdict"]] = summary.get(r["verdict"], 0) + 1
        flags["fragile"] += bool(r.get("fragile"))
        flags["no spread"] += bool(r.get("no_spread"))
        flags["rule changed after its runs"] += bool((r.get("rule_status") or {}).get("after_runs"))
        flags["judged against our choice"] += r["target"] == "our choice" and r["verdict"] != NOT_RUN
        flags["judged in a band we chose"] += r["target"] == "paper, our band" and r["verdict"] != NOT_RUN
    return {
        "paper": paper,
        "title": claims["paper"]["title"],
        "scale": scale,
        "evidence": scale != "smoke",
        "note": "smoke scale: proves the pipeline, not evidence" if scale == "smoke" else "",
        **tracking.git_state(),
        **behind,
        "verified": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": provenance.machine(),
            "packages": provenance.packages(),
        },
        "design": {"alpha": ALPHA, **design},
        "experiments": sorted(used),
        "seeds": seeds[: max(used.values(), default=looks[0])],
        "seeds_per_experiment": dict(sorted(used.items())),
        "claims": rows,
        "summary": summary,
        "flags": flags,
        "config_changed": changed,
    }


def no_spread(row: dict) -> bool:
    """A verdict decided on seeds that all gave the same value: the t interval then has zero width, as if the seeds
    could not differ, and a failure that strikes a fraction of seeds goes unseen with probability (1 - p)^n (at n = 3,
    one seed in three failing is missed 30% of the time). Flagged, not re-judged: the rule is the one fixed before
    the runs (analysis/README.md)."""
    rep = row.get("reproduced") or {}
    std = rep.get("std")
    return (row.get("verdict") not in (INCONCLUSIVE, NOT_RUN) and (rep.get("n") or 0) > 1 and std is not None
            and std <= 1e-9 * max(1.0, abs(rep.get("mean") or 0.0)))       # 33.33.. on every seed: rounding only


def _fmt(x, d=1):
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{d}f}"


def flag_text(r: dict) -> str:
    out = []
    if r.get("fragile"):
        out.append("fragile")
    if r.get("no_spread"):
        out.append("no spread")
    if (r.get("rule_status") or {}).get("after_runs"):
        out.append("rule changed after its runs")
    return ", ".join(out)


def table(report: dict):
    rows = []
    for r in report["claims"]:
        rule, rep = r["rule"], r.get("reproduced") or {}
        d = digits(rule)
        if r["kind"] in ("value", "bound"):
            ours = f"{_fmt(rep['mean'], d)} ± {_fmt(rep['std'], d)}" if rep else ""
        elif r["kind"] == "ordering":
            ours = f"gap {_fmt(rep.get('gap'), d)}" if rep else ""
        else:
            ours = f"{_fmt(rep.get('slope'), max(d, 2))}" if rep else ""
        ci = (
            f"[{_fmt(rep.get('ci_low'), d)}, {_fmt(rep.get('ci_high'), d)}]"
            if rep and rep.get("ci_low") is not None
            else ""
        )
        n = (r.get("sequential") or {}).get("n_seeds", "")
        rows.append(
            {
                "claim": r["id"],
                "source": r["source"],
                "target": r.get("target", ""),
                "reported": reported_text(rule),
                "ours": ours,
                "CI": ci,
                "seeds": n,
                "verdict": r["verdict"],
                "flags": flag_text(r),
            }
        )
    import pandas as pd      # here: the seed plan imports this module and never draws the table
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
    out = runio.verdict_dir(results, report["paper"], report["scale"])
    runio.write_json(out / "claims.json", finite(report))
    flat = []
    for r in report["claims"]:
        nums = numbers(r)
        flat.append({"paper": report["paper"], "scale": report["scale"], "id": r["id"], "kind": r["kind"],
                     "source": r["source"], "metric": r["metric"], "target": r.get("target", ""),
                     "reported": nums.pop("reported"), "reproduced_mean": nums.pop("reproduced"), **nums,
                     "confidence": (r.get("reproduced") or {}).get("confidence"), "verdict": r["verdict"],
                     "fragile": r.get("fragile"), "no_spread": r.get("no_spread"),
                     "rule_changed_after_runs": (r.get("rule_status") or {}).get("after_runs"),
                     "reason": r["reason"], "deviation": r["deviation"]})
    import pandas as pd
    runio.atomic_write(out / "claims.csv", pd.DataFrame(finite(flat)).to_csv(index=False))
    write_dvc_metrics(report, out / "metrics")
    return out / "claims.json"


def write_dvc_metrics(report: dict, folder: Path) -> None:
    """What `dvc metrics show/diff` print, in a readable width: one small file per claim (our headline number, its
    interval, the seeds, the verdict) and one per verdict (how many claims have it), so each is a row of a few
    columns instead of one row per paper with a column per claim."""
    import shutil

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for r in report["claims"]:
        rep = r.get("reproduced") or {}
        value = finite(headline(rep))
        lo, hi = finite(rep.get("ci_low")), finite(rep.get("ci_high"))
        runio.write_json(
            tmp / f"{r['id']}.json",
            {
                "ours": None if value is None else float(f"{value:.4g}"),
                "ci": "" if lo is None or hi is None else f"[{lo:.3g}, {hi:.3g}]",
                "seeds": (r.get("sequential") or {}).get("n_seeds"),
                "verdict": r["verdict"],
            },
        )
    counts = {v: 0 for v in VERDICTS}
    for r in report["claims"]:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    for v, n in counts.items():
        runio.write_json(tmp / "verdicts" / f"{v.replace(' ', '_')}.json", {"claims": n})
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def log_to_mlflow(report: dict) -> dict:
    """One parent run per verification and one child run per claim, so the MLflow UI compares claims as rows.
    Returns where they are: {experiment_id, verify_run_id, claim_run_ids: {claim: run id}}."""
    client = tracking.client()
    exp = tracking.experiment_id(client, report["paper"])
    base_tags = {
        "paper": report["paper"],
        "scale": report["scale"],
        "kind": "verification",
        "git_commit": report["git_commit"],
        "git_dirty": report["git_dirty"],
    }
    parent = client.create_run(exp, run_name=f"verify/{report['scale']}", tags=base_tags)
    claim_runs = {}
    for r in report["claims"]:
        tags = {
            **base_tags,
            "claim": r["id"],
            "verdict": r["verdict"],
            "source": r["source"],
            "reason": r["reason"][:5000],
            "mlflow.parentRunId": parent.info.run_id,
            "kind": "claim",
        }
        child = client.create_run(exp, run_name=f"claim/{r['id']}/{report['scale']}", tags=tags)
        metrics = numbers(r)
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
        curves.write(
            args.results or tracking.results_dir(), report["paper"], args.scale, report["experiments"], report["seeds"]
        )
        dvc_plots.ensure()  # `dvc plots show`'s offline page template, if make venv did not write it
        plan_time.record(
            args.results or tracking.results_dir(), report["paper"], args.scale, report["experiments"], report["seeds"]
        )  # what the next run's time estimate reads (repro/plan_time.py)
        if not args.no_track and tracking.enabled():
            # the verdicts are on disk first: an unreachable store loses nothing; then the ids join them
            report["mlflow"] = log_to_mlflow(report)
            write(report, args.results or tracking.results_dir())
    except (ClaimsError, rconfig.ConfigError, MissingRunError, tracking.TrackingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n" + terminal.render(report, color=sys.stdout.isatty()), end="")
    print(f"written: {path} and claims.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
