"""The verdict table printed at the end of a workflow: fits 100 columns, one row per claim (the paper's side, ours
with its interval, the seeds, the verdict), and the count of each verdict. The full table is claims.csv and the
dashboard; this is what a researcher reads in the terminal."""
from __future__ import annotations

import io
import math

from analysis.rule_text import digits, headline, reported_text
from analysis.verdicts import VERDICTS, value_band

WIDTH = 100
STYLE = {"reproduced": "green", "holds": "green", "not reproduced": "red", "inconclusive": "yellow",
         "not run": "dim"}


def counts(report: dict) -> dict[str, int]:
    out = {v: 0 for v in VERDICTS}
    for c in report["claims"]:
        out[c["verdict"]] = out.get(c["verdict"], 0) + 1
    return {v: n for v, n in out.items() if n}


def counts_line(report: dict) -> str:
    return " · ".join(f"{n} {v}" for v, n in counts(report).items())


def paper_text(rule: dict) -> str:
    """The paper's side, short: a value and its band, a bound, or what an ordering compares."""
    if rule["kind"] == "value":
        lo, hi = value_band(rule)
        return f"{rule['reported']:.{digits(rule)}f} ± {(hi - lo) / 2:g}"
    return reported_text(rule)


def ours_text(claim: dict) -> str:
    """Our headline number and its interval; a side the seeds cannot bound (one seed) is left out, not infinite."""
    rep = claim.get("reproduced") or {}
    v = headline(rep)
    if v is None or not math.isfinite(v):
        return "-"
    d = max(digits(claim["rule"]), 2 if claim["kind"] == "trend" else 0)
    lo, hi = rep.get("ci_low"), rep.get("ci_high")
    ci = (f" [{lo:.{d}f}, {hi:.{d}f}]" if lo is not None and hi is not None and math.isfinite(lo)
          and math.isfinite(hi) else "")
    return f"{v:.{d}f}{ci}"


def render(report: dict, width: int = WIDTH, color: bool = False) -> str:
    from rich.console import Console
    from rich.table import Table

    t = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", expand=False)
    t.add_column("claim", overflow="fold", max_width=40)
    t.add_column("paper", overflow="fold", max_width=22)
    t.add_column("ours [CI]", overflow="fold", max_width=20)
    t.add_column("n", justify="right", max_width=3)
    t.add_column("verdict", no_wrap=True)
    flagged = False
    for c in report["claims"]:
        n = (c.get("sequential") or {}).get("n_seeds")
        flag = c.get("fragile") or c.get("no_spread") or (c.get("rule_status") or {}).get("after_runs")
        flagged |= bool(flag)
        t.add_row(c["id"], paper_text(c["rule"]), ours_text(c), "" if n is None else str(n),
                  f"[{STYLE.get(c['verdict'], '')}]{c['verdict']}[/]" + (" !" if flag else ""))
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=color, color_system="standard" if color else None,
                      highlight=False)
    scale = report["scale"] + ("" if report.get("evidence", True) else ": not evidence, proves the pipeline")
    console.print(f"[bold]{report['title']}[/] (scale {scale})")
    console.print(t)
    console.print(f"verdicts: {counts_line(report)}")
    if report.get("config_changed"):
        console.print(f"[red]not the {report['scale']} scale's configuration[/] (set=, or config.yaml changed since "
                      f"they ran): the runs of {', '.join(report['config_changed'])}")
    if flagged:
        console.print("! fragile, no spread, or its rule changed after its runs (claims.csv and the dashboard say "
                      "which)")
    return out.getvalue()
