"""One static page for a researcher deciding whether to trust a paper: results/dashboard/index.html (opens from disk:
no server, no network).

    python -m analysis.dashboard [--results results] [--out results/dashboard/index.html] [--compare REF]

On top, a summary: per paper and scale, the verdict counts as a bar, the scale and the date of the verdicts. Then a
section per paper: a card per claim with the verdict, the paper's side (its number and band, its bound, or for an
ordering what is compared), ours (mean and the interval its verdict is read from, inside the metric's range), the
reason for the verdict and the scale's deviation from the paper in plain sight, the flags (whose target, fragile, a
rule changed after its runs), a figure (click: larger) and the runs behind the number (their MLflow ids, links into
the MLflow UI where a store is present, and their files where the runs are on disk); the paper's training curves,
provenance and MLflow record at the end of its section. Filters by paper, verdict and scale (also from the address:
index.html?paper=gnn&verdict=inconclusive). Figures (analysis/dashboard_figures.py) are embedded as PNG and also
written to <out dir>/figures/<paper>/<claim>.png (Snakemake report items). ``--compare REF`` (a results directory or a
git revision: analysis/compare.py) adds what changed.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import sys
from pathlib import Path

from analysis import compare
from analysis.dashboard_figures import claim_figure, curve_figure, data_uri
from analysis.terminal import counts
from analysis.verdicts import VERDICTS
from analysis.rule_text import digits, headline, reported_text
from repro import runio, tracking

COLOURS = {"reproduced": "#1b7f3b", "holds": "#4caf50", "not reproduced": "#c62828", "inconclusive": "#e0a800",
           "not run": "#9e9e9e"}

STYLE = """*{box-sizing:border-box}body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em;
color:#1d1d1d}h1{font-size:1.6em;margin:.2em 0}h2{margin:1.4em 0 .3em;border-bottom:2px solid #ddd}
.lead{color:#555;margin:.2em 0 1em}code{font-size:.86em;background:#f3f3f3;padding:0 .25em;border-radius:3px;
word-break:break-all}a{color:#1f5fa8}
.summary{display:grid;grid-template-columns:minmax(14em,2fr) 4em 6.5em 3fr;gap:.35em 1em;align-items:center}
.summary .h{font-weight:600;color:#555;font-size:.85em}.bar{display:flex;height:1.3em;border-radius:4px;
overflow:hidden;background:#eee;min-width:8em}.bar span{display:block;height:100%}.legend{font-size:.85em;color:#444}
.legend i{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin:0 .25em 0 .7em;vertical-align:-1px}
.filters{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd;z-index:2}
.filters label{margin-right:1em}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:.8em}
.cards>*{min-width:0}.claim{overflow-wrap:anywhere;border:1px solid #ddd;border-left:6px solid #999;border-radius:6px;
padding:.6em .8em;background:#fff}
.claim header{display:flex;gap:.5em;align-items:baseline;flex-wrap:wrap}.badge{color:#fff;border-radius:3px;
padding:0 .45em;font-size:.85em;font-weight:600;white-space:nowrap}.src{color:#666;font-size:.85em}
.claim .stmt{margin:.3em 0}.kv{display:grid;grid-template-columns:5.5em 1fr;gap:.1em .6em;font-size:.93em}
.kv b{color:#555;font-weight:600}.why,.dev{font-size:.88em;margin:.35em 0 0}.dev{color:#5a4a00;background:#fff8e1;
padding:.2em .4em;border-radius:3px}.flag{color:#b00020;font-weight:600}.fig{width:100%;max-width:480px;cursor:zoom-in;
margin-top:.4em}.fig.big{position:fixed;inset:4vh 4vw;width:92vw;max-width:none;height:92vh;object-fit:contain;
background:#fff;z-index:10;cursor:zoom-out;box-shadow:0 0 0 100vmax rgba(0,0,0,.45);margin:0}
details{margin:.4em 0}summary{cursor:pointer;color:#1f5fa8}.curves{display:flex;flex-wrap:wrap;gap:.5em}
.curves img{width:100%;max-width:380px;cursor:zoom-in}.curves img.big{position:fixed;inset:4vh 4vw;width:92vw;
max-width:none;height:92vh;object-fit:contain;background:#fff;z-index:10;box-shadow:0 0 0 100vmax rgba(0,0,0,.45)}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left}
@media (max-width:700px){.summary{grid-template-columns:1fr 1fr}.summary .h{display:none}.summary .barcell,
.summary>a{grid-column:1/-1}.summary>a{margin-top:.6em}.cards{grid-template-columns:1fr}
.kv{grid-template-columns:4.5em 1fr}body{padding:.6em}}"""

SCRIPT = """function applyFilters(){const f={};
document.querySelectorAll('select[data-key]').forEach(s=>f[s.dataset.key]=s.value);
let n=0;document.querySelectorAll('.claim').forEach(c=>{const ok=Object.entries(f).every(([k,v])=>!v||c.dataset[k]===v);
c.style.display=ok?'':'none';n+=ok});document.querySelectorAll('section.paper').forEach(s=>{
s.style.display=s.querySelector('.claim:not([style*="none"])')?'':'none'});document.getElementById('shown').textContent=n}
const q=new URLSearchParams(location.search);document.querySelectorAll('select[data-key]').forEach(s=>{
if(q.has(s.dataset.key))s.value=q.get(s.dataset.key);s.addEventListener('change',applyFilters)});applyFilters();
if(q.has('open')){const c=document.getElementById(q.get('open'));const i=c&&c.querySelector('img.fig');
if(i)i.classList.add('big')}
document.addEventListener('click',e=>{if(e.target.matches('img.fig,.curves img'))e.target.classList.toggle('big')});
document.addEventListener('keydown',e=>{if(e.key==='Escape')document.querySelectorAll('img.big').forEach(i=>i.classList.remove('big'))});"""

MLFLOW_UI = os.environ.get("REPRO_MLFLOW_UI", "http://127.0.0.1:5000")


def esc(x) -> str:
    return html.escape("" if x is None else str(x))


def fmt(x, digits=1):
    return "" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else html.escape(str(x))


def verdict_bar(report: dict) -> str:
    n = counts(report)
    total = max(sum(n.values()), 1)
    return (
        '<div class="bar" role="img" aria-label="'
        + esc(", ".join(f"{k} {v}" for k, v in n.items()))
        + '">'
        + "".join(
            f'<span style="width:{100 * k / total:.2f}%;background:{COLOURS[v]}" title="{k} {v}"></span>'
            for v, k in n.items()
        )
        + "</div>"
    )


def anchor(report: dict) -> str:
    return f"p-{report['paper']}-{report['scale']}"


def summary_html(reports: list[dict]) -> str:
    legend = "".join(f'<i style="background:{COLOURS[v]}"></i>{v}' for v in VERDICTS)
    rows = "".join(
        f'<a href="#{anchor(r)}"><b>{esc(r["paper"])}</b> <span class="src">{esc(r["title"])}</span></a>'
        f"<span>{esc(r['scale'])}{'' if r.get('evidence', True) else ' (not evidence)'}</span>"
        f"<span>{esc((r.get('verified') or {}).get('date', '?')[:10])}</span>"
        f'<div class="barcell">{verdict_bar(r)}<div class="legend">'
        + " · ".join(f"{k} {v}" for v, k in counts(r).items())
        + "</div></div>"
        for r in reports
    )
    return (
        f'<div class="summary"><span class="h">paper</span><span class="h">scale</span><span class="h">verdicts of'
        f'</span><span class="h">claims by verdict</span>{rows}</div><p class="legend">{legend}</p>'
    )


def paper_side(claim: dict) -> str:
    """What the paper says, and whose target the verdict is judged against."""
    rule, whose = claim["rule"], claim.get("target", "")
    if rule["kind"] == "value":
        lo, hi = claim.get("band") or (None, None)
        d = digits(rule)
        text = f"{rule['reported']:.{d}f}" + (f" (band {lo:.{d}f} to {hi:.{d}f})" if lo is not None else "")
    elif rule["kind"] == "ordering":
        text = "an ordering (see compared)"
    else:
        text = reported_text(rule)
    why = "; ".join(f"{k}: {v}" for k, v in (claim.get("our_choices") or {}).items())
    note = f' <span class="src">target: {esc(whose)}</span>' if whose else ""
    return esc(text) + note + (f'<div class="why">our choice: {esc(why)}</div>' if why else "")


def ours(claim: dict) -> str:
    """Our number and the interval its verdict is read from (inside the metric's range), with the seeds behind it."""
    rep, rule = claim.get("reproduced") or {}, claim["rule"]
    d = max(digits(rule), 2 if claim["kind"] == "trend" else 0)
    value = headline(rep)
    if value is None:
        return "-"
    what = {"gap": "gap ", "slope": "exponent " if rule.get("fit") == "loglog" else "slope "}
    label = next((w for k, w in what.items() if k in rep and "mean" not in rep), "")
    lo, hi = rep.get("ci_low"), rep.get("ci_high")
    ci = f" [{lo:.{d}f}, {hi:.{d}f}]" if isinstance(lo, float) and isinstance(hi, float) else ""
    seq = claim.get("sequential") or {}
    n, stopped = seq.get("n_seeds", rep.get("n")), seq.get("stopped")
    return f"{label}{value:.{d}f}{ci}" + (
        f' <span class="src">{n} seeds{": " + esc(stopped) if stopped else ""}</span>' if n else ""
    )


def compared(claim: dict) -> str:
    """An ordering as what is compared: each side's experiments and our mean for each."""
    rule = claim["rule"]
    if rule["kind"] != "ordering":
        return ""
    per = (claim.get("reproduced") or {}).get("per_experiment") or {}
    d = digits(rule)

    def side(names):
        return ", ".join(
            f"{esc(e)}" + (f" ({per[e]['mean']:.{d}f})" if isinstance((per.get(e) or {}).get("mean"), float) else "")
            for e in names
        )

    better = "higher" if rule.get("higher_is_better", True) else "lower"
    by = f" by more than {rule['margin']:g}" if rule.get("margin") else ""
    return (
        f"<b>compared</b><span>{side(rule['better'])} <i>should be {better} than</i> {side(rule['worse'])}{by}</span>"
    )


def flags(claim: dict) -> str:
    out = []
    if claim.get("fragile"):
        out.append(f"fragile: decided by a margin of {claim['margin']:.3g}")
    if claim.get("no_spread"):
        out.append("no spread: every deciding seed gave the same value, so the interval has zero width")
    status = claim.get("rule_status") or {}
    if status.get("after_runs"):
        out.append(f"rule changed after its runs (rule at {esc((status.get('rule_commit') or '')[:10])})")
    return "".join(f'<div class="flag">{f}</div>' for f in out)


def mlflow_link(run_id: str | None, report: dict, store: bool) -> str:
    if not run_id:
        return "<code>not tracked</code>"
    exp = (report.get("mlflow") or {}).get("experiment_id")
    if store and exp is not None:
        return f'<a href="{esc(MLFLOW_UI)}/#/experiments/{esc(exp)}/runs/{esc(run_id)}"><code>{esc(run_id)}</code></a>'
    return f"<code>{esc(run_id)}</code>"


def runs_html(claim: dict, report: dict, results: Path, page_dir: Path | None, store: bool) -> str:
    """The runs behind one claim's number (recorded by analysis/verify.py): each training run by experiment and seed
    with its MLflow id (a link into the MLflow UI where a store is present), its files where the run is on disk
    (relative to the page, so the page still opens from disk), and the claim's own run under the verification."""
    runs = claim.get("runs") or []
    claim_run = ((report.get("mlflow") or {}).get("claim_run_ids") or {}).get(claim["id"])
    if not runs and not claim_run:
        return ""

    def files(r):
        d = runio.run_dir(results, report["paper"], r["experiment"], report["scale"], r["seed"])
        if page_dir is None or not (d / "metrics.json").exists():
            return ""
        return " " + " ".join(
            f'<a href="{esc(Path(os.path.relpath(d / f, page_dir)).as_posix())}">{f}</a>'
            for f in ("metrics.json", "history.csv")
            if (d / f).exists()
        )

    items = "".join(
        f"<li>{esc(r['experiment'])} seed {r['seed']}: {mlflow_link(r['mlflow_run_id'], report, store)}{files(r)}</li>"
        for r in runs
    )
    verdict = f"<li>verdict: {mlflow_link(claim_run, report, store)}</li>" if claim_run else ""
    return f'<details class="runs"><summary>{len(runs)} runs</summary><ul>{items}{verdict}</ul></details>'


def claim_card(claim: dict, report: dict, fig: bytes | None, results: Path, page_dir: Path | None, store: bool) -> str:
    v = claim["verdict"]
    img = f'<img class="fig" alt="{esc(claim["id"])}" src="{data_uri(fig)}">' if fig else ""
    deviation = claim.get("deviation") or ""
    return (
        f'<article class="claim" id="{esc(report["paper"])}-{esc(claim["id"])}" data-paper="{esc(report["paper"])}" '
        f'data-verdict="{esc(v)}" data-scale="{esc(report["scale"])}" style="border-left-color:{COLOURS[v]}">'
        f'<header><span class="badge" style="background:{COLOURS[v]}">{esc(v)}</span><code>{esc(claim["id"])}</code>'
        f'<span class="src">{esc(claim["source"])}</span></header><div class="stmt">{esc(claim["statement"])}</div>'
        f'<div class="kv"><b>paper</b><span>{paper_side(claim)}</span>{compared(claim)}'
        f"<b>ours</b><span>{ours(claim)}</span></div>"
        f'<div class="why"><b>why:</b> {esc(claim.get("reason", ""))}</div>'
        + (f'<div class="dev"><b>deviation at this scale:</b> {esc(deviation)}</div>' if deviation else "")
        + flags(claim)
        + img
        + runs_html(claim, report, results, page_dir, store)
        + "</article>"
    )


def mlflow_html(report: dict, store: bool) -> str:
    """Where one paper's runs are in MLflow: its experiment, verification run and training runs by experiment."""
    by_exp = {}
    for c in report["claims"]:
        for r in c.get("runs") or []:
            if r["mlflow_run_id"]:
                by_exp.setdefault(r["experiment"], {})[r["seed"]] = r["mlflow_run_id"]
    ml = report.get("mlflow") or {}
    if not by_exp and not ml:
        return (
            "<p>MLflow run ids: not recorded with these verdicts (verified without tracking, or before the field).</p>"
        )
    where = (
        f"Links open the MLflow UI at {esc(MLFLOW_UI)}: start it with <code>.venv/bin/mlflow ui "
        "--backend-store-uri sqlite:///results/mlflow.db --host 127.0.0.1 --port 5000</code>."
        if store
        else "No MLflow store is here (results/mlflow.db): these are the ids in the store of the machine that ran them."
    )
    head = (
        f"<p>MLflow experiment <code>{esc(ml['experiment_id'])}</code>, verification run "
        f"{mlflow_link(ml['verify_run_id'], report, store)}. {where}</p>"
        if ml
        else f"<p>{where}</p>"
    )
    rows = "".join(
        f"<li>{esc(e)}: "
        + ", ".join(f"seed {s} {mlflow_link(i, report, store)}" for s, i in sorted(seeds.items()))
        + "</li>"
        for e, seeds in sorted(by_exp.items())
    )
    return f"{head}<ul class=mlflow>{rows}</ul>"


def provenance_html(rep: dict) -> str:
    """Commit, date, machines, devices and package versions behind one paper's verdicts (analysis/verify.py)."""

    def commit(c, dirty):
        return f"<code>{html.escape(c[:10])}</code>" + (" (uncommitted changes)" if dirty == "true" else "")

    runs = ", ".join(commit(c, d) for c, d in sorted((rep.get("runs_git") or {}).items())) or "?"
    behind, ver = rep.get("runs_provenance") or {}, rep.get("verified") or {}
    pkgs = "; ".join(f"{k} {', '.join(v)}" for k, v in (behind.get("packages") or {}).items())
    return (
        f"<ul><li>runs trained at commit {runs}; on {html.escape('; '.join(behind.get('machines', ['?'])))}"
        f"{' (' + html.escape('; '.join(behind['devices'])) + ')' if behind.get('devices') else ''}</li>"
        f"<li>run packages: {html.escape(pkgs) or 'not recorded'}</li>"
        + (f"<li>{behind['restored_from_record']} runs restored from their committed records (no parameters; "
           f"<code>python -m repro.share restore-record</code>)"
           + (f", {behind['reconstructed_from_table']} of them rebuilt from a committed per-seed table after their "
              f"directories were lost (<code>python -m repro.records_from_table</code>)"
              if behind.get("reconstructed_from_table") else "")
           + "</li>" if behind.get("restored_from_record") else "")
        + f"<li>verdicts computed at commit {commit(rep.get('git_commit', '?'), rep.get('git_dirty'))}"
        f" on {html.escape(ver.get('date', '?'))}, {html.escape(ver.get('machine', '?'))}</li></ul>"
    )


def compare_html(ref: str, old: dict, new: dict) -> str:
    df = compare.diff(old, new)
    changed = df[df["change"] != ""]
    rows = "".join(
        f'<tr class="change c-{r.change}"><td>{r.paper}</td><td><code>{html.escape(r.claim)}</code></td>'
        f"<td>{fmt(r.scale_before)} → {fmt(r.scale_after)}</td><td>{fmt(r.verdict_before)} → "
        f"<b>{fmt(r.verdict_after)}</b></td><td>{fmt(r.value_before, 3)} → {fmt(r.value_after, 3)}</td>"
        f"<td>{fmt(r.delta, 3)}</td><td>{r.change}</td></tr>"
        for r in changed.itertuples()
    )
    return (
        f'<h2 id="compare">Compared with {html.escape(str(ref))}</h2><p><span id="n-changed">{len(changed)}</span> '
        f"of {len(df)} claims changed, {(df['change'] == 'verdict').sum()} of them in verdict.</p>"
        + (
            f"<table><tr><th>paper</th><th>claim</th><th>scale</th><th>verdict</th><th>ours</th><th>change in "
            f"ours</th><th>what changed</th></tr>{rows}</table>"
            if len(changed)
            else ""
        )
    )


def paper_section(rep: dict, results: Path, figures: Path | None, page_dir: Path | None, store: bool) -> str:
    cards = []
    for c in rep["claims"]:
        fig = claim_figure(c)
        if fig and figures:
            runio.atomic_write(figures / rep["paper"] / f"{c['id']}.png", fig)
        cards.append(claim_card(c, rep, fig, results, page_dir, store))
    curve_files = sorted((runio.verdict_dir(results, rep["paper"], rep["scale"]) / "curves").glob("*.csv"))
    curve_imgs = "".join(f'<img alt="{esc(p.stem)}" src="{data_uri(curve_figure(p))}">' for p in curve_files)
    note = f'<p class="lead">{esc(rep["note"])}</p>' if rep.get("note") else ""
    if rep.get("config_changed"):
        note += (
            f'<p class="flag">Not the {esc(rep["scale"])} scale\'s configuration: the runs of '
            f"{esc(', '.join(rep['config_changed']))} were trained with another (set=, or config.yaml changed "
            "since they ran).</p>"
        )
    return (
        f'<section class="paper" id="{anchor(rep)}"><h2>{esc(rep["title"])} <span class="src">{esc(rep["paper"])}, '
        f"scale {esc(rep['scale'])}, verdicts of {esc((rep.get('verified') or {}).get('date', '?')[:10])}</span></h2>"
        f'{verdict_bar(rep)}{note}<div class="cards">{"".join(cards)}</div>'
        f'<details><summary>training curves ({len(curve_files)} experiments)</summary><div class="curves">'
        f"{curve_imgs}</div></details><details><summary>provenance</summary>{provenance_html(rep)}</details>"
        f"<details><summary>MLflow</summary>{mlflow_html(rep, store)}</details></section>"
    )


def build(results: Path, figures: Path | None = None, ref: str | None = None, page_dir: Path | None = None) -> str:
    """The page; with ``figures`` set, each claim's figure is also written to figures/<paper>/<claim>.png; with
    ``page_dir`` (where the page will be written) the runs on disk are linked from their cards."""
    reports = [json.loads(p.read_text()) for p in runio.verdict_files(results)]
    store = (Path(results) / "mlflow.db").exists() or bool(os.environ.get("MLFLOW_TRACKING_URI"))
    sections = "".join(paper_section(r, Path(results), figures, page_dir, store) for r in reports)

    def options(key):
        values = sorted({r[key] if key != "verdict" else c["verdict"] for r in reports for c in r["claims"]})
        return (
            f'<label>{key} <select data-key="{key}"><option value="">all</option>'
            + "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
            + "</select></label>"
        )

    n = sum(len(r["claims"]) for r in reports)
    cmp = compare_html(ref, compare.load_set(ref), {r["paper"]: r for r in reports}) if ref else ""
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        f'content="width=device-width,initial-scale=1"><title>repro-lab: do the claims hold?</title>'
        f"<style>{STYLE}</style></head><body><h1>Do the papers' claims hold?</h1><p class=lead>Each claim judged "
        f"from our runs of the committed code: the paper's number beside ours, the interval over the seeds that "
        f"decides (90%, or with adaptive seeds the level of the deciding look), and a verdict that is a test at "
        f"5% (analysis/README.md). Smoke-scale verdicts prove the pipeline, not the claim.</p>{summary_html(reports)}"
        f'<div class="filters">{options("paper")}{options("verdict")}{options("scale")} '
        f'<span id="shown"></span> of {n} claims shown</div>{sections}{cmp}'
        f"<script>{SCRIPT}</script></body></html>"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "--compare",
        default=None,
        metavar="REF",
        help="also show what changed against REF: a results directory or a git revision",
    )
    args = p.parse_args(argv)
    results = args.results or tracking.results_dir()
    if not runio.verdict_files(results):
        print(
            f"error: no results/<paper>/<scale>/claims.json under {results}: run `snakemake papers/<paper>` first",
            file=sys.stderr,
        )
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
