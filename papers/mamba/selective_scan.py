"""The S6 selective scan (Mamba, Gu & Dao 2023, Section 3.2 and Algorithm 2), in three equal forms.

    h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t      (ZOH for A, Euler for B, as the reference code)
    y_t = <h_t, C_t> + D * u_t

Shapes: u, delta (batch, L, D_inner); A (D_inner, N); B, C (batch, L, N); D (D_inner,).
All forms compute in float32 (the paper keeps the scan in fp32) and are tested equal to a NumPy loop.

- ``sequential``: one ``lax.scan`` step per position, with a hand-written reverse-scan backward; it keeps the
  states (L, batch, D_inner, N) for the backward, as autodiff would.
- ``associative``: ``lax.associative_scan`` over (a_t, b_t) with (a_i, b_i) o (a_j, b_j) = (a_j a_i, a_j b_i + b_j);
  materialises (batch, L, D_inner, N).
- ``chunked``: sequential over chunks, associative inside each chunk; memory per chunk only.

Which is fastest depends on the backend; ``scan_choice.json`` records the benchmark's measurement
(``benchmarks/bench_scan.py --write-choice``) and ``method="auto"`` reads it.
"""
from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp

METHODS = ("sequential", "associative", "chunked")
CHOICE_FILE = Path(__file__).with_name("scan_choice.json")


def _f32(*xs):
    return tuple(jnp.asarray(x, jnp.float32) for x in xs)


def _sequential_forward(u, delta, A, B, C, D):
    """Forward pass as one ``lax.scan`` over time; also returns, for the backward, the state *before* each step,
    h_{t-1} (L, batch, d, n): the backward needs h_{t-1} and rebuilds h_t from it with the same arithmetic."""
    batch, _, d_inner = u.shape
    h0 = jnp.zeros((batch, d_inner, A.shape[-1]), jnp.float32)

    def step(h, xs):
        u_t, dt_t, B_t, C_t = xs  # (b, d), (b, d), (b, n), (b, n)
        h_new = jnp.exp(dt_t[..., None] * A) * h + (dt_t * u_t)[..., None] * B_t[:, None, :]
        return h_new, (h, jnp.einsum("bdn,bn->bd", h_new, C_t))

    _, (h_prev, y) = jax.lax.scan(step, h0, tuple(jnp.swapaxes(x, 0, 1) for x in (u, delta, B, C)))
    return jnp.swapaxes(y, 0, 1) + u * D, (u, delta, A, B, C, D, h_prev)


def _sequential_backward(res, gy):
    """Hand-written backward: one reverse ``lax.scan`` carrying g_t = dLoss/dh_t,

        g_t = gy_t C_t + exp(delta_{t+1} A) g_{t+1},

    from which every input's gradient at step t follows locally. exp(delta_t A) is computed once per step and
    carried to the step before; h_t is rebuilt from the stored h_{t-1} (bit-identical to the forward's: the same
    operations), so the forward stores one array and nothing is copied. Faster than autodiff of the forward scan and
    than the earlier form of this function that recomputed both exponentials and shifted a copy of the states
    (benchmarks/bench_scan.py, bench_mamba_peer.py); the gradients are bit-identical to that earlier form's.
    """
    u, delta, A, B, C, D, h_prev = res
    sw = lambda x: jnp.swapaxes(x, 0, 1)  # noqa: E731  batch-major <-> time-major

    def step(carry, xs):
        g, a_next, g_A = carry
        gy_t, C_t, dt_t, u_t, B_t, hp_t = xs
        g = gy_t[..., None] * C_t[:, None, :] + a_next * g
        a_t = jnp.exp(dt_t[..., None] * A)
        h_t = a_t * hp_t + (dt_t * u_t)[..., None] * B_t[:, None, :]
        g_dA = g * hp_t * a_t  # dLoss / d(delta_t A), elementwise
        g_hB = jnp.einsum("bdn,bn->bd", g, B_t)
        g_dt = jnp.einsum("bdn,dn->bd", g_dA, A) + g_hB * u_t
        g_A = g_A + jnp.einsum("bdn,bd->dn", g_dA, dt_t)
        g_B = jnp.einsum("bdn,bd->bn", g, dt_t * u_t)
        g_C = jnp.einsum("bdn,bd->bn", h_t, gy_t)
        return (g, a_t, g_A), (g_hB * dt_t, g_dt, g_B, g_C)

    zeros = jnp.zeros(h_prev.shape[1:], jnp.float32)
    # after the last step g = 0, so the carried exponential there only multiplies zero
    init = (zeros, jnp.ones_like(zeros), jnp.zeros_like(A))
    xs = tuple(sw(x) for x in (gy, C, delta, u, B)) + (h_prev,)
    (_, _, g_A), (g_u, g_dt, g_B, g_C) = jax.lax.scan(step, init, xs, reverse=True)
    return sw(g_u) + gy * D, sw(g_dt), g_A, sw(g_B), sw(g_C), jnp.einsum("bld,bld->d", gy, u)


@jax.custom_vjp
def _sequential(u, delta, A, B, C, D):
    return _sequential_forward(u, delta, A, B, C, D)[0]


_sequential.defvjp(_sequential_forward, _sequential_backward)


def scan_sequential(u, delta, A, B, C, D):
    return _sequential(*_f32(u, delta, A, B, C, D))


def _combine(left, right):
    a_i, b_i = left
    a_j, b_j = right
    return a_j * a_i, a_j * b_i + b_j


def _discretise(u, delta, A, B):
    a = jnp.exp(delta[..., None] * A)  # (b, l, d, n)
    b = (delta * u)[..., None] * B[:, :, None, :]
    return a, b


def scan_associative(u, delta, A, B, C, D):
    u, delta, A, B, C, D = _f32(u, delta, A, B, C, D)
    a, b = _discretise(u, delta, A, B)
    _, h = jax.lax.associative_scan(_combine, (a, b), axis=1)
    return jnp.einsum("bldn,bln->bld", h, C) + u * D


def scan_chunked(u, delta, A, B, C, D, chunk: int = 64):
    u, delta, A, B, C, D = _f32(u, delta, A, B, C, D)
    batch, length, d_inner = u.shape
    chunk = min(chunk, length)
    pad = (-length) % chunk
    if pad:  # padded steps have delta = 0: a = 1, b = 0, so they leave the state unchanged
        u, delta, B, C = (jnp.pad(x, ((0, 0), (0, pad), (0, 0))) for x in (u, delta, B, C))
    n_chunks = (length + pad) // chunk

    def split(x):
        return jnp.swapaxes(x.reshape(batch, n_chunks, chunk, *x.shape[2:]), 0, 1)

    def step(h, xs):
        u_c, dt_c, B_c, C_c = xs
        a, b = _discretise(u_c, dt_c, A, B_c)
        a_cum, h_local = jax.lax.associative_scan(_combine, (a, b), axis=1)
        h_all = h_local + a_cum * h[:, None]
        return h_all[:, -1], jnp.einsum("bldn,bln->bld", h_all, C_c)

    h0 = jnp.zeros((batch, d_inner, A.shape[-1]), jnp.float32)
    _, y = jax.lax.scan(step, h0, tuple(split(x) for x in (u, delta, B, C)))
    y = jnp.swapaxes(y, 0, 1).reshape(batch, n_chunks * chunk, d_inner)[:, :length]
    return y + u[:, :length] * D


def scan_step(h, u_t, delta_t, A, B_t, C_t, D):
    """One recurrent step for inference: memory independent of sequence length."""
    h = jnp.exp(delta_t[..., None] * A) * h + (delta_t * u_t)[..., None] * B_t[:, None, :]
    return h, jnp.einsum("bdn,bn->bd", h, C_t) + u_t * D


_FORMS = {"sequential": scan_sequential, "associative": scan_associative, "chunked": scan_chunked}


def measured_choice(backend: str | None = None) -> str:
    """The form the benchmark measured fastest on this backend (falls back to ``sequential``)."""
    backend = backend or jax.default_backend()
    if CHOICE_FILE.exists():
        table = json.loads(CHOICE_FILE.read_text())
        if backend in table:
            return table[backend]["method"]
    return "sequential"


def selective_scan(u, delta, A, B, C, D, method: str = "auto"):
    if method == "auto":
        method = measured_choice()
    if method not in _FORMS:
        raise ValueError(f"unknown scan method {method!r}; valid: auto, {', '.join(METHODS)}")
    return _FORMS[method](u, delta, A, B, C, D)
