"""The cost of one GNN-paper experiment at a scale (repro/cost_plan.py): training and evaluation steps from abstract
shapes, through the trainers the runs use (node_train.NodeTrainer for GCN, GAT and the MLP; gin_tu's model and
objective for GIN Table 1).

    python -m repro.cost_plan papers/gnn --scale full

The data sets fix the shapes: the Planetoid and TU files are read (a few MB) where fetched. PubMed is not in the
offline mirror: without its files its shapes come from its published statistics (the reference's node, edge and
class counts) with every feature taken as non-zero, an upper bound, and the note says so.

Parameter counts: none of the three papers states one for these models. GCN (Kipf & Welling 2017) gives the layer
sizes only (16 hidden units); GAT (Velickovic et al. 2018) the heads and features (8 heads x 8 features, one output
head; PubMed 8 output heads), which fix our count but are not a count; GIN (Xu et al. 2019) the widths searched. So
no experiment carries a paper count; tests/test_cost_plan.py checks the counts those sizes imply instead.
"""
from __future__ import annotations

import functools

import jax
import numpy as np
import optax
from flax import nnx

from papers.gnn import gin_tu, graph_ops, planetoid, tu
from papers.gnn.node_train import NodeTrainer
from repro import data as rdata
from repro import fit
from repro.cost_plan import CostSpec, Step, abstract, count, objective_step

# PubMed's published statistics (reference/gnn.md: 88,648 directed edges; GCN Table 1: 19,717 nodes, 500 features,
# 3 classes), for its shapes when its files are not fetched
PUBMED = {"nodes": 19717, "features": 500, "classes": 3, "edges": 88648}
SCHEDULE_EPOCHS = 4     # GIN: the node and edge budgets from this many epochs of round 0's batches (see gin_spec)


@functools.lru_cache(maxsize=4)
def node_graph(name: str):
    """(abstract NodeGraph, features, classes, note) of a Planetoid set."""
    registry = planetoid.NAMES[name]
    if name == "pubmed" and rdata.missing_reason(registry):
        n, e, f = PUBMED["nodes"], PUBMED["edges"] + PUBMED["nodes"], PUBMED["features"]
        i32, f32 = (lambda k: jax.ShapeDtypeStruct((k,), "int32")), (lambda k: jax.ShapeDtypeStruct((k,), "float32"))
        g = graph_ops.NodeGraph(i32(n * f), i32(n * f), f32(n * f), i32(e), i32(e), f32(e), i32(n), f32(n), f32(n),
                                f32(n))
        return g, f, PUBMED["classes"], ("PubMed not fetched: shapes from its published statistics, every feature "
                                         "non-zero (an upper bound on the first layer)")
    d = planetoid.load(name)
    g = graph_ops.node_graph(d.features, d.labels, d.senders, d.receivers, d.train, d.val, d.test)
    return abstract(g), d.features.shape[1], d.n_classes, ""


def node_spec(cfg: dict) -> CostSpec:
    graph, n_features, n_classes, note = node_graph(cfg["data"]["name"])
    trainer = NodeTrainer(cfg, graph, n_features, n_classes)
    state = jax.eval_shape(lambda: trainer.init(0))
    t = cfg["train"]
    bound = (f"train.steps={t['steps']} epochs at most: the {t['stop']} stopping rule ends most runs sooner"
             if t["stop"] != "none" else "")
    return CostSpec(train=objective_step(trainer.objective, state, graph),
                    evaluate=Step(trainer._evaluate, (state.params, graph)), steps=t["steps"], evals=0,
                    n_params=count(state.params),
                    note="; ".join(filter(None, [bound, "its evaluation (validation and test accuracy) runs "
                                                 "inside every training step", note])))


@functools.lru_cache(maxsize=12)
def tu_data(name: str):
    ds = tu.load(name)
    return ds, gin_tu.pack(ds)


def gin_program(cfg: dict, p, n_classes: int, train_ids, test_ids, hidden: int, batch_size: int, dropout: float):
    """(training step, evaluation step, parameters) of one grid point: the folds side by side (vmap), as
    train_folds runs them; the node and edge budgets from the first SCHEDULE_EPOCHS epochs of round 0's schedule."""
    cv, m, t = cfg["cv"], cfg["model"], cfg["train"]
    folds, iters, epochs = len(train_ids), cv["iters_per_epoch"], cv["epochs"]
    n_sizes, e_sizes = p.sizes()
    sample = gin_tu.batch_schedule(train_ids, list(range(folds)), batch_size, iters, min(epochs, SCHEDULE_EPOCHS), 0)
    n_nodes, n_edges = (gin_tu.slots_for(s[sample].sum(-1).max()) for s in (n_sizes, e_sizes))
    model = nnx.eval_shape(lambda: gin_tu.GIN(p.x.shape[1], hidden, n_classes, layers=m["layers"],
                                              learn_eps=m["learn_eps"], dropout=dropout, rngs=nnx.Rngs(params=0)))
    graphdef, params, stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    tx = optax.adam(gin_tu.step_lr(t["lr"], iters, cv["lr_step"], cv["lr_gamma"]))
    objective = gin_tu.fold_objective(graphdef, tx, batch_size, iters, n_nodes, n_edges)
    state = jax.eval_shape(lambda q, s: fit.stack([objective.init(q, s)] * folds), params, stats)
    ap = abstract(p)
    data = (ap, jax.ShapeDtypeStruct((folds, epochs * iters, batch_size), "int32"))
    train = objective_step(objective, state, data, batched=True, data_axes=(None, 0), folds=folds)
    # the test: each fold's test graphs as one padded batch
    slots = max(len(ids) for ids in test_ids)
    tn, te = (gin_tu.slots_for(max(s[ids].sum() for ids in test_ids)) for s in (n_sizes, e_sizes))
    test = jax.eval_shape(jax.vmap(functools.partial(gin_tu.gather, n_nodes=tn, n_edges=te), in_axes=(None, 0, 0)),
                          ap, jax.ShapeDtypeStruct((folds, slots), "int32"), jax.ShapeDtypeStruct((folds,), "int32"))

    evaluate = Step(jax.vmap(functools.partial(gin_tu.count_right, graphdef)), (state.params, state.extra, test))
    return train, evaluate, count(params)


def gin_spec(cfg: dict) -> CostSpec:
    """GIN Table 1: a run is one cross-validation round (its ten folds in one program); every grid point of the
    search trains epochs x iters_per_epoch steps and tests after every epoch. Each (hidden, batch size) is compiled
    (the hidden 32 / batch 128 point shown); its dropout points share its shapes and are counted as the dropout > 0
    one."""
    ds, p = tu_data(cfg["data"]["name"])
    cv = cfg["cv"]
    fold = gin_tu.stratified_folds(ds.labels, cv["folds"], 0)
    train_ids = [np.flatnonzero(fold != f) for f in range(cv["folds"])]
    test_ids = [np.flatnonzero(fold == f) for f in range(cv["folds"])]
    points = gin_tu.grid(cfg)
    shapes = sorted({(h, b) for h, b, _ in points}, reverse=True)
    per_shape = {(h, b): sum(1 for h2, b2, _ in points if (h2, b2) == (h, b)) for h, b in shapes}
    steps = cv["epochs"] * cv["iters_per_epoch"]
    programs = []
    for h, b in shapes:
        rate = max(r for h2, b2, r in points if (h2, b2) == (h, b))
        programs.append((h, b, *gin_program(cfg, p, ds.n_classes, train_ids, test_ids, h, b, rate)))
    (h, b, train, evaluate, n), rest = programs[0], programs[1:]
    note = (f"a run = one 10-fold round (its folds are the seeds); {len(points)} grid point(s) of {steps} steps; "
            f"shown: hidden {h}, batch {b} (its dropout points); the time adds every other (hidden, batch) point's "
            f"lowered program; batch budgets from {SCHEDULE_EPOCHS} epochs of round 0's batches")
    return CostSpec(train=train, evaluate=evaluate, steps=steps * per_shape[(h, b)],
                    evals=cv["epochs"] * len(points), seeds_per_run=cv["folds"], n_params=n, note=note,
                    more=[(f"hidden {h2}, batch {b2}", t2, steps * per_shape[(h2, b2)]) for h2, b2, t2, _, _ in rest])


def spec(cfg: dict) -> CostSpec:
    kind = cfg["task"]["kind"]
    if kind == "planetoid":
        return node_spec(cfg)
    if kind == "tu":
        return gin_spec(cfg)
    if kind == "wl_pair":
        return CostSpec(not_costed=f"no training: {cfg['task']['draws']} random GIN initialisations per seed and "
                                   "the 1-WL test")
    if kind == "multisets":
        return CostSpec(not_costed=f"tiny: one aggregation over 5 star graphs, {cfg['train']['steps']} full-batch "
                                   "steps (seconds on a CPU)")
    if kind == "csl":
        return CostSpec(not_costed=f"tiny: GIN on 120 graphs of 41 nodes, {cfg['train']['steps']} full-batch steps "
                                   "(seconds on a CPU)")
    raise ValueError(f"no cost for task.kind {kind!r}")
