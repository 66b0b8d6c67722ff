"""The shared transformer layers and the character corpus."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from repro import text
from repro.nn.transformer import MLP, TransformerLM, next_token_loss


def model():
    return TransformerLM(11, 16, 2, 4, 8, rngs=nnx.Rngs(0))


def test_attention_is_causal():
    m = model()
    a = jnp.array([[1, 2, 3, 4, 5, 6, 7, 8]])
    b = a.at[0, 5].set(9)
    la, lb = m(a), m(b)
    assert np.allclose(la[0, :5], lb[0, :5], atol=1e-6)        # positions before the change see nothing of it
    assert not np.allclose(la[0, 5:], lb[0, 5:], atol=1e-6)


def test_residual_stream_splits_the_forward_pass():
    m, t = model(), jnp.arange(16).reshape(2, 8) % 11
    for layer in range(3):
        assert np.allclose(m.logits_from(m.residual(t, layer), layer), m(t), atol=1e-5)


def test_next_token_loss_is_uniform_for_equal_logits():
    assert np.isclose(next_token_loss(jnp.zeros((2, 3, 11)), jnp.ones((2, 3), jnp.int32)), np.log(11))


def test_char_corpus_split_vocab_and_windows():
    c = text.corpus_from_text("abcabcabcd" * 10, train_fraction=0.9)
    assert c.vocab == "abcd" and len(c.train) == 90 and len(c.val) == 10
    assert c.decode(c.train[:4]) == "abca"
    x, y = text.random_windows(jax.random.key(0), jnp.asarray(c.train), 4, 5)
    x2, _ = text.random_windows(jax.random.key(0), jnp.asarray(c.train), 4, 5)
    assert x.shape == (4, 5) and np.array_equal(x, x2) and np.array_equal(x[:, 1:], y[:, :-1])
    vx, vy = text.fixed_windows(c.val, 3, 4)
    assert vx.shape == (2, 4) and np.array_equal(vx[:, 1:], vy[:, :-1])     # only two windows fit in 10 tokens


def test_rotary_scores_depend_on_relative_position_only_and_keep_norms():
    from repro.nn.transformer import rotary
    q = jax.random.normal(jax.random.key(0), (1, 1, 1, 8))
    k = jax.random.normal(jax.random.key(1), (1, 1, 1, 8))
    seq = 12

    def score(m, n):          # q placed at position m, k at position n
        qs = rotary(jnp.zeros((1, 1, seq, 8)).at[:, :, m].set(q[:, :, 0]))[0, 0, m]
        ks = rotary(jnp.zeros((1, 1, seq, 8)).at[:, :, n].set(k[:, :, 0]))[0, 0, n]
        return float(qs @ ks)

    assert score(5, 2) == pytest.approx(score(9, 6), rel=1e-5)
    assert score(5, 2) != pytest.approx(score(5, 4), rel=1e-3)
    r = rotary(jnp.broadcast_to(q, (1, 1, seq, 8)))
    np.testing.assert_allclose(jnp.linalg.norm(r, axis=-1), jnp.linalg.norm(q), rtol=1e-5)


def test_rope_model_has_no_position_table_and_learned_one_refuses_longer_inputs():
    rope = TransformerLM(11, 16, 1, 2, 8, rngs=nnx.Rngs(0), positions="rope")
    assert rope.pos is None
    assert rope(jnp.zeros((1, 32), jnp.int32)).shape == (1, 32, 11)     # any length
    learned = TransformerLM(11, 16, 1, 2, 8, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="context"):
        learned(jnp.zeros((1, 9), jnp.int32))


def test_xpos_is_rotary_times_a_per_pair_decay_in_the_distance():
    """xPos (Sun et al. 2022, Section 3.2): q_n . k_m = the rotary score with pair i weighted by
    zeta_i^((n - m) / scale_base), zeta_i = (2i/d + 0.4) / 1.4; the same at any sequence length (centred positions)."""
    from repro.nn.transformer import rotary, xpos
    d, base = 8, 16.0
    zeta = (np.arange(0, d, 2) / d + 0.4) / 1.4
    q = jax.random.normal(jax.random.key(0), (d,))
    k = jax.random.normal(jax.random.key(1), (d,))

    def pair_scores(fn, n, m, seq):   # per-pair contributions to q_n . k_m
        place = lambda v, p: jnp.zeros((1, 1, seq, d)).at[0, 0, p].set(v)  # noqa: E731
        qs, ks = fn(place(q, n), False)[0, 0, n], fn(place(k, m), True)[0, 0, m]
        return np.asarray(qs * ks).reshape(-1, 2).sum(-1)

    rope = lambda x, keys: rotary(x)  # noqa: E731
    decayed = lambda x, keys: xpos(x, base, keys)  # noqa: E731
    for n, m in [(9, 2), (5, 5), (11, 0)]:
        expected = pair_scores(rope, n, m, 12) * zeta ** ((n - m) / base)
        np.testing.assert_allclose(pair_scores(decayed, n, m, 12), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(pair_scores(decayed, 9, 2, 12), pair_scores(decayed, 9, 2, 40), rtol=1e-4, atol=1e-6)
    far, near = pair_scores(decayed, 11, 0, 12), pair_scores(rope, 11, 0, 12)
    assert np.all(np.abs(far) < np.abs(near))                      # every pair decays with distance
    m = TransformerLM(11, 16, 1, 2, 8, rngs=nnx.Rngs(0), positions="xpos", xpos_scale_base=base)
    assert m.pos is None and m(jnp.zeros((1, 32), jnp.int32)).shape == (1, 32, 11)
    with pytest.raises(ValueError, match="xpos"):
        TransformerLM(11, 16, 1, 2, 8, rngs=nnx.Rngs(0), positions="alibi")


def test_position_scale_shows_position_m_the_angles_and_decay_of_position_s_times_m():
    """A miniature trained s times shorter than the paper, with positions times s, sees at position m what the
    paper's model sees at s * m: rotary at scale 4 on 6 positions equals rotary on 24 positions read every 4th; the
    xPos decay with scale_base b at scale s equals the decay with b / s at scale 1 (the same per-token decay)."""
    from repro.nn.transformer import rotary, xpos
    x = jax.random.normal(jax.random.key(0), (1, 2, 24, 8))
    np.testing.assert_allclose(rotary(x[:, :, ::4], position_scale=4.0), rotary(x)[:, :, ::4], rtol=1e-5, atol=1e-5)
    assert np.array_equal(rotary(x, position_scale=1.0), rotary(x))              # the default is the old program
    for keys in (False, True):
        a = xpos(x, 512.0, keys, position_scale=4.0) / rotary(x, position_scale=4.0)
        b = xpos(x, 128.0, keys) / rotary(x)
        np.testing.assert_allclose(a, b, rtol=1e-4)
        assert np.array_equal(xpos(x, 128.0, keys, position_scale=1.0), xpos(x, 128.0, keys))
    m = TransformerLM(11, 16, 1, 2, 8, rngs=nnx.Rngs(0), positions="rope", position_scale=4.0)
    assert m.blocks[0].attn.position_scale == 4.0 and m(jnp.zeros((1, 5), jnp.int32)).shape == (1, 5, 11)


def test_attention_only_blocks_have_no_feed_forward_and_the_default_is_unchanged():
    """mlp=False: the Mamba paper's 137K-parameter attention baselines (Table 11) fit two attention-only layers at
    D=128; with mlp=True (the default) the model is built exactly as before (same parameters, same values)."""
    count = lambda m: sum(x.size for x in jax.tree_util.tree_leaves(nnx.state(m, nnx.Param)))  # noqa: E731
    only = TransformerLM(16, 128, 2, 8, 8, rngs=nnx.Rngs(0), positions="rope", mlp=False)
    assert all(b.ffn is None and b.ln2 is None for b in only.blocks)
    assert count(only) == 2 * (128 * 384 + 384 + 128 * 128 + 128 + 2 * 128) + 16 * 128 + 2 * 128   # 135,424
    assert only(jnp.zeros((1, 5), jnp.int32)).shape == (1, 5, 16)
    a = TransformerLM(16, 32, 2, 4, 8, rngs=nnx.Rngs(3), positions="rope")
    b = TransformerLM(16, 32, 2, 4, 8, rngs=nnx.Rngs(3), positions="rope", mlp=True)
    for x, y in zip(jax.tree_util.tree_leaves(nnx.state(a)), jax.tree_util.tree_leaves(nnx.state(b))):
        assert np.array_equal(x, y)
    with pytest.raises(ValueError, match="make_ffn"):
        TransformerLM(16, 32, 1, 4, 8, rngs=nnx.Rngs(0), mlp=False, make_ffn=lambda rngs: MLP(32, rngs=rngs))
