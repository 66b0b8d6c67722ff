"""Can seeds side by side speed up message passing on a CPU? GCN's propagation (A_hat H, GCN eq. 9) and GAT's
aggregation (sum_j alpha_ij W h_j, GAT eq. 4) on Cora's graph, forward and backward, for S seeds laid out three ways,
taken in one run:

- one after another: the one-seed program called S times (what the GNN workflow does);
- vmapped: one program, the seeds a vmapped leading axis (what ``NodeTrainer.run_many`` compiles): JAX turns each
  gather and scatter into one with an S-wide strided window;
- as columns: one program on (N, S*F) rows, so each gathered and scattered row is contiguous (the layout a
  hand-batched implementation would use).

A ratio above 1 is what that layout saves over one after another. Issue 21 item 4 asks 20x PyG for GCN and 8x for GAT
over 20 seeds; this says whether batching the seeds could supply the missing factor.

    .venv/bin/python benchmarks/bench_message_passing.py [--seeds 20] [--repeats 20] [--data-root data]
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


def graph(root):
    """Cora's edges with self-loops, sorted by receiver, and GCN's normalisation (papers/gnn/graph_ops.py)."""
    from papers.gnn import graph_ops, planetoid
    d = planetoid.load("cora", root)
    g = graph_ops.node_graph(d.features, d.labels, d.senders, d.receivers, d.train, d.val, d.test)
    return g.senders, g.receivers, g.gcn_norm, g.n_nodes


def timed(fn, arg, repeats: int) -> float:
    import jax
    jax.block_until_ready(fn(arg))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(arg))
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def layouts(loss_one, shape, seeds: int, repeats: int):
    """ms for S seeds one after another, vmapped, and as columns, of grad(loss_one) on inputs of ``shape``."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    x = jnp.asarray(np.random.default_rng(0).random((seeds, *shape)), jnp.float32)
    one = jax.jit(jax.grad(loss_one))
    many = jax.jit(jax.vmap(jax.grad(loss_one)))

    def loss_cols(xs):   # (S, N, ...) -> (N, S * ...) rows, one program over all seeds, back to (S, N, ...)
        n = xs.shape[1]
        cols = jnp.moveaxis(xs, 0, 1).reshape(n, -1)
        return loss_one(cols, width=seeds)

    cols = jax.jit(jax.grad(loss_cols))
    np.testing.assert_allclose(np.asarray(many(x)), np.asarray(cols(x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(many(x))[0], np.asarray(one(x[0])), rtol=1e-5, atol=1e-6)
    return (timed(lambda xs: [one(xs[i]) for i in range(seeds)], x, repeats), timed(many, x, repeats),
            timed(cols, x, repeats))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--data-root", type=Path, default=None, help="where planetoid/ lives (default: data/)")
    args = p.parse_args(argv)
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    import jax
    import jax.numpy as jnp

    from papers.gnn import graph_ops as ops
    senders, receivers, norm, n = graph(args.data_root)
    heads, dim = 8, 8                                  # GAT layer 1 (GAT Section 3.3: 8 heads of 8 features)
    coef = jnp.asarray(jax.random.uniform(jax.random.key(1), (senders.shape[0], heads)))

    def gcn(h, width=1):     # GCN: tanh(A_hat h), summed (tanh so that the backward pass is not constant)
        return jnp.sum(jnp.tanh(ops.propagate(h, senders, receivers, norm, n)))

    def gat(z, width=1):     # GAT eq. 4's aggregation over (N, heads * dim) rows, per seed's own heads
        e = z[senders].reshape(-1, width, heads, dim) * coef[:, None, :, None]
        out = jax.ops.segment_sum(e.reshape(e.shape[0], -1), receivers, num_segments=n, indices_are_sorted=True)
        return jnp.sum(jnp.tanh(out))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; jax {jax.__version__}; "
          f"XLA_FLAGS={os.environ['XLA_FLAGS']!r}; Cora ({n} nodes, {senders.shape[0]} edges incl. self-loops); "
          f"{args.seeds} seeds; forward + backward, median of {args.repeats}")
    print(f"{'operation':40s} {'one after another ms':>22s} {'vmapped ms':>12s} {'columns ms':>12s} "
          f"{'vmapped':>9s} {'columns':>9s}")
    for name, fn, shape in [("GCN propagation, 16 features", gcn, (n, 16)),
                            ("GAT aggregation, 8 heads x 8", gat, (n, heads * dim))]:
        seq, vm, col = layouts(fn, shape, args.seeds, args.repeats)
        print(f"{name:40s} {seq:22.2f} {vm:12.2f} {col:12.2f} {seq / vm:8.2f}x {seq / col:8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
