"""Every form of the S6 scan equals a plain NumPy loop, in values and in gradients."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from papers.mamba import selective_scan as ss


def numpy_scan(u, delta, A, B, C, D):
    """The recurrence as written in the paper, one position at a time, in float64."""
    u, delta, A, B, C, D = (np.asarray(x, np.float64) for x in (u, delta, A, B, C, D))
    batch, length, d = u.shape
    h = np.zeros((batch, d, A.shape[1]))
    y = np.zeros_like(u)
    for t in range(length):
        h = np.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :]
        y[:, t] = np.einsum("bdn,bn->bd", h, C[:, t]) + D * u[:, t]
    return y


def inputs(batch=2, length=13, d=5, n=3, seed=0):
    k = jax.random.split(jax.random.key(seed), 6)
    u = jax.random.normal(k[0], (batch, length, d))
    delta = jax.nn.softplus(jax.random.normal(k[1], (batch, length, d)) - 1.0)
    A = -jnp.exp(jax.random.normal(k[2], (d, n)) * 0.5)
    B = jax.random.normal(k[3], (batch, length, n))
    C = jax.random.normal(k[4], (batch, length, n))
    D = jax.random.normal(k[5], (d,))
    return u, delta, A, B, C, D


FORMS = [("sequential", ss.scan_sequential), ("associative", ss.scan_associative),
         ("chunked", lambda *a: ss.scan_chunked(*a, chunk=4)),  # 13 = 3 chunks + a padded one
         ("chunked-one-chunk", lambda *a: ss.scan_chunked(*a, chunk=64))]


@pytest.mark.parametrize("name,form", FORMS)
def test_values_equal_numpy_loop(name, form):
    args = inputs()
    np.testing.assert_allclose(jax.jit(form)(*args), numpy_scan(*args), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,form", FORMS)
def test_gradients_equal_numpy_finite_differences(name, form):
    """<grad L, v> from JAX equals the central difference of the float64 NumPy loop along v, for every input."""
    args = inputs(length=7)
    w = np.asarray(jax.random.normal(jax.random.key(9), args[0].shape))

    def loss_np(*a):
        return float(np.sum(numpy_scan(*a) * w))

    grads = jax.jit(jax.grad(lambda *a: jnp.sum(form(*a) * w), argnums=tuple(range(6))))(*args)
    for i, (x, g) in enumerate(zip(args, grads)):
        v = np.asarray(jax.random.normal(jax.random.key(100 + i), x.shape), np.float64)
        eps = 1e-5
        plus = [np.asarray(a, np.float64) for a in args]
        minus = [np.asarray(a, np.float64) for a in args]
        plus[i] = plus[i] + eps * v
        minus[i] = minus[i] - eps * v
        fd = (loss_np(*plus) - loss_np(*minus)) / (2 * eps)
        np.testing.assert_allclose(float(np.sum(np.asarray(g) * v)), fd, rtol=2e-3, atol=2e-3,
                                   err_msg=f"{name}: gradient of input {i}")


def test_all_forms_have_equal_gradients():
    args = inputs(length=16)
    # jitted: one compilation per form instead of one per eager operation (the fast subset's time, issue 20)
    grads = {name: jax.jit(jax.grad(lambda *a, f=f: jnp.sum(jnp.sin(f(*a))), argnums=tuple(range(6))))(*args)
             for name, f in FORMS}
    for name, g in grads.items():
        for a, b in zip(g, grads["associative"]):  # associative uses JAX autodiff; sequential its own backward
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=name)


def test_recurrent_step_matches_scan():
    u, delta, A, B, C, D = inputs()
    h = jnp.zeros((u.shape[0], u.shape[2], A.shape[1]))
    ys = []
    for t in range(u.shape[1]):
        h, y = ss.scan_step(h, u[:, t], delta[:, t], A, B[:, t], C[:, t], D)
        ys.append(y)
    np.testing.assert_allclose(jnp.stack(ys, 1), numpy_scan(u, delta, A, B, C, D), rtol=1e-5, atol=1e-5)


def test_auto_uses_the_measured_choice_and_rejects_unknown_methods():
    assert ss.measured_choice() in ss.METHODS
    args = inputs()
    np.testing.assert_allclose(ss.selective_scan(*args), numpy_scan(*args), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="valid: auto, sequential, associative, chunked"):
        ss.selective_scan(*args, method="cuda")


def test_scan_is_float32_even_for_half_inputs():
    args = [x.astype(jnp.bfloat16) for x in inputs()]
    assert ss.scan_sequential(*args).dtype == jnp.float32
