"""One seed of each GIN expressivity experiment: multisets, the two-triangles/hexagon pair, and CSL.

Each returns (metrics, history rows). They take seconds, so they run start to finish without checkpoints: a killed
run starts again and, being deterministic, ends with the same numbers.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from papers.gnn import expressivity as ex
from repro import fit, seeding


def _separated(e1, e2) -> bool:
    e1, e2 = np.asarray(e1), np.asarray(e2)
    return bool(np.max(np.abs(e1 - e2)) > 1e-5 * (1.0 + np.max(np.abs(e1))))


def _fit(model, data, batch_fn, loss_fn, steps: int, lr: float, dkey, precision: str = "fp32"):
    """Full-batch Adam for ``steps`` steps in one jitted scan (repro/fit.py); returns (model, per-step losses).
    ``data`` goes in as an argument (a closed-over graph would be constant-folded: slow to compile)."""
    graphdef, params = nnx.split(model, nnx.Param)
    objective = fit.Objective(loss=lambda q, b, _: (loss_fn(nnx.merge(graphdef, q), b), {}), optimizer=optax.adam(lr),
                              batch=lambda key, d: batch_fn(d, key), precision=precision)
    state, rows = fit.run_all(objective, objective.init(params), steps=steps, data_key=dkey, data=data)
    return nnx.merge(graphdef, state.params), np.asarray(rows["loss"])


def _ce(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels).mean()


def multisets(cfg: dict, seed: int):
    """Figure 3's pairs through AGG(f(x)) with random f (``pairs_separated``, %), and the accuracy a trained
    aggregator reaches telling the five multisets apart (``accuracy``, %: the best it can do is 100 for sum,
    60 for mean, 40 for max, since ties must share a prediction)."""
    m, t = cfg["model"], cfg["train"]
    stars = [ex.star(ms) for ms in ex.MULTISETS]
    g = ex.batch(stars, list(range(len(stars))))
    centres = jnp.asarray(np.cumsum([0] + [len(s[0]) for s in stars[:-1]]))
    model = ex.Neighbourhood(2, m["hidden"], len(stars), m["aggregator"], nnx.Rngs(params=seeding.key(seed, "init")))
    emb = np.asarray(model.embed(g))[np.asarray(centres)]
    sep = [_separated(emb[ex.MULTISETS.index(a)], emb[ex.MULTISETS.index(b)]) for a, b in ex.FIGURE3_PAIRS]
    t0 = time.perf_counter()
    model, losses = _fit(model, (g, centres), lambda d, _: d, lambda mod, d: _ce(mod(d[0])[d[1]], d[0].labels),
                         t["steps"], t["lr"], seeding.key(seed, "dropout"), t.get("precision", "fp32"))
    pred = np.argmax(np.asarray(model(g))[np.asarray(centres)], -1)
    metrics = {"pairs_separated": 100.0 * np.mean(sep), "accuracy": 100.0 * float(np.mean(pred == np.arange(5))),
               "final_loss": float(losses[-1]), "wall_time_s": time.perf_counter() - t0,
               "final_params": nnx.state(model, nnx.Param)}
    for (a, b), s in zip(ex.FIGURE3_PAIRS, sep):
        metrics[f"separates_{a}_vs_{b}"] = float(s)
    return metrics, [{"step": i + 1, "loss": float(v)} for i, v in enumerate(losses) if (i + 1) % 50 == 0]


def wl_pair(cfg: dict, seed: int):
    """Two triangles vs one hexagon: the 1-WL test, and the share of randomly initialised GINs (``draws`` per seed)
    whose graph embeddings differ, with constant node features and with random node features."""
    m, draws = cfg["model"], cfg["task"]["draws"]
    g1, g2 = ex.two_triangles(), ex.hexagon()
    out = {"wl_distinguishes": 100.0 * ex.wl_distinguishes(g1, g2, 6, 6)}
    const = ex.batch([(np.ones((6, 1), np.float32), *g1), (np.ones((6, 1), np.float32), *g2)], [0, 1])
    base = seeding.key(seed, "init")
    for name, dim in (("constant", 1), ("random_features", m["random_dim"])):
        hits = 0
        for i in range(draws):
            k_model, k_x = jax.random.split(jax.random.fold_in(base, i))
            gin = ex.GIN(dim, m["hidden"], 2, m["layers"], "sum", nnx.Rngs(params=k_model))
            x = None if name == "constant" else jax.random.normal(k_x, (12, dim))
            e = gin.embed(const, x)
            hits += _separated(e[0], e[1])
        out[f"distinguished_{name}"] = 100.0 * hits / draws
    return out, []


def csl_data(seed: int, features: str, rw_steps: int):
    """The 150 CSL graphs (15 per skip length, nodes relabelled at random) and a stratified 120/30 split that
    rotates with the seed (5-fold cross-validation: fold = seed mod 5)."""
    rng = np.random.default_rng(20190101)   # the data set itself is fixed; only the split depends on the seed
    graphs, labels = [], []
    for c, skip in enumerate(ex.CSL_SKIPS):
        for _ in range(15):
            s, r = ex.csl_graph(skip, 41, rng.permutation(41))
            x = ex.random_walk_pe(s, r, 41, rw_steps) if features == "rwpe" else np.ones((41, 1), np.float32)
            graphs.append((x, s, r))
            labels.append(c)
    split_rng = np.random.default_rng(seed // 5)
    test = []
    for c in range(len(ex.CSL_SKIPS)):
        idx = split_rng.permutation(15) + 15 * c
        test += list(idx[3 * (seed % 5): 3 * (seed % 5) + 3])
    train = sorted(set(range(150)) - set(test))
    pick = lambda ids: ex.batch([graphs[i] for i in ids], [labels[i] for i in ids])  # noqa: E731
    return pick(train), pick(sorted(test))


def csl(cfg: dict, seed: int):
    """GIN on CSL with constant features (1-WL bound: chance, 10%), random node features drawn afresh at every
    forward pass (Sato et al. 2021; Abboud et al. 2021), or random-walk positional encodings."""
    m, t, feats = cfg["model"], cfg["train"], cfg["task"]["features"]
    train, test = csl_data(seed, feats, m["random_dim"])
    dim = {"constant": 1, "random": m["random_dim"], "rwpe": m["random_dim"]}[feats]
    gin = ex.GIN(dim, m["hidden"], len(ex.CSL_SKIPS), m["layers"], "sum", nnx.Rngs(params=seeding.key(seed, "init")))

    def with_x(b, key):
        if feats != "random":
            return b, None
        return b, jax.random.normal(key, (b.x.shape[0], dim))

    t0 = time.perf_counter()
    gin, losses = _fit(gin, train, with_x, lambda mod, bx: _ce(mod(*bx), bx[0].labels),
                       t["steps"], t["lr"], seeding.key(seed, "dropout"), t.get("precision", "fp32"))
    eval_key = jax.random.fold_in(seeding.key(seed, "data"), 1)
    acc = lambda b: 100.0 * float(np.mean(np.argmax(np.asarray(gin(*with_x(b, eval_key))), -1) == np.asarray(b.labels)))  # noqa: E731,E501
    metrics = {"test_accuracy": acc(test), "train_accuracy": acc(train), "final_loss": float(losses[-1]),
               "wall_time_s": time.perf_counter() - t0, "final_params": nnx.state(gin, nnx.Param)}
    return metrics, [{"step": i + 1, "loss": float(v)} for i, v in enumerate(losses) if (i + 1) % 50 == 0]
