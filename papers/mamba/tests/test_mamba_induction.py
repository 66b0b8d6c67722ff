"""The induction-heads task and Mamba's constant-memory recurrent evaluation (issue 6, item 1)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from papers.mamba import induction, recurrent
from papers.mamba.model import SequenceModel

CFG = dict(d_model=16, layers=2, expand=2, d_conv=4, d_state=4, s4_state=8, s4_init="lin",
           scan_method="sequential", kind="mamba", layer="s6", vocab_size=16)


def test_examples_have_two_copy_prefixes_and_the_answer_follows_the_first():
    x, a = induction.batch(jax.random.key(0), 256, 32, 16)
    x, a = np.asarray(x), np.asarray(a)
    assert x.shape == (256, 32) and a.shape == (256,)
    prefix = 15
    for row, ans in zip(x, a):
        where = np.flatnonzero(row == prefix)
        assert len(where) == 2 and where[-1] == 31 and where[0] <= 29
        assert row[where[0] + 1] == ans and ans != prefix
    # the first prefix lands anywhere in [0, L-3]; answers cover the content tokens
    firsts = [np.flatnonzero(r == prefix)[0] for r in x]
    assert min(firsts) == 0 and max(firsts) == 29
    assert set(a.tolist()) == set(range(15))


def test_fresh_data_per_key_and_fixed_validation_sets_per_length():
    a, _ = induction.batch(jax.random.key(1), 4, 16, 16)
    b, _ = induction.batch(jax.random.key(2), 4, 16, 16)
    assert not jnp.array_equal(a, b)
    v1, _ = induction.batch(induction.validation_key(7, 64), 4, 64, 16)
    v2, _ = induction.batch(induction.validation_key(7, 64), 4, 64, 16)
    assert jnp.array_equal(v1, v2)
    with pytest.raises(ValueError):
        induction.batch(jax.random.key(0), 2, 3, 16)


def test_recurrent_evaluation_equals_the_parallel_forward():
    model = SequenceModel(CFG, rngs=nnx.Rngs(params=0))
    x, _ = induction.batch(jax.random.key(3), 3, 40, 16)
    rec, par = nnx.jit(lambda m, x: (recurrent.last_logits(m, x), m(x)[:, -1]))(model, x)   # one compilation
    np.testing.assert_allclose(np.asarray(rec), np.asarray(par), rtol=1e-4, atol=1e-5)


def test_recurrent_evaluation_refuses_blocks_it_does_not_implement():
    model = SequenceModel({**CFG, "layer": "s4"}, rngs=nnx.Rngs(params=0))
    with pytest.raises(ValueError, match="S6"):
        recurrent.init_state(model, 1)


def test_lengths_from_long_eval_from_on_are_judged_on_the_smaller_validation_set():
    from papers.mamba import induction_task
    t = dict(vocab_size=16, eval_examples=8, eval_batch=4, eval_seed=5, long_eval_from=64, long_eval_examples=2,
             test_lengths=[32, 64], train_length=32, attention_max_length=64)
    assert induction_task.eval_size(t, 32) == (8, 4) and induction_task.eval_size(t, 64) == (2, 2)
    assert len(induction_task.validation_keys(t, 32)) == 2 and len(induction_task.validation_keys(t, 64)) == 1
    model = SequenceModel(CFG, rngs=nnx.Rngs(params=0))
    out = induction_task.final_metrics(model, {"task": t, "model": CFG})
    # the answers it scores are those of the first two validation examples at 64 tokens, recurrently
    x, answers = induction.batch(induction_task.validation_keys(t, 64)[0], 2, 64, 16)
    right = jnp.argmax(jax.jit(recurrent.last_logits)(model, x), -1) == answers
    assert out["acc_64"] == pytest.approx(100.0 * float(jnp.mean(right))) and out["acc_64"] in (0.0, 50.0, 100.0)
    assert out["acc_32"] * 8 / 100 == pytest.approx(round(out["acc_32"] * 8 / 100))     # 8 examples at 32 tokens
