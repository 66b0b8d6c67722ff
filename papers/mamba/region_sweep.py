"""Selective copying against the length of the region the tokens are scattered over (issue 22, item 1).

    python -m papers.mamba.region_sweep [--jobs 2] [--lengths 64,128,256,512] [--seeds 0,1] [--steps 4000]

Why: Table 1 tests whether a layer must *select* (Gu & Dao 2023, Section 3.1 and App. E.1: 16 tokens scattered
over 4,096 positions). Over a short region a time-invariant layer (S4) can still learn the copy, so the cpu
miniature must use a region long enough, for its model and step budget, that S4 cannot. This trains the two
no-gate rows of Table 1 (S4 and S6 as the inner layer, the rest of the model equal) at each region length, at the
cpu scale's settings otherwise, plus the paper's learning rate (1e-4) at one length to show what it reaches in the
cpu step budget. Each run is a normal run of papers/mamba/experiment.py (same code, checkpoints, resume) under
results/mamba/sweeps/; a killed sweep resumes. The table (one row per run: final validation accuracy, %) and the
figure go to results/mamba/cpu/sweeps/region_length.{csv,png}, each run's validation curve to
region_length_curves.csv, committed with the verdicts.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from repro import tracking

EXPERIMENTS = {"s4-no-gate": "S4", "s6-no-gate": "S6"}
COLOURS = {"s4-no-gate": "C0", "s6-no-gate": "C3"}
CPU_LR, PAPER_LR = 2.0e-3, 1.0e-4
OUT = Path("mamba") / "cpu" / "sweeps"   # under the results directory


def grid(lengths, seeds, paper_lr_length):
    runs = [(e, n, CPU_LR, s) for e in EXPERIMENTS for n in lengths for s in seeds]
    runs += [(e, paper_lr_length, PAPER_LR, seeds[0]) for e in EXPERIMENTS]
    return sorted(runs, key=lambda r: -r[1] * (2 if r[0].startswith("s6") else 1))   # longest first


def run_dir(root: Path, e, n, lr, s, steps) -> Path:
    return root / "mamba" / "sweeps" / "region_length" / f"{e}-L{n}-lr{lr:g}-steps{steps}" / f"seed{s}"


def train(root: Path, e, n, lr, s, steps) -> Path:
    d = run_dir(root, e, n, lr, s, steps)
    if (d / "metrics.json").exists():
        return d
    sets = [f"task.seq_len={n}", f"train.lr={lr}", f"train.steps={steps}"]
    cmd = [sys.executable, "-m", "papers.mamba.experiment", "--experiment", e, "--scale", "cpu", "--seed", str(s),
           "--run-dir", str(d), "--no-track", *[a for x in sets for a in ("--set", x)]]
    env = {**os.environ, "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{e} L={n} lr={lr} seed {s} failed:\n{r.stderr[-2000:]}")
    return d


def table(root: Path, runs, steps) -> list[dict]:
    rows = []
    for e, n, lr, s in sorted(runs):
        m = json.loads((run_dir(root, e, n, lr, s, steps) / "metrics.json").read_text())
        rows.append({"experiment": e, "inner_layer": EXPERIMENTS[e], "region_length": n, "lr": lr, "steps": steps,
                     "seed": s, "accuracy": round(m["accuracy"], 3), "wall_time_s": round(m["wall_time_s"], 1)})
    return rows


def curves(root: Path, runs, steps) -> list[dict]:
    """Each run's validation accuracy at every evaluation (from its history.csv)."""
    out = []
    for e, n, lr, s in sorted(runs):
        with open(run_dir(root, e, n, lr, s, steps) / "history.csv") as fh:
            for h in csv.DictReader(fh):
                if h.get("eval_accuracy"):
                    out.append({"experiment": e, "region_length": n, "lr": lr, "seed": s, "step": int(float(h["step"])),
                                "accuracy": round(float(h["eval_accuracy"]), 3)})
    return out


def draw(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for e, layer in EXPERIMENTS.items():
        for lr, style in ((CPU_LR, "-o"), (PAPER_LR, "x")):
            pts = [r for r in rows if r["experiment"] == e and r["lr"] == lr]
            if not pts:
                continue
            lengths = sorted({r["region_length"] for r in pts})
            means = [sum(r["accuracy"] for r in pts if r["region_length"] == n) /
                     sum(1 for r in pts if r["region_length"] == n) for n in lengths]
            ax.plot(lengths, means, style, color=COLOURS[e], label=f"{layer} (no gate), lr {lr:g}", ms=6)
            ax.scatter([r["region_length"] for r in pts], [r["accuracy"] for r in pts], s=10, alpha=0.5,
                       color=COLOURS[e])
    ax.axhline(100 / 14, color="grey", lw=0.8, ls=":", label="chance (14 data tokens)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("region length (positions the 16 tokens are scattered over)")
    ax.set_ylabel("validation accuracy, %")
    ax.set_title(f"Selective copying, {rows[0]['steps']} steps (lines: seed means)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", default="64,128,256,512")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--paper-lr-length", type=int, default=256, help="the length also trained at the paper's lr")
    p.add_argument("--jobs", type=int, default=2, help="runs side by side, one core each")
    args = p.parse_args(argv)
    lengths = [int(x) for x in args.lengths.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    runs, root = grid(lengths, seeds, args.paper_lr_length), tracking.results_dir()
    with ThreadPoolExecutor(args.jobs) as pool:
        for d in pool.map(lambda r: train(root, *r, args.steps), runs):
            print(f"done: {d}", flush=True)
    rows = table(root, runs, args.steps)
    out = root / OUT
    out.mkdir(parents=True, exist_ok=True)
    for name, table_rows in (("region_length.csv", rows), ("region_length_curves.csv", curves(root, runs, args.steps))):
        with open(out / name, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(table_rows[0]))
            w.writeheader()
            w.writerows(table_rows)
    draw(rows, out / "region_length.png")
    print(f"wrote {out / 'region_length.csv'} and {out / 'region_length.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
