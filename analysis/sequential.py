"""Adaptive seeds: a group-sequential design that adds seeds to a claim's experiments while it is undecided.

A scale states ``seeds: {min: 3, max: 10}`` in config.yaml (optionally ``looks: [3, 6, 10]``; by default the number
of seeds doubles from ``min`` until ``max``: repro.config.seed_design). At look k the claim is judged on the first
n_k seeds of each of its experiments at a nominal level a_k; it stops at the first look that decides it (or at
``max``). The error is spent over the looks by a Pocock-type function (Lan & DeMets 1983),
alpha(t) = alpha ln(1 + (e - 1) t), t = n_k / n_max: the nominal levels a_k are calibrated (``levels``) so that a
one-sided t-test on the seeds, repeated at every look under the null, first crosses at look k with probability
alpha(t_k) - alpha(t_{k-1}). The looks see nested sets of seeds, so they are correlated and a_k exceeds that
increment: the calibration accounts for it where a union bound would not. Every rule's decision is built from such
one-sided t-tests (an equivalence test is two of them), so each error rate stays at most alpha;
tests/test_calibration.py
checks it by simulation. A scale with a list of seeds is a single look at the full alpha.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import special

from analysis.verdicts import ALPHA, INCONCLUSIVE, OPEN, judge

CALIBRATION_PATHS = 200_000


def spending(looks: list[int], alpha: float = ALPHA) -> list[float]:
    """The error each look may spend: increments of alpha * ln(1 + (e - 1) t), t = n / n_max."""
    spent = [alpha * math.log(1 + (math.e - 1) * n / looks[-1]) for n in looks]
    return [b - a for a, b in zip([0.0] + spent[:-1], spent)]


def levels(looks: list[int], alpha: float = ALPHA) -> list[float]:
    """Nominal one-sided levels a_k of the looks, calibrated on simulated normal seeds (a fixed random stream, so
    the same looks always give the same levels): the first crossing of t_k > t_{1 - a_k, n_k - 1} happens at look k
    with probability ``spending(looks)[k]``. One look: [alpha]."""
    return list(_levels(tuple(int(n) for n in looks), float(alpha)))


@functools.lru_cache(maxsize=32)
def _levels(looks: tuple, alpha: float) -> tuple:
    if len(looks) == 1:
        return (alpha,)
    z = np.random.default_rng(20261203).standard_normal((CALIBRATION_PATHS, looks[-1]))
    alive = np.ones(CALIBRATION_PATHS, dtype=bool)
    out = []
    for n, spend in zip(looks, spending(list(looks), alpha)):
        x = z[:, :n]
        t = x.mean(1) / (x.std(1, ddof=1) / math.sqrt(n))
        # the critical value that lets exactly `spend` of all paths cross here for the first time
        k = max(1, int(round(spend * CALIBRATION_PATHS)))
        crit = np.sort(t[alive])[::-1][min(k, int(alive.sum())) - 1]
        alive &= ~(t >= crit)
        out.append(float(special.stdtr(n - 1, -crit)))      # Student's t survival function at crit
    return tuple(out)


def first(values_by_exp: dict, n: int) -> dict | None:
    """The first n seeds (in seed order) of every experiment, or None when some experiment has fewer."""
    out = {}
    for e, vals in values_by_exp.items():
        seeds = sorted(vals, key=int)
        if len(seeds) < n:
            return None
        out[e] = {s: vals[s] for s in seeds[:n]}
    return out


def judge_sequential(
    claim: dict, values_by_exp: dict, looks: list[int], alpha: float = ALPHA, metric_range=OPEN
) -> dict:
    """Walk the looks; return the verdict of the first look that decides (or the last one reached), with
    ``sequential``: looks, their alphas, the verdict at each look taken, how many seeds decided and why it stopped.
    ``next_seeds`` is the number of seeds the next look needs when the claim is still open and seeds are missing."""
    alphas = levels(looks, alpha)
    taken, result = [], None
    for k, (n, a) in enumerate(zip(looks, alphas)):
        vals = first(values_by_exp, n)
        if vals is None:
            if result is None:
                raise ValueError(f"the first look needs {n} seeds of every experiment")
            result["sequential"] = _record(looks, alphas, taken, "waiting for seeds", next_seeds=n)
            return result
        result = judge(claim, vals, a, metric_range)
        taken.append({"n": n, "alpha": a, "verdict": result["verdict"]})
        if result["verdict"] != INCONCLUSIVE:
            why = "decided" if k + 1 < len(looks) or len(looks) == 1 else "decided at the last look"
            result["sequential"] = _record(looks, alphas, taken, why)
            return result
    result["sequential"] = _record(
        looks,
        alphas,
        taken,
        "undecided at the most seeds allowed" if len(looks) > 1 else "undecided (a fixed number of seeds)",
    )
    return result


def _record(looks, alphas, taken, stopped, next_seeds=None) -> dict:
    return {
        "looks": looks,
        "alphas": alphas,
        "taken": taken,
        "n_seeds": taken[-1]["n"],
        "stopped": stopped,
        "next_seeds": next_seeds,
    }
