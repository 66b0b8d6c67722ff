"""Aggregating seeds: mean, spread (sample std) and a Student-t confidence interval for the mean."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps


def summarise(values, confidence: float = 0.95) -> dict:
    v = np.asarray(values, dtype=float)
    n = int(v.size)
    if n == 0:
        raise ValueError("no values to summarise")
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else 0.0
    if n > 1:
        half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n))
    else:
        half = math.inf  # one seed says nothing about spread
    return {"mean": mean, "std": std, "n": n, "ci_low": mean - half, "ci_high": mean + half,
            "confidence": confidence, "values": [float(x) for x in v]}
