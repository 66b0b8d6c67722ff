"""Sparse autoencoders in NNX. Dictionary atoms are the rows of ``w_dec`` (n_latents, d).

- ReLU SAE with an L1 penalty (Bricken et al. 2023; Sharkey et al. 2022): z = ReLU((x - b_dec) W_enc + b_enc),
  x_hat = z W_dec + b_dec, loss = ||x - x_hat||^2 + l1 * ||z||_1, decoder rows kept at unit norm
  (``project_decoder_grad`` + ``renormalise_decoder`` around each optimiser step).
- TopK SAE (Gao et al. 2024, eq. 2-3): z = ReLU(TopK(W_enc (x - b_pre))), x_hat = W_dec z + b_pre; the encoder starts
  as the decoder's transpose; AuxK reconstructs the residual x - x_hat from the top-k_aux pre-activations of the
  latents that have been dead for a while, with coefficient 1/32.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from repro.precision import f32   # reconstruction errors squared and summed in float32 (a no-op in fp32 runs)


def _unit_rows(w):
    return w / jnp.maximum(jnp.linalg.norm(w, axis=-1, keepdims=True), 1e-8)


class ReluSAE(nnx.Module):
    def __init__(self, d: int, n_latents: int, *, rngs: nnx.Rngs):
        w = _unit_rows(jax.random.normal(rngs.params(), (n_latents, d)))
        self.w_dec = nnx.Param(w)
        self.w_enc = nnx.Param(w.T)
        self.b_enc = nnx.Param(jnp.zeros((n_latents,)))
        self.b_dec = nnx.Param(jnp.zeros((d,)))

    def encode(self, x):
        return jax.nn.relu((x - self.b_dec[...]) @ self.w_enc[...] + self.b_enc[...])

    def decode(self, z):
        return z @ self.w_dec[...] + self.b_dec[...]

    def __call__(self, x):
        z = self.encode(x)
        return self.decode(z), z


def relu_sae_loss(model: ReluSAE, x, l1: float):
    """Mean over the batch of ||x - x_hat||^2 + l1 ||z||_1; returns (loss, (x_hat, z))."""
    x_hat, z = model(x)
    mse = jnp.mean(jnp.sum(f32(x - x_hat) ** 2, -1))
    return mse + l1 * jnp.mean(jnp.sum(jnp.abs(f32(z)), -1)), (x_hat, z)


def project_decoder_grad(grad_w_dec, w_dec):
    """Remove from each decoder row's gradient its component along the row (the row's norm stays put to first
    order; ``renormalise_decoder`` removes the rest after the step)."""
    u = _unit_rows(w_dec)
    return grad_w_dec - jnp.sum(grad_w_dec * u, -1, keepdims=True) * u


def renormalise_decoder(w_dec):
    return _unit_rows(w_dec)


class TopKSAE(nnx.Module):
    def __init__(self, d: int, n_latents: int, k: int, *, rngs: nnx.Rngs, tied_init: bool = True):
        w = _unit_rows(jax.random.normal(rngs.params(), (n_latents, d)))
        self.w_dec = nnx.Param(w)
        enc = w.T if tied_init else _unit_rows(jax.random.normal(rngs.params(), (n_latents, d))).T
        self.w_enc = nnx.Param(enc)
        self.b_pre = nnx.Param(jnp.zeros((d,)))
        self.k = k

    def pre_activations(self, x):
        return (x - self.b_pre[...]) @ self.w_enc[...]

    def encode(self, x):
        return topk_relu(self.pre_activations(x), self.k)

    def decode(self, z):
        return z @ self.w_dec[...] + self.b_pre[...]

    def __call__(self, x):
        z = self.encode(x)
        return self.decode(z), z


def topk_relu(pre, k: int):
    """Keep each row's k largest entries (then ReLU), zero the rest."""
    vals, idx = jax.lax.top_k(pre, k)
    out = jnp.zeros_like(pre)
    out = jax.vmap(lambda o, i, v: o.at[i].set(v))(out.reshape(-1, pre.shape[-1]), idx.reshape(-1, k),
                                                   vals.reshape(-1, k))
    return jax.nn.relu(out.reshape(pre.shape))


def topk_loss(model: TopKSAE, x, dead_mask, k_aux: int, aux_coef: float = 1.0 / 32.0):
    """||x - x_hat||^2 + aux_coef * ||e - e_hat||^2, with e = x - x_hat and e_hat the decoder (no bias) applied to
    the top-k_aux pre-activations among dead latents (Gao et al. Section 2.4 / A.2). ``dead_mask``: (n_latents,)
    bool. Returns (loss, (x_hat, fired)), ``fired`` (n_latents,) bool: the latents active for some input.

    Sparse, as Gao et al. Section 5.3 / Appendix D: the dense pre-activations only choose each input's k latents
    (top_k passes no gradient through the choice); the k values are recomputed from the gathered encoder columns and
    decoded from the gathered decoder rows, so the decoder and both weight gradients cost k*d per input instead of
    n_latents*d. Without dead latents the auxiliary term is zero and is not computed (lax.cond), as in SAELens."""
    w_enc, w_dec, b_pre = model.w_enc[...], model.w_dec[...], model.b_pre[...]
    xc = x - b_pre
    _, idx = jax.lax.top_k(jax.lax.stop_gradient(xc @ w_enc), model.k)                 # (batch, k)
    vals = jax.nn.relu(jnp.einsum("bd,bkd->bk", xc, jnp.take(w_enc.T, idx, axis=0)))
    x_hat = jnp.einsum("bk,bkd->bd", vals, jnp.take(w_dec, idx, axis=0)) + b_pre
    mse = jnp.mean(jnp.sum(f32(x - x_hat) ** 2, -1))

    def auxk(_):
        pre = xc @ w_enc
        # with at most k_aux dead latents the top k_aux among them are all of them: no top_k needed (same values)
        z_aux = jax.lax.cond(jnp.sum(dead_mask) <= k_aux, lambda: jnp.where(dead_mask, jax.nn.relu(pre), 0.0),
                             lambda: jnp.where(dead_mask, topk_relu(jnp.where(dead_mask, pre, -1e30), k_aux), 0.0))
        e = jax.lax.stop_gradient(x - x_hat)
        return jnp.mean(jnp.sum(f32(e - z_aux @ w_dec) ** 2, -1))

    aux = jax.lax.cond(jnp.any(dead_mask), auxk, lambda _: jnp.zeros((), mse.dtype), None)
    fired = jnp.zeros(w_dec.shape[0], jnp.int32).at[idx.ravel()].add((vals > 0).ravel().astype(jnp.int32)) > 0
    return mse + aux_coef * aux, (x_hat, fired)
