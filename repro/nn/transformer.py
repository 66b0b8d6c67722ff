"""A decoder-only transformer language model (GPT-2 layout: pre-LayerNorm blocks, learned absolute positions, tied
input/output embedding), with the residual stream exposed between blocks so that interpretability tools (SAEs) can
read it and splice a replacement into it. The feed-forward sub-layer is a constructor argument, so other papers
(mixture-of-experts) swap it without copying the rest. ``positions="rope"`` replaces the learned position table by
rotary embeddings of queries and keys (Su et al. 2021, RoFormer eq. 34), as the attention baselines of Mamba's
length-extrapolation test use; ``positions="xpos"`` adds xPos's exponential decay to the rotation (Sun et al. 2022,
"A Length-Extrapolatable Transformer", Section 3.2), Mamba Table 2's third attention baseline.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx


POSITIONS = ("learned", "rope", "xpos")
XPOS_GAMMA = 0.4            # xPos Section 3.2: zeta_i = (2i/d + gamma) / (1 + gamma)


def positions_of(t: int, position_scale: float = 1.0):
    """Positions 0..t-1, times ``position_scale``: a model trained on sequences s times shorter than the paper's sees,
    at position m, the angles (and xPos decay) the paper's model sees at s * m, so that its rotary frequencies span
    its training length as the paper's span theirs (a reduced-length miniature of a length-extrapolation test)."""
    pos = jnp.arange(t, dtype=jnp.float32)
    return pos if position_scale == 1.0 else pos * jnp.float32(position_scale)


def rotary(x, base: float = 10000.0, position_scale: float = 1.0):
    """RoFormer's rotary embedding of x (batch, heads, time, d_head): pairs (2i, 2i+1) rotated by t * base^(-2i/d)
    (t times ``position_scale``: positions_of)."""
    t, dh = x.shape[-2], x.shape[-1]
    if dh % 2:
        raise ValueError(f"rotary embeddings need an even head size, got {dh}")
    freq = base ** (-jnp.arange(0, dh, 2, dtype=jnp.float32) / dh)
    angle = positions_of(t, position_scale)[:, None] * freq[None, :]            # (t, dh/2)
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    even, odd = x[..., 0::2], x[..., 1::2]
    return jnp.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1).reshape(x.shape)


def xpos(x, scale_base: float, keys: bool, position_scale: float = 1.0):
    """xPos (Sun et al. 2022, Section 3.2): the rotary embedding with pair i of the query at position n scaled by
    zeta_i^(n / scale_base) and of the key at m by zeta_i^(-m / scale_base), zeta_i = (2i/d + 0.4) / 1.4 < 1, so the
    score of a pair decays as zeta_i^((n - m) / scale_base) with distance. Positions are counted from the middle of
    the sequence, as the authors' torchscale code does (the offset cancels in q . k and keeps the scales finite), and
    times ``position_scale`` like the rotation (positions_of)."""
    t, dh = x.shape[-2], x.shape[-1]
    zeta = (jnp.arange(0, dh, 2, dtype=jnp.float32) / dh + XPOS_GAMMA) / (1.0 + XPOS_GAMMA)       # (dh/2,)
    pos = positions_of(t, position_scale) - (t // 2) * position_scale
    scale = zeta[None, :] ** ((-pos if keys else pos)[:, None] / scale_base)                       # (t, dh/2)
    return rotary(x, position_scale=position_scale) * jnp.repeat(scale, 2, axis=-1).astype(x.dtype)


class CausalSelfAttention(nnx.Module):
    def __init__(self, d_model: int, n_heads: int, *, rngs: nnx.Rngs, rope: bool = False,
                 xpos_scale_base: float | None = None, position_scale: float = 1.0):
        """``rope``: rotary queries and keys; ``xpos_scale_base`` (with rope): xPos's decay on top;
        ``position_scale``: positions multiplied by it in both (positions_of)."""
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads, self.rope, self.xpos_scale_base = n_heads, rope, xpos_scale_base
        self.position_scale = float(position_scale)
        self.qkv = nnx.Linear(d_model, 3 * d_model, rngs=rngs)
        self.out = nnx.Linear(d_model, d_model, rngs=rngs)

    def __call__(self, x):
        b, t, d = x.shape
        h = self.n_heads
        q, k, v = jnp.split(self.qkv(x).reshape(b, t, 3, h, d // h), 3, axis=2)
        q, k, v = (a[:, :, 0].transpose(0, 2, 1, 3) for a in (q, k, v))          # (b, h, t, dh)
        s = self.position_scale
        if self.rope and self.xpos_scale_base is not None:
            q, k = (xpos(q, self.xpos_scale_base, keys=False, position_scale=s),
                    xpos(k, self.xpos_scale_base, keys=True, position_scale=s))
        elif self.rope:
            q, k = rotary(q, position_scale=s), rotary(k, position_scale=s)
        # the scores' softmax in float32, the products in the inputs' precision (no-op casts in float32)
        scores = (q @ k.transpose(0, 1, 3, 2)).astype(jnp.float32) / jnp.sqrt(jnp.float32(d // h))
        causal = jnp.tril(jnp.ones((t, t), bool))
        att = jax.nn.softmax(jnp.where(causal, scores, -jnp.inf), axis=-1)
        return self.out((att.astype(v.dtype) @ v).transpose(0, 2, 1, 3).reshape(b, t, d))


class MLP(nnx.Module):
    """The dense feed-forward sub-layer: Linear(d, ratio*d), GELU, Linear(ratio*d, d)."""

    def __init__(self, d_model: int, ratio: int = 4, *, rngs: nnx.Rngs):
        self.up = nnx.Linear(d_model, ratio * d_model, rngs=rngs)
        self.down = nnx.Linear(ratio * d_model, d_model, rngs=rngs)

    def __call__(self, x):
        return self.down(jax.nn.gelu(self.up(x)))


class Block(nnx.Module):
    FP32_PARAMS = ("ln1", "ln2")      # the LayerNorms stay float32 under train.precision=bf16 (repro/precision.py)

    def __init__(self, d_model: int, n_heads: int, ffn: nnx.Module | None, *, rngs: nnx.Rngs, rope: bool = False,
                 xpos_scale_base: float | None = None, position_scale: float = 1.0):
        """``ffn=None``: an attention-only block (no second LayerNorm, no feed-forward sub-layer)."""
        self.ln1 = nnx.LayerNorm(d_model, rngs=rngs)
        self.attn = CausalSelfAttention(d_model, n_heads, rngs=rngs, rope=rope, xpos_scale_base=xpos_scale_base,
                                        position_scale=position_scale)
        self.ln2 = nnx.LayerNorm(d_model, rngs=rngs) if ffn is not None else None
        self.ffn = ffn

    def __call__(self, x):
        # the residual stream x as it comes (float32); each sub-layer's input in the parameters' precision
        # (bfloat16 under train.precision=bf16, else float32: no-op casts)
        compute = self.attn.qkv.kernel.dtype
        x = x + self.attn(self.ln1(x).astype(compute))
        if self.ffn is None:
            return x
        return x + self.ffn(self.ln2(x).astype(compute))


class TransformerLM(nnx.Module):
    FP32_PARAMS = ("ln_f",)

    def __init__(self, vocab_size: int, d_model: int, n_layers: int, n_heads: int, context: int, *,
                 rngs: nnx.Rngs, make_ffn: Callable[..., nnx.Module] | None = None, positions: str = "learned",
                 xpos_scale_base: float = 512.0, position_scale: float = 1.0, mlp: bool = True):
        """``context``: the longest input (the learned position table's size; unused with rope and xpos).
        ``xpos_scale_base``: xPos's decay length (512 in the xPos paper and its code), read with positions="xpos".
        ``position_scale``: rope and xpos positions times it (positions_of); the learned table ignores it.
        ``mlp=False``: attention-only blocks (no feed-forward sub-layer; ``make_ffn`` must then be None)."""
        if positions not in POSITIONS:
            raise ValueError(f"unknown positions {positions!r}; valid: {', '.join(POSITIONS)}")
        if not mlp and make_ffn is not None:
            raise ValueError("mlp=False builds attention-only blocks: pass no make_ffn")
        make_ffn = make_ffn or ((lambda rngs: MLP(d_model, rngs=rngs)) if mlp else (lambda rngs: None))
        self.embed = nnx.Embed(vocab_size, d_model, embedding_init=nnx.initializers.normal(0.02), rngs=rngs)
        self.pos = (nnx.Param(0.02 * jax.random.normal(rngs.params(), (context, d_model))) if positions == "learned"
                    else None)
        rope, base = positions in ("rope", "xpos"), (float(xpos_scale_base) if positions == "xpos" else None)
        self.blocks = nnx.List([Block(d_model, n_heads, make_ffn(rngs=rngs), rngs=rngs, rope=rope, xpos_scale_base=base,
                                      position_scale=position_scale) for _ in range(n_layers)])
        self.ln_f = nnx.LayerNorm(d_model, rngs=rngs)

    def residual(self, tokens, layer: int):
        """The residual stream after ``layer`` blocks (0 = the embeddings), shape (batch, time, d_model)."""
        x = self.embed(tokens)
        if self.pos is not None:
            if tokens.shape[1] > self.pos.shape[0]:
                raise ValueError(f"{tokens.shape[1]} tokens but a learned position table of {self.pos.shape[0]}: "
                                 "build the model with context >= the longest input")
            x = x + self.pos[...][: tokens.shape[1]]
        for block in self.blocks[:layer]:
            x = block(x)
        return x

    def logits_from(self, x, layer: int):
        """Run blocks ``layer`` .. end on a residual stream and return the next-token logits."""
        for block in self.blocks[layer:]:
            x = block(x)
        # the tied head in the table's precision (nnx.Embed.attend would use the dtype the table had when built)
        return self.ln_f(x).astype(self.embed.embedding.dtype) @ self.embed.embedding[...].T

    def __call__(self, tokens):
        return self.logits_from(self.residual(tokens, 0), 0)


def next_token_loss(logits, targets):
    """Mean cross-entropy in nats per token."""
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], axis=-1))
