"""S4D: the convolution view equals the recurrent view (the strongest unit test an SSM has)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from papers.mamba.s4d import S4D, init_A


@pytest.mark.parametrize("init", ["lin", "inv", "real"])
def test_convolution_equals_recurrence(init):
    layer = S4D(channels=6, n_state=8, init=init, dt_min=1e-2, dt_max=5e-1, rngs=nnx.Rngs(0))
    u = jax.random.normal(jax.random.key(1), (2, 40, 6))
    conv, rec = nnx.jit(lambda m, u: (m(u), m.recurrent(u)))(layer, u)   # one compilation, not one per operation
    np.testing.assert_allclose(conv, rec, rtol=1e-4, atol=1e-4)


def test_kernel_matches_explicit_sum():
    layer = S4D(channels=3, n_state=4, init="lin", rngs=nnx.Rngs(0))
    k = np.asarray(layer.kernel(5))
    A = -np.exp(np.asarray(layer.log_neg_a_re[...])) + 1j * np.asarray(layer.a_im[...])
    dt = np.exp(np.asarray(layer.log_dt[...]))[:, None]
    C = np.asarray(layer.c_re[...]) + 1j * np.asarray(layer.c_im[...])
    expected = np.stack(
        [2 * np.real((C * (np.exp(dt * A) - 1) / A * np.exp(ell * dt * A)).sum(-1)) for ell in range(5)], -1
    )
    np.testing.assert_allclose(k, expected, rtol=1e-4, atol=1e-5)


def test_inits_follow_the_s4d_paper():
    re, im = init_A("lin", 8)
    np.testing.assert_allclose(re, -0.5)
    np.testing.assert_allclose(im, np.pi * np.arange(4), rtol=1e-6)
    re, im = init_A("inv", 8)
    np.testing.assert_allclose(im, 8 / np.pi * (8 / (2 * np.arange(4) + 1) - 1), rtol=1e-6)
    re, im = init_A("real", 8)
    np.testing.assert_allclose(re, -(np.arange(8) + 1.0))
    np.testing.assert_allclose(im, 0.0)
    with pytest.raises(ValueError, match="valid: lin, inv, real"):
        init_A("legs", 8)


def test_gradients_flow_through_both_views():
    layer = S4D(channels=4, n_state=8, rngs=nnx.Rngs(0))
    u = jax.random.normal(jax.random.key(2), (1, 16, 4))

    def loss(model, view):
        return jnp.sum((model(u) if view == "conv" else model.recurrent(u)) ** 2)

    g_conv, g_rec = nnx.jit(lambda m: (nnx.grad(lambda m: loss(m, "conv"))(m),
                                       nnx.grad(lambda m: loss(m, "rec"))(m)))(layer)
    for a, b in zip(jax.tree.leaves(g_conv), jax.tree.leaves(g_rec)):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3)
