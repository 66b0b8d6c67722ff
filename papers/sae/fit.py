"""Train an SAE on a stream of batches with Adam, every step in one jitted scan (repro/fit.py).

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
from repro import fit


def project_decoder_grads() -> optax.GradientTransformation:
    """The decoder rows' gradient projected onto their tangent space (Bricken et al. 2023), before Adam."""
    def update(grads, state, params):
        grads = jax.tree.map(lambda g: g, grads)    # a copy of the same type (an nnx.State)
        grads["w_dec"] = jax.tree.map(S.project_decoder_grad, grads["w_dec"], params["w_dec"])
        return grads, state
    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def relu_objective(graphdef, batch_fn, *, lr: float, l1: float) -> fit.Objective:
    """The ReLU SAE's objective: L2 + l1 ||z||_1, the decoder gradient projected, rows renormalised after Adam."""
    def renormalise(p, extra, loss, aux, batch, t):
        p = jax.tree.map(lambda w: w, p)
        p["w_dec"] = jax.tree.map(S.renormalise_decoder, p["w_dec"])
        return p, extra, {"loss": loss}

    return fit.Objective(
        loss=lambda q, x, _: S.relu_sae_loss(nnx.merge(graphdef, q), x, l1),
        optimizer=optax.chain(project_decoder_grads(), optax.adam(lr)), batch=batch_fn, after_update=renormalise)


def topk_objective(graphdef, batch_fn, *, lr: float, k_aux: int, dead_after: int,
                   aux_coef: float = 1.0 / 32.0) -> fit.Objective:
    """The TopK SAE's objective; its ``extra`` counts, per latent, the inputs since it last fired (int32)."""
    def loss(q, x, since):
        return S.topk_loss(nnx.merge(graphdef, q), x, since > dead_after, k_aux, aux_coef)

    def count_silence(p, since, loss_value, aux, x, t):
        fired = aux[1]
        return p, jnp.where(fired, 0, since + x.shape[0]), {"loss": loss_value, "n_dead": jnp.sum(since > dead_after)}

    return fit.Objective(loss=loss, optimizer=optax.adam(lr), batch=batch_fn, after_update=count_silence)


def jumprelu_objective(graphdef, batch_fn, *, lr: float, l0_coef: float, eps: float = 0.001) -> fit.Objective:
    """JumpReLU SAE on ||x - x_hat||^2 + l0_coef * L0 (Rajamanoharan et al. 2024, eq. 10), Adam."""
    return fit.Objective(loss=lambda q, x, _: J.jumprelu_loss(nnx.merge(graphdef, q), x, l0_coef, eps),
                         optimizer=optax.adam(lr), batch=batch_fn,
                         after_update=lambda p, e, loss, aux, x, t: (p, e, {"loss": loss}))


def fit_relu(model: S.ReluSAE, batch_fn, data_key, data=None, *, steps: int, lr: float, l1: float, mesh=None):
    graphdef, params = nnx.split(model, nnx.Param)
    objective = relu_objective(graphdef, batch_fn, lr=lr, l1=l1)
    state, rows = fit.run_all(objective, objective.init(params), steps=steps, data_key=data_key, data=data, mesh=mesh)
    return nnx.merge(graphdef, state.params), rows["loss"]


def fit_topk(model: S.TopKSAE, batch_fn, data_key, data=None, *, steps: int, lr: float, k_aux: int, dead_after: int,
             aux_coef: float = 1.0 / 32.0, mesh=None):
    graphdef, params = nnx.split(model, nnx.Param)
    n_latents = params["w_dec"][...].shape[0]
    objective = topk_objective(graphdef, batch_fn, lr=lr, k_aux=k_aux, dead_after=dead_after, aux_coef=aux_coef)
    state, rows = fit.run_all(objective, objective.init(params, jnp.zeros((n_latents,), jnp.int32)), steps=steps,
                              data_key=data_key, data=data, mesh=mesh)
    return nnx.merge(graphdef, state.params), rows["loss"], rows["n_dead"]
