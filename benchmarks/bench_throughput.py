"""Mamba against attention as the sequence grows (Mamba Section 3.3, Figure 8), on this machine, taken in one run:

    .venv/bin/python benchmarks/bench_throughput.py [--repeats 5] [--out benchmarks/results/throughput-cpu-2core.txt]

The models are Table 2's (the induction-heads experiments, papers/mamba/config.yaml): Mamba with 2 layers, D=64,
the S6 layer; attention with 2 layers, D=128, 8 heads, learned positions. Two measurements, each a ratio of
attention's time to Mamba's at the same length:

1. Whole sequence (Figure 8 left: the scan against attention): one forward pass over a batch of 1 at each length,
   Mamba through its parallel scan (the form papers/mamba/scan_choice.json picks), attention with its L x L scores.
2. One new token with the past kept (Figure 8 right, inference): Mamba's recurrent step (papers/mamba/recurrent.py:
   a state whose size does not depend on the length) against attention's step with a key/value cache holding L
   positions (one query against L cached keys and values per layer: the standard cached decoder, written here and
   checked against the parallel forward before any timing); 64 tokens per timed call, in one scan.

Lengths are visited in interleaved rounds and each time is the median over rounds; the exponent b of time ~ L^b is
the least-squares slope in log-log (b = 1 linear, 2 quadratic; for the one-token step b = 0 is constant).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from papers.mamba import recurrent  # noqa: E402
from papers.mamba.model import SequenceModel  # noqa: E402
from repro.nn.transformer import TransformerLM  # noqa: E402

VOCAB = 16
FORWARD_LENGTHS = [512, 1024, 2048, 4096, 8192]
STEP_LENGTHS = [1024, 4096, 16384, 65536, 262144]   # not 2^20: a 2 GiB cache, seconds a token on a busy trial run
DECODE = 64            # tokens generated per timed call (one scan), so Python's dispatch does not dominate


def mamba(rngs_seed=0):
    from flax import nnx
    return SequenceModel({"kind": "mamba", "layer": "s6", "d_model": 64, "layers": 2, "expand": 2, "d_conv": 4,
                          "d_state": 16, "vocab_size": VOCAB, "scan_method": "auto"}, rngs=nnx.Rngs(rngs_seed))


def attention(context: int, rngs_seed=0):
    from flax import nnx
    return TransformerLM(VOCAB, 128, 2, 8, context, rngs=nnx.Rngs(rngs_seed), positions="learned")


def cached_step(model: TransformerLM, cache, token, t):
    """Logits for ``token`` (batch,) at position t, given keys/values of positions < t in ``cache`` (one (K, V) per
    layer, each (batch, heads, L, d_head)); returns the cache with position t written."""
    x = model.embed(token) + model.pos[...][t]
    new = []
    for block, (K, V) in zip(model.blocks, cache):
        a = block.attn
        b, d = x.shape
        h = a.n_heads
        q, k, v = jnp.split(a.qkv(block.ln1(x)).reshape(b, 3, h, d // h), 3, axis=1)
        K = jax.lax.dynamic_update_slice(K, k.transpose(0, 2, 1, 3), (0, 0, t, 0))
        V = jax.lax.dynamic_update_slice(V, v.transpose(0, 2, 1, 3), (0, 0, t, 0))
        scores = jnp.einsum("bhd,bhld->bhl", q[:, 0], K) / jnp.sqrt(jnp.float32(d // h))
        scores = jnp.where(jnp.arange(K.shape[2]) <= t, scores, -jnp.inf)
        out = jnp.einsum("bhl,bhld->bhd", jax.nn.softmax(scores, axis=-1), V).reshape(b, d)
        x = x + a.out(out)
        x = x + block.ffn(block.ln2(x))
        new.append((K, V))
    return new, model.embed.attend(model.ln_f(x))


def mamba_decode(model, state, tokens):
    """``tokens`` (steps, batch) through Mamba's recurrence in one scan (no Python between tokens)."""
    return jax.lax.scan(lambda s, tok: recurrent.step(model, s, tok), state, tokens)


def attention_decode(model, cache, tokens, start):
    """``tokens`` (steps, batch) written at positions start, start + 1, ... of the cache, in one scan. Every step
    reads the whole cache buffer (L positions, the later ones masked), as a fixed-size cache does."""
    positions = start + jnp.arange(tokens.shape[0])
    return jax.lax.scan(lambda c, xs: cached_step(model, c, xs[0], xs[1]), cache, (tokens, positions))


def empty_cache(length: int, batch: int = 1):
    shape = (batch, 8, length, 16)
    return [(jnp.zeros(shape), jnp.zeros(shape)) for _ in range(2)]


def check_cached_step():
    """The cached decoder gives the parallel forward's logits at every position (a 24-token sequence)."""
    model = attention(32)
    tokens = jax.random.randint(jax.random.key(1), (2, 24), 0, VOCAB)
    full = model(tokens)
    cache, step = empty_cache(32, 2), jax.jit(cached_step)
    for t in range(tokens.shape[1]):
        cache, logits = step(model, cache, tokens[:, t], t)
        np.testing.assert_allclose(logits, full[:, t], rtol=2e-4, atol=2e-4)


def median_times(fns: dict, repeats: int) -> dict:
    for fn in fns.values():
        jax.block_until_ready(fn())                    # compile every shape before timing
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def exponents(lengths, med) -> str:
    """The least-squares slope b of log(time) on log(L), per model."""
    b = {k: float(np.polyfit(np.log(lengths), np.log([med[(k, n)] for n in lengths]), 1)[0])
         for k in ("mamba", "attention")}
    return f"exponent b (time ~ L^b): Mamba {b['mamba']:.2f}, attention {b['attention']:.2f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, help="also write the table to this file")
    args = p.parse_args(argv)
    check_cached_step()
    lines = [f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} "
             f"({jax.default_backend()}); median of {args.repeats} interleaved rounds"]

    m, a = mamba(), attention(max(FORWARD_LENGTHS))
    fwd = jax.jit(lambda model, x: model(x))
    fns = {}
    for n in FORWARD_LENGTHS:
        x = jnp.zeros((1, n), jnp.int32)
        fns[("mamba", n)] = lambda x=x: fwd(m, x)
        fns[("attention", n)] = lambda x=x: fwd(a, x)
    med = median_times(fns, args.repeats)
    lines += ["", "1. whole sequence, batch 1 (forward pass): ms", f"{'L':>8s} {'Mamba':>9s} {'attention':>10s} "
              f"{'attention/Mamba':>16s}"]
    for n in FORWARD_LENGTHS:
        lines.append(f"{n:8d} {1e3 * med[('mamba', n)]:9.2f} {1e3 * med[('attention', n)]:10.2f} "
                     f"{med[('attention', n)] / med[('mamba', n)]:15.2f}x")
    lines.append(exponents(FORWARD_LENGTHS, med))
    print("\n".join(lines), flush=True)
    shown = len(lines)

    a_long = attention(max(STEP_LENGTHS))
    m_dec, a_dec = jax.jit(mamba_decode), jax.jit(attention_decode)
    tokens = jnp.zeros((DECODE, 1), jnp.int32)
    fns = {}
    for n in STEP_LENGTHS:
        state, cache = recurrent.init_state(m, 1), empty_cache(n)
        fns[("mamba", n)] = lambda s=state: m_dec(m, s, tokens)
        fns[("attention", n)] = lambda c=cache, n=n: a_dec(a_long, c, tokens, n - DECODE)
    med = {k: v / DECODE for k, v in median_times(fns, args.repeats).items()}
    lines += ["", f"2. one new token at position L (Mamba: its recurrent state; attention: a key/value cache of L "
              f"positions), {DECODE} tokens per call: us per token",
              f"{'L':>8s} {'Mamba':>9s} {'attention':>10s} {'attention/Mamba':>16s}"]
    for n in STEP_LENGTHS:
        lines.append(f"{n:8d} {1e6 * med[('mamba', n)]:9.1f} {1e6 * med[('attention', n)]:10.1f} "
                     f"{med[('attention', n)] / med[('mamba', n)]:15.2f}x")
    lines.append(exponents(STEP_LENGTHS, med))
    text = "\n".join(lines)
    print("\n".join(lines[shown:]))
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
