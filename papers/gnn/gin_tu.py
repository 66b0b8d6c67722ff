"""GIN on the TU graph-classification sets (Xu et al. 2019, "How Powerful are Graph Neural Networks?", Table 1) with
the paper's protocol (Section 7) as its released code runs it (github.com/weihua916/powerful-gnns: util.py,
main.py, models/graphcnn.py, models/mlp.py).

Protocol
- 10-fold stratified cross-validation: util.separate_data's StratifiedKFold(n_splits=10, shuffle=True,
  random_state=seed), written out in ``stratified_folds``.
- Each fold trains on the other nine for ``epochs`` epochs of ``iters_per_epoch`` random batches (main.py ``train``:
  ``np.random.permutation(len(train_graphs))[:batch_size]`` per iteration) and records its test accuracy after every
  epoch, the model in evaluation mode (main.py ``test``).
- Adam, lr 0.01 halved every 50 epochs (main.py: StepLR(step_size=50, gamma=0.5) stepped at the start of each epoch,
  so epoch e, counted from 1, trains at lr * 0.5^(e // 50)).
- The number reported (Section 7: "a single epoch with the best cross-validation accuracy averaged over the 10 folds
  was selected"; the searched hyper-parameters are chosen the same way): average the folds' test-accuracy curves,
  take the best (grid point, epoch), report the folds' mean and standard deviation there (``select``).

Model (Section 4.1 eq. 4.1 and Section 4.2; Section 7: "5 GNN layers (including the input layer) ... all MLPs have 2
layers. Batch normalization is applied on every hidden layer"; graphcnn.py ``GraphCNN``):
    h_v^(k) = ReLU(BN(MLP^(k)((1 + eps^(k)) h_v^(k-1) + sum_{u in N(v)} h_u^(k-1)))),  MLP = Linear, BN, ReLU, Linear
    score(G) = sum_{k=0..K} dropout(W^(k) sum_{v in G} h_v^(k))       (eq. 4.2 with READOUT = sum: one linear
                                                                      classifier per layer, scores summed)
GIN-0 fixes eps = 0 (its code puts self-loops in A); GIN-eps learns one eps per layer, starting at 0.

Speed: every array has one shape per data set and grid point, so one jitted program (repro/fit.py's chunk of an
epoch's updates, the folds a batch axis) and one test program run every epoch. The data set
lives on the device as flat arrays; a batch is gathered inside the program into node and edge budgets as large as
the largest batch the run's schedule draws (padding is masked out of batch norm and never reaches a graph's
readout); the folds are a batch axis (jax.vmap), so the one program trains all of them.
"""
from __future__ import annotations

import functools
import itertools
import math
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from papers.gnn import tu
from papers.gnn.models import dropout as drop
from repro import config as rconfig
from repro import fit, seeding
from repro import precision as mixed


# --- folds, batches, padded arrays --------------------------------------------------------------------------------
def stratified_folds(labels, n_splits: int, seed: int) -> np.ndarray:
    """The test fold of every graph, as scikit-learn's StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    assigns them (GIN util.separate_data): classes in order of first appearance; fold sizes per class dealt round
    robin over the sorted labels; each class's fold numbers shuffled by RandomState(seed)."""
    rng = np.random.RandomState(seed)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    y = np.argsort(np.argsort(first))[inverse]
    ordered = np.sort(y)
    share = np.stack([np.bincount(ordered[i::n_splits], minlength=len(first)) for i in range(n_splits)])
    fold = np.empty(len(y), dtype=np.int64)
    for k in range(len(first)):
        deal = np.repeat(np.arange(n_splits), share[:, k])
        rng.shuffle(deal)
        fold[y == k] = deal
    return fold


def batch_schedule(train_ids, fold_numbers, batch_size: int, iters: int, epochs: int, seed: int) -> np.ndarray:
    """(epochs, folds, iters, batch) graph ids: GIN's ``np.random.permutation(len(train))[:batch_size]`` per
    iteration, from a generator of (seed, fold, epoch) alone (the data of an epoch is a pure function of them)."""
    out = np.empty((epochs, len(train_ids), iters, batch_size), np.int32)
    for e in range(epochs):
        for i, (f, ids) in enumerate(zip(fold_numbers, train_ids)):
            rng = np.random.default_rng([seed, f, e])
            out[e, i] = ids[np.stack([rng.permutation(len(ids))[:batch_size] for _ in range(iters)])]
    return out


class Packed(NamedTuple):
    """A data set as flat arrays: graph g owns nodes node_start[g]:node_start[g + 1] and edges
    edge_start[g]:edge_start[g + 1]; senders and receivers are global node ids."""
    x: jax.Array            # (N, F) one-hot node features
    senders: jax.Array      # (E,)
    receivers: jax.Array
    node_start: jax.Array   # (G + 1,)
    edge_start: jax.Array
    labels: jax.Array       # (G,)

    def sizes(self) -> tuple[np.ndarray, np.ndarray]:
        return np.diff(np.asarray(self.node_start)), np.diff(np.asarray(self.edge_start))


def pack(ds: tu.TUDataset) -> Packed:
    """Each graph's edges sorted by receiver, so that every gathered batch's receivers are sorted (padding edges
    last): the segment sums may assume sorted indices (faster on CPU)."""
    feats = ds.features()
    ns = np.concatenate([[0], np.cumsum([len(f) for f in feats])])
    es = np.concatenate([[0], np.cumsum([len(g.senders) for g in ds.graphs])])
    order = [np.lexsort((g.senders, g.receivers)) for g in ds.graphs]
    s = np.concatenate([g.senders[o] + n for g, o, n in zip(ds.graphs, order, ns)])
    r = np.concatenate([g.receivers[o] + n for g, o, n in zip(ds.graphs, order, ns)])
    i32 = lambda a: jnp.asarray(a, jnp.int32)  # noqa: E731
    return Packed(jnp.asarray(np.concatenate(feats)), i32(s), i32(r), i32(ns), i32(es), i32(ds.labels))


class Batch(NamedTuple):
    """Graphs as one disjoint union padded to fixed node and edge counts."""
    x: jax.Array            # (n_nodes, F), zeros on padding
    senders: jax.Array      # (n_edges,) batch node ids; padding edges point at n_nodes (dropped by segment_sum)
    receivers: jax.Array
    node_graph: jax.Array   # (n_nodes,) the node's graph slot; padding: the number of slots (dropped by the readout)
    node_mask: jax.Array    # (n_nodes,) 1.0 on real nodes
    labels: jax.Array       # (slots,)
    graph_mask: jax.Array   # (slots,) True on real graphs


def gather(p: Packed, ids, count, n_nodes: int, n_edges: int) -> Batch:
    """Graphs ``ids[:count]`` (the rest of ``ids`` is padding) packed into ``n_nodes`` node and ``n_edges`` edge slots,
    inside the jitted program: each slot finds its graph by a search over the running totals of the graphs' sizes."""
    slots = ids.shape[0]
    real = jnp.arange(slots) < count
    nn_ = jnp.where(real, p.node_start[ids + 1] - p.node_start[ids], 0)
    ne = jnp.where(real, p.edge_start[ids + 1] - p.edge_start[ids], 0)
    n_end, e_end = jnp.cumsum(nn_), jnp.cumsum(ne)
    offset = n_end - nn_                                    # where each graph's nodes start in the batch
    node_slot, edge_slot = jnp.arange(n_nodes), jnp.arange(n_edges)
    g = jnp.searchsorted(n_end, node_slot, side="right")    # the graph of each node slot (slots: padding)
    gc = jnp.minimum(g, slots - 1)
    on = g < slots
    x = jnp.where(on[:, None], p.x[p.node_start[ids[gc]] + node_slot - offset[gc]], 0.0)
    ge = jnp.searchsorted(e_end, edge_slot, side="right")
    gec = jnp.minimum(ge, slots - 1)
    edge = p.edge_start[ids[gec]] + edge_slot - (e_end - ne)[gec]
    shift = offset[gec] - p.node_start[ids[gec]]            # global node id -> batch node id
    live = ge < slots
    senders = jnp.where(live, p.senders[edge] + shift, n_nodes)
    receivers = jnp.where(live, p.receivers[edge] + shift, n_nodes)
    return Batch(x, senders, receivers, jnp.where(on, g, slots), on.astype(jnp.float32), p.labels[ids], real)


def slots_for(total: int, quantum: int = 64) -> int:
    """``total`` nodes or edges rounded up to ``quantum`` (rounds whose largest batches differ a little share one
    compiled program)."""
    return int(math.ceil(max(1, total) / quantum) * quantum)


# --- the model ------------------------------------------------------------------------------------------------------
def torch_linear(n_in: int, n_out: int, rngs: nnx.Rngs) -> nnx.Linear:
    """nn.Linear initialised as PyTorch does (GIN's code): weights and biases U(-1/sqrt(n_in), 1/sqrt(n_in))."""
    bound = 1.0 / math.sqrt(n_in)
    init = lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)  # noqa: E731
    return nnx.Linear(n_in, n_out, kernel_init=init, bias_init=init, rngs=rngs)


class BatchNorm(nnx.Module):
    """torch.nn.BatchNorm1d over the real nodes of a padded batch: training normalises with the batch mean and biased
    variance and updates running averages (momentum 0.1, unbiased variance); evaluation uses the averages. Statistics,
    scale and bias in float32 under train.precision=bf16, the output in the input's precision."""
    FP32_PARAMS = ("scale", "bias")

    def __init__(self, dim: int):
        self.scale, self.bias = nnx.Param(jnp.ones(dim)), nnx.Param(jnp.zeros(dim))
        self.mean, self.var = nnx.BatchStat(jnp.zeros(dim)), nnx.BatchStat(jnp.ones(dim))

    def __call__(self, x, mask, train: bool):
        x, dtype = x.astype(jnp.float32), x.dtype
        if train:
            n = mask.sum()
            mean = (x * mask[:, None]).sum(0) / n
            var = (jnp.square(x - mean) * mask[:, None]).sum(0) / n
            self.mean.value = 0.9 * self.mean.value + 0.1 * mean
            self.var.value = 0.9 * self.var.value + 0.1 * var * n / jnp.maximum(n - 1, 1)
        else:
            mean, var = self.mean.value, self.var.value
        return ((x - mean) * jax.lax.rsqrt(var + 1e-5) * self.scale.value + self.bias.value).astype(dtype)


class GINLayer(nnx.Module):
    """h' = ReLU(BN(MLP((1 + eps) h + sum_{u in N(v)} h_u))), MLP = Linear, BN, ReLU, Linear (GIN eq. 4.1;
    graphcnn.py next_layer / next_layer_eps, mlp.py)."""

    def __init__(self, n_in: int, hidden: int, learn_eps: bool, rngs: nnx.Rngs):
        self.lin1, self.bn1 = torch_linear(n_in, hidden, rngs), BatchNorm(hidden)
        self.lin2, self.bn2 = torch_linear(hidden, hidden, rngs), BatchNorm(hidden)
        self.eps = nnx.Param(jnp.zeros(())) if learn_eps else None

    def __call__(self, h, b: Batch, train: bool):
        neighbours = jax.ops.segment_sum(h[b.senders], b.receivers, num_segments=h.shape[0], indices_are_sorted=True)
        eps = 0.0 if self.eps is None else self.eps.value
        z = self.lin2(jax.nn.relu(self.bn1(self.lin1((1.0 + eps) * h + neighbours), b.node_mask, train)))
        return jax.nn.relu(self.bn2(z, b.node_mask, train))


class GIN(nnx.Module):
    """GIN for graph classification (graphcnn.py GraphCNN, sum neighbour and graph pooling): ``layers`` counts the
    input layer, so layers - 1 GIN layers; each layer's sum-pooled representation, the input's included, has its own
    linear classifier, dropout on its scores, and the scores add up (eq. 4.2)."""

    def __init__(self, n_in: int, hidden: int, n_classes: int, *, layers: int = 5, learn_eps: bool = False,
                 dropout: float = 0.0, rngs: nnx.Rngs):
        dims = [n_in] + [hidden] * (layers - 1)
        self.layers = nnx.List([GINLayer(a, hidden, learn_eps, rngs) for a in dims[:-1]])
        self.heads = nnx.List([torch_linear(d, n_classes, rngs) for d in dims])
        self.dropout = dropout

    def readouts(self, b: Batch, train: bool = False) -> list[jax.Array]:
        """sum_{v in G} h_v^(k) for k = 0..K: (slots, width) each."""
        hs = [b.x]
        for layer in self.layers:
            hs.append(layer(hs[-1], b, train))
        return [jax.ops.segment_sum(h, b.node_graph, num_segments=b.labels.shape[0], indices_are_sorted=True)
                for h in hs]

    def __call__(self, b: Batch, train: bool = False, key=None):
        reads = self.readouts(b, train)
        keys = [None] * len(reads) if key is None else list(jax.random.split(key, len(reads)))
        return sum(drop(head(r), self.dropout, k) for head, r, k in zip(self.heads, reads, keys))


# --- training all folds side by side ------------------------------------------------------------------------------
def step_lr(lr: float, iters: int, step: int, gamma: float):
    """StepLR as main.py steps it: update t (from 0) is in epoch t // iters + 1, which trains at
    lr * gamma^((t // iters + 1) // step)."""
    return lambda t: lr * gamma ** ((t // iters + 1) // step)


def fold_objective(graphdef, tx, batch_size: int, iters: int, n_nodes: int, n_edges: int,
                   precision: str = "fp32", fp32_params: str = "") -> fit.Objective:
    """One fold's training as repro/fit.py runs it: cross-entropy of the GIN in training mode (batch statistics in the
    state's ``extra``); update t's batch is read from the fold's schedule in ``data`` = (Packed, (steps, batch) ids),
    its dropout key is split(fold_in(fold key, epoch), iters)[t % iters], a function of (seed, fold, epoch, t)."""
    def loss(q, batch, stats):
        batch, key = batch
        m = nnx.merge(graphdef, q, stats, copy=True)
        logits = m(batch, train=True, key=key)
        return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch.labels).mean(), {
            "stats": nnx.state(m, nnx.BatchStat)}

    def step_batch(fold_key, t, data):
        p, ids = data
        key = jax.random.split(jax.random.fold_in(fold_key, t // iters), iters)[t % iters]
        return gather(p, ids[t], batch_size, n_nodes, n_edges), key

    return fit.Objective(loss=loss, optimizer=tx, step_batch=step_batch,
                         after_update=lambda q, _stats, loss, aux, _b, _t: (q, aux["stats"], {"loss": loss}),
                         precision=precision, fp32_params=fp32_params)


def count_right(graphdef, params, stats, test_batch) -> jax.Array:
    """How many of a fold's test graphs the model in evaluation mode classifies right."""
    logits = nnx.merge(graphdef, params, stats)(test_batch, train=False)
    return ((jnp.argmax(logits, -1) == test_batch.labels) & test_batch.graph_mask).sum()


def train_folds(p: Packed, n_classes: int, train_ids, test_ids, *, hidden: int, batch_size: int, dropout: float,
                layers: int, learn_eps: bool, lr: float, epochs: int, iters: int, lr_step: int, lr_gamma: float,
                seed: int, fold_numbers=None, precision: str = "fp32") -> dict:
    """Train one model per fold side by side through repro/fit.py (the folds its seed axis; every fold from the
    same initialisation, as main.py seeds torch with 0 for every fold) and test it after every epoch. ``fold_numbers``
    (default 0, 1, ...) name the folds, whose batches and dropout depend on (seed, fold number, epoch) only, so a
    fold trained alone sees what it sees among the others. Returns {"accuracy": (folds, epochs) test accuracy in %,
    "loss": (folds, epochs) mean training loss, "compile_s", "train_s": the seconds of the epochs}."""
    folds = len(train_ids)
    fold_numbers = list(range(folds)) if fold_numbers is None else list(fold_numbers)
    n_sizes, e_sizes = p.sizes()
    schedule = batch_schedule(train_ids, fold_numbers, batch_size, iters, epochs, seed)
    n_nodes, n_edges = (slots_for(s[schedule].sum(-1).max()) for s in (n_sizes, e_sizes))
    # the test folds: one padded batch each, gathered once
    slots, counts = max(len(t) for t in test_ids), np.array([len(t) for t in test_ids])
    tn, te = (slots_for(max(s[t].sum() for t in test_ids)) for s in (n_sizes, e_sizes))
    test = jax.jit(jax.vmap(functools.partial(gather, n_nodes=tn, n_edges=te), in_axes=(None, 0, 0)))(
        p, jnp.asarray(np.stack([np.pad(t, (0, slots - len(t))) for t in test_ids]), jnp.int32),
        jnp.asarray(counts, jnp.int32))

    model = GIN(p.x.shape[1], hidden, n_classes, layers=layers, learn_eps=learn_eps, dropout=dropout,
                rngs=nnx.Rngs(params=seeding.key(seed, "init")))
    graphdef, params, stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    tx = optax.adam(step_lr(lr, iters, lr_step, lr_gamma))
    objective = fold_objective(graphdef, tx, batch_size, iters, n_nodes, n_edges, precision,
                               mixed.fp32_params(model))
    state = fit.stack([objective.init(params, stats)] * folds)            # every fold from the same initialisation

    right = jax.jit(jax.vmap(functools.partial(count_right, graphdef)))

    fold_keys = jax.vmap(lambda f: jax.random.fold_in(seeding.key(seed, "dropout"), f))(jnp.asarray(fold_numbers))
    data = (p, jnp.asarray(schedule.transpose(1, 0, 2, 3).reshape(folds, epochs * iters, batch_size)))
    t0 = time.perf_counter()
    right = right.lower(state.params, state.extra, test).compile()
    acc, loss_curve, train_s = [], [], [0.0]

    def epoch_end(_step, state, rows, seconds):
        """After each epoch (one chunk of ``iters`` updates): every fold's test count and mean training loss."""
        t = time.perf_counter()
        acc.append(right(state.params, state.extra, test))
        loss_curve.append(rows["loss"].mean(0))
        train_s[0] += seconds + time.perf_counter() - t

    fit.run(objective, state, steps=epochs * iters, chunk=iters, data_key=fold_keys, data=data,
                     batched=True, data_axes=(None, 0), on_chunk=epoch_end)
    compile_s = time.perf_counter() - t0 - train_s[0]                    # the chunk's and the test's
    acc = 100.0 * np.asarray(jnp.stack(acc, 1)) / counts[:, None]          # % of each test fold right
    loss_curve = np.asarray(jnp.stack(loss_curve, 1), np.float64)
    return {"accuracy": acc, "loss": loss_curve, "compile_s": compile_s, "train_s": train_s[0]}


def select(curves: dict) -> tuple:
    """GIN Section 7's choice: the (grid point, epoch) with the best test accuracy averaged over the folds (the first
    such point in grid order, then the earliest epoch). ``curves``: {point: (folds, epochs) accuracy}."""
    best = max(curves, key=lambda k: np.asarray(curves[k]).mean(0).max())
    return best, int(np.argmax(np.asarray(curves[best]).mean(0)))


# --- one cross-validation round, and a seed's share of it ---------------------------------------------------------
def grid(cfg: dict) -> list[tuple[int, int, float]]:
    """The (hidden, batch size, dropout) points searched; an empty list in cv.search: the experiment's one value."""
    s, m, t = cfg["cv"]["search"], cfg["model"], cfg["train"]
    return list(itertools.product(s["hidden"] or [m["hidden"]], s["batch_size"] or [t["batch_size"]],
                                  s["dropout"] or [m["dropout"]]))


def cv_round(cfg: dict, ds: tu.TUDataset, p: Packed, rnd: int, cache: Path | None = None) -> dict:
    """Every grid point's 10-fold curves for the split drawn with random_state ``rnd``, and the selected point and
    epoch. Each point's curves are kept in ``cache`` (named by the config hash), so a round is trained once."""
    cv, m, t = cfg["cv"], cfg["model"], cfg["train"]
    fold = stratified_folds(ds.labels, cv["folds"], rnd)
    train_ids = [np.flatnonzero(fold != f) for f in range(cv["folds"])]
    test_ids = [np.flatnonzero(fold == f) for f in range(cv["folds"])]
    out, wall = {}, 0.0
    for point in grid(cfg):
        hidden, bs, rate = point
        f = None if cache is None else cache / f"round{rnd}-{rconfig.config_hash(cfg)}-h{hidden}-b{bs}-d{rate:g}.npz"
        if f is not None and f.exists():
            with np.load(f) as z:
                out[point], wall = {k: z[k] for k in z.files}, wall + float(z["wall_s"])
            continue
        t0 = time.perf_counter()
        res = train_folds(p, ds.n_classes, train_ids, test_ids, hidden=hidden, batch_size=bs, dropout=rate,
                          layers=m["layers"], learn_eps=m["learn_eps"], lr=t["lr"], epochs=cv["epochs"],
                          iters=cv["iters_per_epoch"], lr_step=cv["lr_step"], lr_gamma=cv["lr_gamma"], seed=rnd,
                          precision=t.get("precision", "fp32"))
        res["wall_s"] = np.float64(time.perf_counter() - t0)
        out[point], wall = res, wall + float(res["wall_s"])
        if f is not None:
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_name(f".{f.name}.tmp.npz")
            np.savez(tmp, **res)
            tmp.replace(f)
    point, epoch = select({k: v["accuracy"] for k, v in out.items()})
    return {"curves": out, "point": point, "epoch": epoch, "wall_s": wall}


def fold_outcome(rnd_result: dict, rnd: int, fold: int):
    """One seed's run: its fold's test accuracy at the round's selected point and epoch, beside the round's mean and
    std over folds there (GIN Table 1's numbers for this round)."""
    point, e = rnd_result["point"], rnd_result["epoch"]
    acc, loss = rnd_result["curves"][point]["accuracy"], rnd_result["curves"][point]["loss"]
    mean_curve = acc.mean(0)
    metrics = {"accuracy": float(acc[fold, e]), "cv_accuracy": float(mean_curve[e]), "cv_std": float(acc[:, e].std()),
               "selected_epoch": e + 1, "epochs": acc.shape[1], "hidden": point[0], "batch_size": point[1],
               "dropout": point[2], "round": rnd, "fold": fold, "train_loss": float(loss[fold, e]),
               "grid_points": len(rnd_result["curves"]), "round_wall_time_s": rnd_result["wall_s"],
               # the round's time shared out over its folds (its first seed trains them all, the others read them),
               # so that the next plan's estimate (repro/plan_time.py) counts a seed's share, not 0
               "wall_time_s": rnd_result["wall_s"] / acc.shape[0]}
    history = [{"step": i + 1, "loss": float(loss[fold, i]), "test_accuracy": float(acc[fold, i]),
                "cv_accuracy": float(mean_curve[i])} for i in range(acc.shape[1])]
    return metrics, history


class CVTask:
    """The runs of one GIN Table 1 experiment. Seed k is fold k % folds of cross-validation round k // folds (the
    split drawn with random_state k // folds; round 0 is GIN's default --seed 0): the verdict's values are per-fold
    accuracies at the round's selected epoch, so the mean over one round's ten seeds is the paper's number. A round's
    folds train together once; its curves are kept beside the runs (``cv/``) for the round's other seeds."""

    def __init__(self, cfg: dict):
        self.cfg, self.ds = cfg, tu.load(cfg["data"]["name"])
        self.packed, self.rounds = pack(self.ds), {}

    def run(self, seed, run_dir, *, tracker=None, progress=False, stop_after=None):
        rnd, fold = divmod(seed, self.cfg["cv"]["folds"])
        if rnd not in self.rounds:
            self.rounds[rnd] = cv_round(self.cfg, self.ds, self.packed, rnd, Path(run_dir).parent / "cv")
        return fold_outcome(self.rounds[rnd], rnd, fold)

