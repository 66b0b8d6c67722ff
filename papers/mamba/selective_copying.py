"""The selective-copying task (Mamba, Section 3.1 and Appendix E.1), the S4 repo's variable-spacing generator.

Vocabulary ``vocab_size`` = A: token 0 is noise, 1..A-2 are data tokens, A-1 is the marker.
An example has ``seq_len`` positions of noise with ``n_tokens`` data tokens at sorted random positions, followed by
``n_tokens`` markers; the targets are the data tokens in order, read at the marker positions.

Length convention: ``seq_len`` is the region the data tokens are scattered over (the paper's 4096); the model's
input is ``seq_len + n_tokens`` long (4112 at full scale).

Everything is a pure JAX function of a PRNG key, so the batch for step t is a function of (seed, t) and can be
generated inside the jitted training step.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def example(key, seq_len: int, n_tokens: int, vocab_size: int):
    k_pos, k_tok = jax.random.split(key)
    # n_tokens distinct positions: the smallest n_tokens of a random permutation's ranks, sorted
    positions = jnp.sort(jnp.argsort(jax.random.uniform(k_pos, (seq_len,)))[:n_tokens])
    data = jax.random.randint(k_tok, (n_tokens,), 1, vocab_size - 1)
    inputs = jnp.zeros((seq_len,), jnp.int32).at[positions].set(data)
    inputs = jnp.concatenate([inputs, jnp.full((n_tokens,), vocab_size - 1, jnp.int32)])
    return inputs, data


def batch(key, batch_size: int, seq_len: int, n_tokens: int, vocab_size: int):
    """(inputs (batch, seq_len + n_tokens) int32, targets (batch, n_tokens) int32)."""
    if vocab_size < 3 or n_tokens > seq_len:
        raise ValueError(f"need vocab_size >= 3 and n_tokens <= seq_len (got {vocab_size}, {n_tokens}, {seq_len})")
    keys = jax.random.split(key, batch_size)
    return jax.vmap(lambda k: example(k, seq_len, n_tokens, vocab_size))(keys)
