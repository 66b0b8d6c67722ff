"""Data parallelism (repro/parallel.py): one training step on 1 device and on 4 forced host devices gives the same
loss and parameters within floating-point tolerance, for each training loop that has a batch to split (repro.train:
Mamba, MoE and the SAE paper's language model; papers/sae/fit.py: the SAE fits; papers/sae/superposition.py: the toy
models of superposition). The GNN runs train full-batch on one graph: no batch to split. JAX fixes its device count
when it
starts, so each comparison runs in a subprocess with --xla_force_host_platform_device_count=4."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from repro import parallel
from repro.config import ConfigError

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`

HERE = Path(__file__).resolve().parent


def one_vs_four(paper, tmp_path):
    env = {
        **os.environ,
        # one thread per device, as every job runs: 4 devices on 2 cores do not fight over them
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4 --xla_cpu_multi_thread_eigen=false "
                     "intra_op_parallelism_threads=1",
        "JAX_PLATFORMS": "cpu",
        "REPRO_TRACKING": "off",
    }
    r = subprocess.run(
        [sys.executable, str(HERE / "data_parallel_step.py"), paper, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=HERE.parent,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("paper", ["mamba", "moe", "sae", "tms"])
def test_one_step_on_one_and_four_devices_agrees(paper, tmp_path):
    out = one_vs_four(paper, tmp_path)
    assert out["devices"] == 4
    assert abs(out["loss_1"] - out["loss_4"]) <= 1e-5 * max(1.0, abs(out["loss_1"]))
    # Adam turns gradient rounding into at most a fraction of its step (lr ~ 1e-3): a shard that trained on its
    # quarter of the batch alone would move parameters by a whole step
    assert out["max_param_diff"] < 5e-4
    if paper == "mamba":
        assert out["all_reduce"]  # the 4-device program really splits the batch
        assert "multiple of 4" in out["indivisible"]  # a batch of 6 on 4 devices: one clear error


def test_bad_device_settings_fail_with_the_fix():
    with pytest.raises(ConfigError, match="visible"):
        parallel.mesh(64)
    with pytest.raises(ConfigError, match="'all'"):
        parallel.mesh("some")
    assert parallel.mesh(1) is None
    if jax.device_count() == 1:
        assert parallel.mesh("all") is None  # nothing to shard over
