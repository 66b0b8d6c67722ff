"""A decoder-only transformer language model (GPT-2 layout: pre-LayerNorm blocks, learned absolute positions, tied
input/output embedding), with the residual stream exposed between blocks so that interpretability tools (SAEs) can
read it and splice a replacement into it. The feed-forward sub-layer is a constructor argument, so other papers
(mixture-of-experts) swap it without copying the rest.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx


class CausalSelfAttention(nnx.Module):
    def __init__(self, d_model: int, n_heads: int, *, rngs: nnx.Rngs):
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.qkv = nnx.Linear(d_model, 3 * d_model, rngs=rngs)
        self.out = nnx.Linear(d_model, d_model, rngs=rngs)

    def __call__(self, x):
        b, t, d = x.shape
        h = self.n_heads
        q, k, v = jnp.split(self.qkv(x).reshape(b, t, 3, h, d // h), 3, axis=2)
        q, k, v = (a[:, :, 0].transpose(0, 2, 1, 3) for a in (q, k, v))          # (b, h, t, dh)
        scores = q @ k.transpose(0, 1, 3, 2) / jnp.sqrt(jnp.float32(d // h))
        causal = jnp.tril(jnp.ones((t, t), bool))
        att = jax.nn.softmax(jnp.where(causal, scores, -jnp.inf), axis=-1)
        return self.out((att @ v).transpose(0, 2, 1, 3).reshape(b, t, d))


class MLP(nnx.Module):
    """The dense feed-forward sub-layer: Linear(d, ratio*d), GELU, Linear(ratio*d, d)."""

    def __init__(self, d_model: int, ratio: int = 4, *, rngs: nnx.Rngs):
        self.up = nnx.Linear(d_model, ratio * d_model, rngs=rngs)
        self.down = nnx.Linear(ratio * d_model, d_model, rngs=rngs)

    def __call__(self, x):
        return self.down(jax.nn.gelu(self.up(x)))


class Block(nnx.Module):
    def __init__(self, d_model: int, n_heads: int, ffn: nnx.Module, *, rngs: nnx.Rngs):
        self.ln1 = nnx.LayerNorm(d_model, rngs=rngs)
        self.attn = CausalSelfAttention(d_model, n_heads, rngs=rngs)
        self.ln2 = nnx.LayerNorm(d_model, rngs=rngs)
        self.ffn = ffn

    def __call__(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))


class TransformerLM(nnx.Module):
    def __init__(self, vocab_size: int, d_model: int, n_layers: int, n_heads: int, context: int, *,
                 rngs: nnx.Rngs, make_ffn: Callable[..., nnx.Module] | None = None):
        make_ffn = make_ffn or (lambda rngs: MLP(d_model, rngs=rngs))
        self.embed = nnx.Embed(vocab_size, d_model, embedding_init=nnx.initializers.normal(0.02), rngs=rngs)
        self.pos = nnx.Param(0.02 * jax.random.normal(rngs.params(), (context, d_model)))
        self.blocks = nnx.List([Block(d_model, n_heads, make_ffn(rngs=rngs), rngs=rngs) for _ in range(n_layers)])
        self.ln_f = nnx.LayerNorm(d_model, rngs=rngs)

    def residual(self, tokens, layer: int):
        """The residual stream after ``layer`` blocks (0 = the embeddings), shape (batch, time, d_model)."""
        x = self.embed(tokens) + self.pos[...][: tokens.shape[1]]
        for block in self.blocks[:layer]:
            x = block(x)
        return x

    def logits_from(self, x, layer: int):
        """Run blocks ``layer`` .. end on a residual stream and return the next-token logits."""
        for block in self.blocks[layer:]:
            x = block(x)
        return self.embed.attend(self.ln_f(x))

    def __call__(self, tokens):
        return self.logits_from(self.residual(tokens, 0), 0)


def next_token_loss(logits, targets):
    """Mean cross-entropy in nats per token."""
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], axis=-1))
