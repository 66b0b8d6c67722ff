"""The verdict rules on hand-made values ({experiment: {seed: value}})."""
import math

import pytest

from analysis import sequential
from analysis import verdicts as v


def seeded(values):
    return {s: x for s, x in enumerate(values)}


def test_summary_statistics_and_the_metric_range():
    s = v.summarise(seeded([1.0, 2.0, 3.0]))
    assert s["mean"] == 2.0 and s["std"] == 1.0 and s["n"] == 3 and s["values"] == {"0": 1.0, "1": 2.0, "2": 3.0}
    assert s["ci_high"] - 2.0 == pytest.approx(2.919986 / math.sqrt(3), rel=1e-5)  # t_{0.95, 2}: the 90% CI
    assert v.summarise({0: 5.0})["ci_low"] == -math.inf
    clipped = v.summarise(seeded([99.0, 100.0, 100.0]), rng=(0.0, 100.0))
    assert clipped["ci_high"] == 100.0 and clipped["ci_low"] < 99.0


def test_values_must_say_their_seeds():
    with pytest.raises(TypeError, match="seed"):
        v.judge_value(VALUE, [96.5, 97.5])


VALUE = {"kind": "value", "reported": 97.0, "tolerance": 3.0}


@pytest.mark.parametrize("values,verdict", [
    ([96.5, 97.5, 97.2], v.REPRODUCED),
    ([60.0, 61.0, 59.5], v.NOT_REPRODUCED),
    ([92.0, 99.0, 85.0], v.INCONCLUSIVE),      # mean outside, CI reaches in
    ([80.0, 99.9, 99.9, 99.9, 99.9, 99.9], v.INCONCLUSIVE),  # mean inside, CI reaches out
    ([93.9, 94.1, 94.0, 94.2, 93.8], v.INCONCLUSIVE),        # mean inside the band, CI crosses its edge
])
def test_value_rule_is_an_equivalence_test(values, verdict):
    assert v.judge_value(VALUE, seeded(values))["verdict"] == verdict


def test_value_rule_widens_the_band_by_the_reported_spread():
    rule = {**VALUE, "tolerance": 0.5, "reported_spread": 2.0}
    assert v.judge_value(rule, seeded([94.0, 94.2, 93.9]))["verdict"] == v.REPRODUCED
    assert v.judge_value({**VALUE, "tolerance": 0.5}, seeded([94.0, 94.2, 93.9]))["verdict"] == v.NOT_REPRODUCED


def test_value_band_and_interval_respect_the_metric_range():
    """Accuracies at or near 100%: an interval that ends past 100 is cut there, and so is the band."""
    rule = {"kind": "value", "reported": 99.75, "tolerance": 0.25}
    vals = seeded([100.0, 100.0, 99.7, 100.0, 99.7, 100.0])
    assert v.judge_value(rule, vals)["verdict"] == v.INCONCLUSIVE       # the unclipped interval ends near 100.03
    r = v.judge_value(rule, vals, rng=(0.0, 100.0))
    assert r["verdict"] == v.REPRODUCED and r["band"] == [99.5, 100.0] and r["reproduced"]["ci_high"] == 100.0


def test_a_decided_verdict_records_its_margin_and_fragility():
    r = v.judge_value(VALUE, seeded([96.5, 97.5, 97.2]))
    assert r["margin"] == pytest.approx(min(r["reproduced"]["ci_low"] - 94.0, 100.0 - r["reproduced"]["ci_high"]))
    assert r["fragile"] is False
    edge = v.judge_value(VALUE, seeded([94.55, 94.6, 94.65, 94.6]))        # interval ends just inside 94
    assert edge["verdict"] == v.REPRODUCED and edge["margin"] < 0.6 and edge["fragile"] is True
    assert v.judge_value(VALUE, seeded([92.0, 99.0, 85.0]))["margin"] is None


ORDER = {"kind": "ordering", "better": ["a", "b"], "worse": ["c", "d"], "margin": 20.0}


def test_ordering_holds_when_every_better_clears_every_worse():
    vals = {"a": seeded([95, 96, 97]), "b": seeded([90, 91, 92]), "c": seeded([20, 21, 22]), "d": seeded([50, 52, 51])}
    r = v.judge_ordering(ORDER, vals)
    assert r["verdict"] == v.HOLDS and r["reproduced"]["gap"] == pytest.approx(91 - 51)
    assert {p["how"] for p in r["reproduced"]["pairs"]} == {"paired"}


def test_ordering_fails_when_one_worse_is_as_good():
    vals = {"a": seeded([95, 96, 97]), "b": seeded([90, 91, 92]), "c": seeded([20, 21, 22]), "d": seeded([90, 91, 92])}
    assert v.judge_ordering(ORDER, vals)["verdict"] == v.NOT_REPRODUCED


def test_ordering_is_inconclusive_with_overlapping_seeds():
    vals = {"a": seeded([40, 95, 99]), "b": seeded([90, 91, 92]), "c": seeded([20, 21, 22]), "d": seeded([50, 52, 51])}
    assert v.judge_ordering(ORDER, vals)["verdict"] == v.INCONCLUSIVE


def test_ordering_lower_is_better():
    rule = {"kind": "ordering", "better": ["moe"], "worse": ["dense"], "margin": 0.05, "higher_is_better": False}
    assert v.judge_ordering(rule, {"moe": seeded([1.50, 1.51, 1.49]),
                                   "dense": seeded([1.70, 1.71, 1.69])})["verdict"] == v.HOLDS


def test_paired_seeds_see_a_difference_that_the_seed_effect_hides():
    """Each seed moves both experiments together (same data stream): the seed-wise difference is always +1, which
    the paired test sees and an unpaired one cannot."""
    seed_effect = [0.0, 5.0, -4.0, 8.0, -6.0]
    rule = {"kind": "ordering", "better": ["a"], "worse": ["b"], "margin": 0.0}
    a = {s: 10.0 + e + 1.0 + 0.01 * s for s, e in enumerate(seed_effect)}
    b = {s: 10.0 + e for s, e in enumerate(seed_effect)}
    paired = v.judge_ordering(rule, {"a": a, "b": b})
    assert paired["verdict"] == v.HOLDS and paired["reproduced"]["pairs"][0]["how"] == "paired"
    b_other_seeds = {s + 10: x for s, x in b.items()}                    # seeds that do not correspond
    unpaired = v.judge_ordering(rule, {"a": a, "b": b_other_seeds})
    assert unpaired["verdict"] == v.INCONCLUSIVE and "Welch" in unpaired["reproduced"]["pairs"][0]["how"]


def test_trend_fits_the_exponent():
    rule = {"kind": "trend", "x": [256, 512, 1024, 2048], "fit": "loglog", "expected": 1.0, "tolerance": 0.2}
    exps = ["a", "b", "c", "d"]
    linear = {e: seeded([x * 1e-3 * f for f in (0.98, 1.0, 1.02)]) for e, x in zip(exps, rule["x"])}
    quadratic = {e: seeded([x * x * 1e-6 * f for f in (0.98, 1.0, 1.02)]) for e, x in zip(exps, rule["x"])}
    r = v.judge_trend(rule, linear, exps)
    assert r["verdict"] == v.HOLDS and r["reproduced"]["per_seed"] == pytest.approx({"0": 1.0, "1": 1.0, "2": 1.0})
    r = v.judge_trend(rule, quadratic, exps)
    assert r["verdict"] == v.NOT_REPRODUCED and r["reproduced"]["slope"] == pytest.approx(2.0, abs=0.01)


def test_a_paired_trend_fits_one_slope_per_seed():
    """A seed offset shared by every x point leaves each seed's slope exact: the interval over seeds is tight."""
    rule = {"kind": "trend", "x": [0.0, 1.0, 2.0], "fit": "linear", "bound": 0.0, "direction": "below"}
    exps = ["a", "b", "c"]
    offsets = [0.0, 3.0, -2.5]
    vals = {e: {s: o - 0.1 * x + 0.001 * s * x for s, o in enumerate(offsets)} for e, x in zip(exps, rule["x"])}
    r = v.judge({"rule": rule, "experiments": exps}, vals)
    assert r["verdict"] == v.HOLDS and "one slope per seed" in r["reproduced"]["how"]
    pooled = v.judge({"rule": rule, "experiments": exps},
                     {e: {s + 10 * i: y for s, y in vs.items()} for i, (e, vs) in enumerate(vals.items())})
    assert pooled["verdict"] == v.INCONCLUSIVE and "unpaired" in pooled["reproduced"]["how"]


@pytest.mark.parametrize("direction,slope,spread,verdict", [
    ("below", -0.7, 0.05, v.HOLDS),
    ("below", 0.7, 0.05, v.NOT_REPRODUCED),
    ("below", -0.05, 1.0, v.INCONCLUSIVE),   # the seeds' slopes straddle 0
    ("above", 0.3, 0.02, v.HOLDS),
])
def test_trend_against_a_bound_judges_the_slopes_side(direction, slope, spread, verdict):
    rule = {"kind": "trend", "x": [-1.0, -0.5, 0.0], "fit": "linear", "bound": 0.0, "direction": direction}
    exps = ["a", "b", "c"]
    per_seed = [slope + spread * d for d in (-1.0, 0.0, 1.0, 0.5, -0.5)]
    values = {e: {s: 1.0 + b * x for s, b in enumerate(per_seed)} for e, x in zip(exps, rule["x"])}
    out = v.judge({"rule": rule, "experiments": exps}, values)
    assert out["verdict"] == verdict
    assert out["reproduced"]["slope"] == pytest.approx(slope)


@pytest.mark.parametrize("direction,values,verdict", [
    ("above", [2.0, 2.2, 2.1], v.HOLDS),
    ("above", [0.2, 0.3, 0.25], v.NOT_REPRODUCED),
    ("above", [0.5, 1.5, 2.5], v.INCONCLUSIVE),      # the CI reaches across the bound
    ("below", [0.2, 0.3, 0.25], v.HOLDS),
    ("below", [2.0, 2.2, 2.1], v.NOT_REPRODUCED),
    ("above", [5.0], v.INCONCLUSIVE),                # one seed: no interval, never a verdict
])
def test_bound_rule(direction, values, verdict):
    out = v.judge({"rule": {"kind": "bound", "bound": 1.0, "direction": direction}, "experiments": ["e"]},
                  {"e": seeded(values)})
    assert out["verdict"] == verdict


def test_the_sequential_walk_stops_at_the_first_decision_and_asks_for_the_next_look():
    claim = {"rule": VALUE, "experiments": ["e"]}
    looks = [3, 6, 10]
    alphas = sequential.spending(looks)
    assert sum(alphas) == pytest.approx(v.ALPHA) and all(a > 0 for a in alphas)
    clear = sequential.judge_sequential(claim, {"e": seeded([96.9, 97.0, 97.1])}, looks)
    assert clear["verdict"] == v.REPRODUCED and clear["sequential"]["n_seeds"] == 3
    assert clear["sequential"]["stopped"] == "decided"
    noisy = [92.0, 99.0, 96.0, 97.5, 96.5, 97.2, 97.1, 96.8, 97.3, 97.0]
    waiting = sequential.judge_sequential(claim, {"e": seeded(noisy[:3])}, looks)
    assert waiting["verdict"] == v.INCONCLUSIVE and waiting["sequential"]["next_seeds"] == 6
    assert waiting["sequential"]["stopped"] == "waiting for seeds"
    done = sequential.judge_sequential(claim, {"e": seeded(noisy)}, looks)
    assert done["sequential"]["n_seeds"] in (6, 10) and done["verdict"] == v.REPRODUCED
    assert [t["n"] for t in done["sequential"]["taken"]][0] == 3
