"""Train an SAE on a stream of batches with Adam, the whole loop in one jitted ``lax.scan``.

The ReLU SAE keeps its decoder rows at unit norm: the decoder gradient is projected onto the rows' tangent space
before the Adam step and the rows are renormalised after it (Bricken et al. 2023). The TopK SAE counts, per latent,
the inputs since it last fired; latents silent for more than ``dead_after`` inputs feed the AuxK loss (Gao et al.).
Batch t is ``batch_fn(fold_in(data_key, t), data)``: a pure function of (seed, step). ``data`` (arrays the batches are
drawn from: feature directions, stored activations) is a jit argument, not a constant folded into the program.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from papers.sae import jumprelu as J
from papers.sae import models as S
from repro import parallel


def _run(step, init, steps: int, data, mesh=None):
    """``steps`` steps in one jitted scan; with a device mesh, parameters and data are replicated and each batch is
    split over the devices (repro/parallel.py)."""
    init, data = parallel.replicate(init, mesh), parallel.replicate(data, mesh)
    return jax.jit(lambda c, d: jax.lax.scan(lambda cc, t: step(cc, t, d), c, jnp.arange(steps)))(init, data)


def fit_relu(model: S.ReluSAE, batch_fn, data_key, data=None, *, steps: int, lr: float, l1: float, mesh=None):
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.adam(lr)

    def step(carry, t, data):
        p, o = carry
        x = parallel.shard_batch(batch_fn(jax.random.fold_in(data_key, t), data), mesh)
        (loss, _), g = jax.value_and_grad(lambda q: S.relu_sae_loss(nnx.merge(graphdef, q), x, l1), has_aux=True)(p)
        g["w_dec"] = jax.tree.map(lambda gw, w: S.project_decoder_grad(gw, w), g["w_dec"], p["w_dec"])
        upd, o = tx.update(g, o, p)
        p = optax.apply_updates(p, upd)
        p["w_dec"] = jax.tree.map(S.renormalise_decoder, p["w_dec"])
        return (p, o), loss

    (params, _), losses = _run(step, (params, tx.init(params)), steps, data, mesh)
    return nnx.merge(graphdef, params), losses


def fit_topk(model: S.TopKSAE, batch_fn, data_key, data=None, *, steps: int, lr: float, k_aux: int, dead_after: int,
             aux_coef: float = 1.0 / 32.0, mesh=None):
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.adam(lr)
    n_latents = params["w_dec"][...].shape[0]

    def step(carry, t, data):
        p, o, since = carry
        x = parallel.shard_batch(batch_fn(jax.random.fold_in(data_key, t), data), mesh)
        dead = since > dead_after
        (loss, (_, z)), g = jax.value_and_grad(
            lambda q: S.topk_loss(nnx.merge(graphdef, q), x, dead, k_aux, aux_coef), has_aux=True)(p)
        upd, o = tx.update(g, o, p)
        p = optax.apply_updates(p, upd)
        fired = jnp.any(z != 0, axis=0)
        since = jnp.where(fired, 0, since + x.shape[0])
        return (p, o, since), (loss, jnp.sum(dead))

    init = (params, tx.init(params), jnp.zeros((n_latents,), jnp.int32))
    (params, _, since), (losses, n_dead) = _run(step, init, steps, data, mesh)
    return nnx.merge(graphdef, params), losses, n_dead


def fit_jumprelu(model: J.JumpReluSAE, batch_fn, data_key, data=None, *, steps: int, lr: float, l0_coef: float,
                 eps: float = 0.001, mesh=None):
    """JumpReLU SAE on ||x - x_hat||^2 + l0_coef * L0 (Rajamanoharan et al. 2024, eq. 10), Adam, one jitted scan."""
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.adam(lr)

    def step(carry, t, data):
        p, o = carry
        x = parallel.shard_batch(batch_fn(jax.random.fold_in(data_key, t), data), mesh)
        (loss, _), g = jax.value_and_grad(
            lambda q: J.jumprelu_loss(nnx.merge(graphdef, q), x, l0_coef, eps), has_aux=True)(p)
        upd, o = tx.update(g, o, p)
        return (optax.apply_updates(p, upd), o), loss

    (params, _), losses = _run(step, (params, tx.init(params)), steps, data, mesh)
    return nnx.merge(graphdef, params), losses
