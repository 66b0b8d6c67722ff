"""What message passing can and cannot distinguish (Xu et al. 2019, "How Powerful are Graph Neural Networks?").

- Multisets (Section 5, Figures 2-3): sum aggregation tells apart neighbourhoods that mean and max cannot.
  Figure 3: (a) {a, a} vs {a, a, a}: mean and max fail; (b) {a, b} vs {a, a, b}: max fails; (c) {a, b} vs
  {a, a, b, b}: mean and max fail.
- The 1-WL bound (Lemma 2, Theorem 3): a message-passing network is at most as discriminative as the 1-WL test. Two
  triangles and one hexagon (both 2-regular) get identical 1-WL colourings; so do all circular skip-link graphs
  CSL(41, s) (Murphy et al. 2019), 4-regular for every skip length s.
"""
from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from papers.gnn import graph_ops as ops

# Figure 3's pairs over two feature values a, b (one-hot), and the five distinct multisets they use.
FIGURE3_PAIRS = [("aa", "aaa"), ("ab", "aab"), ("ab", "aabb")]
MULTISETS = ["aa", "aaa", "ab", "aab", "aabb"]
CSL_SKIPS = (2, 3, 4, 5, 6, 9, 11, 12, 13, 16)


class GraphBatch(NamedTuple):
    """Many small graphs as one disjoint union. ``labels`` (one per graph) fixes the graph count statically."""
    x: jax.Array          # (N, F) node features
    senders: jax.Array    # (E,)
    receivers: jax.Array
    graph_id: jax.Array   # (N,)
    labels: jax.Array     # (G,)


def batch(graphs: list[tuple[np.ndarray, np.ndarray, np.ndarray]], labels) -> GraphBatch:
    """``graphs``: (features (n, F), senders, receivers) per graph."""
    xs, ss, rs, gid, off = [], [], [], [], 0
    for i, (x, s, r) in enumerate(graphs):
        xs.append(x)
        ss.append(np.asarray(s) + off)
        rs.append(np.asarray(r) + off)
        gid.append(np.full(len(x), i))
        off += len(x)
    cat = lambda a, dt: jnp.asarray(np.concatenate(a), dt)  # noqa: E731
    return GraphBatch(cat(xs, jnp.float32), cat(ss, jnp.int32), cat(rs, jnp.int32), cat(gid, jnp.int32),
                      jnp.asarray(labels, jnp.int32))


# --- graphs -----------------------------------------------------------------------------------------------------
def cycle_edges(nodes: list[int]) -> list[tuple[int, int]]:
    return [(nodes[i], nodes[(i + 1) % len(nodes)]) for i in range(len(nodes))]


def undirected(edges, n: int, perm: np.ndarray | None = None):
    e = np.array(edges, dtype=np.int64)
    if perm is not None:
        e = perm[e]
    s = np.concatenate([e[:, 0], e[:, 1]])
    r = np.concatenate([e[:, 1], e[:, 0]])
    return s, r


def two_triangles():
    return undirected(cycle_edges([0, 1, 2]) + cycle_edges([3, 4, 5]), 6)


def hexagon():
    return undirected(cycle_edges(list(range(6))), 6)


def csl_graph(skip: int, n: int = 41, perm: np.ndarray | None = None):
    """CSL(n, skip): a cycle 0..n-1 plus the skip links i -- i+skip (mod n). 4-regular for every skip used."""
    edges = cycle_edges(list(range(n))) + [(i, (i + skip) % n) for i in range(n)]
    return undirected(edges, n, perm)


def wl_distinguishes(g1, g2, n1: int, n2: int) -> bool:
    """1-WL run jointly (shared colour names) on two graphs: do their colour histograms differ?"""
    s = np.concatenate([g1[0], np.asarray(g2[0]) + n1])
    r = np.concatenate([g1[1], np.asarray(g2[1]) + n1])
    n = n1 + n2
    nbrs = [[] for _ in range(n)]
    for a, b in zip(s, r):
        nbrs[b].append(a)
    colours = [0] * n
    for _ in range(n):
        sig = [(colours[v], tuple(sorted(colours[u] for u in nbrs[v]))) for v in range(n)]
        palette = {c: i for i, c in enumerate(sorted(set(sig)))}
        new = [palette[c] for c in sig]
        stable = len(set(new)) == len(set(colours))
        colours = new
        if stable:
            break
    return Counter(colours[:n1]) != Counter(colours[n1:])


def random_walk_pe(senders, receivers, n: int, steps: int) -> np.ndarray:
    """Random-walk positional encoding (Dwivedi et al. 2022): p_i^k = [(D^-1 A)^k]_ii for k = 1..steps."""
    a = np.zeros((n, n))
    a[np.asarray(receivers), np.asarray(senders)] = 1.0
    rw = a / np.maximum(a.sum(1, keepdims=True), 1.0)
    out, m = [], np.eye(n)
    for _ in range(steps):
        m = m @ rw
        out.append(np.diag(m).copy())
    return np.stack(out, 1).astype(np.float32)


# --- GIN ----------------------------------------------------------------------------------------------------------
class MLP(nnx.Module):
    def __init__(self, dims: list[int], rngs: nnx.Rngs):
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])

    def __call__(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = jax.nn.relu(x)
        return x


class GIN(nnx.Module):
    """GIN-0 (Xu et al. eq. 4.1 with eps = 0): h' = MLP(h + AGG_{u in N(v)} h_u), AGG = sum (or mean / max for the
    comparison of Section 5); graph readout = the sum over nodes of every layer's h, concatenated (eq. 4.2), then a
    linear classifier. The paper normalises inside its MLPs with batch norm; a node-wise LayerNorm after each layer
    plays that role here (it acts on each node's vector alone, so it cannot add distinguishing power)."""

    def __init__(self, n_in: int, hidden: int, n_classes: int, n_layers: int, aggregator: str, rngs: nnx.Rngs):
        dims = [n_in] + [hidden] * n_layers
        self.mlps = nnx.List([MLP([a, hidden, b], rngs) for a, b in zip(dims[:-1], dims[1:])])
        self.norms = nnx.List([nnx.LayerNorm(hidden, rngs=rngs) for _ in range(n_layers)])
        self.head = nnx.Linear(sum(dims), n_classes, rngs=rngs)
        self.aggregator = aggregator

    def embed(self, g: GraphBatch, x=None):
        h = g.x if x is None else x
        n, n_graphs = h.shape[0], g.labels.shape[0]
        reads = [jax.ops.segment_sum(h, g.graph_id, num_segments=n_graphs)]
        for mlp, norm in zip(self.mlps, self.norms):
            h = norm(mlp(h + ops.aggregate(h, g.senders, g.receivers, n, self.aggregator)))
            reads.append(jax.ops.segment_sum(h, g.graph_id, num_segments=n_graphs))
        return jnp.concatenate(reads, -1)

    def __call__(self, g: GraphBatch, x=None):
        return self.head(self.embed(g, x))


class Neighbourhood(nnx.Module):
    """One aggregation over a node's neighbours, then an MLP: the node-level setting of GIN Figures 2-3.
    The input MLP f comes first, as in Lemma 5 (AGG over f(x_u))."""

    def __init__(self, n_in: int, hidden: int, n_classes: int, aggregator: str, rngs: nnx.Rngs):
        self.f = MLP([n_in, hidden, hidden], rngs)
        self.g = MLP([hidden, hidden, n_classes], rngs)
        self.aggregator = aggregator

    def embed(self, g: GraphBatch):
        n = g.x.shape[0]
        return ops.aggregate(self.f(g.x), g.senders, g.receivers, n, self.aggregator)

    def __call__(self, g: GraphBatch):
        return self.g(self.embed(g))


def star(multiset: str):
    """A centre node 0 whose neighbours carry the multiset's features (one-hot a, b); edges point to the centre."""
    x = np.zeros((len(multiset) + 1, 2), np.float32)
    for i, c in enumerate(multiset):
        x[i + 1, "ab".index(c)] = 1.0
    leaves = np.arange(1, len(multiset) + 1)
    return x, leaves, np.zeros_like(leaves)
