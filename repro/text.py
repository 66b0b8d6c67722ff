"""Character-level corpora (TinyShakespeare) as integer arrays, with a fixed split and batches that are a pure
function of (seed, step).

The split is by position: the first ``train_fraction`` of the characters train, the rest validate (no shuffling,
so no validation window overlaps a training window). The vocabulary is the sorted set of characters of the whole
file (65 for TinyShakespeare).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from repro import data


@dataclasses.dataclass(frozen=True)
class CharCorpus:
    train: np.ndarray      # int32 token ids
    val: np.ndarray
    vocab: str

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def decode(self, ids) -> str:
        return "".join(self.vocab[int(i)] for i in ids)


def load_chars(name: str = "tinyshakespeare", filename: str = "input.txt", train_fraction: float = 0.9) -> CharCorpus:
    text = data.path(name, filename).read_text(encoding="utf-8")
    return corpus_from_text(text, train_fraction)


def corpus_from_text(text: str, train_fraction: float = 0.9) -> CharCorpus:
    vocab = "".join(sorted(set(text)))
    lookup = {c: i for i, c in enumerate(vocab)}
    ids = np.fromiter((lookup[c] for c in text), np.int32, len(text))
    cut = int(len(ids) * train_fraction)
    return CharCorpus(ids[:cut], ids[cut:], vocab)


def random_windows(key, tokens: jax.Array, batch: int, length: int):
    """``batch`` windows of ``length + 1`` tokens at uniform random offsets: (inputs, next-token targets)."""
    starts = jax.random.randint(key, (batch,), 0, tokens.shape[0] - length - 1)
    idx = starts[:, None] + jnp.arange(length + 1)[None, :]
    w = tokens[idx]
    return w[:, :-1], w[:, 1:]


def fixed_windows(tokens: np.ndarray, n_windows: int, length: int):
    """Evenly spaced, non-overlapping-where-possible windows for evaluation (the same for every seed)."""
    n_windows = min(n_windows, (len(tokens) - 1) // length)
    starts = np.linspace(0, len(tokens) - length - 1, n_windows).astype(np.int64)
    idx = starts[:, None] + np.arange(length + 1)[None, :]
    w = tokens[idx]
    return w[:, :-1], w[:, 1:]
