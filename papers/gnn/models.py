"""GCN (Kipf & Welling 2017), GAT (Velickovic et al. 2018) and the MLP baseline, as the authors built them.

Every model takes the first layer's input as a sparse COO feature matrix and applies dropout to its non-zero entries
only (dropout on the zeros of a sparse matrix changes nothing, so this equals dense dropout in distribution, at a
fraction of the cost). Dropout keys are explicit arguments: ``key=None`` means evaluation (no dropout).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from papers.gnn import graph_ops as ops
from papers.gnn.graph_ops import NodeGraph

glorot = nnx.initializers.glorot_uniform()


def keep_mask(key, p_keep: float, shape) -> jax.Array:
    """Bernoulli(p_keep) mask from 16 random bits per entry (two per 32-bit draw): half the random-number work of
    ``jax.random.bernoulli``, the main cost of a GAT epoch on CPU. p_keep is rounded to a multiple of 2^-16
    (0.4 -> 0.399994)."""
    n = math.prod(shape)
    bits = jax.random.bits(key, ((n + 1) // 2,), jnp.uint32)
    halves = jnp.stack([bits & 0xFFFF, bits >> 16], -1).reshape(-1)[:n]
    return (halves < jnp.uint32(round(p_keep * 65536))).reshape(shape)


def dropout(x, rate: float, key):
    if key is None or rate == 0.0:
        return x
    return jnp.where(keep_mask(key, 1.0 - rate, x.shape), x / (1.0 - rate), 0.0)


class GCN(nnx.Module):
    """GCN eq. 9 stacked ``n_layers`` deep: H' = act(A_hat dropout(H) W), no biases, Glorot-uniform weights.

    ``propagate=False`` drops A_hat: the MLP baseline of GCN Table 3. ``residual`` adds H to hidden layers of equal
    width (GCN Appendix B: H' = act(A_hat H W) + H). ``dropout_on="ends"`` drops out only the first and the last
    layer's input, as in the depth experiments of Appendix B.
    """

    def __init__(self, n_features: int, n_hidden: int, n_classes: int, *, n_layers: int = 2, dropout: float = 0.5,
                 propagate: bool = True, residual: bool = False, dropout_on: str = "all", rngs: nnx.Rngs):
        if dropout_on not in ("all", "ends"):
            raise ValueError(f"unknown model.dropout_on {dropout_on!r}; valid: all, ends")
        dims = [n_features] + [n_hidden] * (n_layers - 1) + [n_classes]
        self.weights = nnx.List([nnx.Param(glorot(rngs.params(), (a, b))) for a, b in zip(dims[:-1], dims[1:])])
        self.rate, self.propagate, self.residual, self.dropout_on = dropout, propagate, residual, dropout_on

    def first_layer_params(self):
        return [self.weights[0][...]]

    def __call__(self, g: NodeGraph, key=None):
        n = g.n_nodes
        keys = [None] * len(self.weights) if key is None else list(jax.random.split(key, len(self.weights)))
        h = None
        for i, w in enumerate(self.weights):
            if i == 0:
                vals = dropout(g.x_vals, self.rate, keys[0])
                z = ops.sparse_dense(g.x_rows, g.x_cols, vals, w[...], n)
            else:
                inner = self.dropout_on == "ends" and i < len(self.weights) - 1
                z = (h if inner else dropout(h, self.rate, keys[i])) @ w[...]
            if self.propagate:
                z = ops.propagate(z, g.senders, g.receivers, g.gcn_norm, n)
            last = i == len(self.weights) - 1
            if last:
                return z
            z = jax.nn.relu(z)
            h = z + h if (self.residual and h is not None and h.shape == z.shape) else z


class AttentionHeads(nnx.Module):
    """``n_heads`` GAT attention heads (GAT eqs. 1-4) over the edges incl. self-loops.

    alpha_ij = softmax_j LeakyReLU(a_1 . W h_i + a_2 . W h_j); out_i = sum_j alpha_ij W h_j + b. As in the authors'
    code: dropout on the layer's input, on the attention coefficients and on the projected features W h, and a
    bias per head. (Their two 1x1 convolutions producing a_1 . Wh and a_2 . Wh also carry biases; those shift every
    logit of a softmax row equally and cancel, so they are left out.)
    """

    def __init__(self, n_in: int, n_out: int, n_heads: int, *, rate: float, rngs: nnx.Rngs):
        init_w = lambda: glorot(rngs.params(), (n_in, n_out))  # noqa: E731 (each head is its own Glorot conv)
        self.w = nnx.Param(jnp.stack([init_w() for _ in range(n_heads)], 1))                 # (in, H, out)
        self.a_dst = nnx.Param(jnp.stack([glorot(rngs.params(), (n_out, 1))[:, 0] for _ in range(n_heads)]))
        self.a_src = nnx.Param(jnp.stack([glorot(rngs.params(), (n_out, 1))[:, 0] for _ in range(n_heads)]))
        self.bias = nnx.Param(jnp.zeros((n_heads, n_out)))
        self.rate = rate

    def l2_variables(self):
        return [self.w[...], self.a_dst[...], self.a_src[...], self.bias[...]]

    def __call__(self, g: NodeGraph, h, key=None, sparse_input: bool = False):
        n, (din, nh, dout) = g.n_nodes, self.w.shape
        k_in, k_coef, k_fts = (None, None, None) if key is None else jax.random.split(key, 3)
        w = self.w[...].reshape(din, nh * dout)
        if sparse_input:
            z = ops.sparse_dense(g.x_rows, g.x_cols, dropout(g.x_vals, self.rate, k_in), w, n)
        else:
            z = dropout(h, self.rate, k_in) @ w
        z = z.reshape(n, nh, dout)
        f_dst = jnp.einsum("nhd,hd->nh", z, self.a_dst[...])
        f_src = jnp.einsum("nhd,hd->nh", z, self.a_src[...])
        logits = jax.nn.leaky_relu(f_dst[g.receivers] + f_src[g.senders], 0.2)          # (E, H)
        coef = dropout(ops.segment_softmax(logits, g.receivers, n), self.rate, k_coef)
        z = dropout(z, self.rate, k_fts)
        out = jax.ops.segment_sum(coef[:, :, None] * z[g.senders], g.receivers, num_segments=n, indices_are_sorted=True)
        return out + self.bias[...]                                                          # (N, H, out)


class GAT(nnx.Module):
    """Two GAT layers: ``heads`` x ``hidden`` ELU heads concatenated, then ``out_heads`` averaged output heads."""

    def __init__(self, n_features: int, n_classes: int, *, hidden: int = 8, heads: int = 8, out_heads: int = 1,
                 dropout: float = 0.6, rngs: nnx.Rngs):
        self.layer1 = AttentionHeads(n_features, hidden, heads, rate=dropout, rngs=rngs)
        self.layer2 = AttentionHeads(hidden * heads, n_classes, out_heads, rate=dropout, rngs=rngs)

    def l2_variables(self):
        return self.layer1.l2_variables() + self.layer2.l2_variables()

    def __call__(self, g: NodeGraph, key=None):
        k1, k2 = (None, None) if key is None else jax.random.split(key)
        h = jax.nn.elu(self.layer1(g, None, k1, sparse_input=True)).reshape(g.n_nodes, -1)
        return self.layer2(g, h, k2).mean(1)


def build(cfg: dict, n_features: int, n_classes: int, rngs: nnx.Rngs) -> nnx.Module:
    m = cfg["model"]
    if m["kind"] in ("gcn", "mlp"):
        return GCN(n_features, m["hidden"], n_classes, n_layers=m["layers"], dropout=m["dropout"],
                   propagate=m["kind"] == "gcn", residual=m["residual"], dropout_on=m["dropout_on"], rngs=rngs)
    if m["kind"] == "gat":
        return GAT(n_features, n_classes, hidden=m["hidden"], heads=m["heads"], out_heads=m["out_heads"],
                   dropout=m["dropout"], rngs=rngs)
    raise ValueError(f"unknown model.kind {m['kind']!r}; valid: gcn, mlp, gat")


def decayed(model: nnx.Module, scope: str):
    """The weights the L2 term covers: GCN/MLP the first layer only ("first"); GAT every variable ("all"). The GAT
    code meant to spare biases (``v.name not in ['bias', ...]``), but TF names look like ``.../bias:0``, so the
    filter never matches and every variable, biases included, is decayed: we do the same."""
    if scope == "first":
        return model.first_layer_params()
    if scope == "all":
        return model.l2_variables() if hasattr(model, "l2_variables") else [w[...] for w in model.weights]
    raise ValueError(f"unknown train.weight_decay_on {scope!r}; valid: first, all")
