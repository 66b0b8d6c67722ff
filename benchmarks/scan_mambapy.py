"""The peer side of benchmarks/bench_mamba_peer.py: mambapy's selective scan (PyTorch, CPU) on the inputs in an .npz.

    .venv-mambapy/bin/python benchmarks/scan_mambapy.py inputs.npz --mode pscan|seq --repeats 10

Calls mambapy.mamba.MambaBlock.selective_scan (the parallel scan, ``pscan``) or selective_scan_seq (a Python loop
over time) on a block whose d_inner and d_state match the inputs; prints RESULT {"forward": s, "backward": s}
with the median seconds per call of the forward and of forward+backward (the gradient of sum(y * probe)); writes
the output and every input's gradient beside the .npz for the comparison. Threads: BENCH_THREADS (torch and OpenMP).
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import torch
from mambapy.mamba import MambaBlock, MambaConfig


def main():
    p = argparse.ArgumentParser()
    p.add_argument("npz")
    p.add_argument("--mode", default="pscan", choices=["pscan", "seq"])
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    if os.environ.get("BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
        torch.set_num_interop_threads(int(os.environ["BENCH_THREADS"]))
    data = np.load(args.npz)
    t = {k: torch.from_numpy(data[k]) for k in ("u", "delta", "A", "B", "C", "D", "probe")}
    d_inner, n = t["A"].shape
    block = MambaBlock(MambaConfig(d_model=d_inner // 2, n_layers=1, d_state=n, expand_factor=2))
    scan = block.selective_scan if args.mode == "pscan" else block.selective_scan_seq

    def forward():
        with torch.no_grad():
            return scan(t["u"], t["delta"], t["A"], t["B"], t["C"], t["D"])

    grads = {k: t[k].clone().requires_grad_(True) for k in ("u", "delta", "A", "B", "C", "D")}

    def backward():
        for g in grads.values():
            g.grad = None
        y = scan(grads["u"], grads["delta"], grads["A"], grads["B"], grads["C"], grads["D"])
        (y * t["probe"]).sum().backward()

    out = {}
    for name, fn in (("forward", forward), ("backward", backward)):
        fn()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    y = forward().numpy()
    np.save(args.npz.replace(".npz", f".{args.mode}.y.npy"), y)
    backward()
    np.savez(args.npz.replace(".npz", f".{args.mode}.grads.npz"), **{k: g.grad.numpy() for k, g in grads.items()})
    print("RESULT" + json.dumps(out))


if __name__ == "__main__":
    main()
