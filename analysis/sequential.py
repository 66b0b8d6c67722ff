"""Adaptive seeds: a group-sequential design that adds seeds to a claim's experiments while it is undecided.

A scale states ``seeds: {min: 3, max: 10}`` in config.yaml (optionally ``looks: [3, 6, 10]``; by default the number
of seeds doubles from ``min`` until ``max``: repro.config.seed_design). At look k the claim is judged on the first n_k seeds of each of its
experiments at level alpha_k; it stops at the first look that decides it (or at ``max``). The alpha_k come from a
Pocock-type spending function (Lan & DeMets 1983), alpha(t) = alpha * ln(1 + (e - 1) t) with t = n_k / max, and
alpha_k = alpha(t_k) - alpha(t_{k-1}). Every wrong decision (``reproduced``/``holds`` when false, ``not
reproduced`` when true) needs some look to err at its own level, so by the union bound each error rate stays at most
sum_k alpha_k = alpha, whatever the looks' correlation (conservative; tested by simulation in
tests/test_calibration.py). A scale with a list of seeds is a single look at the full alpha.
"""
from __future__ import annotations

import math

from analysis.verdicts import ALPHA, INCONCLUSIVE, OPEN, judge


def spending(looks: list[int], alpha: float = ALPHA) -> list[float]:
    """The level of each look: increments of alpha * ln(1 + (e - 1) t), t = n / n_max."""
    spent = [alpha * math.log(1 + (math.e - 1) * n / looks[-1]) for n in looks]
    return [b - a for a, b in zip([0.0] + spent[:-1], spent)]


def first(values_by_exp: dict, n: int) -> dict | None:
    """The first n seeds (in seed order) of every experiment, or None when some experiment has fewer."""
    out = {}
    for e, vals in values_by_exp.items():
        seeds = sorted(vals, key=int)
        if len(seeds) < n:
            return None
        out[e] = {s: vals[s] for s in seeds[:n]}
    return out


def judge_sequential(claim: dict, values_by_exp: dict, looks: list[int], alpha: float = ALPHA,
                     metric_range=OPEN) -> dict:
    """Walk the looks; return the verdict of the first look that decides (or the last one reached), with
    ``sequential``: looks, their alphas, the verdict at each look taken, how many seeds decided and why it stopped.
    ``next_seeds`` is the number of seeds the next look needs when the claim is still open and seeds are missing."""
    alphas = spending(looks, alpha)
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
    result["sequential"] = _record(looks, alphas, taken, "undecided at the most seeds allowed"
                                   if len(looks) > 1 else "undecided (a fixed number of seeds)")
    return result


def _record(looks, alphas, taken, stopped, next_seeds=None) -> dict:
    return {"looks": looks, "alphas": alphas, "taken": taken, "n_seeds": taken[-1]["n"], "stopped": stopped,
            "next_seeds": next_seeds}
