"""Write a paper's verdict table into its README from ``results/<p>/<scale>/claims.json``.

    python -m analysis.readme_table papers/mamba

Replaces the text between ``<!-- verdicts:start -->`` and ``<!-- verdicts:end -->`` with the table, the scale,
the date, the commit and the machine: nothing in the table is typed by hand.
"""
from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

from analysis.verify import table
from repro import provenance, runio, tracking

START, END = "<!-- verdicts:start -->", "<!-- verdicts:end -->"


def machine(report: dict) -> str:
    """The training machines the runs recorded; for runs that predate that record, the verifying machine."""
    behind = report.get("runs_provenance") or {}
    runs = [m for m in behind.get("machines", []) if not m.startswith("not recorded")]
    restored, rebuilt = behind.get("restored_from_record"), behind.get("reconstructed_from_table")
    said = (f"; {restored} runs restored from their committed records (`results/<p>/<scale>/runs/`)"
            + (f", {rebuilt} of them rebuilt from a committed per-seed table after their directories were lost, "
               "with no machine recorded" if rebuilt else "") if restored else "")
    if runs:
        return "runs trained on " + "; ".join(runs) + said
    return "verified on " + ((report.get("verified") or {}).get("machine") or provenance.machine()) + said


def render(report: dict, results_path: str, wall: str = "") -> str:
    df = table(report)
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row.values) + " |")
    def commit(c, dirty):
        return f"`{c[:10]}`" + (" (with uncommitted changes)" if dirty == "true" else "")

    runs = ", ".join(commit(c, d) for c, d in sorted((report.get("runs_git") or {}).items())) or "unknown"
    meta = (f"Scale `{report['scale']}`{' — ' + report['note'] if report.get('note') else ''}. "
            f"Generated from `{results_path}` on {datetime.date.today().isoformat()}; runs trained at commit {runs}; "
            f"verdicts computed at commit {commit(report.get('git_commit', 'unknown'), report.get('git_dirty'))}; "
            f"{machine(report)}.{wall}")
    reasons = [f"- `{c['id']}`: {c['verdict']} — {c['reason']}" for c in report["claims"]]
    flags = report.get("flags") or {}
    legend = ("Columns: *target* says whose number a claim is judged against: `paper` (the paper's number, its "
              "spread or its direction), `paper, our band` (the paper's number in a tolerance we chose, reason in "
              "claims.yaml) or `our choice`; *CI* is the interval a verdict is read from (90% with a fixed number "
              "of seeds; with adaptive seeds, the level of the look that decided, as *Why each verdict* says: "
              "analysis/README.md); "
              "*seeds* the number that decided it; *flags*: `fragile` (decided by under a tenth of the band), "
              "`no spread` (every deciding seed gave the same value, so the interval has zero width: a failure on a "
              "fraction of seeds can go unseen; analysis/README.md) and "
              "`rule changed after its runs`.")
    counts = ("Verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(report.get("summary", {}).items()))
              + ("; " + ", ".join(f"{k} {v}" for k, v in flags.items()) if flags else "") + ".")
    source = report.get("rejudged_from")
    if source:
        counts += (f" Re-judged from the per-seed values recorded in `{source['file']}` as committed at "
                   f"`{(source.get('file_commit') or 'uncommitted')[:10]}` (verified at commit "
                   f"`{(source.get('verified_at_commit') or 'unknown')[:10]}`), not from the runs themselves.")
    return "\n".join([meta, "", counts, "", legend, "", *lines, "", "Why each verdict:", "", *reasons])


DIAG_START, DIAG_END = "<!-- diagnostics:start -->", "<!-- diagnostics:end -->"


def render_diagnostics(paper_dir: Path, results: Path) -> str:
    """Runs under results/<p>/diagnostics/<name>/seed<k>/ (launched by hand with --set overrides and --run-dir):
    each row shows what differs from its scale's config and the run's final metric."""
    from repro import config as rconfig
    from repro.tracking import flatten
    pcfg = rconfig.load_paper_config(paper_dir / "config.yaml")
    rows = []
    for mfile in sorted((results / paper_dir.name / "diagnostics").glob("*/seed*/metrics.json")):
        m = json.loads(mfile.read_text())
        run_cfg = rconfig.load_yaml(mfile.parent / "config.yaml")
        base = flatten(rconfig.resolve(pcfg, m["experiment"], m["scale"]))
        diff = {k: v for k, v in flatten(run_cfg).items() if k in base and base[k] != v}
        changes = ", ".join(f"{k}={v}" for k, v in sorted(diff.items())) or "none"
        rows.append(
            f"| {mfile.parent.parent.name} | {m['experiment']} | {m['scale']} | {changes} | {m['seed']} "
            f"| {m.get('accuracy', float('nan')):.1f} | {m['steps']} | `{m.get('git_commit', 'unknown')[:10]}` |"
        )
    if not rows:
        return "No diagnostic runs."
    return "\n".join(
        [
            "| run | experiment | scale | differs from the scale's config | seed | accuracy | steps | commit |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


EXP_START, EXP_END = "<!-- experiments:start -->", "<!-- experiments:end -->"


def render_experiments(paper_dir: Path, results: Path, scale: str) -> str:
    """Every experiment of the scale, with mean +- std (min-max) over seeds of the metrics that config.yaml's
    ``report.metrics`` lists: the numbers behind the verdicts and the ones no claim uses (diagnostic experiments)."""
    import math

    import numpy as np

    from repro import config as rconfig

    pcfg = rconfig.load_paper_config(paper_dir / "config.yaml")
    metrics = (pcfg.get("report") or {}).get("metrics") or []
    head = ["experiment", "seeds", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in pcfg["experiments"]:
        runs = [
            json.loads(f.read_text())
            for f in sorted((results / pcfg["paper"] / "runs" / e / scale).glob("seed*/metrics.json"))
        ]
        if not runs:
            lines.append(f"| {e} | 0 |" + " not run |" * len(metrics))
            continue

        def f(x, digits):
            return f"{x:.0f}" if abs(x) >= 100 else f"{x:.{digits}g}"

        cells = []
        for k in metrics:
            v = np.array([float(r[k]) for r in runs if isinstance(r.get(k), (int, float))])
            if not len(v):
                cells.append("—")
            elif len(v) == 1 or math.isclose(v.min(), v.max()):
                cells.append(f(v.mean(), 3))
            else:
                cells.append(f"{f(v.mean(), 3)} ± {f(v.std(ddof=1), 2)} ({f(v.min(), 3)}–{f(v.max(), 3)})")
        lines.append(f"| {e} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def total_wall_time(report: dict, results: Path) -> str:
    """Training time summed over the scale's runs behind the report: the runs trained at the commits its judged runs
    record (with the experiments no claim reads: a base model, a diagnostic), less any judged seed re-trained since
    (its MLflow run id differs from the report's). A run trained after the report, such as a later verification's
    seeds, is not its cost."""
    judged = {(r["experiment"], int(r["seed"])): r.get("mlflow_run_id")
              for c in report["claims"] for r in c.get("runs") or []}
    commits = [str(c) for c in report.get("runs_git") or {}]
    seconds = 0.0
    pattern = runio.run_dir(Path(), report["paper"], "*", report["scale"], "*") / "metrics.json"
    for f in Path(results).glob(str(pattern)):
        m = json.loads(f.read_text())
        commit = str(m.get("git_commit") or "")
        if commits and not (commit and any(c.startswith(commit) or commit.startswith(c) for c in commits)):
            continue
        id_file = f.parent / "mlflow_run_id"
        judged_id = judged.get((f.parents[2].name, int(f.parent.name.removeprefix("seed"))))
        if judged_id and id_file.exists() and id_file.read_text().strip() != judged_id:
            continue
        seconds += m.get("wall_time_s", 0.0)
    return f" Training time summed over runs: {seconds / 60:.1f} min." if seconds else ""


RUN_TABLE = re.compile(r"^([ \t]*)<!-- run-table: (.+?) -->\n.*?^[ \t]*<!-- run-table:end -->", re.S | re.M)


def render_run_tables(text: str, results: Path, paper: str, scale: str) -> str:
    """Refresh every ``<!-- run-table: METRIC[,METRIC..] [only=PREFIX,..] [except=PREFIX,..] [digits=N] -->`` ...
    ``<!-- run-table:end -->`` block with analysis.run_table's per-seed summary of the finished runs on disk (the
    per-seed tables a README shows between an adaptive design's looks, generated rather than typed). Indented
    markers (a table inside a list item) indent the table the same. Without runs on disk a block keeps what it says."""
    from analysis import run_table

    table = run_table.rows(results, paper, scale)
    if not table:
        return text

    def fill(m: re.Match) -> str:
        indent, spec = m.group(1), m.group(2).split()
        opts = dict(o.split("=", 1) for o in spec[1:])
        unknown = set(opts) - {"only", "except", "digits"}
        if unknown:
            raise ValueError(f"run-table block {m.group(2)!r}: unknown option(s) {sorted(unknown)}; "
                             "use only=PREFIX,.. except=PREFIX,.. digits=N")
        only = tuple(opts["only"].split(",")) if "only" in opts else None
        skip = tuple(opts["except"].split(",")) if "except" in opts else ()
        rows = [r for r in table if (only is None or r["experiment"].startswith(only))
                and not (skip and r["experiment"].startswith(skip))]
        body = run_table.summary(rows, spec[0].split(","), int(opts.get("digits", 1))).splitlines()
        lines = [f"<!-- run-table: {m.group(2)} -->", *body, "<!-- run-table:end -->"]
        return "\n".join(indent + line for line in lines)

    return RUN_TABLE.sub(fill, text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paper_dir", type=Path)
    p.add_argument("--results", type=Path, default=None)
    p.add_argument("--scale", default="cpu", help="whose verdicts the README shows (default: the committed cpu scale)")
    args = p.parse_args(argv)
    results = args.results or tracking.results_dir()
    paper = args.paper_dir.name
    src = runio.verdict_dir(results, paper, args.scale) / "claims.json"
    if not src.exists():
        print(f"error: {src} not found: run `snakemake papers/{paper}` first", file=sys.stderr)
        return 2
    report = json.loads(src.read_text())
    readme = args.paper_dir / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"error: {readme} has no {START} ... {END} block to fill", file=sys.stderr)
        return 2
    block = render(report, f"results/{paper}/{args.scale}/claims.json", total_wall_time(report, results))
    text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{block}\n{END}", text, flags=re.S)
    if DIAG_START in text and DIAG_END in text:
        diag = render_diagnostics(args.paper_dir, results)
        text = re.sub(
            re.escape(DIAG_START) + ".*?" + re.escape(DIAG_END),
            lambda _: f"{DIAG_START}\n{diag}\n{DIAG_END}",
            text,
            flags=re.S,
        )
    runs_here = any((results / paper / "runs").glob(f"*/{report['scale']}/seed*/metrics.json"))
    if EXP_START in text and EXP_END in text and runs_here:  # (without runs on disk the block keeps what it says)
        exp = render_experiments(args.paper_dir, results, report["scale"])
        text = re.sub(
            re.escape(EXP_START) + ".*?" + re.escape(EXP_END),
            lambda _: f"{EXP_START}\n{exp}\n{EXP_END}",
            text,
            flags=re.S,
        )
    text = render_run_tables(text, results, paper, args.scale)
    readme.write_text(text)
    print(f"updated {readme} ({report['scale']} scale)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
