"""analysis/verify.py: a verdict decided on seeds that all gave the same value is flagged `no spread`."""
from analysis import verify


def row(verdict, values, kind="value"):
    n = len(values)
    mean = sum(values) / n
    std = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5 if n > 1 else 0.0
    return {"verdict": verdict, "kind": kind, "reproduced": {"n": n, "mean": mean, "std": std}}


def test_identical_seeds_deciding_a_verdict_are_flagged():
    assert verify.no_spread(row("reproduced", [100.0, 100.0, 100.0]))
    assert verify.no_spread(row("not reproduced", [0.0, 0.0, 0.0]))
    assert verify.no_spread(row("reproduced", [100 / 3, 100 / 3 + 1e-14, 100 / 3]))   # equal up to rounding


def test_a_spread_one_seed_or_an_undecided_verdict_is_not_flagged():
    assert not verify.no_spread(row("reproduced", [100.0, 99.6, 100.0]))
    assert not verify.no_spread(row("reproduced", [100.0]))                  # one seed: says nothing either way
    assert not verify.no_spread(row("inconclusive", [50.0, 50.0]))
    assert not verify.no_spread({"verdict": "not run", "reproduced": None})


def test_the_flag_reaches_the_tables_flags_column():
    r = {**row("reproduced", [100.0, 100.0, 100.0]), "no_spread": True, "fragile": False, "rule_status": {}}
    assert verify.flag_text(r) == "no spread"
    assert verify.flag_text({**r, "fragile": True}) == "fragile, no spread"
