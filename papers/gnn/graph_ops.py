"""Message passing by segment sums over edge lists, and the graph arrays every jitted function takes as arguments.

Graphs are passed to jitted functions as arguments (never closed over: constant-folding a large closure stalls
compilation). The node count is static through the shape of ``labels``.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class NodeGraph(NamedTuple):
    """One graph for full-batch node classification. Edges include one self-loop per node (A + I) and are sorted
    by receiver, the sparse features by row, so every segment reduction may assume sorted indices (faster on CPU)."""
    x_rows: jax.Array     # sparse features, COO: (nnz,) row, column, value
    x_cols: jax.Array
    x_vals: jax.Array
    senders: jax.Array    # (E + N,) with self-loops
    receivers: jax.Array
    gcn_norm: jax.Array   # (E + N,) 1 / sqrt(d_i d_j) with d = degree + 1 (GCN eq. 2, the renormalisation trick)
    labels: jax.Array     # (N,) int32, -1 where unknown
    train: jax.Array      # (N,) float32 masks
    val: jax.Array
    test: jax.Array

    @property
    def n_nodes(self) -> int:
        return self.labels.shape[0]


def add_self_loops(senders: np.ndarray, receivers: np.ndarray, n: int):
    loops = np.arange(n, dtype=senders.dtype)
    return np.concatenate([senders, loops]), np.concatenate([receivers, loops])


def sym_norm(senders: np.ndarray, receivers: np.ndarray, n: int) -> np.ndarray:
    """D^-1/2 (A + I) D^-1/2 as per-edge weights, for edges that already include the self-loops."""
    deg = np.bincount(receivers, minlength=n).astype(np.float64)
    return (1.0 / np.sqrt(deg[senders] * deg[receivers])).astype(np.float32)


def node_graph(features, labels, senders, receivers, train, val, test) -> NodeGraph:
    """Build the jit-ready arrays from numpy/scipy inputs (features: scipy sparse, row-normalised)."""
    n = labels.shape[0]
    coo = features.tocsr().tocoo()                       # row-major: rows sorted
    s, r = add_self_loops(np.asarray(senders), np.asarray(receivers), n)
    order = np.lexsort((s, r))
    s, r = s[order], r[order]
    f32 = lambda m: jnp.asarray(m, jnp.float32)  # noqa: E731
    return NodeGraph(jnp.asarray(coo.row, jnp.int32), jnp.asarray(coo.col, jnp.int32), f32(coo.data),
                     jnp.asarray(s, jnp.int32), jnp.asarray(r, jnp.int32), jnp.asarray(sym_norm(s, r, n)),
                     jnp.asarray(labels, jnp.int32), f32(train), f32(val), f32(test))


def sparse_dense(rows, cols, vals, w, n_rows: int, sorted_rows: bool = True):
    """(sparse X) @ W for X in COO form: sum over non-zeros of vals * W[col], into their rows."""
    return jax.ops.segment_sum(vals[:, None] * w[cols], rows, num_segments=n_rows, indices_are_sorted=sorted_rows)


def propagate(h, senders, receivers, weights, n_nodes: int, sorted_receivers: bool = True):
    """sum_j w_ij h_j over the edges j -> i."""
    return jax.ops.segment_sum(weights[:, None] * h[senders], receivers, num_segments=n_nodes,
                               indices_are_sorted=sorted_receivers)


def segment_softmax(logits, segments, n_segments: int, sorted_segments: bool = True):
    """Softmax of per-edge logits (E, ...) over the edges that share a segment (their receiver); computed in float32,
    returned in the logits' precision (train.precision=bf16 keeps softmax statistics in float32)."""
    kw = {"num_segments": n_segments, "indices_are_sorted": sorted_segments}
    x = logits.astype(jnp.float32)
    m = jax.ops.segment_max(x, segments, **kw)
    e = jnp.exp(x - jax.lax.stop_gradient(m)[segments])
    return (e / jax.ops.segment_sum(e, segments, **kw)[segments]).astype(logits.dtype)


def aggregate(h, senders, receivers, n_nodes: int, how: str):
    """sum, mean or max of the neighbours' h (GIN Section 5 compares these three)."""
    if how == "sum":
        return jax.ops.segment_sum(h[senders], receivers, num_segments=n_nodes)
    if how == "mean":
        tot = jax.ops.segment_sum(h[senders], receivers, num_segments=n_nodes)
        cnt = jax.ops.segment_sum(jnp.ones_like(receivers, h.dtype), receivers, num_segments=n_nodes)
        return tot / jnp.maximum(cnt, 1.0)[:, None]
    if how == "max":
        out = jax.ops.segment_max(h[senders], receivers, num_segments=n_nodes)
        return jnp.where(jnp.isfinite(out), out, 0.0)
    raise ValueError(f"unknown aggregator {how!r}; valid: sum, mean, max")
