"""Every dispatch path computes the one-hot path's function, forward and gradients (issue 5, item 3)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from papers.moe import dispatch as D
from papers.moe import routing as R

E, G, DM, F = 4, 16, 8, 12
# jitted: one compilation per path and shape instead of one per eager operation (the fast subset's time, issue 20)
dispatch = jax.jit(D.dispatch, static_argnames=("path", "cap"))


def weights(key):
    k = jax.random.split(key, 4)
    return (jax.random.normal(k[0], (E, DM, F)) / 3, 0.1 * jax.random.normal(k[1], (E, F)),
            jax.random.normal(k[2], (E, F, DM)) / 3, 0.1 * jax.random.normal(k[3], (E, DM)))


def routed(key, k, n_groups=3, skew=0.0):
    kx, kr = jax.random.split(key)
    x = jax.random.normal(kx, (n_groups, G, DM))
    logits = jax.random.normal(kr, (n_groups, G, E)) + skew * jnp.arange(E)   # skew: crowd the last experts
    r = R.softmax_top_k(logits, k)
    return x, r.experts, r.gates


def gelu(z):
    """jax.nn.gelu's default (tanh) form, in NumPy."""
    return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))


def reference(x, experts, gates, w, cap):
    """Token by token, in priority order: the definition the paths must meet."""
    w_up, b_up, w_down, b_down = (np.asarray(a) for a in w)
    x, experts, gates = np.asarray(x), np.asarray(experts), np.asarray(gates)
    y = np.zeros_like(x)
    for n in range(x.shape[0]):
        fill = np.zeros(E, int)
        for j in range(experts.shape[-1]):            # every first choice before any second choice
            for t in range(x.shape[1]):
                e = experts[n, t, j]
                if fill[e] < cap:
                    h = gelu(x[n, t] @ w_up[e] + b_up[e])
                    y[n, t] += gates[n, t, j] * (h @ w_down[e] + b_down[e])
                fill[e] += 1
    return y


@pytest.mark.parametrize("k,cf,skew", [(1, 1.0, 0.0), (1, 1.25, 2.0), (2, 1.0, 1.0), (2, None, 3.0), (1, None, 0.0)])
@pytest.mark.parametrize("path", ["onehot", "gather"])
def test_capacity_paths_match_the_definition(path, k, cf, skew):
    x, experts, gates = routed(jax.random.key(0), k, skew=skew)
    w = weights(jax.random.key(1))
    cap = D.capacity(G, E, k, cf)
    y, kept = dispatch(path=path, x=x, experts=experts, gates=gates, weights=w, cap=cap)
    np.testing.assert_allclose(np.asarray(y), reference(x, experts, gates, w, cap), rtol=2e-5, atol=2e-5)
    if skew >= 2.0 and cf is not None:
        assert not bool(jnp.all(kept)), "the skewed case must drop something, or it tests nothing"


@pytest.mark.parametrize("k", [1, 2])
def test_dropless_paths_agree(k):
    x, experts, gates = routed(jax.random.key(2), k, skew=2.0)
    w = weights(jax.random.key(3))
    y_ref, _ = jax.jit(D.onehot, static_argnums=4)(x, experts, gates, w, D.capacity(G, E, k, None))
    y, kept = jax.jit(D.ragged)(x, experts, gates, w)
    assert bool(jnp.all(kept))
    np.testing.assert_allclose(np.asarray(y), np.asarray(y_ref), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("path,cf", [("gather", 1.0), ("gather", 1.25), ("ragged", None)])
def test_gradients_match_the_onehot_path(path, cf):
    """Gradients with respect to the tokens, the gates and every expert weight."""
    k = 2
    x, experts, gates = routed(jax.random.key(4), k, skew=1.0)
    w = weights(jax.random.key(5))
    cap = D.capacity(G, E, k, cf)
    probe = jax.random.normal(jax.random.key(6), x.shape)

    def loss(path_, x_, gates_, w_):
        y, _ = D.dispatch(path_, x_, experts, gates_, w_, cap)
        return jnp.sum(y * probe)

    grad = jax.jit(jax.grad(loss, argnums=(1, 2, 3)), static_argnums=0)
    g_ref = grad("onehot", x, gates, w)
    g = grad(path, x, gates, w)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_slot_positions_put_first_choices_first():
    experts = jnp.array([[[0, 1], [0, 2], [1, 0]]])      # 3 tokens, top-2
    pos = D.slot_positions(experts, 3)
    # expert 0: token0 (1st), token1 (1st), then token2's 2nd choice; expert 1: token2 (1st), then token0 (2nd)
    assert pos.tolist() == [[[0, 1], [1, 0], [0, 2]]]


def test_capacity_formula():
    assert D.capacity(256, 8, 1, 1.0) == 32
    assert D.capacity(256, 8, 1, 1.25) == 40
    assert D.capacity(256, 8, 2, 1.0) == 64
    assert D.capacity(256, 8, 1, None) == 256
