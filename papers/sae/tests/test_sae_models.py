"""SAE models: shapes, TopK sparsity, tied initialisation, AuxK, unit-norm decoder rows."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from papers.sae import models as S


def test_topk_keeps_exactly_k_and_relu():
    pre = jnp.asarray(np.random.default_rng(0).normal(size=(4, 16)), jnp.float32)
    z = S.topk_relu(pre, 3)
    for row, p in zip(np.asarray(z), np.asarray(pre)):
        top = np.argsort(p)[-3:]
        expect = np.zeros(16)
        expect[top] = np.maximum(p[top], 0)
        assert np.allclose(row, expect)


def test_an_all_zero_input_fires_only_where_the_pre_bias_makes_a_pre_activation_positive():
    """Gao et al.'s TopK (their released code): ReLU on the k kept pre-activations, the pre-bias subtracted before the
    encoder. An all-zero input has pre-activations -b_pre W_enc: at b_pre = 0 nothing fires; with a learned b_pre the
    latents whose -b_pre W_enc is positive fire (at most k), in their code as in ours."""
    m = S.TopKSAE(8, 32, 2, rngs=nnx.Rngs(params=0))
    zero = jnp.zeros((3, 8))
    _, z = m(zero)
    assert not np.asarray(z).any()                                   # b_pre = 0: pre-activations 0, ReLU(0) = 0
    m.b_pre[...] = jnp.full((8,), 0.5)
    pre = np.asarray(m.pre_activations(zero))[0]
    _, z = m(zero)
    fired = np.flatnonzero(np.asarray(z)[0])
    assert 0 < len(fired) <= 2 and (pre[fired] > 0).all()
    assert set(fired) == set(np.argsort(pre)[-2:][pre[np.argsort(pre)[-2:]] > 0])
    m.w_enc[...] = jnp.abs(m.w_enc[...])                               # now every -b_pre . w_enc_i < 0: the k kept
    assert (np.asarray(m.pre_activations(zero)) < 0).all()             # are negative and the ReLU zeroes them
    assert not np.asarray(m(zero)[1]).any()


def test_topk_sae_tied_init_and_sparsity():
    m = S.TopKSAE(8, 32, 4, rngs=nnx.Rngs(params=0))
    assert np.allclose(m.w_enc[...], m.w_dec[...].T)
    assert np.allclose(np.linalg.norm(m.w_dec[...], axis=1), 1.0, atol=1e-6)
    untied = S.TopKSAE(8, 32, 4, rngs=nnx.Rngs(params=0), tied_init=False)
    assert not np.allclose(untied.w_enc[...], untied.w_dec[...].T)
    x = jax.random.normal(jax.random.key(1), (10, 8))
    x_hat, z = m(x)
    assert x_hat.shape == (10, 8) and np.all(np.sum(np.asarray(z) != 0, -1) <= 4)


def test_auxk_is_zero_without_dead_latents_and_trains_dead_ones():
    m = S.TopKSAE(8, 32, 4, rngs=nnx.Rngs(params=0))
    x = jax.random.normal(jax.random.key(1), (64, 8))
    none_dead = jnp.zeros(32, bool)
    loss, (x_hat, _) = S.topk_loss(m, x, none_dead, k_aux=8)
    assert np.isclose(float(loss), float(jnp.mean(jnp.sum((x - x_hat) ** 2, -1))), rtol=1e-6)
    dead = jnp.arange(32) >= 16
    grad = nnx.jit(nnx.grad(lambda mod, dead_: S.topk_loss(mod, x, dead_, k_aux=8)[0]))   # one compilation
    grads = grad(m, dead)
    g_dead = np.abs(np.asarray(grads.w_dec[...]))[16:].sum()
    grads_none = grad(m, none_dead)
    assert g_dead > np.abs(np.asarray(grads_none.w_dec[...]))[16:].sum()


def _dense_topk_loss(model, x, dead_mask, k_aux, aux_coef=1.0 / 32.0):
    """The AuxK loss written densely (every latent decoded, the AuxK term always computed): the reference."""
    pre = model.pre_activations(x)
    z = S.topk_relu(pre, model.k)
    x_hat = model.decode(z)
    z_aux = jnp.where(dead_mask, S.topk_relu(jnp.where(dead_mask, pre, -1e30), k_aux), 0.0)
    aux = jnp.mean(jnp.sum((jax.lax.stop_gradient(x - x_hat) - z_aux @ model.w_dec[...]) ** 2, -1))
    return jnp.mean(jnp.sum((x - x_hat) ** 2, -1)) + aux_coef * jnp.where(jnp.any(dead_mask), aux, 0.0), z


@pytest.mark.parametrize("n_dead", [0, 5, 20])     # none; fewer than k_aux; more
def test_sparse_topk_loss_equals_the_dense_loss_and_gradients(n_dead):
    m = S.TopKSAE(8, 32, 4, rngs=nnx.Rngs(params=0))
    m.b_pre[...] = 0.1 * jax.random.normal(jax.random.key(3), (8,))
    x = jax.random.normal(jax.random.key(1), (64, 8))
    dead = jnp.arange(32) < n_dead
    (loss, (x_hat, fired)), g = nnx.jit(nnx.value_and_grad(lambda mod: S.topk_loss(mod, x, dead, k_aux=8),
                                                           has_aux=True))(m)
    (ref, z), g_ref = nnx.jit(nnx.value_and_grad(lambda mod: _dense_topk_loss(mod, x, dead, k_aux=8),
                                                 has_aux=True))(m)
    np.testing.assert_allclose(loss, ref, rtol=1e-6)
    np.testing.assert_allclose(x_hat, m.decode(z), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fired, np.any(np.asarray(z) != 0, 0))
    for name in ("w_enc", "w_dec", "b_pre"):
        np.testing.assert_allclose(getattr(g, name)[...], getattr(g_ref, name)[...], rtol=1e-5, atol=1e-6)


def test_relu_sae_loss_and_decoder_projection():
    m = S.ReluSAE(6, 12, rngs=nnx.Rngs(params=0))
    x = jax.random.normal(jax.random.key(2), (5, 6))
    loss, (x_hat, z) = S.relu_sae_loss(m, x, l1=0.1)
    expect = jnp.mean(jnp.sum((x - x_hat) ** 2, -1)) + 0.1 * jnp.mean(jnp.sum(jnp.abs(z), -1))
    assert np.isclose(float(loss), float(expect)) and np.all(np.asarray(z) >= 0)
    g = jax.random.normal(jax.random.key(3), (12, 6))
    pg = S.project_decoder_grad(g, m.w_dec[...])
    assert np.allclose(np.sum(np.asarray(pg) * np.asarray(m.w_dec[...]), -1), 0.0, atol=1e-5)
    stepped = S.renormalise_decoder(m.w_dec[...] - 0.1 * pg)
    assert np.allclose(np.linalg.norm(stepped, axis=1), 1.0, atol=1e-6)


def test_jumprelu_forward_and_pseudo_derivatives():
    from papers.sae import jumprelu as J
    pre = jnp.array([[0.05, 0.2, 0.1004, 0.3]])
    theta = jnp.array([0.1, 0.1, 0.1, 0.5])
    eps = 0.001
    assert np.allclose(J.jumprelu(pre, theta, eps), [[0.0, 0.2, 0.1004, 0.0]])
    g_pre, g_theta = jax.grad(lambda p, t: J.jumprelu(p, t, eps).sum(), argnums=(0, 1))(pre, theta)
    assert np.allclose(g_pre, [[0, 1, 1, 0]])                              # straight through above the threshold
    # only the entry within eps/2 of its threshold (0.1004 vs 0.1, latent 2) moves theta: -(theta/eps) K = -100
    assert np.allclose(g_theta, [0.0, 0.0, -100.0, 0.0], atol=1e-3)
    s_theta = jax.grad(lambda t: J.step(pre, t, eps).sum())(theta)
    assert np.allclose(s_theta, [0.0, 0.0, -1000.0, 0.0], atol=1e-2)      # -(1/eps) K for the same entry
    assert np.allclose(jax.grad(lambda p: J.step(p, theta, eps).sum())(pre), 0.0)


def test_jumprelu_sae_loss_counts_l0():
    from papers.sae import jumprelu as J
    m = J.JumpReluSAE(6, 12, rngs=nnx.Rngs(params=0), init_threshold=0.1)
    x = jax.random.normal(jax.random.key(0), (8, 6))
    loss0, (x_hat, z) = J.jumprelu_loss(m, x, 0.0)
    loss1, _ = J.jumprelu_loss(m, x, 1.0)
    assert np.isclose(float(loss1 - loss0), float(np.mean(np.sum(np.asarray(z) != 0, -1))), atol=1e-5)
    grads = nnx.grad(lambda mod: J.jumprelu_loss(mod, x, 1.0)[0])(m)
    assert np.all(np.isfinite(np.asarray(grads.log_theta[...])))
