"""SAE evaluation metrics, each defined once (reference: the standard evaluation of SAE libraries and papers).

All take NumPy/JAX arrays and return Python floats (or int counts); "over the whole evaluation set" means the sums
run over every example before dividing, never as a mean of per-batch ratios.
"""
from __future__ import annotations

import numpy as np


def _unit_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def cosine_matrix(true_features, learned) -> np.ndarray:
    """|cos| between every true feature direction (rows) and every learned dictionary atom (rows)."""
    return np.abs(_unit_rows(true_features) @ _unit_rows(learned).T)


def mmcs(true_features, learned) -> float:
    """Mean max cosine similarity (Sharkey et al.): mean over true features of the best |cos| to any atom."""
    return float(cosine_matrix(true_features, learned).max(1).mean())


def hungarian_mcc(true_features, learned) -> float:
    """Mean |cos| under the best one-to-one matching of true features to atoms (each atom used at most once): a
    stricter recovery score than MMCS, which lets one atom explain several features."""
    c = cosine_matrix(true_features, learned)
    from scipy.optimize import linear_sum_assignment     # here: 0.4 s to import, for this metric only
    rows, cols = linear_sum_assignment(-c)
    return float(c[rows, cols].sum() / c.shape[0])


def l0(latents) -> float:
    """Mean number of non-zero latents per input."""
    return float(np.mean(np.sum(np.asarray(latents) != 0, axis=-1)))


def fvu(x, x_hat) -> float:
    """Fraction of variance unexplained: sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 over the whole set (the
    variance is about the mean, not about zero)."""
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    return float(np.sum((x - x_hat) ** 2) / np.sum((x - x.mean(0)) ** 2))


def dead_latents(latents) -> int:
    """Latents never active over the given window of inputs."""
    return int(np.sum(~np.any(np.asarray(latents) != 0, axis=0)))


def shrinkage(x, x_hat) -> float:
    """Mean ||x_hat|| / ||x|| over inputs with non-zero norm (< 1: the L1 penalty shrinks reconstructions)."""
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    n = np.linalg.norm(x, axis=-1)
    keep = n > 0
    return float(np.mean(np.linalg.norm(x_hat, axis=-1)[keep] / n[keep]))
