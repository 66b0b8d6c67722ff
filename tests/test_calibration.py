"""Each verdict rule's error rates, by simulation of the cores the verdicts use (analysis/calibration.py).

Bounded at alpha = 0.05 plus three Monte-Carlo standard errors (40,000 simulations: +0.0033)."""
import pytest

from analysis import calibration as cal
from analysis.verdicts import ALPHA

LIMIT = ALPHA + cal.mc_slack()
NS = (3, 5, 10, 20)


@pytest.mark.parametrize("n", NS)
def test_value_rule_rarely_reproduces_a_mean_outside_the_band(n):
    for edge in (1.0, -1.0):                      # exactly on either edge, and just beyond
        assert cal.value_rates(edge, 1.0, n)["positive"] <= LIMIT
        assert cal.value_rates(1.05 * edge, 1.0, n)["positive"] <= LIMIT
    assert cal.value_rates(11.0, 10.0, n)["positive"] <= LIMIT     # a wide band, the edge case is one-sided


@pytest.mark.parametrize("n", NS)
def test_value_rule_rarely_rejects_a_mean_at_the_reported_value(n):
    for half_band in (0.0, 0.1, 1.0):
        assert cal.value_rates(0.0, half_band, n)["negative"] <= LIMIT


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("seed_sd", [0.0, 3.0])
def test_ordering_rarely_holds_without_the_difference(n, seed_sd):
    assert cal.ordering_rates(0.0, 0.0, n, seed_sd=seed_sd)["positive"] <= LIMIT            # no difference at all
    assert cal.ordering_rates(0.5, 0.5, n, seed_sd=seed_sd)["positive"] <= LIMIT            # the gap = the margin
    assert cal.ordering_rates(0.0, 0.0, n, seed_sd=seed_sd, paired=False)["positive"] <= LIMIT
    assert cal.ordering_rates(0.5, 0.5, n, seed_sd=seed_sd)["negative"] <= LIMIT            # true, called false


@pytest.mark.parametrize("n", NS)
def test_bound_and_trend_rarely_hold_on_the_bound(n):
    assert cal.bound_rates(0.0, n)["positive"] <= LIMIT and cal.bound_rates(0.0, n)["negative"] <= LIMIT
    assert cal.trend_rates(0.0, n)["positive"] <= LIMIT and cal.trend_rates(0.0, n)["negative"] <= LIMIT


@pytest.mark.parametrize("looks", [[3, 6, 10], [3, 5, 10, 20], [5, 10]])
def test_the_sequential_design_keeps_both_error_rates(looks):
    assert cal.sequential_value_rates(1.0, 1.0, looks)["positive"] <= LIMIT
    assert cal.sequential_value_rates(0.0, 0.1, looks)["negative"] <= LIMIT
    assert cal.sequential_value_rates(0.0, 0.0, looks)["negative"] <= LIMIT
    assert cal.sequential_value_rates(11.0, 10.0, looks)["positive"] <= LIMIT          # wide band: one-sided edge
    for edge in (0.0, 0.02):
        assert cal.sequential_bound_rates(edge * -1, looks)["positive"] <= LIMIT      # on (or just past) the bound
        assert cal.sequential_bound_rates(edge, looks)["negative"] <= LIMIT


def test_pairing_finds_a_difference_a_shared_seed_effect_hides_from_an_unpaired_test():
    """The issue's case: a gap five times the noise under a large per-seed effect."""
    assert cal.ordering_rates(5.0, 0.0, 3, seed_sd=25.0)["positive"] > 0.9
    assert cal.ordering_rates(5.0, 0.0, 3, seed_sd=25.0, paired=False)["positive"] < 0.1


def test_more_seeds_decide_more_often():
    power = [cal.value_rates(0.0, 1.0, n)["positive"] for n in NS]
    assert power == sorted(power) and power[-1] > 0.95


def test_the_tables_in_analysis_readme_are_the_simulations_of_this_code():
    text = open("analysis/README.md").read()
    assert cal.render() in text, "run: python -m analysis.calibration --readme"
