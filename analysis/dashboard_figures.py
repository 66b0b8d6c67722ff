"""The dashboard's figures, drawn with matplotlib from the numbers in claims.json and the curves files: per claim the
seeds' values and our interval against the paper's band or bound, clipped to the metric's range; per experiment the
training loss of each seed. PNG bytes, big enough to read on the page (and larger when clicked)."""
from __future__ import annotations

import base64
import io
import math
from pathlib import Path

from analysis import curves

RED, BLUE, GREY = "#b00020", "#1f5fa8", "#444444"


def png(fig) -> bytes:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=140, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode()


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _clip(lo, hi, rng):
    """An interval inside the metric's declared range (no accuracy past 100%)."""
    a, b = (list(rng) + [None, None])[:2] if rng else (None, None)
    lo = lo if a is None or lo is None else max(lo, a)
    hi = hi if b is None or hi is None else min(hi, b)
    return lo, hi


def _finite(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def claim_figure(claim: dict) -> bytes | None:
    """The seeds' values (dots), the interval the verdict is read from (bar) against the paper's value and band (line,
    shaded) or bound (dashed); an ordering shows each experiment's seeds; a trend the fitted slope or exponent of each
    seed."""
    rep, rule, rng = claim.get("reproduced") or {}, claim["rule"], claim.get("range")
    groups = rep["per_experiment"] if "per_experiment" in rep else ({"ours": rep} if "values" in rep else {})
    reported = rule.get("reported")
    if "slope" in rep:
        name = "exponent" if rule.get("fit") == "loglog" else "slope"
        groups = {f"fitted {name}": {"values": list((rep.get("per_seed") or {}).values()) or [rep["slope"]],
                                     "ci_low": rep.get("ci_low"), "ci_high": rep.get("ci_high")}}
        reported, rng = rule.get("expected"), None
    if not groups:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 0.55 + 0.42 * len(groups)))
    for i, g in enumerate(groups.values()):
        vals = [v for v in (g["values"].values() if isinstance(g["values"], dict) else g["values"]) if _finite(v)]
        ax.plot(vals, [i] * len(vals), "o", ms=4, color=GREY, alpha=.6, zorder=3)
        lo, hi = _clip(g.get("ci_low"), g.get("ci_high"), rng)
        if _finite(lo) and _finite(hi):
            ax.plot([lo, hi], [i, i], "-", color=BLUE, lw=3, solid_capstyle="butt", zorder=2)
    band = claim.get("band")
    if reported is not None:
        ax.axvline(reported, color=RED, lw=1.2)
        if band and _finite(band[0]) and _finite(band[1]):
            lo, hi = _clip(band[0], band[1], rng)
            ax.axvspan(lo, hi, color=RED, alpha=.12, lw=0)
    if rule.get("bound") is not None:
        ax.axvline(rule["bound"], color=RED, lw=1.2, ls="--")
    ax.set_yticks(range(len(groups)), list(groups), fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_ylim(-0.6, len(groups) - 0.4)
    if rng and len(rng) >= 2 and None not in rng[:2]:
        left, right = ax.get_xlim()
        ax.set_xlim(max(left, rng[0] - 0.02 * (rng[1] - rng[0])), min(right, rng[1] + 0.02 * (rng[1] - rng[0])))
    ax.set_xlabel(claim.get("metric", ""), fontsize=8)
    ax.grid(axis="x", alpha=.3)
    return png(fig)


def curve_figure(path: Path) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    per_seed = curves.read(path)
    for seed, (xs, ys) in per_seed.items():
        ax.plot(xs, ys, lw=1, alpha=.8, label=f"seed {seed}")
    ax.set_title(f"{path.stem} ({len(per_seed)} seeds)", fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("training loss", fontsize=8)
    ax.tick_params(labelsize=8)
    if len(per_seed) <= 5:
        ax.legend(fontsize=7)
    ax.grid(alpha=.3)
    return png(fig)
