"""Runs on a real model: the character-level language model, SAEs on its residual stream, and the comparison of
SAE families at matched sparsity.

- ``lm``: train the LM (repro.train's loop: resumes from its Orbax checkpoint when killed).
- ``lm_sae``: read the residual stream after ``sae.layer`` blocks of the same seed's finished LM, scale it so the
  mean squared norm is d (one scalar, as Gao et al. normalise), train an SAE on it, and evaluate on held-out text:
  L0, FVU, dead latents, shrinkage, and the loss recovered with the reconstruction spliced in,
  (CE_zero_ablation - CE_sae) / (CE_zero_ablation - CE_original).
- ``matched``: no training; for the same seed, ReLU-SAE FVU interpolated (log-log, piecewise linear in L0) over an
  L1 sweep at the L0 another run reached, so two SAE families are compared at the same sparsity.
"""
from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from papers.sae import lm as LM
from papers.sae import toy_runs
from repro import config as rconfig
from repro import driver, lm_recipe, seeding, text
from repro.nn.transformer import next_token_loss
from repro.train import fit_task


def train_lm(cfg: dict, seed: int, run_dir: Path, tracker=None, progress=False, stop_after=None):
    corpus = text.load_chars(cfg["data"]["registry"])
    task = LM.build_task(cfg, seed, corpus)
    out = fit_task(task, cfg, seed, run_dir, tracker=tracker, progress=progress, stop_after=stop_after)
    if out is None:
        return None
    final, history = out
    keep = ("val_loss", "train_loss", "wall_time_s", "n_params", "steps", "final_params")
    return {k: final[k] for k in keep}, history


def activation_batches(batch_size: int):
    """Training batches for an SAE: ``batch_size`` rows drawn uniformly from the stored activations ``data``."""
    return lambda k, a: a[jax.random.randint(k, (batch_size,), 0, a.shape[0])]


def lm_sae(cfg: dict, seed: int):
    sc, mc, tc = cfg["sae"], cfg["model"], cfg["train"]
    lm_dir = driver.sibling_run(cfg, sc["lm_experiment"], seed)
    driver.finished_metrics(cfg, sc["lm_experiment"], seed)
    lm_cfg = rconfig.load_yaml(lm_dir / "config.yaml")
    corpus = text.load_chars(lm_cfg["data"]["registry"])
    lm = LM.load_trained(lm_cfg, seed, lm_dir, corpus.vocab_size)
    layer, ctx = sc["layer"], lm_cfg["lm"]["context"]
    resid = jax.jit(lambda m, t: m.residual(t, layer))

    # training activations: windows of the training text at offsets drawn from this seed
    wins, _ = text.random_windows(jax.random.fold_in(seeding.key(seed, "data"), 2), jnp.asarray(corpus.train),
                                  sc["train_windows"], ctx)
    acts = jnp.concatenate([resid(lm, wins[i:i + 256]) for i in range(0, wins.shape[0], 256)]).reshape(
        -1, lm_cfg["lm"]["d_model"])
    d = acts.shape[1]
    scale = jnp.sqrt(jnp.mean(jnp.sum(acts ** 2, -1)) / d)
    acts = acts / scale
    n = acts.shape[0]
    model, losses, extra = toy_runs.fit_sae(mc, tc, d, seed, activation_batches(tc["batch_size"]), acts)

    # held-out evaluation: the LM's own validation windows
    vx, vy = lm_recipe.eval_windows(lm_cfg, corpus)
    r = resid(lm, vx)
    x = np.asarray(r.reshape(-1, d) / scale)
    x_hat, z = toy_runs.encode_decode(model, x)
    spliced = jnp.asarray(x_hat).reshape(r.shape) * scale
    ce = jax.jit(lambda m, h: next_token_loss(m.logits_from(h, layer), vy))
    ce_orig, ce_sae, ce_zero = (float(ce(lm, h)) for h in (r, spliced, jnp.zeros_like(r)))
    metrics = {**toy_runs.reconstruction_metrics(x, x_hat, z), "ce_original": ce_orig, "ce_sae": ce_sae,
               "ce_zero_ablation": ce_zero, "loss_recovered": (ce_zero - ce_sae) / (ce_zero - ce_orig),
               "activations": int(n), "final_train_loss": float(losses[-1]),
               "final_params": nnx.state(model, nnx.Param)}
    return metrics, toy_runs.history_rows(losses, **extra)


def matched(cfg: dict, seed: int):
    """FVU of the ``sweep`` runs' frontier at the L0 that the ``target`` run reached (same seed)."""
    mc = cfg["task"]
    missing = [e for e in [mc["target"], *mc["sweep"]] if e not in cfg["needs"]]
    if missing or not mc["sweep"]:
        raise rconfig.ConfigError(f"{cfg['run']['experiment']}: a matched run needs a sweep, and `needs` must list its "
                                  f"target and sweep (the workflow orders jobs by it); missing: {missing}")
    target = driver.finished_metrics(cfg, mc["target"], seed)
    pts = sorted(
        (m["l0"], m["fvu"]) for m in (driver.finished_metrics(cfg, e, seed) for e in mc["sweep"]) if m["l0"] > 0
    )
    l0s, fvus = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    t = target["l0"]
    fvu, extrapolated = frontier_at(l0s, fvus, t)
    if extrapolated:
        print(
            f"warning: {cfg['run']['experiment']} seed {seed}: {mc['target']} reached L0 {t:.3g}, outside the "
            f"sweep's range [{l0s[0]:.3g}, {l0s[-1]:.3g}]; the FVU there is extrapolated (metric `extrapolated` = 1)."
            f" Add L1 values to the sweep in papers/sae/config.yaml to cover it.",
            file=sys.stderr,
        )
    rows = [{"step": i, "l0": float(a), "fvu": float(b)} for i, (a, b) in enumerate(pts)]
    return {
        "fvu": fvu,
        "l0": float(t),
        "target_fvu": float(target["fvu"]),
        "fvu_ratio": float(target["fvu"]) / fvu,
        "extrapolated": int(extrapolated),
    }, rows


def frontier_at(l0s, fvus, l0: float) -> tuple[float, bool]:
    """FVU of the frontier through (l0s, fvus) (sorted by L0, all positive) at ``l0``: piecewise linear in
    (log L0, log FVU); outside the range, the line through the two nearest points. Returns (fvu, extrapolated)."""
    lx, ly, t = np.log(np.asarray(l0s, float)), np.log(np.asarray(fvus, float)), np.log(l0)
    if lx[0] <= t <= lx[-1]:
        return float(np.exp(np.interp(t, lx, ly))), False
    i = (0, 1) if t < lx[0] else (-2, -1)
    slope = (ly[i[1]] - ly[i[0]]) / (lx[i[1]] - lx[i[0]])
    return float(np.exp(ly[i[0]] + slope * (t - lx[i[0]]))), True
