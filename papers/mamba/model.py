"""A token-in, logits-out stack: embedding, pre-norm residual blocks with RMSNorm, final norm, tied head
(the Mamba reference backbone, ``MixerModel`` + ``MambaLMHeadModel``)."""
from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from papers.mamba.blocks import make_block
from repro.nn import RMSNorm


class SequenceModel(nnx.Module):
    def __init__(self, cfg: dict, *, rngs: nnx.Rngs):
        d = cfg["d_model"]
        self.embed = nnx.Embed(cfg["vocab_size"], d, embedding_init=nnx.initializers.normal(0.02), rngs=rngs)
        self.norms = nnx.List([RMSNorm(d) for _ in range(cfg["layers"])])
        self.blocks = nnx.List([make_block(cfg["kind"], d, cfg["layer"], cfg, cfg["layers"], rngs)
                                for _ in range(cfg["layers"])])
        self.norm_f = RMSNorm(d)

    def __call__(self, tokens):
        # the residual stream in float32 (the reference code's residual_in_fp32), each block's input and the head in
        # the embedding's precision (bfloat16 under train.precision=bf16; float32 otherwise: no-op casts)
        compute = self.embed.embedding.dtype
        x = self.embed(tokens).astype(jnp.float32)
        for norm, block in zip(self.norms, self.blocks):
            x = x + block(norm(x).astype(compute))
        # the tied head: nnx.Embed.attend would compute in the dtype the table had when built (float32)
        return self.norm_f(x).astype(compute) @ self.embed.embedding[...].T
