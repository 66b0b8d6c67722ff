"""A run killed with SIGKILL at an arbitrary moment resumes and ends with the numbers of an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--experiment", "s6-no-gate", "--scale", "smoke", "--seed", "5", "--no-track",
        "--set", "train.steps=60", "--set", "train.log_every=5", "--set", "train.checkpoint_every=5",
        "--set", "train.eval_every=30"]


def start(run_dir):
    env = {**os.environ, "REPRO_TRACKING": "off"}
    return subprocess.Popen([sys.executable, "-m", "papers.mamba.experiment", *ARGS, "--run-dir", str(run_dir)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def metrics(run_dir):
    m = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in m.items() if not k.endswith("time_s")}


@pytest.mark.slow
def test_sigkill_then_rerun_matches_uninterrupted(tmp_path):
    whole = start(tmp_path / "whole")
    assert whole.wait(timeout=600) == 0
    killed = tmp_path / "killed"
    proc = start(killed)
    deadline = time.time() + 600
    while time.time() < deadline:  # kill once a few checkpoints exist, mid-training
        steps = (
            [int(p.name) for p in (killed / "checkpoints").glob("[0-9]*") if p.name.isdigit()]
            if (killed / "checkpoints").exists()
            else []
        )
        if steps and max(steps) >= 15:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists()
    rerun = start(killed)
    assert rerun.wait(timeout=600) == 0
    assert metrics(killed) == metrics(tmp_path / "whole")
