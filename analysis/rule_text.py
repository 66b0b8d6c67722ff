"""How a rule reads in a table: the decimals its numbers need, and the paper's side in words (the target, or for an
ordering what is compared, the right way round). Shared by the verification's table, the terminal and the
dashboard."""
from __future__ import annotations

import math

from analysis.verdicts import value_band


def digits(rule: dict) -> int:
    """Decimals enough to show the rule's finest number (a tolerance of 0.05 needs 3: MMCS 0.950, not 1.0)."""
    finest = [abs(float(rule[k])) for k in ("tolerance", "reported_spread", "margin", "reported", "bound", "expected")
              if isinstance(rule.get(k), (int, float)) and rule[k] != 0]
    if not finest:
        return 3
    return int(min(4, max(1, 1 - math.floor(math.log10(min(finest))))))


def reported_text(rule: dict) -> str:
    """What the paper's side of the row says: the target, or for an ordering what is compared, the right way round."""
    d = digits(rule)
    kind = rule["kind"]
    if kind == "value":
        lo, hi = value_band(rule)
        band = (hi - lo) / 2
        return (f"{rule['reported']:.{d}f}" + (f" ± {rule['reported_spread']:g} (paper's std)"
                                                if "reported_spread" in rule else "") + f"; band ± {band:g}")
    if kind == "bound":
        return f"{rule['direction']} {rule['bound']:g}"
    if kind == "ordering":
        op = ">" if rule.get("higher_is_better", True) else "<"
        by = f" by more than {rule['margin']:g}" if rule["margin"] else ""
        return f"{', '.join(rule['better'])} {op} {', '.join(rule['worse'])}{by}" + (
            " (lower is better)" if op == "<" else "")
    what = "exponent" if rule["fit"] == "loglog" else "slope"
    return (f"{what} {rule['direction']} {rule['bound']:g}" if "bound" in rule
            else f"{what} {rule['expected']:g} ± {rule['tolerance']:g}")


def headline(reproduced: dict | None):
    """Our one number for a claim: a value's mean, an ordering's gap or a trend's slope (None when not run)."""
    rep = reproduced or {}
    return rep.get("mean", rep.get("gap", rep.get("slope")))


def numbers(claim: dict) -> dict:
    """A claim's numbers as the CSV and MLflow record them: the paper's, ours with its spread and interval, the
    margin and the seeds that decided."""
    rep = claim.get("reproduced") or {}
    return {"reported": claim["rule"].get("reported"), "reproduced": headline(rep), "reproduced_std": rep.get("std"),
            "ci_low": rep.get("ci_low"), "ci_high": rep.get("ci_high"), "margin": claim.get("margin"),
            "n_seeds": (claim.get("sequential") or {}).get("n_seeds")}
