"""GIN's expressivity facts on constructed inputs: aggregators on Figure 3's multisets, 1-WL, CSL."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from papers.gnn import expressivity as ex
from papers.gnn import expressivity_runs as runs
from papers.gnn import graph_ops as ops


def aggregate_star(multiset, how):
    x, s, r = ex.star(multiset)
    return np.asarray(ops.aggregate(jnp.asarray(x), jnp.asarray(s), jnp.asarray(r), len(x), how))[0]


def test_aggregators_on_figure3_pairs():
    separated = {how: [not np.allclose(aggregate_star(a, how), aggregate_star(b, how)) for a, b in ex.FIGURE3_PAIRS]
                 for how in ("sum", "mean", "max")}
    assert separated == {"sum": [True, True, True], "mean": [False, True, False], "max": [False, False, False]}


def test_aggregator_properties_on_random_sets():
    rng = np.random.default_rng(0)
    h = jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)
    s, r = jnp.asarray([0, 1, 2, 3]), jnp.asarray([0, 0, 0, 1])
    assert np.allclose(ops.aggregate(h, s, r, 4, "sum")[0], h[:3].sum(0), atol=1e-6)
    assert np.allclose(ops.aggregate(h, s, r, 4, "mean")[0], h[:3].mean(0), atol=1e-6)
    assert np.allclose(ops.aggregate(h, s, r, 4, "max")[0], h[:3].max(0), atol=1e-6)
    assert np.allclose(ops.aggregate(h, s, r, 4, "mean")[2], 0) and np.allclose(ops.aggregate(h, s, r, 4, "max")[2], 0)
    # permutation invariance: reordering the edges changes nothing
    perm = jnp.asarray([3, 1, 0, 2])
    for how in ("sum", "mean", "max"):
        assert np.allclose(ops.aggregate(h, s[perm], r[perm], 4, how), ops.aggregate(h, s, r, 4, how), atol=1e-6)


def test_one_wl_cannot_tell_two_triangles_from_a_hexagon_but_tells_a_path_from_a_triangle():
    assert not ex.wl_distinguishes(ex.two_triangles(), ex.hexagon(), 6, 6)
    path = ex.undirected([(0, 1), (1, 2)], 3)
    tri = ex.undirected(ex.cycle_edges([0, 1, 2]), 3)
    assert ex.wl_distinguishes(path, tri, 3, 3)


def test_csl_graphs_are_4_regular_distinct_and_1wl_identical():
    graphs = {s: ex.csl_graph(s) for s in ex.CSL_SKIPS}
    edge_sets = []
    for snd, rcv in graphs.values():
        assert len(snd) == 41 * 4 and np.all(np.bincount(rcv, minlength=41) == 4)
        edge_sets.append(frozenset(zip(snd.tolist(), rcv.tolist())))
    assert len(set(edge_sets)) == 10
    for a, b in itertools.combinations(list(graphs.values())[:4], 2):
        assert not ex.wl_distinguishes(a, b, 41, 41)


def test_random_walk_encoding_separates_csl_classes_and_ignores_relabelling():
    pe = {s: ex.random_walk_pe(*ex.csl_graph(s), 41, 16) for s in ex.CSL_SKIPS}
    rows = [tuple(np.round(p[0], 6)) for p in pe.values()]
    assert len(set(rows)) == 10                               # one signature per class
    perm = np.random.default_rng(0).permutation(41)
    relabelled = ex.random_walk_pe(*ex.csl_graph(5, perm=perm), 41, 16)
    assert np.allclose(np.sort(relabelled, 0), np.sort(pe[5], 0), atol=1e-6)


def test_csl_split_is_stratified_and_rotates_with_the_seed():
    tests = []
    for seed in range(5):
        train, test = runs.csl_data(seed, "constant", 4)
        assert test.labels.shape == (30,) and train.labels.shape == (120,)
        assert np.all(np.bincount(np.asarray(test.labels), minlength=10) == 3)
        assert test.senders.shape == (30 * 164,)
        tests.append(np.asarray(test.senders))
    assert not np.array_equal(tests[0], tests[1])             # a different fold holds different graphs


def test_gin_with_constant_features_embeds_triangles_and_hexagon_identically():
    g = ex.batch([(np.ones((6, 1), np.float32), *ex.two_triangles()), (np.ones((6, 1), np.float32), *ex.hexagon())],
                 [0, 1])
    for seed in range(3):
        gin = ex.GIN(1, 8, 2, 3, "sum", nnx.Rngs(params=seed))
        e = np.asarray(gin.embed(g))
        assert np.allclose(e[0], e[1], atol=1e-5)
        x = jax.random.normal(jax.random.key(seed), (12, 1))
        e = np.asarray(gin.embed(g, x))
        assert not np.allclose(e[0], e[1], atol=1e-5)
