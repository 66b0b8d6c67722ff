"""Message passing, GCN and GAT against dense reference formulas on tiny graphs; training determinism and resume."""
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from flax import nnx

from papers.gnn import graph_ops as ops
from papers.gnn import models
from papers.gnn.node_train import NodeTrainer, gcn_rule
from repro.checkpoint import Checkpointer

# a 5-node graph: a path 0-1-2-3 plus an isolated node 4
SEND = np.array([0, 1, 1, 2, 2, 3])
RECV = np.array([1, 0, 2, 1, 3, 2])
N = 5


def tiny_graph(n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    x = sp.csr_matrix(rng.random((N, n_features)) * (rng.random((N, n_features)) < 0.5))
    labels = np.array([0, 1, 0, 1, 0])
    masks = [np.array(m, bool) for m in ([1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 1])]
    return ops.node_graph(x, labels, SEND, RECV, *masks), x.toarray()


def dense_a_hat():
    a = np.zeros((N, N))
    a[RECV, SEND] = 1
    a += np.eye(N)
    d = a.sum(1)
    return a / np.sqrt(np.outer(d, d))


def test_gcn_normalisation_equals_dense_renormalisation_trick():
    g, _ = tiny_graph()
    h = np.arange(N * 3, dtype=np.float32).reshape(N, 3)
    got = ops.propagate(jnp.asarray(h), g.senders, g.receivers, g.gcn_norm, N)
    assert np.allclose(got, dense_a_hat() @ h, atol=1e-5)
    assert np.isclose(float(g.gcn_norm[-1]), 1.0)            # the isolated node keeps itself, weight 1


def test_sparse_dense_matmul():
    g, x = tiny_graph()
    w = np.random.default_rng(1).normal(size=(x.shape[1], 4)).astype(np.float32)
    assert np.allclose(ops.sparse_dense(g.x_rows, g.x_cols, g.x_vals, jnp.asarray(w), N), x @ w, atol=1e-5)


def test_gcn_forward_is_eq9_without_biases():
    g, x = tiny_graph()
    model = models.GCN(x.shape[1], 4, 2, rngs=nnx.Rngs(params=0))
    w0, w1 = (np.asarray(w[...]) for w in model.weights)
    a = dense_a_hat()
    expected = a @ np.maximum(a @ x @ w0, 0) @ w1
    assert np.allclose(model(g), expected, atol=1e-5)
    assert len(jax.tree.leaves(nnx.state(model, nnx.Param))) == 2   # no biases


def test_mlp_ignores_the_graph():
    g, x = tiny_graph()
    model = models.GCN(x.shape[1], 4, 2, propagate=False, rngs=nnx.Rngs(params=0))
    w0, w1 = (np.asarray(w[...]) for w in model.weights)
    assert np.allclose(model(g), np.maximum(x @ w0, 0) @ w1, atol=1e-5)


def test_gat_attention_equals_dense_masked_softmax():
    g, x = tiny_graph()
    model = models.GAT(x.shape[1], 2, hidden=3, heads=2, out_heads=1, rngs=nnx.Rngs(params=0))
    l1 = model.layer1
    w, a_dst, a_src = (np.asarray(p[...]) for p in (l1.w, l1.a_dst, l1.a_src))
    adj = np.eye(N, dtype=bool)
    adj[RECV, SEND] = True
    heads = []
    for h in range(2):
        z = x @ w[:, h]
        logits = (z @ a_dst[h])[:, None] + (z @ a_src[h])[None, :]
        logits = np.where(logits > 0, logits, 0.2 * logits)
        logits = np.where(adj, logits, -np.inf)
        att = np.exp(logits - logits.max(1, keepdims=True))
        att /= att.sum(1, keepdims=True)
        heads.append(att @ z)
    expected = np.stack(heads, 1)
    got = l1(g, None, None, sparse_input=True)
    assert np.allclose(got, expected, atol=1e-5)


def test_segment_softmax_sums_to_one_per_receiver():
    logits = jnp.asarray(np.random.default_rng(0).normal(size=(6, 2)), jnp.float32)
    p = ops.segment_softmax(logits, jnp.asarray(RECV), N, sorted_segments=False)
    sums = jax.ops.segment_sum(p, jnp.asarray(RECV), num_segments=N)
    assert np.allclose(sums[:4], 1.0, atol=1e-6)


def test_dropout_touches_only_nonzero_features_and_keeps_the_mean():
    vals = jnp.ones(100_000)
    out = models.dropout(vals, 0.5, jax.random.key(0))
    assert set(np.unique(np.asarray(out)).tolist()) == {0.0, 2.0}
    assert abs(float(out.mean()) - 1.0) < 0.02
    assert models.dropout(vals, 0.5, None) is vals
    odd = models.keep_mask(jax.random.key(1), 0.4, (301, 7))      # an odd count: the last 16-bit half is unused
    assert odd.shape == (301, 7) and abs(float(odd.mean()) - 0.4) < 0.03
    big = models.keep_mask(jax.random.key(2), 0.4, (200_000,))
    assert abs(float(big.mean()) - 0.4) < 0.005


def config(stop="gcn", steps=40):
    return {"model": {"kind": "gcn", "hidden": 4, "layers": 2, "residual": False, "dropout": 0.5,
                      "dropout_on": "all", "heads": 2, "out_heads": 1},
            "train": {"lr": 0.01, "weight_decay": 5e-4, "weight_decay_on": "first", "stop": stop, "window": 3,
                      "patience": 5, "steps": steps, "log_every": 10, "checkpoint_every": 10}}


def same_results(a: dict, b: dict) -> bool:
    """Equal metrics (timings aside) and bit-equal final parameters."""
    drop = ("wall_time_s", "compile_time_s", "final_params")
    params_equal = all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a["final_params"]),
                                                             jax.tree.leaves(b["final_params"])))
    return params_equal and {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items()
                                                                                if k not in drop}


@pytest.mark.integration
@pytest.mark.parametrize("kind,stop", [("gcn", "gcn"), ("gat", "gat"), ("mlp", "none")])
def test_training_is_deterministic(kind, stop):
    g, x = tiny_graph()
    cfg = config(stop)
    cfg["model"]["kind"] = kind
    cfg["train"]["weight_decay_on"] = "all" if kind == "gat" else "first"
    a, _ = NodeTrainer(cfg, g, x.shape[1], 2).run(3)
    b, _ = NodeTrainer(cfg, g, x.shape[1], 2).run(3)
    assert same_results(a, b)
    assert a["epochs"] <= 40


@pytest.mark.integration
def test_gcn_rule_stops_when_val_loss_exceeds_the_window_mean():
    g, x = tiny_graph()
    m, hist = NodeTrainer(config("gcn", steps=400), g, x.shape[1], 2).run(0)
    losses = [h["val_loss_l2"] for h in hist]
    t = m["epochs"] - 1
    if m["stopped_early"]:
        assert t > 3 and losses[t] > np.mean(losses[t - 3:t])
    for u in range(4, t):                        # and it did not stop earlier
        assert not losses[u] > np.mean(losses[u - 3:u])


def authors_stop_epoch(cost_val_sequence, epochs=200, early_stopping=10):
    """tkipf/gcn's gcn/train.py loop, restated (its validation cost is model.loss: cross-entropy + L2)."""
    cost_val = []
    for epoch in range(epochs):
        cost_val.append(cost_val_sequence[epoch])
        if epoch > early_stopping and cost_val[-1] > np.mean(cost_val[-(early_stopping + 1):-1]):
            return epoch
    return epochs - 1


@pytest.mark.parametrize("shape", ["falling", "noisy", "rising-early", "u-shaped"])
def test_gcn_rule_stops_at_the_epoch_the_authors_loop_stops(shape):
    rng = np.random.default_rng(["falling", "noisy", "rising-early", "u-shaped"].index(shape))
    t = np.arange(200, dtype=np.float64)
    losses = {"falling": 2.0 * np.exp(-t / 50) + 0.5, "noisy": 1.0 + 0.05 * rng.standard_normal(200),
              "rising-early": 1.0 + 0.01 * t + 0.001 * rng.standard_normal(200),
              "u-shaped": (t / 100 - 0.8) ** 2 + 0.002 * rng.standard_normal(200)}[shape].astype(np.float32)

    def body(hist, x):
        epoch, loss = x
        stop, hist = gcn_rule(epoch, loss, hist, 10)
        return hist, stop

    _, stops = jax.lax.scan(body, jnp.zeros(10, jnp.float32), (jnp.arange(200), jnp.asarray(losses)))
    ours = int(np.argmax(np.asarray(stops))) if np.asarray(stops).any() else 199
    assert ours == authors_stop_epoch(losses.tolist())
    if shape == "rising-early":
        assert ours == 11                   # the first epoch the test may fire: epoch > 10 (0-based)


@pytest.mark.integration
def test_killed_run_resumes_to_the_same_numbers(tmp_path):
    g, x = tiny_graph()
    cfg = config("gat", steps=60)
    cfg["train"]["weight_decay_on"] = "all"
    cfg["model"]["kind"] = "gat"
    whole, hist_whole = NodeTrainer(cfg, g, x.shape[1], 2).run(1)
    ck = Checkpointer(tmp_path / "ck")
    assert NodeTrainer(cfg, g, x.shape[1], 2).run(1, ck, stop_after=20)[0] is None
    ck.close()
    ck = Checkpointer(tmp_path / "ck")
    resumed, hist = NodeTrainer(cfg, g, x.shape[1], 2).run(1, ck)
    ck.close()
    assert same_results(resumed, whole)
    assert hist == hist_whole


@pytest.mark.integration
@pytest.mark.parametrize("kind,stop", [("gcn", "gcn"), ("gat", "gat")])
def test_seeds_side_by_side_equal_each_seed_alone(kind, stop):
    """Seeds as a batch axis (NodeTrainer.run_many): every seed's stop, selected epoch, accuracies and curve equal
    those of the same seed trained alone, up to floating-point reassociation."""
    g, x = tiny_graph()
    cfg = config(stop, steps=120)
    cfg["model"]["kind"] = kind
    cfg["train"]["weight_decay_on"] = "all" if kind == "gat" else "first"
    trainer = NodeTrainer(cfg, g, x.shape[1], 2)
    together = trainer.run_many([0, 1, 2])
    for seed, (m, hist) in zip([0, 1, 2], together):
        alone, hist_alone = trainer.run(seed)
        assert (m["epochs"], m["selected_epoch"], m["stopped_early"]) == (
            alone["epochs"], alone["selected_epoch"], alone["stopped_early"])
        for key in ("test_accuracy", "val_accuracy", "train_accuracy"):
            assert m[key] == pytest.approx(alone[key], abs=1e-4)
        assert [h["epoch"] for h in hist] == [h["epoch"] for h in hist_alone]
        np.testing.assert_allclose([h["val_loss"] for h in hist], [h["val_loss"] for h in hist_alone], rtol=1e-5)
        for a, b in zip(jax.tree.leaves(m["final_params"]), jax.tree.leaves(alone["final_params"])):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len({m["epochs"] for m, _ in together}) > 1 or stop == "gcn"   # seeds stop at their own epochs


@pytest.mark.integration
def test_a_killed_group_resumes_to_the_numbers_of_an_uninterrupted_one(tmp_path):
    """Each seed of a group is checkpointed in its own directory; a group stopped part-way resumes from the latest
    step every seed has (also when a kill fell between two seeds' saves) and ends bit-identical to a group never
    stopped."""
    g, x = tiny_graph()
    cfg = config("gat", steps=60)
    cfg["train"].update(weight_decay_on="all", log_every=10, checkpoint_every=10, keep_checkpoints=3, patience=100)
    cfg["model"]["kind"] = "gat"
    seeds = [0, 1, 2]
    trainer = NodeTrainer(cfg, g, x.shape[1], 2)
    whole = trainer.run_many(seeds)

    def ckpts(where):
        return [Checkpointer(tmp_path / where / f"seed{s}", keep=3) for s in seeds]

    for where, misaligned in (("a", False), ("b", True)):
        first = ckpts(where)
        assert trainer.run_many(seeds, first, stop_after=30) is None
        assert [c.steps() for c in first] == [[10, 20, 30]] * 3
        for c in first:
            c.close()
        if misaligned:                       # killed after seed 0 saved step 30 and before the others did
            for s in (1, 2):
                shutil.rmtree(tmp_path / where / f"seed{s}" / "30")
        again = ckpts(where)
        resumed = trainer.run_many(seeds, again)
        for c in again:
            c.close()
        for (m, hist), (m_whole, hist_whole) in zip(resumed, whole):
            assert same_results(m, m_whole) and hist == hist_whole
