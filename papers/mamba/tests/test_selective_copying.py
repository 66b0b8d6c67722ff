import jax
import numpy as np
import pytest

from papers.mamba import selective_copying as sc


def test_targets_are_the_data_tokens_in_order():
    inputs, targets = sc.batch(jax.random.key(0), 16, seq_len=50, n_tokens=6, vocab_size=10)
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    assert inputs.shape == (16, 56) and targets.shape == (16, 6)
    for x, y in zip(inputs, targets):
        region, markers = x[:50], x[50:]
        assert (markers == 9).all()                      # marker = vocab_size - 1
        data = region[region != 0]                       # noise = 0
        np.testing.assert_array_equal(data, y)           # the data tokens, in the order they appear
        assert ((y >= 1) & (y <= 8)).all()               # data tokens avoid noise and marker


def test_same_key_same_batch_and_different_keys_differ():
    a = sc.batch(jax.random.key(3), 4, 32, 4, 16)
    b = sc.batch(jax.random.key(3), 4, 32, 4, 16)
    c = sc.batch(jax.random.key(4), 4, 32, 4, 16)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_positions_vary_and_fill_the_region():
    inputs, _ = sc.batch(jax.random.key(1), 256, 64, 4, 16)
    positions = np.nonzero(np.asarray(inputs)[:, :64])[1]
    assert positions.min() < 4 and positions.max() > 59


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="n_tokens <= seq_len"):
        sc.batch(jax.random.key(0), 2, seq_len=3, n_tokens=5, vocab_size=16)
