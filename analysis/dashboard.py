"""One static page with every paper's claims: results/dashboard/index.html (opens from disk: no server, no network).

    python -m analysis.dashboard [--results results] [--out results/dashboard/index.html] [--compare REF]

A row per claim (paper, statement, source, reported, ours with CI and seeds, scale, verdict, the MLflow run ids
behind the number, linked to the runs' files where they are on disk) with filters by paper, verdict and scale (also
preset from the address: index.html?paper=mamba&verdict=inconclusive); per claim a small figure, drawn with
matplotlib from the numbers in claims.json (the seeds' values against the paper's value and tolerance); per paper
the training curves (results/<p>/<scale>/curves), the provenance (commits, date, machines, devices, package versions) and its MLflow experiment,
verification run and training runs (the ids recorded in claims.json by analysis/verify.py). Figures are embedded as
PNG and also written to <out dir>/figures/<paper>/<claim>.png (Snakemake report items). ``--compare REF`` (a results
directory or a git revision: analysis/compare.py) adds what changed.
"""
from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import sys
from pathlib import Path

from analysis import compare, curves
from analysis.verify import reported_text
from repro import runio, tracking

STYLE = """body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}th{background:#f4f4f4}
.v-reproduced,.v-holds{color:#176f2c;font-weight:600}.v-not-reproduced{color:#b00020;font-weight:600}
.v-inconclusive{color:#8a6d00;font-weight:600}.flag{color:#b00020;font-size:.8em}.seq,.ours{color:#555;font-size:.8em}tr.c-verdict{background:#fff3cd}.v-not-run{color:#777}img.fig{height:90px}
.curves img{height:160px;margin:2px}details{margin:.6em 0}code{font-size:12px}"""

FILTER_JS = """function applyFilters(){const f={};document.querySelectorAll('select[data-key]').forEach(s=>f[s.dataset.key]=s.value);
document.querySelectorAll('tr.claim').forEach(r=>{r.style.display=Object.entries(f).every(([k,v])=>!v||r.dataset[k]===v)?'':'none'});
document.getElementById('shown').textContent=document.querySelectorAll('tr.claim:not([style*="none"])').length}
const q=new URLSearchParams(location.search);document.querySelectorAll('select[data-key]').forEach(s=>{
if(q.has(s.dataset.key))s.value=q.get(s.dataset.key);s.addEventListener('change',applyFilters)});applyFilters();"""


MLFLOW_UI = ("The run ids lead into MLflow: <code>.venv/bin/mlflow ui --backend-store-uri sqlite:///results/mlflow.db "
             "--host 127.0.0.1 --port 5000</code>, then search the paper's experiment for "
             "<code>attributes.run_id = '&lt;id&gt;'</code> (one experiment per paper; the verification run holds "
             "reported, reproduced and verdict per claim).")


def png(fig) -> bytes:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode()


def claim_figure(claim: dict) -> bytes | None:
    """The seeds' values (dots), their mean and CI (bar) against the paper's value and tolerance (line, band) or
    bound (dashed); orderings show each experiment's seeds; trends the fitted slope or exponent and its CI."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rep, rule = claim.get("reproduced") or {}, claim["rule"]
    groups = rep["per_experiment"] if "per_experiment" in rep else ({"ours": rep} if "values" in rep else {})
    reported, tolerance = rule.get("reported"), rule.get("tolerance")
    if "slope" in rep:  # a trend: the seeds' slopes (exponents) and their CI against the paper's slope or bound
        name = "exponent" if rule.get("fit") == "loglog" else "slope"
        groups = {f"fitted {name}": {"values": list((rep.get("per_seed") or {}).values()) or [rep["slope"]],
                                     "ci_low": rep.get("ci_low"), "ci_high": rep.get("ci_high")}}
        reported = rule.get("expected")
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(2.6, 1.2))
    for i, (name, g) in enumerate(groups.items()):
        vals = list(g["values"].values()) if isinstance(g["values"], dict) else g["values"]
        ax.plot(vals, [i] * len(vals), "o", ms=3, color="#444", alpha=.7)
        if g.get("ci_low") is not None and g.get("ci_high") is not None:
            ax.plot([g["ci_low"], g["ci_high"]], [i, i], "-", color="#1f77b4", lw=2)
    if reported is not None:
        ax.axvline(reported, color="#b00020", lw=1)
        if tolerance:
            ax.axvspan(reported - tolerance, reported + tolerance, color="#b00020", alpha=.12)
    if rule.get("bound") is not None:
        ax.axvline(rule["bound"], color="#b00020", lw=1, ls="--")
    ax.set_yticks(range(len(groups)), list(groups), fontsize=6)
    ax.tick_params(axis="x", labelsize=6)
    ax.set_ylim(-0.6, len(groups) - 0.4)
    return png(fig)


def curve_figure(path: Path) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(3.2, 2.0))
    for seed, (xs, ys) in list(curves.read(path).items())[:5]:
        ax.plot(xs, ys, lw=1, label=f"seed {seed}")
    ax.set_title(path.stem, fontsize=8)
    ax.set_xlabel("step", fontsize=7)
    ax.set_ylabel("training loss", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=5)
    return png(fig)


def fmt(x, digits=1):
    return "" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else html.escape(str(x))


def reproduced_cell(claim: dict) -> str:
    rep = claim.get("reproduced") or {}
    if "mean" in rep:
        return f"{fmt(rep['mean'], 2)} [{fmt(rep.get('ci_low'), 2)}, {fmt(rep.get('ci_high'), 2)}] (n={rep.get('n')})"
    if "gap" in rep:
        return f"gap {fmt(rep['gap'], 3)} [{fmt(rep.get('ci_low'), 3)}, {fmt(rep.get('ci_high'), 3)}] (n={rep.get('n')})"
    if "slope" in rep:
        return f"slope {fmt(rep['slope'], 3)} [{fmt(rep.get('ci_low'), 3)}, {fmt(rep.get('ci_high'), 3)}]"
    return ""


def reported_cell(claim: dict) -> str:
    """The target, and whose it is: the paper's number, the paper's number in a band we chose, or our choice."""
    whose = claim.get("target", "")
    why = "; ".join(f"{k}: {v}" for k, v in (claim.get("our_choices") or {}).items())
    note = (f'<br><span class="ours" title="{html.escape(why)}">{html.escape(whose)}</span>'
            if whose and whose != "paper" else "")
    return html.escape(reported_text(claim["rule"])) + note


def verdict_cell(claim: dict) -> str:
    """The verdict, with its flags: fragile (decided by a hair), a rule changed after its runs, seeds that decided."""
    v, extra = claim["verdict"], []
    if claim.get("fragile"):
        extra.append(f'<span class="flag">fragile (margin {claim["margin"]:.3g})</span>')
    status = claim.get("rule_status") or {}
    if status.get("after_runs"):
        extra.append(f'<span class="flag">rule changed after its runs (rule at {html.escape(status["rule_commit"][:10])})'
                     "</span>")
    seq = claim.get("sequential") or {}
    if seq:
        extra.append(f'<span class="seq">{seq["n_seeds"]} seeds: {html.escape(seq["stopped"])}</span>')
    return (f'<td class="v-{v.replace(" ", "-")}" title="{html.escape(claim.get("reason", ""))}">{v}'
            + "".join(f"<br>{x}" for x in extra) + "</td>")


def runs_cell(claim: dict, report: dict, results: Path, page_dir: Path | None) -> str:
    """The MLflow run ids behind one claim's number (recorded by analysis/verify.py): each training run by experiment
    and seed, and the claim's own run under the verification. Where the run directory is on disk, its metrics.json
    and history.csv are linked (relative to the page, so the page still opens from disk)."""
    runs = claim.get("runs") or []
    claim_run = ((report.get("mlflow") or {}).get("claim_run_ids") or {}).get(claim["id"])
    if not runs and not claim_run:
        return ""

    def files(r):
        d = runio.run_dir(results, report["paper"], r["experiment"], report["scale"], r["seed"])
        if page_dir is None or not (d / "metrics.json").exists():
            return ""
        return " " + " ".join(f'<a href="{html.escape(Path(os.path.relpath(d / f, page_dir)).as_posix())}">{f}</a>'
                              for f in ("metrics.json", "history.csv") if (d / f).exists())
    items = "".join(f"<li>{html.escape(r['experiment'])} seed {r['seed']}: "
                    f"<code>{html.escape(r['mlflow_run_id'] or 'not tracked')}</code>{files(r)}</li>" for r in runs)
    verdict = f"<li>verdict: <code>{html.escape(claim_run)}</code></li>" if claim_run else ""
    return f'<details class="runs"><summary>{len(runs)} runs</summary><ul>{items}{verdict}</ul></details>'


def mlflow_html(report: dict) -> str:
    """Where one paper's runs are in MLflow: its experiment, verification run and training runs by experiment."""
    by_exp = {}
    for c in report["claims"]:
        for r in c.get("runs") or []:
            if r["mlflow_run_id"]:
                by_exp.setdefault(r["experiment"], {})[r["seed"]] = r["mlflow_run_id"]
    ml = report.get("mlflow") or {}
    if not by_exp and not ml:
        return ("<p>MLflow run ids: not recorded with these verdicts (verified without tracking, or before the "
                "field).</p>")
    head = (f"<p>MLflow experiment <code>{html.escape(str(ml['experiment_id']))}</code>, verification run "
            f"<code>{html.escape(ml['verify_run_id'])}</code></p>" if ml else "")
    rows = "".join(f"<li>{html.escape(e)}: " + ", ".join(f"seed {s} <code>{html.escape(i)}</code>"
                                                         for s, i in sorted(seeds.items())) + "</li>"
                   for e, seeds in sorted(by_exp.items()))
    return f"{head}<ul class=mlflow>{rows}</ul>"


def provenance_html(rep: dict) -> str:
    """Commit, date, machines, devices and package versions behind one paper's verdicts (analysis/verify.py)."""
    def commit(c, dirty):
        return f"<code>{html.escape(c[:10])}</code>" + (" (uncommitted changes)" if dirty == "true" else "")
    runs = ", ".join(commit(c, d) for c, d in sorted((rep.get("runs_git") or {}).items())) or "?"
    behind, ver = rep.get("runs_provenance") or {}, rep.get("verified") or {}
    pkgs = "; ".join(f"{k} {', '.join(v)}" for k, v in (behind.get("packages") or {}).items())
    return (f"<ul><li>runs trained at commit {runs}; on {html.escape('; '.join(behind.get('machines', ['?'])))}"
            f"{' (' + html.escape('; '.join(behind['devices'])) + ')' if behind.get('devices') else ''}</li>"
            f"<li>run packages: {html.escape(pkgs) or 'not recorded'}</li>"
            f"<li>verdicts computed at commit {commit(rep.get('git_commit', '?'), rep.get('git_dirty'))}"
            f" on {html.escape(ver.get('date', '?'))}, {html.escape(ver.get('machine', '?'))}</li></ul>")


def compare_html(ref: str, old: dict, new: dict) -> str:
    df = compare.diff(old, new)
    changed = df[df["change"] != ""]
    rows = "".join(
        f'<tr class="change c-{r.change}"><td>{r.paper}</td><td><code>{html.escape(r.claim)}</code></td>'
        f"<td>{fmt(r.scale_before)} → {fmt(r.scale_after)}</td><td>{fmt(r.verdict_before)} → "
        f"<b>{fmt(r.verdict_after)}</b></td><td>{fmt(r.value_before, 3)} → {fmt(r.value_after, 3)}</td>"
        f"<td>{fmt(r.delta, 3)}</td><td>{r.change}</td></tr>"
        for r in changed.itertuples())
    return (f'<h2 id="compare">Compared with {html.escape(str(ref))}</h2><p><span id="n-changed">{len(changed)}</span> '
            f"of {len(df)} claims changed, {(df['change'] == 'verdict').sum()} of them in verdict.</p>"
            + (f"<table><tr><th>paper</th><th>claim</th><th>scale</th><th>verdict</th><th>ours</th><th>change in "
               f"ours</th><th>what changed</th></tr>{rows}</table>" if len(changed) else ""))


def build(results: Path, figures: Path | None = None, ref: str | None = None, page_dir: Path | None = None) -> str:
    """The page; with ``figures`` set, each claim's figure is also written to figures/<paper>/<claim>.png; with
    ``page_dir`` (where the page will be written) the runs on disk are linked from their rows."""
    reports = [json.loads(p.read_text()) for p in runio.verdict_files(results)]
    rows, papers = [], []
    for rep in reports:
        for c in rep["claims"]:
            fig = claim_figure(c)
            if fig and figures:
                runio.atomic_write(figures / rep["paper"] / f"{c['id']}.png", fig)
            img = f'<img class="fig" src="{data_uri(fig)}">' if fig else ""
            v = c["verdict"]
            rows.append(
                f'<tr class="claim" data-paper="{rep["paper"]}" data-verdict="{v}" data-scale="{rep["scale"]}">'
                f'<td>{rep["paper"]}</td><td><code>{html.escape(c["id"])}</code><br>{html.escape(c["statement"])}'
                f'</td><td>{html.escape(c["source"])}</td><td>{reported_cell(c)}</td><td>{reproduced_cell(c)}</td>'
                f'<td>{rep["scale"]}</td>{verdict_cell(c)}<td>{img}</td><td>{runs_cell(c, rep, Path(results), page_dir)}</td></tr>')
        curves = sorted((runio.verdict_dir(results, rep["paper"], rep["scale"]) / "curves").glob("*.csv"))
        curve_imgs = "".join(f'<img src="{data_uri(curve_figure(p))}">' for p in curves)
        papers.append(
            f'<details><summary><b>{rep["paper"]}</b>: {html.escape(rep["title"])} — scale {rep["scale"]}, '
            f'{html.escape(json.dumps(rep.get("summary", {})))}</summary>{provenance_html(rep)}'
            + mlflow_html(rep)
            + f'<div class="curves">{curve_imgs}</div></details>')

    def options(key):
        values = sorted({r[key] if key != "verdict" else c["verdict"] for r in reports for c in r["claims"]})
        return (f'<label>{key} <select data-key="{key}"><option value="">all</option>'
                + "".join(f'<option value="{v}">{v}</option>' for v in values) + "</select></label> ")

    head = ("<tr><th>paper</th><th>claim</th><th>source</th><th>reported</th><th>ours (90% CI, seeds)</th>"
            "<th>scale</th><th>verdict</th><th>seeds vs paper</th><th>MLflow runs</th></tr>")
    cmp = compare_html(ref, compare.load_set(ref), {r["paper"]: r for r in reports}) if ref else ""
    return (f"<!doctype html><html><head><meta charset=utf-8><title>repro-lab: claims</title><style>{STYLE}</style>"
            f"</head><body><h1>Do the papers' claims hold?</h1><p>{options('paper')}{options('verdict')}"
            f"{options('scale')} <span id=shown></span> of {len(rows)} claims shown.</p>"
            f"<table>{head}{''.join(rows)}</table>{cmp}<h2>Runs, curves and provenance</h2><p>{MLFLOW_UI}</p>"
            f"{''.join(papers)}"
            f"<script>{FILTER_JS}</script></body></html>")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--compare", default=None, metavar="REF",
                   help="also show what changed against REF: a results directory or a git revision")
    args = p.parse_args(argv)
    results = args.results or tracking.results_dir()
    if not runio.verdict_files(results):
        print(f"error: no results/<paper>/<scale>/claims.json under {results}: run `snakemake papers/<paper>` first",
              file=sys.stderr)
        return 2
    out = args.out or Path(results) / "dashboard" / "index.html"
    try:
        page = build(results, figures=out.parent / "figures", ref=args.compare, page_dir=out.parent)
    except compare.CompareError as e:
        print(f"error: --compare: {e}", file=sys.stderr)
        return 2
    runio.atomic_write(out, page)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
