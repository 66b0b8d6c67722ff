"""Every finished run of one paper at one scale as a CSV table: one row per (experiment, seed), its numeric metrics as
columns, and where it came from (commit, dirty flag, config hash, wall time, when its metrics were written). The
per-seed evidence a README cites while an adaptive design is still between looks (the verdicts, claims.json, come
only after the last look).

    python -m analysis.run_table papers/mamba --scale cpu [--out results/mamba/cpu/evidence/runs.csv]
    python -m analysis.run_table papers/mamba --scale cpu --summary accuracy     # a markdown table for a README
    python -m analysis.run_table papers/mamba --scale cpu --history eval_accuracy  # one history column, every step
    python -m analysis.run_table papers/mamba --scale cpu --against OLD.csv   # same seed, same numbers? run by run
    python -m analysis.run_table papers/mamba --scale cpu --looks     # when each look of adaptive seeds ran
"""
from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import math
import sys
from pathlib import Path

from repro import runio, tracking

PROVENANCE = ["git_commit", "git_dirty", "config_hash", "steps", "wall_time_s", "machine", "metrics_written_utc"]


def rows(results: Path, paper: str, scale: str) -> list[dict]:
    """One dict per run with a metrics.json, sorted by experiment and seed; unfinished runs are left out."""
    out = []
    pattern = runio.run_dir(Path(), paper, "*", scale, "*") / "metrics.json"     # the run layout's one definition
    for path in Path(results).glob(str(pattern)):
        m = json.loads(path.read_text())
        row = {"experiment": path.parents[2].name, "seed": int(path.parent.name.removeprefix("seed"))}
        for k, v in m.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("seed", *PROVENANCE):
                row[k] = round(v, 6) if isinstance(v, float) and math.isfinite(v) else v
        row.update({k: m[k] for k in PROVENANCE if k in m})
        if "wall_time_s" in row:
            row["wall_time_s"] = round(float(row["wall_time_s"]), 1)
        if "git_commit" in row:
            row["git_commit"] = str(row["git_commit"])[:10]
        # when the run finished on this machine (the file's time: a copy or a `dvc pull` resets it), so that a
        # README's "this look ran from .. to .." can be checked against committed data
        row["metrics_written_utc"] = datetime.datetime.fromtimestamp(
            path.stat().st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        out.append(row)
    return sorted(out, key=lambda r: (r["experiment"], r["seed"]))


def to_csv(table: list[dict]) -> str:
    """Metric columns in order of first appearance, provenance last; a metric a run lacks is an empty cell."""
    cols = ["experiment", "seed"]
    for r in table:
        cols += [k for k in r if k not in cols and k not in PROVENANCE]
    cols += [k for k in PROVENANCE if any(k in r for r in table)]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(table)
    return buf.getvalue()


def summary(table: list[dict], metrics: list[str], digits: int = 1) -> str:
    """A markdown table: per experiment that records a metric (and per metric, when several are asked for), the number
    of seeds, the mean and every seed's value in seed order, so a README's per-seed table is generated from the runs
    rather than typed."""
    many = len(metrics) > 1
    lines = ["| experiment |" + (" metric |" if many else "") + f" seeds | mean{'' if many else ' ' + metrics[0]} "
             "| per seed (seed: value) |", "|---|" + ("---|" if many else "") + "---|---|---|"]
    for exp in dict.fromkeys(r["experiment"] for r in table):
        for metric in metrics:
            vals = [(r["seed"], float(r[metric])) for r in table if r["experiment"] == exp
                    and isinstance(r.get(metric), (int, float)) and math.isfinite(r[metric])]
            if not vals:
                continue
            mean = sum(v for _, v in vals) / len(vals)
            per = ", ".join(f"{s}: {v:.{digits}f}" for s, v in vals)
            name = f" {metric} |" if many else ""
            lines.append(f"| {exp} |{name} {len(vals)} | {mean:.{digits}f} | {per} |")
    return "\n".join(lines) + "\n"


def history(results: Path, paper: str, scale: str, column: str) -> str:
    """One column of every finished run's history.csv as a tidy CSV (experiment, seed, step, column), the steps where
    the run logged it: how a metric moved during training, for runs whose history is not committed."""
    lines = [f"experiment,seed,step,{column}"]
    for r in rows(results, paper, scale):
        h = runio.run_dir(results, paper, r["experiment"], scale, r["seed"]) / "history.csv"
        for row in runio.read_history(h) if h.exists() else []:
            if column in row and "step" in row:
                lines.append(f"{r['experiment']},{r['seed']},{row['step']:g},{row[column]:.6g}")
    return "\n".join(lines) + "\n" if len(lines) > 1 else ""


def against(table: list[dict], old_csv: Path) -> tuple[str, str]:
    """Each run here beside the same (experiment, seed) in an earlier table (a committed ``--out`` CSV, e.g. of runs
    since lost, or trained on another machine): one row per metric both record, equal or not at the table's six
    decimals; only runs with the same config hash are compared. Returns (CSV, a one-line summary per metric)."""
    with open(old_csv) as fh:
        old = {(r["experiment"], int(r["seed"])): r for r in csv.DictReader(fh)}
    out, counts = [], {}
    for r in table:
        o = old.get((r["experiment"], r["seed"]))
        if o is None or str(o.get("config_hash")) != str(r.get("config_hash")):
            continue
        for k, v in r.items():
            if k in ("experiment", "seed", *PROVENANCE) or o.get(k) in (None, "") \
                    or not isinstance(v, (int, float)):
                continue
            was = float(o[k])
            same = was == float(v) or (math.isnan(was) and math.isnan(float(v)))
            out.append({"experiment": r["experiment"], "seed": r["seed"], "metric": k, "before": o[k], "now": v,
                        "equal": same, "before_commit": o.get("git_commit", ""), "now_commit": r.get("git_commit", ""),
                        "before_machine": o.get("machine", ""), "now_machine": r.get("machine", "")})
            n = counts.setdefault(k, [0, 0])
            n[0] += same
            n[1] += 1
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["experiment", "seed", "metric", "before", "now", "equal", "before_commit",
                                        "now_commit", "before_machine", "now_machine"], lineterminator="\n")
    w.writeheader()
    w.writerows(out)
    runs = len({(r["experiment"], r["seed"]) for r in out})
    lines = [f"{runs} runs in both tables with the same config hash; per metric, runs equal to 6 decimals:"]
    lines += [f"  {k}: {same} of {n}" for k, (same, n) in sorted(counts.items())]
    return buf.getvalue(), "\n".join(lines)


def _utc(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def looks(table: list[dict], looks_at: list[int]) -> str:
    """A markdown table of when each look of an adaptive design ran, from the runs' own records: look k holds the
    seeds from the previous look's count up to its own (0-2, 3-5, 6-9 for looks at 3, 6, 10). A run spans
    [metrics written - wall time, metrics written]; *busy* is the union of those spans (jobs side by side count
    once), *training* their sum. A run resumed from a checkpoint counts the wall time its metrics.json records."""
    lines = ["| look | seeds | runs | experiments | first run started (UTC) | last run ended (UTC) | busy | "
             "training summed over runs |", "|---|---|---|---|---|---|---|---|"]
    lo = 0
    for k, hi in enumerate(looks_at):
        spans = sorted((_utc(r["metrics_written_utc"]) - datetime.timedelta(seconds=float(r["wall_time_s"])),
                        _utc(r["metrics_written_utc"])) for r in table
                       if lo <= r["seed"] < hi and "wall_time_s" in r and "metrics_written_utc" in r)
        if spans:
            busy, (cur_a, cur_b) = datetime.timedelta(), spans[0]
            for a, b in spans[1:]:
                if a > cur_b:
                    busy += cur_b - cur_a
                    cur_a = a
                cur_b = max(cur_b, b)
            busy += cur_b - cur_a
            training = sum((b - a for a, b in spans), datetime.timedelta())
            exps = len({r["experiment"] for r in table if lo <= r["seed"] < hi})
            fmt = "%Y-%m-%d %H:%M"
            lines.append(f"| {k} | {lo}-{hi - 1} | {len(spans)} | {exps} | {spans[0][0].strftime(fmt)} | "
                         f"{max(b for _, b in spans).strftime(fmt)} | {busy.total_seconds() / 60:.0f} min | "
                         f"{training.total_seconds() / 60:.0f} min |")
        lo = hi
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.run_table", description=__doc__.splitlines()[0])
    ap.add_argument("paper_dir", type=Path)
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--out", type=Path, help="write the CSV here (default: standard output)")
    ap.add_argument("--summary", metavar="METRIC[,METRIC...]",
                    help="instead of the CSV, a markdown table of these metrics per experiment: seeds, mean, each seed")
    ap.add_argument("--digits", type=int, default=1, help="decimals in --summary (default 1)")
    ap.add_argument("--history", metavar="COLUMN",
                    help="instead of the CSV, one column of every finished run's history.csv, step by step")
    ap.add_argument("--looks", action="store_true",
                    help="instead of the CSV, a markdown table of when each look of the scale's seed design ran")
    ap.add_argument("--against", metavar="CSV", type=Path,
                    help="instead of the CSV, each run's metrics beside the same run's in an earlier table (equal?)")
    a = ap.parse_args(argv)
    paper = a.paper_dir.resolve().name
    table = rows(tracking.results_dir(), paper, a.scale)
    if not table:
        print(f"run_table: no finished {a.scale} runs of {paper} under {tracking.results_dir() / paper / 'runs'}: "
              f"run `snakemake {a.paper_dir.as_posix()} --config scale={a.scale}` first", file=sys.stderr)
        return 2
    if a.looks:
        from repro import config as rconfig
        text = looks(table, rconfig.seed_design(rconfig.load_paper_config(a.paper_dir / "config.yaml"),
                                                a.scale)["looks"])
    elif a.against:
        if not a.against.exists():
            print(f"run_table: {a.against} does not exist (an earlier `--out` CSV)", file=sys.stderr)
            return 2
        text, said = against(table, a.against)
        print(said, file=sys.stderr)
    elif a.history:
        text = history(tracking.results_dir(), paper, a.scale, a.history)
        if not text:
            print(f"run_table: no finished {a.scale} run of {paper} logs {a.history!r} in its history.csv",
                  file=sys.stderr)
            return 2
    elif a.summary:
        wanted = [m.strip() for m in a.summary.split(",") if m.strip()]
        missing = [m for m in wanted if not any(m in r for r in table)]
        if missing or not wanted:
            print(f"run_table: no {a.scale} run of {paper} records {', '.join(map(repr, missing or ['']))}; "
                  f"metrics recorded: "
                  f"{', '.join(sorted({k for r in table for k in r} - {'experiment', 'seed', *PROVENANCE}))}",
                  file=sys.stderr)
            return 2
        text = summary(table, wanted, a.digits)
    else:
        text = to_csv(table)
    if a.out:
        runio.atomic_write(a.out, text)
        print(f"run_table: {len(table)} runs -> {a.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
