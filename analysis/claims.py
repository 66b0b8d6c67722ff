"""The claims-file schema (DESIGN.md, "A claim"), validated once here for every paper.

```yaml
paper: {title, authors, year, url}
metrics:                            # every metric a claim uses, declared once: its range (null: unbounded)
  accuracy: {range: [0, 100]}       # confidence intervals are clipped to it
claims:
  - id: a-slug                      # unique in the file
    statement: one line
    source: "Table 1"               # where in the paper
    metric: accuracy                # the key in each run's metrics.json
    experiments: [e1]               # value: one experiment; trend: the experiments along x
    rule:
      kind: value                   # reported, tolerance, optional reported_spread (the paper's std)
      # kind: ordering              # better: [..], worse: [..], margin
      # kind: trend                 # x: [..] (one per experiment), fit: linear | loglog, then either
      #                             #   expected, tolerance (the slope's value) or bound, direction (its sign/side)
      # kind: bound                 # bound, direction: above | below (a qualitative claim made a threshold)
      basis:                        # where every number of the rule comes from (x values excepted), one of
        reported: "paper: Table 1"  #   "paper: <table or figure, and the spread it reports>"
        tolerance: "our choice: <why>"  # "rounding: <the reported digits>", "direction: <the paper states only
                                    #   a direction>", "our choice: <the reason>"
    deviations: {cpu: "...", full: "..."}   # how each scale differs from the paper
    not_run: "why"                  # optional: the claim is listed but not run
    secondary: false                # optional: a secondary source or a minor claim
```
A malformed file fails with the file, the claim id and the field.

``basis`` is what lets a reader tell a paper's number from ours (issue 18): a target the paper states is the
target; where the paper states only a direction the rule is a direction (margin or bound 0, basis "direction");
any other number is "our choice" with its reason, and the dashboard and README tables say so.
"""
from __future__ import annotations

import re
from pathlib import Path

from repro.config import ConfigError, load_yaml

RULES = {
    "value": {"reported": (int, float), "tolerance": (int, float)},
    "ordering": {"better": list, "worse": list, "margin": (int, float)},
    "trend": {"x": list, "fit": str},
    "bound": {"bound": (int, float), "direction": str},
}
OPTIONAL_RULE_FIELDS = {"value": {"reported_spread": (int, float), "higher_is_better": bool},
                        "ordering": {"higher_is_better": bool},
                        "trend": {"expected": (int, float), "tolerance": (int, float), "bound": (int, float),
                                  "direction": str},
                        "bound": {}}
# a trend states the slope's value (expected, tolerance) or only which side of a bound it lies (bound, direction)
TREND_FORMS = (("expected", "tolerance"), ("bound", "direction"))
FITS = ("linear", "loglog")
# a claim id names MLflow metrics and runs: MLflow accepts these characters only
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.\- :/]+$")
CLAIM_FIELDS = {"id", "statement", "source", "metric", "experiments", "rule", "deviations", "not_run", "secondary"}


# the numbers of a rule that need a basis: every target, tolerance, spread, margin and bound (not the x positions)
BASIS_FIELDS = ("reported", "tolerance", "reported_spread", "margin", "bound", "expected")
BASIS_KINDS = ("paper", "rounding", "direction", "our choice")


class ClaimsError(ValueError):
    pass


def basis_kind(text: str) -> str:
    """``"our choice: ..."`` -> ``"our choice"``."""
    return text.split(":", 1)[0].strip()


TARGET_FIELDS = ("reported", "expected", "bound", "margin")


def target_basis(rule: dict) -> str:
    """Whose target a claim is judged against: ``paper`` (the paper's number or direction, with the paper's spread
    or rounding as the band), ``paper, our band`` (the paper's number, a tolerance we chose), or ``our choice``."""
    basis = rule.get("basis") or {}
    main = next((basis_kind(basis[f]) for f in TARGET_FIELDS if f in basis), "our choice")
    if main == "our choice":
        return "our choice"
    if "tolerance" in basis and basis_kind(basis["tolerance"]) == "our choice":
        return "paper, our band"
    return "paper"


def our_choices(rule: dict) -> dict:
    """The rule's numbers that the paper does not state, with the reasons given: ``{field: reason}``."""
    return {
        f: b.split(":", 1)[1].strip() for f, b in (rule.get("basis") or {}).items() if basis_kind(b) == "our choice"
    }


def metric_range(claims_data: dict, metric: str) -> tuple[float, float]:
    """The declared range of ``metric`` (``-inf``/``inf`` where open)."""
    lo, hi = claims_data["metrics"][metric]["range"]
    return (-float("inf") if lo is None else float(lo), float("inf") if hi is None else float(hi))


def _fail(path, cid, field, problem):
    raise ClaimsError(f"{path}: claim {cid!r}: field {field!r}: {problem}")


def load_claims(path: Path, experiments: list[str] | None = None) -> dict:
    """Load and validate a claims file; ``experiments`` (from config.yaml) checks the names claims use."""
    path = Path(path)
    try:
        data = load_yaml(path)
    except ConfigError as e:
        raise ClaimsError(str(e)) from e
    if not isinstance(data.get("claims"), list) or not data["claims"]:
        raise ClaimsError(f"{path}: expected a mapping with a non-empty 'claims' list")
    if not isinstance(data.get("paper"), dict) or "title" not in data["paper"]:
        raise ClaimsError(f"{path}: 'paper' must be a mapping with at least a 'title'")
    _check_metrics(path, data)
    seen = set()
    for i, claim in enumerate(data["claims"]):
        if not isinstance(claim, dict):
            raise ClaimsError(f"{path}: claim #{i + 1} is not a mapping")
        cid = claim.get("id")
        if not isinstance(cid, str) or not cid:
            _fail(path, f"#{i + 1}", "id", "missing or not a string")
        if cid in seen:
            _fail(path, cid, "id", "duplicate id")
        if not ID_PATTERN.match(cid):
            _fail(path, cid, "id", "use letters, digits and _ . - : / only (the id names MLflow metrics)")
        seen.add(cid)
        unknown = set(claim) - CLAIM_FIELDS
        if unknown:
            _fail(path, cid, sorted(unknown)[0], f"unknown field; valid: {', '.join(sorted(CLAIM_FIELDS))}")
        for field in ("statement", "source", "metric"):
            if not isinstance(claim.get(field), str) or not claim[field].strip():
                _fail(path, cid, field, "missing or empty (every claim cites its table or figure)")
        _check_rule(path, cid, claim, experiments)
        if claim["metric"] not in data["metrics"]:
            _fail(path, cid, "metric", f"{claim['metric']!r} is not declared under 'metrics' (give its range)")
        dev = claim.get("deviations", {})
        if not isinstance(dev, dict) or not all(isinstance(v, str) for v in dev.values()):
            _fail(path, cid, "deviations", "must map a scale name to a string")
        if "not_run" in claim and not (isinstance(claim["not_run"], str) and claim["not_run"].strip()):
            _fail(path, cid, "not_run", "must give the reason as a non-empty string")
    return data


def _check_metrics(path, data):
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise ClaimsError(
            f"{path}: expected a 'metrics' mapping declaring each metric's range, "
            "e.g. metrics: {accuracy: {range: [0, 100]}}"
        )
    for name, m in metrics.items():
        r = (m or {}).get("range") if isinstance(m, dict) else None
        ok = (
            isinstance(r, list)
            and len(r) == 2
            and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in r)
            and (None in r or r[0] < r[1])
        )
        if not ok:
            raise ClaimsError(f"{path}: metrics.{name}.range must be [low, high] with low < high (null: unbounded)")


def _check_basis(path, cid, rule):
    basis = rule.get("basis")
    if not isinstance(basis, dict):
        _fail(
            path,
            cid,
            "rule.basis",
            "missing: say where each number of the rule comes from "
            f"({', '.join(f for f in BASIS_FIELDS if f in rule)})",
        )
    for field in BASIS_FIELDS:
        if field in rule and field not in basis:
            _fail(path, cid, f"rule.basis.{field}", "missing: say where this number comes from")
    for field, text in basis.items():
        if field not in rule or field not in BASIS_FIELDS:
            _fail(path, cid, f"rule.basis.{field}", "names no number of the rule")
        if (
            not isinstance(text, str)
            or ":" not in text
            or basis_kind(text) not in BASIS_KINDS
            or not text.split(":", 1)[1].strip()
        ):
            _fail(
                path,
                cid,
                f"rule.basis.{field}",
                f"must read '<kind>: <detail>' with kind one of {', '.join(BASIS_KINDS)}",
            )
        if basis_kind(text) == "direction" and rule[field] != 0:
            _fail(path, cid, f"rule.basis.{field}", "a 'direction' basis goes with 0 (the sign alone is claimed)")


def _check_rule(path, cid, claim, experiments):
    rule = claim.get("rule")
    if not isinstance(rule, dict):
        _fail(path, cid, "rule", "missing or not a mapping")
    kind = rule.get("kind")
    if kind not in RULES:
        _fail(path, cid, "rule.kind", f"{kind!r} is not one of {', '.join(RULES)}")
    for field, typ in RULES[kind].items():
        if field not in rule or not isinstance(rule[field], typ) or isinstance(rule[field], bool):
            _fail(path, cid, f"rule.{field}", f"required for a {kind} rule ({_typename(typ)})")
    for field in set(rule) - set(RULES[kind]) - {"kind", "basis"}:
        typ = OPTIONAL_RULE_FIELDS[kind].get(field)
        if typ is None:
            _fail(path, cid, f"rule.{field}", f"not a field of a {kind} rule")
        if not isinstance(rule[field], typ):
            _fail(path, cid, f"rule.{field}", f"expected {_typename(typ)}")
    if kind in ("value", "trend") and rule.get("tolerance", 0) < 0:
        _fail(path, cid, "rule.tolerance", "must be >= 0")
    if kind == "trend":
        forms = [f for f in TREND_FORMS if any(k in rule for k in f)]
        if len(forms) != 1 or not all(k in rule for k in forms[0]):
            _fail(path, cid, "rule", "a trend rule gives either expected and tolerance, or bound and direction")
    if "direction" in rule and rule["direction"] not in ("above", "below"):
        _fail(path, cid, "rule.direction", f"{rule['direction']!r} is not one of above, below")
    if kind == "trend" and rule["fit"] not in FITS:
        _fail(path, cid, "rule.fit", f"{rule['fit']!r} is not one of {', '.join(FITS)}")
    _check_basis(path, cid, rule)
    if "not_run" in claim:
        return
    used = list(claim.get("experiments") or [])
    if kind in ("value", "bound") and len(used) != 1:
        _fail(path, cid, "experiments", f"a {kind} claim names exactly one experiment")
    if kind == "ordering":
        used = rule["better"] + rule["worse"]
        if not rule["better"] or not rule["worse"]:
            _fail(path, cid, "rule.better", "better and worse must both be non-empty")
    if kind == "trend" and len(used) != len(rule["x"]):
        _fail(path, cid, "rule.x", "needs one x value per experiment")
    if experiments is not None:
        for e in used:
            if e not in experiments:
                _fail(path, cid, "experiments", f"unknown experiment {e!r}; valid: {', '.join(experiments)}")


def _typename(typ):
    return " or ".join(t.__name__ for t in typ) if isinstance(typ, tuple) else typ.__name__


def experiments_of(claim: dict) -> list[str]:
    rule = claim["rule"]
    if rule["kind"] == "ordering":
        return list(dict.fromkeys(rule["better"] + rule["worse"]))
    return list(claim.get("experiments") or [])
