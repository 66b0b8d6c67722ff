"""The full scale on this machine's GPU (issue 24, item 4): what benchmarks/gpu.sh runs.

    benchmarks/gpu.sh [--papers mamba moe sae gnn] [--steps 200] [--scale full] [--out DIR]

1. Per paper, each experiment's training step at the scale, built by the cost plan's hook (papers/<p>/cost.py, the
   same program the runs compile, train.precision included) and run ``--steps`` times on placeholder values of the
   full shapes (zeros; keys from seed 0: the step's time and memory, not its numbers): median step time, the
   device's peak memory in use, and MFU = the step's FLOPs (XLA's cost analysis, loops counted by trip count:
   repro/cost_plan.py) / step time / the device's dense peak at the run's precision (bf16 runs against the bf16
   peak; fp32 runs against the TF32 peak, XLA's default for float32 matmuls on NVIDIA GPUs).
2. The selective scan against the Mamba paper's Figure 8 (left) statements (A100 80GB): the fused scan is 20-40x
   faster than a standard scan implementation (PyTorch), and faster than FlashAttention-2 beyond 2K tokens. Ours:
   the scan form ``auto`` picks, forward and backward, against the sequential scan differentiated by autodiff (our
   "standard scan") and against causal softmax attention of the same width (XLA's fused attention when
   ``jax.nn.dot_product_attention`` picks cuDNN), at lengths 512 to 16K; the ratio and the crossover length are
   printed beside the paper's.

Without a GPU it refuses with one line (``--allow-cpu``: run anyway, for the tests, at whatever scale is given).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAPERS = ("mamba", "moe", "sae", "gnn")
FIG8 = {"standard_scan_ratio": (20, 40), "attention_crossover": 2048, "device": "A100 80GB"}


def refuse_without_gpu(allow_cpu: bool) -> str | None:
    """None when a GPU is visible to JAX (or allowed without one); else the one line to print."""
    import jax
    platforms = {d.platform for d in jax.devices()}
    if "gpu" in platforms or allow_cpu:
        return None
    return (f"benchmarks/gpu.sh: no GPU visible to JAX (devices: {', '.join(sorted(platforms))}); run it on a "
            "machine with an NVIDIA GPU and jax[cuda12] installed")


def device_peak(precision: str):
    """(name, dense peak FLOP/s at the run's precision) for the first device, from repro/cost_plan.py's table."""
    import jax
    from repro import cost_plan
    kind = jax.devices()[0].device_kind.lower()
    name = next((n for n in ("h200", "h100", "a100") if n in kind), "cpu")
    dev = cost_plan.DEVICES["h100" if name == "h200" else name]       # H200: H100's compute, more memory
    key = "bf16" if precision == "bf16" else ("tf32" if name != "cpu" else "fp32")
    return jax.devices()[0].device_kind, dev.peak[key], key


def concrete(tree):
    """Placeholder arrays for a pytree of jax.ShapeDtypeStruct: zeros, and keys from seed 0."""
    import jax
    import jax.numpy as jnp

    def make(s):
        if not isinstance(s, jax.ShapeDtypeStruct):
            return s
        if jnp.issubdtype(s.dtype, jax.dtypes.prng_key):
            return jax.random.split(jax.random.key(0), max(1, int(jnp.prod(jnp.array(s.shape))))).reshape(s.shape)
        return jnp.zeros(s.shape, s.dtype)
    return jax.tree.map(make, tree, is_leaf=lambda x: isinstance(x, jax.ShapeDtypeStruct))


def median_time(fn, args, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after a warm-up call (benchmarks/bench_moe.py's timer)."""
    from benchmarks.bench_moe import timed
    return timed(fn, *args, repeats=repeats)


def peak_memory() -> int | None:
    import jax
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def bench_paper(paper: str, scale: str, steps: int, experiments=None) -> list[dict]:
    import jax
    from repro import config as rconfig
    from repro import cost_plan
    paper_dir = cost_plan.REPO / "papers" / paper
    pcfg = rconfig.load_paper_config(paper_dir / "config.yaml")
    skip = pcfg["scales"][scale].get("skip") or {}
    module, rows = cost_plan.hook(paper_dir), []
    for e in [x for x in experiments or pcfg["experiments"] if x in pcfg["experiments"]]:
        if e in skip:
            continue
        cfg = rconfig.resolve(pcfg, e, scale, [])
        spec = module.spec(cfg)
        if spec.train is None:
            continue
        precision = cfg["train"].get("precision", "fp32")
        measured = cost_plan.measure(spec.train)
        fn = jax.jit(spec.train.fn)
        step_s = median_time(fn, concrete(spec.train.args), steps)
        device, peak, peak_key = device_peak(precision)
        rows.append({"paper": paper, "experiment": e, "precision": precision, "params": spec.n_params,
                     "step_s": step_s, "flops_per_step": measured.flops, "compiled_memory_bytes": measured.memory,
                     "peak_memory_bytes": peak_memory(), "mfu": measured.flops / step_s / peak,
                     "peak_flops": peak, "peak_at": peak_key, "device": device, "steps_timed": steps})
        print(f"{paper:6s} {e:24s} {precision:5s} step {step_s * 1e3:9.2f} ms  FLOPs {measured.flops:10.3e}  "
              f"MFU {100 * rows[-1]['mfu']:5.1f}% (of {peak_key} peak)  memory {measured.memory / 2 ** 30:6.2f} GiB",
              flush=True)
    return rows


def bench_scan(lengths, batch: int, d: int, n: int, heads: int, repeats: int) -> list[dict]:
    """Forward + backward of the S6 scan (``auto``; the autodiff sequential scan as the standard one) and of causal
    attention with ``heads`` heads over the same (batch, L, d) activations."""
    import jax
    import jax.numpy as jnp
    from benchmarks.bench_scan import _autodiff_sequential, inputs
    from papers.mamba import selective_scan as ss

    def grad_of(f):
        return jax.jit(jax.grad(lambda *a: jnp.sum(f(*a)), argnums=(0, 1, 3, 4)))

    def attention(x):
        q = k = v = x.reshape(x.shape[0], x.shape[1], heads, d // heads)
        return jax.nn.dot_product_attention(q, k, v, is_causal=True)

    rows = []
    for length in lengths:
        args = inputs(batch, length, d, n)
        fused = median_time(grad_of(lambda *a: ss.selective_scan(*a, method="auto")), args, repeats)
        standard = median_time(grad_of(_autodiff_sequential), args, repeats)
        att = median_time(jax.jit(jax.grad(lambda x: jnp.sum(attention(x)))), (args[0],), repeats)
        rows.append({"length": length, "scan_s": fused, "standard_scan_s": standard, "attention_s": att,
                     "standard_over_scan": standard / fused, "attention_over_scan": att / fused})
        print(f"scan L={length:6d}: scan {fused * 1e3:8.2f} ms, standard scan {standard * 1e3:8.2f} ms "
              f"({standard / fused:5.1f}x; paper 20-40x), attention {att * 1e3:8.2f} ms "
              f"(attention / scan {att / fused:5.2f}; paper: > 1 beyond 2K)", flush=True)
    faster = [r["length"] for r in rows if r["attention_over_scan"] > 1]
    crossover = min(faster) if faster else None
    print(f"scan faster than attention from L = {crossover} (paper, {FIG8['device']}: beyond "
          f"{FIG8['attention_crossover']})")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--papers", nargs="+", default=list(PAPERS), choices=PAPERS)
    p.add_argument("--experiments", nargs="+", help="only these experiments, of whichever paper has them (default: "
                   "every trained one)")
    p.add_argument("--scale", default="full")
    p.add_argument("--steps", type=int, default=200, help="timed calls of each training step (after a warm-up)")
    p.add_argument("--scan-lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192, 16384])
    p.add_argument("--scan-batch", type=int, default=8)
    p.add_argument("--scan-d", type=int, default=1024)
    p.add_argument("--scan-n", type=int, default=16)
    p.add_argument("--scan-heads", type=int, default=16)
    p.add_argument("--out", type=Path, default=Path("results/benchmarks/gpu.json"))
    p.add_argument("--allow-cpu", action="store_true", help="run without a GPU (tests; the numbers mean little)")
    args = p.parse_args(argv)
    why = refuse_without_gpu(args.allow_cpu)
    if why:
        print(why)
        return 2
    out = {"papers": [], "scan": []}
    for paper in args.papers:
        out["papers"] += bench_paper(paper, args.scale, args.steps, args.experiments)
    if args.scan_lengths:
        out["scan"] = bench_scan(args.scan_lengths, args.scan_batch, args.scan_d, args.scan_n, args.scan_heads,
                                 max(3, args.steps // 20))
    out["figure8"] = FIG8
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=float))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
