"""GIN Table 1's protocol (papers/gnn/gin_tu.py) on tiny graphs: the stratified split, the epoch-selection rule, the
GIN layer against its dense formula, the readout, padding, folds side by side against one fold alone, and one smoke
run through the experiment entry point on MUTAG."""
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from papers.gnn import experiment, gin_tu, tu

MIRROR = Path(__file__).resolve().parents[4] / "shared" / "data"


def toy(n_graphs=30, seed=0) -> tu.TUDataset:
    """Random small graphs (3-7 nodes, 3 tags), two classes in proportion 2:1."""
    rng = np.random.default_rng(seed)
    graphs = []
    for i in range(n_graphs):
        n = int(rng.integers(3, 8))
        pairs = {(a, b) for a, b in rng.integers(0, n, (n + 2, 2)) if a < b} | {(0, 1)}
        e = np.array(sorted(pairs), np.int32)
        graphs.append(tu.Graph(int(i % 3 == 0), rng.integers(0, 3, n), np.concatenate([e[:, 0], e[:, 1]]),
                               np.concatenate([e[:, 1], e[:, 0]])))
    return tu.TUDataset("TOY", graphs, 2, 3)


def test_folds_are_stratified_and_partition_the_graphs():
    labels = np.r_[np.zeros(23, int), np.ones(11, int), np.full(6, 2)][np.random.default_rng(1).permutation(40)]
    fold = gin_tu.stratified_folds(labels, 10, 0)
    assert sorted(set(fold.tolist())) == list(range(10))          # every graph in exactly one test fold
    per_class = np.array([[np.sum((fold == f) & (labels == c)) for c in range(3)] for f in range(10)])
    assert (per_class.max(0) - per_class.min(0) <= 1).all()       # each class spread evenly over the folds
    assert (per_class.sum(0) == np.bincount(labels)).all()
    assert not (gin_tu.stratified_folds(labels, 10, 1) == fold).all()   # another random_state, another split
    sklearn = pytest.importorskip("sklearn.model_selection")
    skf = sklearn.StratifiedKFold(n_splits=10, shuffle=True, random_state=0)
    for f, (_, test) in enumerate(skf.split(np.zeros(len(labels)), labels)):   # GIN util.separate_data
        assert (np.flatnonzero(fold == f) == test).all()


def test_the_epoch_is_chosen_on_the_fold_averaged_curve():
    # fold 0 peaks at epoch 0, fold 1 at epoch 3; the average peaks at epoch 2
    curves = np.array([[90, 70, 80, 60], [50, 60, 75, 85.0]])      # averages 70, 65, 77.5, 72.5
    assert gin_tu.select({"a": curves}) == ("a", 2)
    # over a grid: the point whose averaged curve reaches the highest value; ties go to the first point, first epoch
    assert gin_tu.select({"a": curves, "b": curves + [[0, 0, 0, 6]]}) == ("b", 3)
    assert gin_tu.select({"a": curves, "b": curves.copy()}) == ("a", 2)
    flat = np.full((2, 5), 50.0)
    assert gin_tu.select({"a": flat}) == ("a", 0)
    metrics, history = gin_tu.fold_outcome({"curves": {(16, 32, 0.0): {"accuracy": curves, "loss": curves / 100}},
                                            "point": (16, 32, 0.0), "epoch": 2, "wall_s": 1.0}, rnd=0, fold=1)
    assert (metrics["accuracy"], metrics["cv_accuracy"], metrics["cv_std"]) == (75.0, 77.5, 2.5)
    assert metrics["selected_epoch"] == 3 and len(history) == 4 and history[2]["test_accuracy"] == 75.0
    assert metrics["wall_time_s"] == 0.5                    # the round's second shared out over its two folds


def test_step_lr_halves_as_main_py_steps_its_scheduler():
    lr = gin_tu.step_lr(0.01, iters=50, step=50, gamma=0.5)
    # epochs 1-49 at 0.01, 50-99 at 0.005 (main.py calls scheduler.step() before each epoch's training)
    assert lr(0) == 0.01 and lr(49 * 50 - 1) == 0.01 and lr(49 * 50) == 0.005 and lr(99 * 50) == 0.0025


def test_gather_packs_graphs_with_padding():
    ds = toy(6)
    p = gin_tu.pack(ds)
    ids = jnp.asarray([4, 1, 0], jnp.int32)                       # the third is padding (count 2)
    b = gin_tu.gather(p, ids, 2, 64, 128)
    n4, n1 = ds.graphs[4].n_nodes, ds.graphs[1].n_nodes
    feats = ds.features()
    assert np.allclose(b.x[:n4 + n1], np.concatenate([feats[4], feats[1]])) and not np.asarray(b.x[n4 + n1:]).any()
    assert b.node_graph.tolist() == [0] * n4 + [1] * n1 + [3] * (64 - n4 - n1)    # 3 slots: 3 = no graph
    assert b.node_mask.sum() == n4 + n1 and b.graph_mask.tolist() == [True, True, False]
    real = int((np.asarray(b.receivers) < 64).sum())
    assert real == len(ds.graphs[4].senders) + len(ds.graphs[1].senders)
    got = set(zip(np.asarray(b.senders[:real]).tolist(), np.asarray(b.receivers[:real]).tolist()))
    want = {(s, r) for s, r in zip(ds.graphs[4].senders, ds.graphs[4].receivers)}
    want |= {(s + n4, r + n4) for s, r in zip(ds.graphs[1].senders, ds.graphs[1].receivers)}
    assert got == want and (np.diff(np.asarray(b.receivers)) >= 0).all()    # sorted: segment sums may assume it


def dense(b: gin_tu.Batch):
    n = b.x.shape[0]
    a = np.zeros((n + 1, n + 1))
    np.add.at(a, (np.asarray(b.receivers), np.asarray(b.senders)), 1.0)
    return a[:n, :n]


def test_gin_layer_is_the_dense_formula_and_padding_changes_nothing():
    ds = toy(8)
    p = gin_tu.pack(ds)
    ids = jnp.arange(5, dtype=jnp.int32)
    b = gin_tu.gather(p, ids, 5, 64, 160)
    layer = gin_tu.GINLayer(3, 8, learn_eps=True, rngs=nnx.Rngs(params=jax.random.key(0)))
    layer.eps.value = jnp.asarray(0.3)
    h = np.asarray(b.x)
    m = np.asarray(b.node_mask, bool)

    def bn(x):
        mu, var = x[m].mean(0), x[m].var(0)
        return (x - mu) / np.sqrt(var + 1e-5)

    lin = lambda layer_, x: x @ np.asarray(layer_.kernel.value) + np.asarray(layer_.bias.value)  # noqa: E731
    z = 1.3 * h + dense(b) @ h                                     # (1 + eps) h_v + sum_{u in N(v)} h_u (eq. 4.1)
    hidden = np.maximum(bn(lin(layer.lin1, z)), 0)
    want = np.maximum(bn(lin(layer.lin2, hidden)), 0)
    call = nnx.jit(lambda layer_, b_: layer_(b_.x, b_, train=True))   # one compilation per shape, not per operation
    got = np.asarray(call(layer, b))
    assert np.allclose(got[m], want[m], atol=1e-4)
    # running averages as torch's BatchNorm1d keeps them: momentum 0.1, unbiased variance
    a1 = lin(layer.lin1, z)[m]
    assert np.allclose(layer.bn1.mean.value, 0.1 * a1.mean(0), atol=1e-5)
    assert np.allclose(layer.bn1.var.value, 0.9 + 0.1 * a1.var(0, ddof=1), atol=1e-4)
    # the same graphs in larger padded arrays: the same outputs on the real nodes
    wide = gin_tu.gather(p, jnp.concatenate([ids, jnp.zeros(3, jnp.int32)]), 5, 128, 320)
    again = gin_tu.GINLayer(3, 8, learn_eps=True, rngs=nnx.Rngs(params=jax.random.key(0)))
    again.eps.value = jnp.asarray(0.3)
    assert np.allclose(np.asarray(call(again, wide))[:m.sum()], got[m], atol=1e-5)


def test_readout_sums_every_layers_graph_sums_through_its_own_classifier():
    ds = toy(8)
    p = gin_tu.pack(ds)
    b = gin_tu.gather(p, jnp.arange(4, dtype=jnp.int32), 4, 64, 160)
    model = gin_tu.GIN(3, 8, 2, layers=5, dropout=0.5, rngs=nnx.Rngs(params=jax.random.key(1)))
    reads = model.readouts(b)
    assert len(reads) == 5 and len(model.layers) == 4                 # 5 layers counting the input one
    counts = np.stack([np.bincount(g.tags, minlength=3) for g in ds.graphs[:4]])
    assert np.allclose(reads[0], counts)                              # sum pooling of the one-hot input
    want = sum(np.asarray(head(r)) for head, r in zip(model.heads, reads))
    assert np.allclose(model(b), want, atol=1e-5)                     # no dropout in evaluation
    assert not np.allclose(model(b, key=jax.random.key(2)), want)     # dropout on the scores when given a key


def test_folds_side_by_side_equal_one_fold_alone():
    ds = toy(30)
    p = gin_tu.pack(ds)
    fold = gin_tu.stratified_folds(ds.labels, 3, 0)
    train = [np.flatnonzero(fold != f) for f in range(3)]
    test = [np.flatnonzero(fold == f) for f in range(3)]
    kw = dict(hidden=8, batch_size=6, dropout=0.5, layers=2, learn_eps=True, lr=0.01, epochs=3, iters=4,
              lr_step=2, lr_gamma=0.5, seed=0)
    together = gin_tu.train_folds(p, 2, train, test, **kw)
    alone = gin_tu.train_folds(p, 2, train[1:2], test[1:2], fold_numbers=[1], **kw)
    assert together["accuracy"].shape == (3, 3)
    assert np.allclose(together["loss"][1], alone["loss"][0], rtol=1e-4)
    assert (together["accuracy"][1] == alone["accuracy"][0]).all()
    assert len({tuple(r) for r in together["loss"].round(4)}) == 3   # the folds differ from each other


@pytest.mark.integration
@pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")
def test_smoke_run_on_mutag_through_the_entry_point(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(MIRROR))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    monkeypatch.setenv("REPRO_TRACKING", "off")
    monkeypatch.setenv("REPRO_JAX_CACHE", "off")                     # no process-wide cache left behind in tmp_path
    assert experiment.main(["--experiment", "gin0-mutag", "--scale", "smoke", "--seeds", "0,3", "--no-track"]) == 0
    runs = tmp_path / "gnn/runs/gin0-mutag/smoke"
    m0, m3 = (json.loads((runs / f"seed{s}/metrics.json").read_text()) for s in (0, 3))
    assert (m0["round"], m0["fold"], m3["fold"]) == (0, 0, 3) and m0["epochs"] == 2
    assert m0["cv_accuracy"] == m3["cv_accuracy"] and m0["selected_epoch"] == m3["selected_epoch"]
    assert m0["wall_time_s"] == m3["wall_time_s"] > 0          # each seed's share of the round, cached or not
    cached = list((runs / "cv").glob("round0-*.npz"))
    assert len(cached) == 1                                           # one round trained, both seeds read it
    with np.load(cached[0]) as z:
        acc = z["accuracy"]
    assert acc.shape == (10, 2) and m3["accuracy"] == pytest.approx(acc[3, m3["selected_epoch"] - 1])
    assert m0["cv_accuracy"] == pytest.approx(acc[:, m0["selected_epoch"] - 1].mean())
    assert (runs / "seed0/history.csv").read_text().startswith("step,cv_accuracy,loss,test_accuracy")
