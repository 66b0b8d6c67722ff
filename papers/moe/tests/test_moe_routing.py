"""Routers and their losses on hand-made cases (issue 5, item 2)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from papers.moe import routing as R


def test_switch_top1_gate_is_the_router_probability():
    logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
    r = R.softmax_top_k(logits, 1)
    assert r.experts[:, 0].tolist() == [0, 1]
    np.testing.assert_allclose(r.gates[:, 0], jnp.max(jax.nn.softmax(logits), -1), rtol=1e-6)


def test_top2_gates_are_renormalised():
    r = R.softmax_top_k(jnp.array([[1.0, 2.0, 0.5, -3.0]]), 2)
    assert r.experts.tolist() == [[1, 0]]
    np.testing.assert_allclose(jnp.sum(r.gates), 1.0, rtol=1e-6)


def test_router_runs_in_float32():
    r = R.softmax_top_k(jnp.ones((4, 3), jnp.bfloat16), 1)
    assert r.probs.dtype == jnp.float32 and r.gates.dtype == jnp.float32


@pytest.mark.parametrize("k", [1, 2])
def test_balance_loss_is_one_at_uniform_routing(k):
    """Our convention: f_i counts every chosen expert and is divided by tokens * k, so uniform routing gives 1."""
    n = 8
    experts = jnp.stack([jnp.arange(16) % n, (jnp.arange(16) + 1) % n], -1)[:, :k]
    r = R.Routing(experts, jnp.ones((16, k)) / k, jnp.full((16, n), 1 / n), jnp.zeros((16, n)))
    assert float(R.switch_balance_loss(r, n)) == pytest.approx(1.0, rel=1e-6)


def test_balance_loss_is_n_when_collapsed_and_gradient_flows_through_probs_only():
    n = 4
    def loss(probs):
        return R.switch_balance_loss(R.Routing(jnp.zeros((8, 1), jnp.int32), jnp.ones((8, 1)), probs,
                                               jnp.zeros((8, n))), n)
    probs = jnp.tile(jnp.array([1.0, 0.0, 0.0, 0.0]), (8, 1))
    assert float(loss(probs)) == pytest.approx(n)
    g = jax.grad(loss)(probs)
    np.testing.assert_allclose(g[:, 0], n / 8)      # d/dP_0 of N * f_0 * mean(P_0), f_0 = 1
    np.testing.assert_allclose(g[:, 1:], 0.0)


def test_balance_loss_is_per_group_so_opposite_imbalances_do_not_cancel():
    # two groups of 4 tokens, 2 experts: group 0 all on expert 0, group 1 all on expert 1 (router probabilities 0.9)
    experts = jnp.array([[0, 0, 0, 0], [1, 1, 1, 1]])[..., None]
    probs = jnp.stack([jnp.tile(jnp.array([0.9, 0.1]), (4, 1)), jnp.tile(jnp.array([0.1, 0.9]), (4, 1))])
    r = R.Routing(experts, jnp.ones((2, 4, 1)), probs, jnp.zeros((2, 4, 2)))
    assert float(R.switch_balance_loss(r, 2)) == pytest.approx(1.8, rel=1e-6)       # 2 * (1 * 0.9) in each group
    pooled = R.Routing(experts.reshape(8, 1), jnp.ones((8, 1)), probs.reshape(8, 2), jnp.zeros((8, 2)))
    assert float(R.switch_balance_loss(pooled, 2)) == pytest.approx(1.0, rel=1e-6)  # pooled it would look perfect


def test_z_loss():
    logits = jnp.array([[0.0, 0.0], [jnp.log(3.0), 0.0]])
    expected = np.mean([np.log(2.0) ** 2, np.log(4.0) ** 2])
    assert float(R.z_loss(logits)) == pytest.approx(expected, rel=1e-6)


def test_cv_squared():
    assert float(R.cv_squared(jnp.array([2.0, 2.0, 2.0]))) == pytest.approx(0.0, abs=1e-9)
    assert float(R.cv_squared(jnp.array([0.0, 4.0]))) == pytest.approx(1.0, rel=1e-6)   # var 4 / mean^2 4


def test_noisy_gating_without_noise_is_top_k_softmax_and_noise_changes_it():
    clean = jax.random.normal(jax.random.key(0), (32, 8))
    raw = jnp.zeros((32, 8))
    r, _ = R.noisy_top_k(clean, raw, 2)
    ref = R.softmax_top_k(clean, 2)
    assert jnp.array_equal(r.experts, ref.experts)
    np.testing.assert_allclose(r.gates, ref.gates, rtol=1e-5)
    noisy, _ = R.noisy_top_k(clean, raw, 2, jax.random.key(1))
    assert not jnp.array_equal(noisy.experts, r.experts)


def test_smooth_load_estimate_matches_monte_carlo():
    """Shazeer eq. 9: P(x, i) is the chance expert i stays in the top k when only its own noise is redrawn."""
    key = jax.random.key(3)
    clean = jax.random.normal(key, (1, 5))
    raw = jnp.full((1, 5), 0.3)
    std = jax.nn.softplus(0.3)
    _, p = R.noisy_top_k(clean, raw, 2, jax.random.key(4))
    # fix the other experts' noisy logits at the values that call drew, redraw expert i's noise many times
    noisy = clean + jax.random.normal(jax.random.key(4), clean.shape) * std
    for i in range(5):
        draws = clean[0, i] + std * jax.random.normal(jax.random.key(10 + i), (20000,))
        others = jnp.delete(noisy[0], i)
        kth = jnp.sort(others)[-2]                       # the 2nd largest of the others
        assert float(jnp.mean(draws > kth)) == pytest.approx(float(p[0, i]), abs=0.015)


def test_importance_loss_zero_when_gates_spread_evenly():
    experts = jnp.array([[0], [1], [2], [3]])
    r = R.Routing(experts, jnp.ones((4, 1)), jnp.full((4, 4), 0.25), jnp.zeros((4, 4)))
    assert float(R.importance_loss(r, 4)) == pytest.approx(0.0, abs=1e-9)
