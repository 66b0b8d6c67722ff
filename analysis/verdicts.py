"""The verdict rules (DESIGN.md, "A claim"), as statistical tests on per-seed values.

``judge(claim, values)`` takes ``values = {experiment: {seed: value}}``: the seed is explicit so that experiments run
on the same seeds (which share the data stream and often more) are compared seed by seed.

Every rule controls its error rates at ``alpha`` (5% unless a sequential design spends it over several looks,
analysis/sequential.py). With t-intervals over seeds (exact for normal seed-to-seed noise):

value     an equivalence test (two one-sided tests, TOST). band = reported +- max(tolerance, 2 * reported_spread),
          clipped to the metric's range. ``reproduced`` when the whole (1 - 2 alpha) interval lies inside the band:
          P(reproduced | true mean outside the band) <= alpha. ``not reproduced`` when the whole (1 - alpha)
          interval lies outside it: P(not reproduced | true mean at the reported value) <= alpha. Else
          ``inconclusive``.
ordering  for every (better, worse) pair the difference better - worse (turned round when lower is better):
          paired by seed when both experiments ran the same seeds, else Welch's unpaired difference. ``holds`` when
          every pair's one-sided (1 - alpha) lower bound exceeds the margin (an intersection-union test:
          P(holds | some pair at or below the margin) <= alpha). ``not reproduced`` when some pair's one-sided
          (1 - alpha / pairs) upper bound lies below the margin (Bonferroni over pairs). Else ``inconclusive``.
bound     one sample against a threshold: ``holds`` when the one-sided (1 - alpha) bound on the claimed side lies
          beyond it, ``not reproduced`` when the opposite one-sided bound lies on the wrong side.
trend     a slope (``linear``) or exponent (``loglog``) against x. Paired: one slope per seed over the experiments,
          then the t-interval over seeds. Unpaired: one least-squares fit through every point. Then judged like a
          value (``expected`` +- ``tolerance``: equivalence) or a bound (``bound``, ``direction``).

Intervals never leave the metric's declared range (claims.yaml ``metrics``). Each decided verdict records its
``margin``: how far the deciding interval end lies from the threshold, in the metric's units; it is ``fragile``
when that is under FRAGILE_FRACTION of the band (value, trend value) or of the deciding interval's width.

The cores (``value_core``, ``one_sided_core``) are vectorised over simulations so that analysis/calibration.py
tests these very functions.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

REPRODUCED, HOLDS, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN = (
    "reproduced", "holds", "not reproduced", "inconclusive", "not run")
VERDICTS = (REPRODUCED, HOLDS, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN)
ALPHA = 0.05
FRAGILE_FRACTION = 0.1
# core decision codes
POSITIVE, NEGATIVE, UNDECIDED = 1, -1, 0
OPEN = (-math.inf, math.inf)


# --- interval arithmetic, vectorised ------------------------------------------------------------------------------

def sample_stats(x):
    """Mean, standard error and degrees of freedom over the last axis (seeds)."""
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    mean = x.mean(-1)
    se = x.std(-1, ddof=1) / math.sqrt(n) if n > 1 else np.full_like(mean, np.nan)
    return mean, se, np.full_like(mean, n - 1.0)


def half_width(se, df, one_sided_level):
    """t-quantile times the standard error; infinite where there are no degrees of freedom (one seed)."""
    se, df = np.asarray(se, dtype=float), np.asarray(df, dtype=float)
    ok = df >= 1
    q = special.stdtrit(np.where(ok, df, 1.0), one_sided_level)      # Student's t quantile (= scipy.stats.t.ppf)
    return np.where(ok, q * np.where(ok, se, 0.0), np.inf)


def clip(x, rng):
    return np.clip(x, rng[0], rng[1])


def value_core(mean, se, df, lo, hi, alpha=ALPHA, rng=OPEN):
    """Equivalence of a mean to the band [lo, hi]. Returns (code, margin, eq_interval, wide_interval)."""
    lo, hi = max(lo, rng[0]), min(hi, rng[1])
    h_eq, h_wide = half_width(se, df, 1 - alpha), half_width(se, df, 1 - alpha / 2)
    eq = (clip(mean - h_eq, rng), clip(mean + h_eq, rng))
    wide = (clip(mean - h_wide, rng), clip(mean + h_wide, rng))
    inside = (eq[0] >= lo) & (eq[1] <= hi)
    outside = (wide[1] < lo) | (wide[0] > hi)
    code = np.where(inside, POSITIVE, np.where(outside, NEGATIVE, UNDECIDED))
    # a band edge on the metric's own limit (100% of 100 +- 1) cannot be crossed: it sets no margin
    room_lo = eq[0] - lo if lo > rng[0] else np.inf
    room_hi = hi - eq[1] if hi < rng[1] else np.inf
    margin = np.where(inside, np.minimum(room_lo, room_hi),
                      np.where(outside, np.maximum(lo - wide[1], wide[0] - hi), np.nan))
    return code, margin, eq, wide


def one_sided_core(mean, se, df, threshold, alpha=ALPHA, alpha_against=None):
    """Is the quantity above ``threshold``? POSITIVE when its one-sided (1 - alpha) lower bound is above,
    NEGATIVE when its one-sided (1 - alpha_against) upper bound is below. Returns (code, margin, interval)."""
    alpha_against = alpha if alpha_against is None else alpha_against
    low = mean - half_width(se, df, 1 - alpha)
    high = mean + half_width(se, df, 1 - alpha_against)
    code = np.where(low > threshold, POSITIVE, np.where(high < threshold, NEGATIVE, UNDECIDED))
    margin = np.where(code == POSITIVE, low - threshold, np.where(code == NEGATIVE, threshold - high, np.nan))
    return code, margin, (low, high)


def welch(a, b):
    """Mean, standard error and Welch-Satterthwaite degrees of freedom of mean(a) - mean(b) (last axis: seeds)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    na, nb = a.shape[-1], b.shape[-1]
    if na < 2 or nb < 2:
        m = a.mean(-1) - b.mean(-1)
        return m, np.full_like(m, np.nan), np.zeros_like(m)
    va, vb = a.var(-1, ddof=1) / na, b.var(-1, ddof=1) / nb
    se2 = va + vb
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(se2 > 0, se2 ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)), na + nb - 2.0)
    return a.mean(-1) - b.mean(-1), np.sqrt(se2), df


def seed_slopes(x, y):
    """Least-squares slope of y against x, one per row: y has shape (..., len(x))."""
    x = np.asarray(x, dtype=float)
    xc = x - x.mean()
    y = np.asarray(y, dtype=float)
    return (y - y.mean(-1, keepdims=True)) @ xc / (xc @ xc)


def pooled_slope(x, y):
    """One fit through every point (unpaired seeds): slope, its standard error, df = points - 2."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    from scipy import stats      # here: scipy.stats takes 0.5 s to import, and most commands never fit a slope
    fit = stats.linregress(x, y)
    return float(fit.slope), float(fit.stderr), float(len(x) - 2)


# --- the rules on one claim -------------------------------------------------------------------------------------

def _seeded(values) -> dict:
    if not isinstance(values, dict):
        raise TypeError("values must map each seed to its value ({seed: value}), so that pairing is explicit")
    return {s: float(v) for s, v in sorted(values.items(), key=lambda kv: int(kv[0]))}


def summarise(values: dict, alpha=ALPHA, rng=OPEN) -> dict:
    """Mean, sample std, n and the (1 - 2 alpha) interval for the mean, clipped to the metric's range."""
    vals = _seeded(values)
    v = np.array(list(vals.values()))
    mean, se, df = sample_stats(v)
    h = half_width(se, df, 1 - alpha)
    return {"mean": float(mean), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": len(v),
            "ci_low": float(clip(mean - h, rng)), "ci_high": float(clip(mean + h, rng)),
            "confidence": 1 - 2 * alpha, "values": {str(s): x for s, x in vals.items()}}


def _fragile(margin, reference):
    return bool(np.isfinite(margin) and margin < FRAGILE_FRACTION * reference) if np.isfinite(reference) else False


def _decided(code, positive, margin, reference):
    verdict = {POSITIVE: positive, NEGATIVE: NOT_REPRODUCED, UNDECIDED: INCONCLUSIVE}[int(code)]
    m = float(margin) if int(code) != UNDECIDED else None
    return {"verdict": verdict, "margin": m, "fragile": _fragile(m, reference) if m is not None else False}


def value_band(rule: dict, rng=OPEN) -> tuple[float, float]:
    width = max(float(rule["tolerance"]), 2.0 * float(rule.get("reported_spread", 0.0)))
    return max(rule["reported"] - width, rng[0]), min(rule["reported"] + width, rng[1])


def judge_value(rule: dict, values: dict, alpha=ALPHA, rng=OPEN) -> dict:
    s = summarise(values, alpha, rng)
    lo, hi = value_band(rule, rng)
    v = np.array(list(s["values"].values()))
    mean, se, df = sample_stats(v)
    code, margin, eq, wide = value_core(mean, se, df, lo, hi, alpha, rng)
    out = _decided(code, REPRODUCED, margin, hi - lo)
    conf = f"{1 - 2 * alpha:.0%}"
    if out["verdict"] == REPRODUCED:
        why = f"the whole {conf} CI [{float(eq[0]):.4g}, {float(eq[1]):.4g}] lies inside the band [{lo:g}, {hi:g}]"
    elif out["verdict"] == NOT_REPRODUCED:
        why = (f"the whole {1 - alpha:.0%} CI [{float(wide[0]):.4g}, {float(wide[1]):.4g}] lies outside the band "
               f"[{lo:g}, {hi:g}]")
    elif s["n"] < 2:
        why = "one seed says nothing about the spread"
    else:
        why = f"the {conf} CI [{float(eq[0]):.4g}, {float(eq[1]):.4g}] reaches across an edge of [{lo:g}, {hi:g}]"
    s["ci_wide_low"], s["ci_wide_high"], s["confidence_wide"] = float(wide[0]), float(wide[1]), 1 - alpha
    return {**out, "reason": why, "reproduced": s, "band": [lo, hi]}


def _paired(a: dict, b: dict) -> bool:
    return len(a) > 1 and set(a) == set(b)


def judge_ordering(rule: dict, values_by_exp: dict, alpha=ALPHA, rng=OPEN) -> dict:
    sign = 1.0 if rule.get("higher_is_better", True) else -1.0
    vals = {e: _seeded(values_by_exp[e]) for e in dict.fromkeys(rule["better"] + rule["worse"])}
    summ = {e: summarise(vals[e], alpha, rng) for e in vals}
    margin = float(rule["margin"])
    pairs = [(b, w) for b in rule["better"] for w in rule["worse"]]
    rows = []
    for b, w in pairs:
        if _paired(vals[b], vals[w]):
            d = sign * (np.array(list(vals[b].values())) - np.array([vals[w][s] for s in vals[b]]))
            mean, se, df = sample_stats(d)
            how = "paired"
        else:
            mean, se, df = welch(sign * np.array(list(vals[b].values())), sign * np.array(list(vals[w].values())))
            d, how = None, "unpaired (Welch)"
        code, m, (low, high) = one_sided_core(mean, se, df, margin, alpha, alpha / len(pairs))
        rows.append({"better": b, "worse": w, "how": how, "gap": float(mean), "ci_low": float(low),
                     "ci_high": float(high), "code": int(code), "margin": float(m),
                     "differences": None if d is None else {str(s): float(x) for s, x in zip(vals[b], d)}})
    codes = [r["code"] for r in rows]
    gap = min(r["gap"] for r in rows)
    if all(c == POSITIVE for c in codes):
        decide = min(rows, key=lambda r: r["margin"])
        code, why = POSITIVE, (f"every pair's gap exceeds {margin:g} at {1 - alpha:.0%} one-sided "
                               f"(closest: {decide['better']} - {decide['worse']} = {decide['gap']:.4g}, lower bound "
                               f"{decide['ci_low']:.4g}, {decide['how']})")
    elif any(c == NEGATIVE for c in codes):
        decide = max((r for r in rows if r["code"] == NEGATIVE), key=lambda r: r["margin"])
        code, why = NEGATIVE, (f"{decide['better']} - {decide['worse']} = {decide['gap']:.4g}: its upper bound "
                               f"{decide['ci_high']:.4g} lies below the margin {margin:g} ({decide['how']})")
    else:
        decide = min(rows, key=lambda r: r["ci_low"])
        code, why = UNDECIDED, (f"{decide['better']} - {decide['worse']} = {decide['gap']:.4g}, its interval "
                                f"[{decide['ci_low']:.4g}, {decide['ci_high']:.4g}] reaches across the margin "
                                f"{margin:g} ({decide['how']})")
    out = _decided(code, HOLDS, decide["margin"], decide["ci_high"] - decide["ci_low"])
    for r in rows:
        r.pop("code")
        r["margin"] = None if not math.isfinite(r["margin"]) else r["margin"]
    return {**out, "reason": why,
            "reproduced": {"gap": gap, "ci_low": decide["ci_low"], "ci_high": decide["ci_high"],
                           "n": min(s["n"] for s in summ.values()), "pairs": rows, "per_experiment": summ}}


def _side(direction):
    if direction not in ("above", "below"):
        raise ValueError(f"direction {direction!r} is not one of above, below")
    return 1.0 if direction == "above" else -1.0


def _judge_side(mean, se, df, bound, direction, alpha, what):
    s = _side(direction)
    code, margin, (low, high) = one_sided_core(s * mean, se, df, s * bound, alpha)
    lo, hi = sorted((s * float(low), s * float(high)))
    out = _decided(code, HOLDS, margin, hi - lo)
    where = {POSITIVE: f"lies {direction} {bound:g}", NEGATIVE: f"lies on the wrong side of {bound:g}",
             UNDECIDED: f"reaches across {bound:g}"}[int(code)]
    return out, f"{what}: the {1 - 2 * alpha:.0%} CI [{lo:.4g}, {hi:.4g}] {where}", lo, hi


def judge_bound(rule: dict, values: dict, alpha=ALPHA, rng=OPEN) -> dict:
    s = summarise(values, alpha, rng)
    mean, se, df = sample_stats(np.array(list(s["values"].values())))
    out, why, _, _ = _judge_side(mean, se, df, float(rule["bound"]), rule["direction"], alpha,
                                 f"mean {s['mean']:.4g}")
    return {**out, "reason": why, "reproduced": s}


def judge_trend(rule: dict, values_by_exp: dict, experiments: list[str], alpha=ALPHA) -> dict:
    vals = [_seeded(values_by_exp[e]) for e in experiments]
    xs = np.asarray(rule["x"], dtype=float)
    loglog = rule["fit"] == "loglog"
    what = "exponent" if loglog else "slope"
    points = {e: v for e, v in zip(experiments, vals)}
    if loglog and (np.any(xs <= 0) or any(x <= 0 for v in vals for x in v.values())):
        return {"verdict": INCONCLUSIVE, "reason": "a log-log fit needs positive values", "margin": None,
                "fragile": False, "reproduced": {"points": {e: {str(k): x for k, x in v.items()}
                                                            for e, v in points.items()}}}
    tx = np.log(xs) if loglog else xs
    paired = all(_paired(vals[0], v) for v in vals[1:]) and len(vals[0]) > 1
    if paired:
        seeds = list(vals[0])
        y = np.array([[v[s] for v in vals] for s in seeds])
        slopes = seed_slopes(tx, np.log(y) if loglog else y)
        mean, se, df = sample_stats(slopes)
        per_seed, how = {str(s): float(b) for s, b in zip(seeds, slopes)}, f"one {what} per seed, {len(seeds)} seeds"
    else:
        px = np.concatenate([[x] * len(v) for x, v in zip(tx, vals)])
        py = np.array([y for v in vals for y in v.values()])
        mean, se, df = pooled_slope(px, np.log(py) if loglog else py)
        per_seed, how = None, f"one fit through {len(py)} unpaired points"
    mean, se, df = np.float64(mean), np.float64(se), np.float64(df)
    rep = {"slope": float(mean), "n": int(df + 1) if paired else int(df + 2), "how": how, "per_seed": per_seed,
           "points": {e: {str(k): x for k, x in v.items()} for e, v in points.items()}, "confidence": 1 - 2 * alpha}
    label = f"fitted {what} {float(mean):.4g} ({how})"
    if "bound" in rule:
        out, why, lo, hi = _judge_side(mean, se, df, float(rule["bound"]), rule["direction"], alpha, label)
        rep.update(ci_low=lo, ci_high=hi)
        return {**out, "reason": why, "reproduced": rep}
    lo, hi = rule["expected"] - rule["tolerance"], rule["expected"] + rule["tolerance"]
    code, margin, eq, wide = value_core(mean, se, df, lo, hi, alpha)
    out = _decided(code, HOLDS, margin, hi - lo)
    rep.update(ci_low=float(eq[0]), ci_high=float(eq[1]), ci_wide_low=float(wide[0]), ci_wide_high=float(wide[1]))
    where = {POSITIVE: "inside", NEGATIVE: "outside", UNDECIDED: "across an edge of"}[int(code)]
    ci = eq if int(code) != NEGATIVE else wide
    return {**out, "reason": f"{label}: CI [{float(ci[0]):.4g}, {float(ci[1]):.4g}] {where} [{lo:g}, {hi:g}]",
            "reproduced": rep, "band": [lo, hi]}


def judge(claim: dict, values: dict, alpha: float = ALPHA, metric_range=OPEN) -> dict:
    """Verdict for one claim from ``{experiment: {seed: value}}`` at level ``alpha``; ``metric_range`` clips
    intervals (declared once per metric in claims.yaml)."""
    rule = claim["rule"]
    rng = tuple(metric_range)
    if rule["kind"] == "value":
        return judge_value(rule, values[claim["experiments"][0]], alpha, rng)
    if rule["kind"] == "ordering":
        return judge_ordering(rule, values, alpha, rng)
    if rule["kind"] == "bound":
        return judge_bound(rule, values[claim["experiments"][0]], alpha, rng)
    return judge_trend(rule, values, claim["experiments"], alpha)
