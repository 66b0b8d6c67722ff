"""Our selective scan (JAX) against mambapy's (PyTorch, CPU), same inputs, same machine, in one run (issue 6, item 4).

    make bench-mamba-peer          # builds .venv-mambapy (torch CPU + mambapy) once, then runs this
    .venv/bin/python benchmarks/bench_mamba_peer.py [--lengths 256,1024,4096] [--threads 1]

Shapes: batch 8, d_inner 128, d_state 16 (a D=64 Mamba layer), lengths from --lengths. Ours: papers/mamba/selective_scan
with the method ``auto`` picks on this backend (and every method with --all-methods); mambapy: its parallel scan
(``pscan``, the package default) and its sequential loop. Forward and forward+backward (gradient of sum(y * probe)
with respect to every input), median seconds per call after warm-up/compilation. The outputs and every input's
gradient are compared (max abs difference of y; the largest over the six inputs of max|dg| / max|g|). Both sides get
the same threads (--threads N: XLA's intra-op threads and torch's and OpenMP's; default 1, as the workflow's jobs
run, and what a 2-core machine gives each of two jobs). Ratio = mambapy time / ours: above 1, ours is faster.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PEER_PY = REPO / ".venv-mambapy" / "bin" / "python"


def inputs(length: int, batch: int = 8, d_inner: int = 128, n: int = 16):
    import numpy as np
    rng = np.random.default_rng(0)
    f = np.float32
    return {"u": rng.standard_normal((batch, length, d_inner)).astype(f),
            "delta": np.log1p(np.exp(rng.standard_normal((batch, length, d_inner)) - 3)).astype(f),
            "A": -np.tile(np.arange(1, n + 1, dtype=f), (d_inner, 1)),
            "B": rng.standard_normal((batch, length, n)).astype(f),
            "C": rng.standard_normal((batch, length, n)).astype(f),
            "D": np.ones(d_inner, f),
            "probe": rng.standard_normal((batch, length, d_inner)).astype(f)}


def time_ours(data: dict, method: str, repeats: int):
    import jax
    import jax.numpy as jnp

    from papers.mamba.selective_scan import selective_scan

    args = tuple(jnp.asarray(data[k]) for k in ("u", "delta", "A", "B", "C", "D"))
    probe = jnp.asarray(data["probe"])
    fwd = jax.jit(lambda *a: selective_scan(*a, method=method))
    bwd = jax.jit(jax.grad(lambda *a: jnp.sum(selective_scan(*a, method=method) * probe), argnums=tuple(range(6))))
    out = {}
    for name, fn in (("forward", fwd), ("backward", bwd)):
        jax.block_until_ready(fn(*args))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out, fwd(*args), bwd(*args)


def time_peer(npz: Path, mode: str, repeats: int, threads):
    if not PEER_PY.exists():
        raise SystemExit(f"{PEER_PY} is missing: build it with `make bench-mamba-peer` (or python3.11 -m venv "
                         ".venv-mambapy && .venv-mambapy/bin/pip install -r benchmarks/requirements-mambapy.txt)")
    env = {**os.environ, **{v: str(threads) for v in ("BENCH_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    r = subprocess.run([str(PEER_PY), str(REPO / "benchmarks" / "scan_mambapy.py"), str(npz), "--mode", mode,
                        "--repeats", str(repeats)], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"mambapy run failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.split("RESULT", 1)[1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", default="256,1024,4096")
    p.add_argument("--threads", type=int, default=1, help="threads for both sides")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--all-methods", action="store_true")
    args = p.parse_args(argv)
    flag = "--xla_cpu_multi_thread_eigen=false " if args.threads == 1 else ""
    os.environ["XLA_FLAGS"] = f"{flag}intra_op_parallelism_threads={args.threads}"
    import jax
    import numpy as np

    from papers.mamba.selective_scan import METHODS, measured_choice

    methods = list(METHODS) if args.all_methods else [measured_choice()]
    peer = subprocess.run([str(PEER_PY), "-c", "import importlib.metadata as m, torch; "
                           "print(m.version('mambapy'), torch.__version__)"], capture_output=True,
                          text=True).stdout.strip() if PEER_PY.exists() else "missing"
    print(f"# selective scan, ours (JAX {jax.__version__}, {jax.default_backend()}) vs mambapy, torch: {peer}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; {args.threads} thread(s) each side; "
          "batch 8, d_inner 128, N 16")
    print(f"{'L':>6} {'ours':>12} {'peer':>14} | {'fwd ms ours':>11} {'peer':>9} {'ratio':>6} | "
          f"{'fwd+bwd ms ours':>15} {'peer':>9} {'ratio':>6} | max|dy|  grad rel")
    with tempfile.TemporaryDirectory() as tmp:
        for length in (int(x) for x in args.lengths.split(",")):
            data = inputs(length)
            npz = Path(tmp) / f"in{length}.npz"
            np.savez(npz, **data)
            for mode in ("pscan", "seq"):
                if mode == "seq" and length > 1024:
                    continue                      # a Python loop over time: minutes at 4096
                theirs = time_peer(npz, mode, args.repeats, args.threads)
                y_peer = np.load(str(npz).replace(".npz", f".{mode}.y.npy"))
                g_peer = np.load(str(npz).replace(".npz", f".{mode}.grads.npz"))
                for method in methods:
                    ours, y, grads = time_ours(data, method, args.repeats)
                    diff = float(np.max(np.abs(np.asarray(y) - y_peer)))
                    gdiff = max(float(np.max(np.abs(np.asarray(g) - g_peer[k])) / np.max(np.abs(g_peer[k])))
                                for k, g in zip(("u", "delta", "A", "B", "C", "D"), grads))
                    print(f"{length:>6} {method:>12} {'mambapy-' + mode:>14} | {ours['forward'] * 1e3:11.2f} "
                          f"{theirs['forward'] * 1e3:9.2f} {theirs['forward'] / ours['forward']:5.1f}x | "
                          f"{ours['backward'] * 1e3:15.2f} {theirs['backward'] * 1e3:9.2f} "
                          f"{theirs['backward'] / ours['backward']:5.1f}x | {diff:.1e}  {gdiff:.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
