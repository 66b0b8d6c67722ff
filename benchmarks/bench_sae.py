"""SAE training throughput (activations per second), ours (JAX) against SAELens (PyTorch), same data, same SAE size,
same optimiser settings, same machine, in one run.

    make bench-sae                      # builds .venv-saelens (torch CPU + sae-lens) once, then runs this
    .venv/bin/python benchmarks/bench_sae.py [--threads 2] [--batches 256,4096]

Data: 65536 activations from Sharkey et al.'s generator (512 features in 256 dims), saved once and read by both
sides; SAE: 1024 latents, ReLU+L1 (SAELens's "standard" SAE) and TopK k=4 with AuxK. AuxK on both sides alike: a latent
is dead after DEAD_AFTER inputs without firing (SAELens counts steps: its dead_feature_window is set to
DEAD_AFTER / batch), the auxiliary top-k is d/2 = 128 (SAELens's fixed choice), and the auxiliary loss is computed only
when some latent is dead (SAELens skips it otherwise; SAELens's default window of 1000 steps would never see a dead
latent in this benchmark, while ours did, which made earlier comparisons unequal). Each side trains for S and 2S
steps; the steady-state time per step is (t_2S - t_S) / S, which removes start-up and compilation (JAX) or
warm-up (torch) from the comparison. Also printed: the whole S-step call including compilation. Ratio > 1: ours
is faster.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PEER_PY = REPO / ".venv-saelens" / "bin" / "python"


DEAD_AFTER = 25600
K_AUX = 128


def run_ours(arch: str, acts, batch: int, steps: int) -> float:
    import jax
    from flax import nnx

    from papers.sae import fit as F
    from papers.sae import models as S

    n = acts.shape[0]

    def batch_fn(key, a):
        return a[jax.random.randint(key, (batch,), 0, n)]

    rngs = nnx.Rngs(params=0)
    t0 = time.perf_counter()
    if arch == "relu":
        m, losses = F.fit_relu(S.ReluSAE(acts.shape[1], 1024, rngs=rngs), batch_fn, jax.random.key(1), acts,
                               steps=steps, lr=3e-3, l1=0.1)
    else:
        m, losses, _ = F.fit_topk(S.TopKSAE(acts.shape[1], 1024, 4, rngs=rngs), batch_fn, jax.random.key(1), acts,
                                  steps=steps, lr=3e-3, k_aux=K_AUX, dead_after=DEAD_AFTER)
    jax.block_until_ready(losses)
    return time.perf_counter() - t0


def run_peer(arch: str, npy: Path, batch: int, steps: int, threads: int | None) -> float:
    if not PEER_PY.exists():
        raise SystemExit(f"{PEER_PY} is missing: build it with `make bench-sae` (or python3.11 -m venv .venv-saelens "
                         "&& .venv-saelens/bin/pip install -r benchmarks/requirements-saelens.txt)")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "TQDM_DISABLE": "1",
           **({"BENCH_THREADS": str(threads)} if threads else {})}
    r = subprocess.run([str(PEER_PY), str(REPO / "benchmarks" / "sae_saelens.py"), str(npy), "--arch", arch,
                        "--batch", str(batch), "--steps", str(steps), "--lr", "3e-3", "--l1", "0.1", "--k", "4",
                        "--dead-window", str(max(1, DEAD_AFTER // batch))],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"SAELens run failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.split("RESULT", 1)[1])["seconds"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None, help="threads for both sides")
    p.add_argument("--batches", default="256,4096")
    p.add_argument("--archs", default="relu,topk")
    p.add_argument("--activations", type=int, default=204800, help="activations per S-step measurement")
    args = p.parse_args(argv)
    if args.threads:
        flag = "--xla_cpu_multi_thread_eigen=false" if args.threads == 1 else ""
        os.environ["XLA_FLAGS"] = f"{flag} intra_op_parallelism_threads={args.threads}".strip()
    import jax
    import numpy as np

    from papers.sae import toy_data as T

    dirs = T.feature_directions(jax.random.key(0))
    acts = np.asarray(T.sharkey_batch(jax.random.key(1), dirs, T.activation_probabilities(), 65536)[0], np.float32)
    peer_version = subprocess.run([str(PEER_PY), "-c", "import sae_lens, torch; print(sae_lens.__version__, "
                                   "torch.__version__)"], capture_output=True, text=True).stdout.strip() \
        if PEER_PY.exists() else "missing"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; jax {jax.__version__}; "
          f"sae-lens, torch: {peer_version}; threads: {args.threads or 'default'}")
    print("data: 65536 Sharkey activations (d=256); SAE: 1024 latents; Adam lr 3e-3; ReLU: L1 0.1; TopK: k=4, AuxK "
          f"k_aux={K_AUX}, dead after {DEAD_AFTER} inputs without firing (both sides)")
    print(f"\n{'arch':5s} {'batch':>6s} {'steps S':>8s} | {'ours act/s':>12s} {'SAELens act/s':>14s} {'ratio':>6s} | "
          f"{'ours S-call incl. compile':>26s}")
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp) / "acts.npy"
        np.save(npy, acts)
        xs = jax.numpy.asarray(acts)
        for arch in args.archs.split(","):
            for batch in (int(b) for b in args.batches.split(",")):
                steps = max(10, args.activations // batch)
                o1, o2 = run_ours(arch, xs, batch, steps), run_ours(arch, xs, batch, 2 * steps)
                p1, p2 = run_peer(arch, npy, batch, steps, args.threads), run_peer(arch, npy, batch, 2 * steps,
                                                                                     args.threads)
                ours, peer = batch * steps / max(o2 - o1, 1e-9), batch * steps / max(p2 - p1, 1e-9)
                print(f"{arch:5s} {batch:6d} {steps:8d} | {ours:12,.0f} {peer:14,.0f} {ours / peer:5.1f}x | "
                      f"{o1:24.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
