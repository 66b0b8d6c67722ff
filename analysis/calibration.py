"""The verdict rules' error rates and power, by simulation of the very cores analysis/verdicts.py judges with.

    python -m analysis.calibration            # print the tables
    python -m analysis.calibration --readme   # rewrite the table in analysis/README.md

Seeds are simulated as normal draws (sigma = 1; the rules' t-intervals are exact there). The worst cases for the
error rates are at the rules' edges: a true mean exactly on the band's edge (P(reproduced)), exactly at the
reported value with a narrow band (P(not reproduced)), a true gap exactly at the margin (P(holds)), a slope exactly
on its bound. tests/test_calibration.py asserts each rate is at most alpha (plus three Monte-Carlo standard errors).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from analysis import verdicts as v
from analysis.sequential import levels

SIMS = 40_000
NS = (3, 5, 10, 20)


def _draw(rng, sims, n, mean=0.0, sd=1.0):
    return mean + sd * rng.standard_normal((sims, n))


def value_rates(true_mean, half_band, n, alpha=v.ALPHA, sims=SIMS, seed=0) -> dict:
    """P(each verdict) of the value rule, reported value 0, band +- half_band, seeds N(true_mean, 1)."""
    x = _draw(np.random.default_rng(seed), sims, n, true_mean)
    code = v.value_core(*v.sample_stats(x), -half_band, half_band, alpha)[0]
    return _rates(code)


def ordering_rates(gap, margin, n, seed_sd=0.0, paired=True, alpha=v.ALPHA, sims=SIMS, seed=0) -> dict:
    """P(each verdict) of a one-pair ordering: better = seed effect + gap + N(0, 1), worse = seed effect + N(0, 1);
    the seed effect (sd ``seed_sd``) is shared by both experiments of a seed, as a shared data stream is."""
    rng = np.random.default_rng(seed)
    effect = _draw(rng, sims, n, 0.0, seed_sd)
    a, b = effect + gap + _draw(rng, sims, n), effect + _draw(rng, sims, n)
    stats = v.sample_stats(a - b) if paired else v.welch(a, b)
    return _rates(v.one_sided_core(*stats, margin, alpha)[0])


def bound_rates(true_mean, n, alpha=v.ALPHA, sims=SIMS, seed=0) -> dict:
    """P(each verdict) of "the mean lies above 0", seeds N(true_mean, 1)."""
    x = _draw(np.random.default_rng(seed), sims, n, true_mean)
    return _rates(v.one_sided_core(*v.sample_stats(x), 0.0, alpha)[0])


def trend_rates(true_slope, n, seed_sd=1.0, alpha=v.ALPHA, sims=SIMS, seed=0) -> dict:
    """P(each verdict) of "the slope lies above 0" fitted one slope per seed over x = 0, 1, 2, 3, with a seed offset
    (sd ``seed_sd``) shared by a seed's points and N(0, 1) noise per point."""
    rng = np.random.default_rng(seed)
    xs = np.arange(4.0)
    y = _draw(rng, sims, n, 0.0, seed_sd)[..., None] + true_slope * xs + rng.standard_normal((sims, n, 4))
    slopes = v.seed_slopes(xs, y)
    return _rates(v.one_sided_core(*v.sample_stats(slopes), 0.0, alpha)[0])


def sequential_value_rates(true_mean, half_band, looks, alpha=v.ALPHA, sims=SIMS, seed=0) -> dict:
    """The value rule under the group-sequential design: the first look that decides gives the verdict."""
    x = _draw(np.random.default_rng(seed), sims, looks[-1], true_mean)
    final = np.zeros(sims, dtype=int)
    for n, a in zip(looks, levels(looks, alpha)):
        code = v.value_core(*v.sample_stats(x[:, :n]), -half_band, half_band, a)[0]
        final = np.where(final == v.UNDECIDED, code, final)
    out = _rates(final)
    return out


def sequential_bound_rates(true_mean, looks, alpha=v.ALPHA, sims=SIMS, seed=0) -> dict:
    """"The mean lies above 0" (a bound, a one-pair ordering's paired gap, a per-seed slope) under the design."""
    x = _draw(np.random.default_rng(seed), sims, looks[-1], true_mean)
    final = np.zeros(sims, dtype=int)
    for n, a in zip(looks, levels(looks, alpha)):
        code = v.one_sided_core(*v.sample_stats(x[:, :n]), 0.0, a)[0]
        final = np.where(final == v.UNDECIDED, code, final)
    return _rates(final)


def _rates(code) -> dict:
    code = np.asarray(code)
    return {"positive": float(np.mean(code == v.POSITIVE)), "negative": float(np.mean(code == v.NEGATIVE)),
            "undecided": float(np.mean(code == v.UNDECIDED))}


def mc_slack(p=v.ALPHA, sims=SIMS) -> float:
    """Three Monte-Carlo standard errors of a rate near p."""
    return 3.0 * float(np.sqrt(p * (1 - p) / sims))


def power_table() -> str:
    """Markdown: P(the right decision) by seeds, sigma = the seed-to-seed standard deviation."""
    seq = [3, 6, 10]
    head = ["seeds", "value, band ±1σ, at target", "value, band ±2σ, at target", "value, 3σ outside ±1σ band",
            "ordering gap 1σ (paired)", "gap 5σ, shared seed effect sd 25σ: paired", "same, unpaired (Welch)",
            "bound 1σ beyond", "trend slope 0.5/step"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in NS:
        cells = [value_rates(0.0, 1.0, n)["positive"], value_rates(0.0, 2.0, n)["positive"],
                 value_rates(4.0, 1.0, n)["negative"], ordering_rates(1.0, 0.0, n)["positive"],
                 ordering_rates(5.0, 0.0, n, seed_sd=25.0)["positive"],
                 ordering_rates(5.0, 0.0, n, seed_sd=25.0, paired=False)["positive"],
                 bound_rates(1.0, n)["positive"], trend_rates(0.5, n)["positive"]]
        rows.append(f"| {n} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    s1, s2 = sequential_value_rates(0.0, 1.0, seq), sequential_value_rates(0.0, 2.0, seq)
    rows.append(f"| {seq[0]}→{seq[-1]} (sequential {seq}) | {s1['positive']:.2f} | {s2['positive']:.2f} | "
                f"{sequential_value_rates(4.0, 1.0, seq)['negative']:.2f} | | | | | |")
    return "\n".join(rows)


def error_table() -> str:
    """Markdown: the worst-case error rates the calibration test bounds (alpha = 0.05)."""
    seq = [3, 6, 10]
    rows = ["| seeds | P(reproduced \\| mean on the band's edge) | P(not reproduced \\| mean at target, band ±0.1σ) "
            "| P(holds \\| gap = margin) | P(holds \\| bound met exactly) | P(trend holds \\| slope 0) |",
            "|---|---|---|---|---|---|"]
    for n in NS:
        rows.append(
            f"| {n} | {value_rates(1.0, 1.0, n)['positive']:.3f} | {value_rates(0.0, 0.1, n)['negative']:.3f} "
            f"| {ordering_rates(0.5, 0.5, n, seed_sd=3.0)['positive']:.3f} | {bound_rates(0.0, n)['positive']:.3f} "
            f"| {trend_rates(0.0, n)['positive']:.3f} |"
        )
    rows.append(
        f"| sequential {seq} | {sequential_value_rates(1.0, 1.0, seq)['positive']:.3f} | "
        f"{sequential_value_rates(0.0, 0.1, seq)['negative']:.3f} | "
        f"{sequential_bound_rates(0.0, seq)['positive']:.3f} | {sequential_bound_rates(0.0, seq)['positive']:.3f} | "
        f"{sequential_bound_rates(0.0, seq)['positive']:.3f} |"
    )
    return "\n".join(rows)


START, END = "<!-- calibration:start -->", "<!-- calibration:end -->"


def render() -> str:
    return (
        "Worst-case error rates (each at most alpha = 0.05 up to Monte-Carlo error; "
        f"{SIMS:,} simulations each):\n\n"
        + error_table()
        + "\n\nPower: P(the right verdict), σ = the seed-to-seed standard deviation:\n\n"
        + power_table()
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readme", action="store_true", help="rewrite the tables in analysis/README.md")
    args = p.parse_args(argv)
    text = render()
    if not args.readme:
        print(text)
        return 0
    readme = Path(__file__).parent / "README.md"
    body = readme.read_text()
    body = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{text}\n{END}", body, flags=re.S)
    readme.write_text(body)
    print(f"updated {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
