"""The MoE language models and their runs: FLOP matching, losses in the training objective, determinism, exact resume,
the steps-to-quality measurement, and the errors a bad config gets (issue 5, items 2, 4, 7)."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from papers.moe import model as M
from papers.moe import runs
from papers.moe.layer import MoEFFN, collect
from repro import config as rconfig
from repro import text

CORPUS = text.corpus_from_text("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 40)
SMALL = ["lm.layers=2", "lm.d_model=16", "lm.d_ff=64", "lm.heads=2", "lm.context=16", "moe.group_size=32",
         "train.batch_size=4", "train.steps=12", "train.log_every=4", "train.eval_every=4", "train.checkpoint_every=4",
         "train.warmup=2", "eval.windows=4"]


def cfg_for(experiment: str, extra=()):
    pcfg = rconfig.load_paper_config("papers/moe/config.yaml")
    return rconfig.resolve(pcfg, experiment, "smoke", SMALL + list(extra))


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    monkeypatch.setattr(text, "load_chars", lambda *a, **k: CORPUS)
    return tmp_path


def test_moe_is_flop_matched_and_only_every_other_block_is_moe():
    # switch-e8 and noisy-e8 (top-2) are FLOP-matched: each expert d_ff / k; top2-e8 is Switch Table 1's MoE-Base,
    # whose two experts per token are each the dense FFN's size
    for exp, width in (("switch-e8", 64), ("noisy-e8", 32), ("top2-e8", 64)):
        model = nnx.eval_shape(lambda e=exp: M.build_model(cfg_for(e), CORPUS.vocab_size, 0))   # shapes only
        kinds = [type(b.ffn).__name__ for b in model.blocks]
        assert kinds == ["MLP", "MoEFFN"]
        assert model.blocks[1].ffn.w_up.shape == (8, 16, width)
    dense = nnx.eval_shape(lambda: M.build_model(cfg_for("dense"), CORPUS.vocab_size, 0))
    assert [type(b.ffn).__name__ for b in dense.blocks] == ["MLP", "MLP"]


def test_auxiliary_losses_enter_the_objective_with_their_coefficients():
    cfg = cfg_for("switch-e8")
    model = nnx.jit(lambda: M.build_model(cfg, CORPUS.vocab_size, 0))()   # built in one compilation
    x = jnp.asarray(CORPUS.train[:64].reshape(4, 16))
    ce, aux, stats, counts = nnx.jit(M.forward)(model, x, x)
    layer = model.blocks[1].ffn
    nnx.jit(lambda m, h: m(h))(layer, jax.random.normal(jax.random.key(0), (4, 16, 16)))   # a call records its losses
    found = collect(model)
    losses = found["losses"][0]
    assert float(found["aux"][0]) == pytest.approx(0.01 * float(losses["balance"]) + 0.001 * float(losses["z"]),
                                                   rel=1e-5)
    assert len(counts) == 1 and float(jnp.sum(counts[0])) == 64    # one MoE layer, every token-choice counted
    assert 0.0 <= float(stats["dropped"]) < 1.0 and float(stats["max_load"]) >= 1.0


def test_dropless_gather_and_ragged_layers_agree():
    kw = dict(rngs=nnx.Rngs(0), group_size=32, capacity_factor=None, k=2)
    a, b = (
        MoEFFN(16, 32, 4, dispatch="gather", **kw),
        MoEFFN(16, 32, 4, dispatch="ragged", **dict(kw, rngs=nnx.Rngs(0))),
    )
    x = jax.random.normal(jax.random.key(1), (2, 32, 16))
    ya, yb = nnx.jit(lambda a, b: (a(x), b(x)))(a, b)       # one compilation, not one per eager operation
    np.testing.assert_allclose(np.asarray(ya), np.asarray(yb), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(dispatch="ragged", capacity_factor=1.25), "dropless"),
        (dict(load_coef=0.1), "noisy"),
        (dict(router="argmax"), "unknown router"),
        (dict(dispatch="scatter"), "unknown dispatch"),
        (dict(k=5), "k=5"),
    ],
)
def test_bad_layer_settings_fail_with_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MoEFFN(16, 32, 4, rngs=nnx.Rngs(0), **kwargs)


def test_group_size_must_divide_the_tokens():
    layer = MoEFFN(16, 32, 4, rngs=nnx.Rngs(0), group_size=24)
    with pytest.raises(ValueError, match="moe.group_size"):
        layer(jnp.zeros((2, 16, 16)))


@pytest.mark.integration
def test_same_seed_same_numbers_and_a_killed_run_resumes_exactly(results):
    cfg = cfg_for("noisy-e8")  # the noisy router: its noise must replay too
    a, _ = runs.train_lm(cfg, 0, results / "a")
    b, _ = runs.train_lm(cfg, 0, results / "b")
    assert a["val_loss"] == b["val_loss"] and a["val_max_load"] == b["val_max_load"]
    assert runs.train_lm(cfg, 0, results / "c", stop_after=4) is None
    c, _ = runs.train_lm(cfg, 0, results / "c")
    assert c["val_loss"] == a["val_loss"] and c["train_loss"] == a["train_loss"]
    loads = json.loads((results / "a" / "expert_load.json").read_text())["layers"]
    assert len(loads) == 1 and sum(loads[0]) == pytest.approx(1.0)
    d, _ = runs.train_lm(cfg, 1, results / "d")
    assert d["val_loss"] != a["val_loss"]


def test_steps_to_reach_interpolates_between_evaluations():
    history = [
        {"step": 100, "eval_val_loss": 2.0},
        {"step": 150},
        {"step": 200, "eval_val_loss": 1.5},
        {"step": 300, "eval_val_loss": 1.0},
    ]
    assert runs.steps_to_reach(history, 1.5) == 200
    assert runs.steps_to_reach(history, 1.25) == pytest.approx(250)
    assert runs.steps_to_reach(history, 2.5) == 100
    assert runs.steps_to_reach(history, 0.5) is None
