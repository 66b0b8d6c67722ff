"""S4 on sequential / permuted MNIST: the TFDS loader (with TFDS's mock data), the classifier, the optimizer split,
one smoke run, and the `not run` path when the data is not prepared."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

tfds = pytest.importorskip("tensorflow_datasets")

from papers.mamba import experiment, smnist_task  # noqa: E402
from papers.mamba.s4_classifier import S4Classifier  # noqa: E402
from repro import config as rconfig  # noqa: E402
from repro import availability, data, tfds_data  # noqa: E402

PCFG = rconfig.load_paper_config(experiment.PAPER_DIR / "config.yaml")


def smoke_cfg(name="s4-smnist", *overrides):
    return rconfig.resolve(PCFG, name, "smoke", list(overrides))


@pytest.fixture
def mock_mnist():
    with tfds.testing.mock_data(num_examples=64):
        yield


def test_permuted_sequences_are_one_fixed_permutation_of_the_raster_ones(mock_mnist):
    plain, labels = smnist_task.sequences(smoke_cfg("s4-smnist"), "train", 16)
    permuted, labels_p = smnist_task.sequences(smoke_cfg("s4-psmnist"), "train", 16)
    perm = smnist_task.permutation(PCFG["base"]["task"]["permutation_seed"])
    assert plain.shape == (16, 784) and sorted(perm) == list(range(784))
    np.testing.assert_array_equal(np.asarray(permuted), np.asarray(plain)[:, perm])
    np.testing.assert_array_equal(labels, labels_p)
    np.testing.assert_array_equal(perm, smnist_task.permutation(PCFG["base"]["task"]["permutation_seed"]))
    assert not np.array_equal(perm, np.arange(784))


def test_pixels_are_normalised_from_the_uint8_images(mock_mnist):
    pixels, _ = smnist_task.load_split("mnist", "test", 8)
    raw = np.stack([np.asarray(tfds_data.source("mnist", "test")[i]["image"]).reshape(-1) for i in range(8)])
    np.testing.assert_allclose(pixels, (raw / 255.0 - smnist_task.MEAN) / smnist_task.STD, rtol=1e-6)


def test_classifier_shapes_and_dropout_only_with_a_key():
    cfg = {"d_model": 8, "layers": 2, "s4_state": 8, "s4_init": "lin", "dropout": 0.5}
    model = S4Classifier(cfg, 10, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (3, 50))
    run = nnx.jit(lambda m, x, key=None: m(x, key=key))                      # one compilation, not one per operation
    assert run(model, x).shape == (3, 10)
    np.testing.assert_array_equal(run(model, x), run(model, x))             # evaluation is deterministic
    assert not np.allclose(run(model, x), run(model, x, jax.random.key(2)))  # training applies dropout
    # causal layers + mean pooling: changing the last pixel changes the logits (it is read)
    assert not np.allclose(run(model, x), run(model, x.at[:, -1].add(5.0)))


def test_ssm_parameters_get_their_own_learning_rate_and_no_weight_decay():
    cfg = smoke_cfg()
    model = S4Classifier(cfg["model"], 10, rngs=nnx.Rngs(0))
    params = nnx.state(model, nnx.Param)
    tr = {**cfg["train"], "lr": 0.1, "ssm_lr": 0.0, "weight_decay": 0.5}
    tx = smnist_task.optimizer(tr)
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = jax.jit(lambda g, p: tx.update(g, tx.init(p), p))(grads, params)
    flat = dict(jax.tree_util.tree_flatten_with_path(updates)[0])
    for path, u in flat.items():
        ssm = any(n in jax.tree_util.keystr(path) for n in ("log_neg_a_re", "a_im", "log_dt"))
        assert bool(jnp.all(u == 0)) == ssm, jax.tree_util.keystr(path)


@pytest.mark.integration
def test_smoke_run_trains_and_evaluates_on_mock_data(tmp_path, monkeypatch, mock_mnist):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    monkeypatch.setenv("REPRO_TRACKING", "off")
    from repro.driver import main
    assert main(experiment.PAPER_DIR, experiment.workload,
                ["--experiment", "s4-psmnist", "--scale", "smoke", "--seed", "0"]) == 0
    metrics = json.loads((tmp_path / "mamba/runs/s4-psmnist/smoke/seed0/metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 100.0 and metrics["steps"] == 20
    assert np.isfinite(metrics["loss"])


def test_unprepared_data_blocks_the_experiments_with_the_command_that_prepares_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    blocked = availability.blocked_experiments(PCFG, "cpu")
    assert set(blocked) == {"s4-smnist", "s4-psmnist"}
    assert "not prepared" in blocked["s4-smnist"] and "python -m repro.tfds_data prepare mnist" in blocked["s4-smnist"]
    with pytest.raises(data.DataError, match="repro.tfds_data prepare mnist"):
        tfds_data.source("mnist", "train")
    # the run's command line says the same in one line, with no traceback
    from repro.driver import main
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    assert main(experiment.PAPER_DIR, experiment.workload,
                ["--experiment", "s4-smnist", "--scale", "smoke", "--no-track"]) == 2
