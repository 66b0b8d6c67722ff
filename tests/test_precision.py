"""Mixed precision (repro/precision.py, issue 24 item 3): the cast policy on hand-made trees, the float32 master state,
bfloat16 matmuls in the compiled step, and a smoke run of each paper in bf16 tracking its fp32 loss curve."""
import csv
import dataclasses
import importlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from repro import config as rconfig
from repro import fit, precision

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_cast_floats_casts_floating_leaves_but_those_kept_and_leaves_the_rest():
    tree = {"w": jnp.ones((2, 2)), "ssm": {"A_log": jnp.ones(2)}, "ids": jnp.arange(3), "mask": jnp.ones(2, bool),
            "key": jax.random.key(0)}
    out = precision.cast_floats(tree, jnp.bfloat16, keep=r"^\['ssm'\]\['A_log'\]")
    assert out["w"].dtype == jnp.bfloat16 and out["ssm"]["A_log"].dtype == jnp.float32
    assert out["ids"].dtype == tree["ids"].dtype and out["mask"].dtype == bool
    assert out["key"].dtype == tree["key"].dtype


def test_fp32_is_the_loss_itself_and_an_unknown_precision_names_the_valid_ones():
    def loss(p, b, e):
        return jnp.sum(p * b), {}
    assert precision.loss_in(loss, "fp32") is loss
    with pytest.raises(precision.PrecisionError, match="train.precision='fp16' is not known; valid: fp32, bf16"):
        precision.loss_in(loss, "fp16")


def test_modules_name_their_float32_parameters_by_full_path():
    from papers.mamba.model import SequenceModel
    cfg = dict(d_model=16, layers=2, expand=2, d_conv=4, d_state=4, s4_state=8, s4_init="lin",
               scan_method="sequential", kind="mamba", layer="s6", vocab_size=16)
    model = nnx.eval_shape(lambda: SequenceModel(cfg, rngs=nnx.Rngs(params=0)))
    _, params = nnx.split(model, nnx.Param)
    cast = jax.eval_shape(lambda p: precision.cast_floats(p, jnp.bfloat16, precision.fp32_params(model)), params)
    dtypes = {jax.tree_util.keystr(k): v.dtype for k, v in jax.tree_util.tree_leaves_with_path(cast)}
    kept = {k for k, d in dtypes.items() if d == jnp.float32}
    assert kept == {f"['blocks'][{i}]['ssm']{p}.value" for i in (0, 1)
                    for p in ("['A_log']", "['D']", "['dt_proj']['bias']", "['dt_proj']['kernel']")} | {
        "['norm_f']['weight'].value", "['norms'][0]['weight'].value", "['norms'][1]['weight'].value"}
    assert dtypes["['blocks'][0]['in_proj']['kernel'].value"] == jnp.bfloat16       # matmuls in bfloat16
    assert dtypes["['embed']['embedding'].value"] == jnp.bfloat16


def _regression():
    x = jax.random.normal(jax.random.key(0), (64, 8))
    y = x @ jax.random.normal(jax.random.key(1), (8, 1))
    return (x, y), {"w": jnp.zeros((8, 1)), "b": jnp.zeros((1,))}


def test_a_bf16_step_multiplies_in_bfloat16_and_keeps_a_float32_state():
    data, params = _regression()

    def loss(p, b, _):
        return jnp.mean((b[0] @ p["w"] + p["b"] - b[1]) ** 2), {}

    obj = fit.Objective(loss=loss, optimizer=optax.adam(0.05), precision="bf16")
    step = jax.jit(lambda s, d: fit.step_fn(obj)(s, 0, jax.random.key(0), d))
    text = str(jax.make_jaxpr(lambda s, d: fit.step_fn(obj)(s, 0, jax.random.key(0), d))(obj.init(params), data))
    assert "dot_general" in text and "bf16[64,1]" in text                  # the product of bf16 operands
    state, row = step(obj.init(params), data)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves((state.params, state.opt_state)) if x.ndim)
    assert row["loss"].dtype == jnp.float32
    obj32 = dataclasses.replace(obj, precision="fp32")
    state32, _ = jax.jit(lambda s, d: fit.step_fn(obj32)(s, 0, jax.random.key(0), d))(obj.init(params), data)
    # the same step to bf16's rounding, and not bit for bit (it did run in bf16)
    np.testing.assert_allclose(state.params["w"], state32.params["w"], rtol=0.05, atol=1e-3)
    assert not np.array_equal(np.asarray(state.params["w"]), np.asarray(state32.params["w"]))


def test_fp32_leaves_the_config_hash_of_earlier_runs_and_bf16_changes_it():
    cfg = {"model": {"d": 4}, "train": {"steps": 10}}
    h = rconfig.config_hash(cfg)
    assert rconfig.config_hash({**cfg, "train": {"steps": 10, "precision": "fp32"}}) == h
    assert rconfig.config_hash({**cfg, "train": {"steps": 10, "precision": "bf16"}}) != h


# --- each paper: a smoke run in bf16 tracks its fp32 loss curve -------------------------------------------------
# Tolerance, fixed for every paper: each logged training loss of the bf16 run within 5% (relative) of the fp32 run's
# at the same step. Measured on 2026-12-04 (2-core CPU) with these settings: Mamba s6-mamba < 0.01%, MoE switch-e8
# <= 0.01%, GAT on Cora < 0.01%, the TopK SAE 0.6%, 1.7%, 3.1% at steps 100, 200, 300 (the gap grows with training:
# its top-k choices flip at bf16's resolution; the test runs 200 steps: bf16 is emulated, slowly, on a CPU).
# GIN Table 1 is not compared point by point: its per-epoch losses (32-graph batches, batch norm, lr 0.01) move by
# 100% between epochs in fp32 alone at smoke scale, and bf16 is off by 2-106% per epoch over 10 epochs; GIN's runs
# stay fp32 at every scale (the paper's code trained in fp32).
CASES = {
    "mamba": ("s6-mamba", ["train.steps=200", "train.log_every=20", "train.eval_every=200",
                           "train.checkpoint_every=200"]),
    "moe": ("switch-e8", ["train.steps=100", "train.log_every=20", "train.eval_every=100",
                          "train.checkpoint_every=100"]),
    "sae": ("topk-k4", ["train.steps=200", "train.log_every=50"]),   # history rows every 100 steps; 300 measured too
    "gnn": ("gat-cora", ["train.steps=100", "train.log_every=10"]),
}


def _train_losses(paper, experiment, sets, precision_, run_dir):
    module = importlib.import_module(f"papers.{paper}.experiment")
    argv = ["--experiment", experiment, "--scale", "smoke", "--seed", "0", "--run-dir", str(run_dir), "--no-track",
            *[a for s in [*sets, f"train.precision={precision_}"] for a in ("--set", s)]]
    assert module.main(argv) == 0
    rows = list(csv.DictReader(open(run_dir / "history.csv")))
    return np.array([float(r["train_loss"]) for r in rows if r.get("train_loss")])


@pytest.mark.integration
@pytest.mark.slow   # ~75 s of CPU for the four (bf16 is emulated on a CPU): `make test-all`; the unit tests above stay
@pytest.mark.parametrize("paper", sorted(CASES))
def test_a_bf16_smoke_run_tracks_the_fp32_loss_curve(paper, tmp_path, monkeypatch):
    if paper in ("moe", "gnn") and not MIRROR.exists():
        pytest.skip("the offline mirror ../shared/data is not present")
    monkeypatch.setenv("REPRO_DATA", str(MIRROR))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    monkeypatch.setenv("REPRO_TRACKING", "off")
    experiment, sets = CASES[paper]
    fp32 = _train_losses(paper, experiment, sets, "fp32", tmp_path / "fp32")
    bf16 = _train_losses(paper, experiment, sets, "bf16", tmp_path / "bf16")
    assert len(fp32) == len(bf16) >= 2
    assert fp32[-1] < fp32[0]                                           # it trained: the curve means something
    gap = np.abs(bf16 / fp32 - 1)
    assert gap.max() <= 0.05, f"{paper}: bf16 vs fp32 relative gap per logged step {np.round(gap, 4).tolist()}"
