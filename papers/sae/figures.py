"""The figures a researcher looks at, drawn from the runs' files (never from typed-in numbers):

    python -m papers.sae.figures --scale cpu [--out results/sae/figures]      # writes <name>.<scale>.png

- recovery_vs_l1.png: MMCS and Hungarian MCC against the L1 coefficient (Sharkey et al.), one dot per seed.
- l0_fvu_frontier.png: FVU against L0 for ReLU+L1 (the sweep), TopK and JumpReLU, on the ground-truth data and on the
  language model's residual stream (Gao et al. Figure 2's comparison at our scale).
- superposition.png: toy models of superposition: the n=5/m=2 geometry (columns of W) at three sparsities, and D* with
  the per-feature D_i against 1/p for n=100/m=20 (Elhage et al.'s feature-dimensionality figure).
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from repro.figures import Runs, save  # noqa: E402
from repro.figures import main as figures_main  # noqa: E402

PAPER_DIR = Path(__file__).parent


def recovery_vs_l1(runs: Runs, out: Path):
    exps = runs.experiments(lambda c: c["task"]["kind"] == "sharkey" and c["model"]["kind"] == "relu"
                            and c["model"]["latents"] == 1024 and not c["data"]["correlated"])
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for metric, colour in (("mmcs", "C0"), ("mcc", "C1")):
        xs, means = [], []
        for e in sorted(exps, key=lambda e: runs.cfg(e)["model"]["l1"]):
            l1, vals = runs.cfg(e)["model"]["l1"], [m[metric] for m in runs.metrics(e)]
            ax.scatter([l1] * len(vals), vals, color=colour, s=12, alpha=0.6)
            xs.append(l1)
            means.append(np.mean(vals))
        ax.plot(xs, means, color=colour, label={"mmcs": "MMCS", "mcc": "Hungarian MCC"}[metric])
    ax.set(xscale="log", xlabel="L1 coefficient", ylabel="recovery of the 512 true features", ylim=(0, 1.02),
           title="ReLU SAE, 1024 latents: recovery vs L1 (one dot per seed)")
    ax.legend()
    save(fig, out, "recovery_vs_l1", runs.scale)


def _frontier_panel(ax, runs: Runs, kind_pred, title):
    for model, marker, colour in (("relu", "o", "C0"), ("topk", "s", "C3"), ("jumprelu", "^", "C2")):
        exps = runs.experiments(lambda c, model=model: kind_pred(c) and c["model"]["kind"] == model
                                and (model != "topk" or (c["model"]["k_aux"] > 0 and c["model"]["tied_init"])))
        pts = [(m["l0"], m["fvu"]) for e in exps for m in runs.metrics(e)]
        if not pts:
            continue
        means = sorted((np.mean([m["l0"] for m in runs.metrics(e)]), np.mean([m["fvu"] for m in runs.metrics(e)]))
                       for e in exps)
        ax.scatter(*zip(*pts), marker=marker, color=colour, s=14, alpha=0.5)
        ax.plot(*zip(*means), marker=marker, color=colour, label={"relu": "ReLU + L1 (sweep)", "topk": "TopK + AuxK",
                                                                   "jumprelu": "JumpReLU"}[model])
    ax.set(xscale="log", yscale="log", xlabel="L0 (active latents per input)", ylabel="FVU", title=title)
    ax.legend(fontsize=8)


def l0_fvu_frontier(runs: Runs, out: Path):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    _frontier_panel(axes[0], runs, lambda c: c["task"]["kind"] == "sharkey" and c["model"]["latents"] == 1024
                    and not c["data"]["correlated"], "ground-truth data (Sharkey et al.)")
    _frontier_panel(axes[1], runs, lambda c: c["task"]["kind"] == "lm_sae",
                    "char-LM residual stream (layer 1)")
    save(fig, out, "l0_fvu_frontier", runs.scale)


def superposition(runs: Runs, out: Path):
    small = runs.experiments(lambda c: c["task"]["kind"] == "superposition" and c["toy"]["hidden"] == 2)
    grid = runs.experiments(lambda c: c["task"]["kind"] == "superposition" and c["toy"]["hidden"] > 2)
    fig, axes = plt.subplots(1, len(small) + 1, figsize=(3.2 * len(small) + 5, 3.4),
                             gridspec_kw={"width_ratios": [1] * len(small) + [1.8]})
    for ax, e in zip(axes, small):
        rows = runs.history(e)
        for r in rows:
            ax.plot([0, r["w0"]], [0, r["w1"]], color=plt.cm.viridis(r["feature"] / 5), lw=2)
            ax.scatter([r["w0"]], [r["w1"]], color=plt.cm.viridis(r["feature"] / 5), s=12)
        ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal",
               title=f"n=5, m=2, p={rows[0]['p_active']:g}\nD*={rows[0]['dstar']:.2f}")
        ax.set_xticks([])
        ax.set_yticks([])
    ax = axes[-1]
    for e in grid:
        for seed_index in range(len(runs.seeds)):
            rows = runs.history(e, seed_index)
            inv = np.array([1 / r["p_active"] for r in rows])
            keep = np.array([r["norm"] > 0.5 for r in rows])
            ax.scatter(inv[keep], [r["d_i"] for r, k in zip(rows, keep) if k], s=3, alpha=0.15, color="C0")
            per = sorted({(1 / r["p_active"], r["dstar"]) for r in rows})
            ax.plot(*zip(*per), color="k", lw=1, label="D* = m / ||W||_F^2" if seed_index == 0 else None)
        n, m = runs.cfg(e)["toy"]["features"], runs.cfg(e)["toy"]["hidden"]
        ax.set_title(f"n={n}, m={m}: dimensions per feature (dots: D_i of represented features)")
    for frac in (1, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 1 / 3):
        ax.axhline(frac, color="grey", lw=0.5, ls=":")
    ax.set(xscale="log", xlabel="1 / feature probability", ylabel="dimensions per feature", ylim=(0, 1.1))
    ax.legend(fontsize=8, loc="upper right")
    save(fig, out, "superposition", runs.scale)


FIGURES = {"recovery_vs_l1": recovery_vs_l1, "l0_fvu_frontier": l0_fvu_frontier, "superposition": superposition}


def main(argv=None) -> int:
    return figures_main(PAPER_DIR, FIGURES, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
