"""Time the S6 scan forms and a full training step; print tokens per second and ratios, taken in one run.

    python benchmarks/bench_scan.py                 # B=8, D=128, N=16, L in 256, 1024, 4096
    python benchmarks/bench_scan.py --write-choice  # also record the fastest fwd+bwd form for this backend
                                                    # in papers/mamba/scan_choice.json (read by method="auto")

Baseline: the sequential scan differentiated by JAX autodiff (``sequential-autodiff``), against which the
hand-written backward of ``sequential`` is compared.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from papers.mamba import selective_scan as ss  # noqa: E402


def _autodiff_sequential(u, delta, A, B, C, D):
    """The forward scan with no custom VJP: what JAX autodiff makes of it (the baseline)."""
    h0 = jnp.zeros((u.shape[0], u.shape[2], A.shape[1]), jnp.float32)

    def step(h, xs):
        u_t, dt_t, B_t, C_t = xs
        h = jnp.exp(dt_t[..., None] * A) * h + (dt_t * u_t)[..., None] * B_t[:, None, :]
        return h, jnp.einsum("bdn,bn->bd", h, C_t)

    _, y = jax.lax.scan(step, h0, tuple(jnp.swapaxes(x, 0, 1) for x in (u, delta, B, C)))
    return jnp.swapaxes(y, 0, 1) + u * D


FORMS = {"sequential": ss.scan_sequential, "associative": ss.scan_associative, "chunked": ss.scan_chunked,
         "sequential-autodiff": _autodiff_sequential}


def inputs(b, length, d, n):
    k = jax.random.split(jax.random.key(0), 6)
    return (jax.random.normal(k[0], (b, length, d)), jax.nn.softplus(jax.random.normal(k[1], (b, length, d)) - 3),
            -jnp.exp(jax.random.normal(k[2], (d, n))), jax.random.normal(k[3], (b, length, n)),
            jax.random.normal(k[4], (b, length, n)), jnp.ones((d,)))


def timeit(fn, args, repeats):
    jax.block_until_ready(fn(*args))  # compile
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t)
    return best


def bench_scans(batch, d, n, lengths, repeats):
    rows = []
    for length in lengths:
        args = inputs(batch, length, d, n)
        for name, form in FORMS.items():
            fwd = jax.jit(form)
            grad = jax.jit(jax.grad(lambda *a, f=form: jnp.sum(f(*a)), argnums=tuple(range(6))))
            t_f, t_b = timeit(fwd, args, repeats), timeit(grad, args, repeats)
            rows.append({"L": length, "form": name, "fwd_ms": 1e3 * t_f, "fwd_bwd_ms": 1e3 * t_b,
                         "fwd_bwd_tok_per_s": batch * length / t_b})
            print(f"L={length:5d} {name:20s} fwd {1e3 * t_f:9.2f} ms   fwd+bwd {1e3 * t_b:9.2f} ms   "
                  f"{batch * length / t_b:12,.0f} tok/s (fwd+bwd)", flush=True)
    return rows


def bench_train_step(scale, experiment, repeats):
    from papers.mamba.experiment import PAPER_DIR, build_task
    from repro import config as rc
    from repro import fit, train
    cfg = rc.resolve(rc.load_paper_config(PAPER_DIR / "config.yaml"), experiment, scale,
                     ["train.log_every=10", "train.steps=10", "train.eval_every=10", "train.checkpoint_every=10"])
    task = build_task(cfg, 0)
    obj, _, params, _ = train.objective(task)
    chunk = fit.chunk_fn(obj, 10)
    key = jax.random.key(0)
    t = timeit(lambda s: chunk(s, 0, key, None)[1]["loss"], (obj.init(params),), repeats) / 10
    print(f"training step, {experiment} at {scale} scale (batch {cfg['train']['batch_size']}, "
          f"length {cfg['task']['seq_len'] + cfg['task']['n_tokens']}): {1e3 * t:.1f} ms/step, "
          f"{task.items_per_step / t:,.0f} tok/s", flush=True)
    return {"experiment": experiment, "scale": scale, "ms_per_step": 1e3 * t, "tok_per_s": task.items_per_step / t}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--d", type=int, default=128)
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--write-choice", action="store_true")
    p.add_argument("--out", type=Path, default=Path("results/benchmarks/scan.json"))
    args = p.parse_args()
    backend = jax.default_backend()
    print(f"backend {backend}, {os.cpu_count()} cpus, {platform.processor() or platform.machine()}, "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}, jax {jax.__version__}")
    rows = bench_scans(args.batch, args.d, args.n, args.lengths, args.repeats)
    total = {f: sum(r["fwd_bwd_ms"] for r in rows if r["form"] == f) for f in FORMS}
    candidates = {f: t for f, t in total.items() if f in ss.METHODS}
    fastest = min(candidates, key=candidates.get)
    print("\nfwd+bwd summed over lengths: " + ", ".join(f"{f} {t:.0f} ms" for f, t in total.items()))
    for f, t in total.items():
        if f != "sequential":
            print(f"  sequential is {t / total['sequential']:.2f}x faster than {f}")
    print(f"fastest form on {backend}: {fastest}; method='auto' uses {ss.measured_choice(backend)}")
    step = [bench_train_step("cpu", e, args.repeats) for e in ("s6-mamba", "s4-mamba")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"backend": backend, "scans": rows, "train_steps": step,
                                    "fastest": fastest}, indent=2))
    if args.write_choice:
        table = json.loads(ss.CHOICE_FILE.read_text()) if ss.CHOICE_FILE.exists() else {}
        table[backend] = {"method": fastest, "measured": {f: round(t, 1) for f, t in candidates.items()},
                          "shapes": f"B={args.batch} D={args.d} N={args.n} L={args.lengths}",
                          "machine": f"{os.cpu_count()} cpus {platform.machine()}"}
        ss.CHOICE_FILE.write_text(json.dumps(table, indent=2) + "\n")
        print(f"wrote {ss.CHOICE_FILE}")
    if ss.measured_choice(backend) != fastest:
        print(f"WARNING: method='auto' uses {ss.measured_choice(backend)} but {fastest} measured fastest; "
              "rerun with --write-choice")


if __name__ == "__main__":
    main()
