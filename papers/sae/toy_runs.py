"""Runs on synthetic data with ground truth: SAEs on Sharkey et al.'s features, and toy models of superposition.

Each function is a seed loop task: ``(cfg, seed) -> (metrics, history rows)``; a run takes seconds to a minute, so a
killed one starts over (nothing is lost but that run's seconds).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from papers.sae import fit as F
from papers.sae import jumprelu as J
from papers.sae import metrics as M
from papers.sae import models as S
from papers.sae import superposition as SP
from papers.sae import toy_data as T
from repro import fit, parallel, seeding
from repro import precision as mixed


def history_rows(losses, every: int = 100, **extra) -> list[dict]:
    losses = np.asarray(losses)
    return [{"step": int(t + 1), "train_loss": float(losses[t]), **{k: float(v[t]) for k, v in extra.items()}}
            for t in range(every - 1, len(losses), every)]


def make_sae(mc: dict, d: int, seed: int):
    rngs = nnx.Rngs(params=seeding.key(seed, "init"))
    if mc["kind"] == "relu":
        return S.ReluSAE(d, mc["latents"], rngs=rngs)
    if mc["kind"] == "topk":
        return S.TopKSAE(d, mc["latents"], mc["k"], rngs=rngs, tied_init=mc["tied_init"])
    if mc["kind"] == "jumprelu":
        return J.JumpReluSAE(d, mc["latents"], rngs=rngs, init_threshold=mc["init_threshold"])
    raise ValueError(f"unknown model.kind {mc['kind']!r}; valid: relu, topk, jumprelu")


def sae_objective(mc: dict, tc: dict, graphdef, batch_fn, fp32_params: str = ""):
    """(the objective of the SAE that ``mc`` describes, on batches ``batch_fn(key, data)``, its initial ``extra``),
    trained in train.precision (repro/precision.py; ``fp32_params``: the parameters kept in float32)."""
    if mc["kind"] == "relu":
        objective, extra = F.relu_objective(graphdef, batch_fn, lr=tc["lr"], l1=mc["l1"]), ()
    elif mc["kind"] == "topk":
        aux = mc["k_aux"] > 0
        objective, extra = (F.topk_objective(graphdef, batch_fn, lr=tc["lr"], k_aux=max(mc["k_aux"], 1),
                                             dead_after=mc["dead_after"] if aux else 2 ** 30),
                            jnp.zeros((mc["latents"],), jnp.int32))
    else:
        objective, extra = (F.jumprelu_objective(graphdef, batch_fn, lr=tc["lr"], l0_coef=mc["l0_coef"],
                                                 eps=mc["eps"]), ())
    return dataclasses.replace(objective, precision=tc.get("precision", "fp32"), fp32_params=fp32_params), extra


def fit_sae(mc: dict, tc: dict, d: int, seed: int, batch_fn, data):
    """Train the SAE that ``mc`` describes on batches ``batch_fn(key, data)``, every step in one jitted scan
    (repro/fit.py); returns (model, per-step losses, extra per-step series)."""
    model, key = make_sae(mc, d, seed), jax.random.fold_in(seeding.key(seed, "data"), 1)
    graphdef, params = nnx.split(model, nnx.Param)
    objective, extra = sae_objective(mc, tc, graphdef, batch_fn, mixed.fp32_params(model))
    state, rows = fit.run_all(objective, objective.init(params, extra), steps=tc["steps"], data_key=key, data=data,
                              mesh=parallel.mesh(tc.get("devices", 1)))
    series = {"dead_during_training": rows["n_dead"]} if mc["kind"] == "topk" else {}
    return nnx.merge(graphdef, state.params), rows["loss"], series


def encode_decode(model, x, chunk: int = 4096):
    """(x_hat, z) over a large set in chunks (bounded memory)."""
    f = jax.jit(lambda m, xb: m(xb))
    outs = [f(model, x[i:i + chunk]) for i in range(0, x.shape[0], chunk)]
    return np.concatenate([np.asarray(o[0]) for o in outs]), np.concatenate([np.asarray(o[1]) for o in outs])


def reconstruction_metrics(x, x_hat, z) -> dict:
    return {"l0": M.l0(z), "fvu": M.fvu(x, x_hat), "dead_fraction": M.dead_latents(z) / z.shape[1],
            "shrinkage": M.shrinkage(x, x_hat)}


def sharkey_batches(batch_size: int):
    """Training batches of Sharkey et al.'s data, from ``data`` = (directions, probabilities, Cholesky factor or
    None)."""
    return lambda k, a: T.sharkey_batch(k, a[0], a[1], batch_size, a[2])[0]


def sharkey(cfg: dict, seed: int):
    """An SAE on Sharkey et al.'s ground-truth data; recovery (MMCS, Hungarian MCC) and reconstruction metrics."""
    dc, mc, tc = cfg["data"], cfg["model"], cfg["train"]
    k_dirs, k_chol = jax.random.split(seeding.key(seed, "data"))
    dirs = T.feature_directions(k_dirs, dc["features"], dc["dim"])
    probs = T.activation_probabilities(dc["features"])
    chol = T.correlation_factor(k_chol, dc["features"]) if dc["correlated"] else None
    model, losses, extra = fit_sae(mc, tc, dc["dim"], seed, sharkey_batches(tc["batch_size"]), (dirs, probs, chol))
    x, _ = T.sharkey_batch(seeding.key(seed, "eval"), dirs, probs, dc["eval_size"], chol)
    x_hat, z = encode_decode(model, x)
    atoms = np.asarray(model.w_dec[...])
    metrics = {"mmcs": M.mmcs(dirs, atoms), "mcc": M.hungarian_mcc(dirs, atoms),
               **reconstruction_metrics(np.asarray(x), x_hat, z), "final_train_loss": float(losses[-1]),
               "final_params": nnx.state(model, nnx.Param)}
    return metrics, history_rows(losses, **extra)


def superposition(cfg: dict, seed: int):
    """Toy models of superposition, one instance per feature probability (Elhage et al. 2022).

    Metrics: D* (``dstar``) and the features represented (||W_i|| > 0.5) for a single instance; for a grid of
    probabilities, the 1/2 plateau's ``stickiness`` (see ``half_plateau``).
    The per-feature D_i of every instance go to the history rows (one row per instance and feature) for the figure.
    """
    tc, sc = cfg["train"], cfg["toy"]
    n, m = sc["features"], sc["hidden"]
    probs = np.asarray(sc["p_active"], np.float64) if sc["p_active"] else np.logspace(
        0, -sc["p_decades"], sc["p_points"])
    importance = sc["importance_decay"] ** np.arange(n)
    w, _, losses = SP.fit_instances(seeding.key(seed, "init"), n, m, probs, importance, steps=tc["steps"],
                                    batch=tc["batch_size"], lr=tc["lr"], mesh=parallel.mesh(tc.get("devices", 1)),
                                    precision=tc.get("precision", "fp32"))
    dstar = np.array([SP.dimensions_per_feature_total(wi) for wi in w])
    rows, metrics = [], {"final_train_loss": float(losses[-1]), "final_params": {"W": np.asarray(w)}}
    for i, (p, wi) in enumerate(zip(probs, w)):
        norms = np.linalg.norm(wi, axis=0)
        di = SP.dimensions_per_feature(wi)
        rows += [{"step": i, "p_active": float(p), "feature": j, "norm": float(norms[j]), "d_i": float(di[j]),
                  "dstar": float(dstar[i]), **({f"w{r}": float(wi[r, j]) for r in range(m)} if m <= 2 else {})}
                 for j in range(n)]
    if len(probs) == 1:
        metrics["dstar"] = float(dstar[0])
        metrics["represented"] = int(np.sum(np.linalg.norm(w[0], axis=0) > 0.5))
    if len(probs) > 4:
        metrics.update(half_plateau(np.log10(1 / probs), dstar, sc["plateau_tol"]), dstar_dense=float(dstar[0]),
                       dstar_sparsest=float(dstar[-1]))
    return metrics, rows




def half_plateau(x, dstar, tol: float) -> dict:
    """How much longer D* lingers near 1/2 than a steady descent would.

    ``x`` = log10(1/p), increasing; D*(x) read piecewise linearly. ``plateau_width_decades``: the width of x over
    which |D* - 1/2| <= tol. ``straight_width_decades``: the width a straight descent from D* = 3/4 to D* = 1/4 (through
    the same crossing points) would spend in that band, 2 tol / (1/2) of the way. ``stickiness`` = their ratio: about 1
    for a featureless curve, above 1 where D* sticks at 1/2 (Elhage et al.: antipodal pairs are a preferred phase).
    NaN when D* never falls through both 3/4 and 1/4 on the grid."""
    xf = np.linspace(x[0], x[-1], 4001)
    yf = np.interp(xf, x, dstar)
    width = float(np.mean(np.abs(yf - 0.5) <= tol) * (x[-1] - x[0]))
    below75, below25 = np.nonzero(yf <= 0.75)[0], np.nonzero(yf <= 0.25)[0]
    if not len(below75) or not len(below25):
        return {"plateau_width_decades": width, "straight_width_decades": float("nan"), "stickiness": float("nan")}
    straight = float((xf[below25[0]] - xf[below75[0]]) * (2 * tol) / 0.5)
    return {"plateau_width_decades": width, "straight_width_decades": straight, "stickiness": width / straight}
