"""The training loop: determinism, exact resume, clear failures on bad checkpoints."""
import json
import shutil
from pathlib import Path

import pytest

from papers.mamba.experiment import PAPER_DIR, workload
from repro import export
from repro.checkpoint import CheckpointError
from repro.driver import run

pytestmark = pytest.mark.integration   # trains through the run driver: not in `make test-fast`

# the smoke scale's own chunk of 10 steps: the same compiled programs as the smoke workflow's jobs (one compilation
# for the suite, through the shared cache of tests/conftest.py)
SMOKE = ["train.steps=30", "train.log_every=10", "train.eval_every=10", "train.checkpoint_every=10"]


def smoke_run(run_dir, experiment="s6-mamba", seed=0, overrides=(), stop_after=None):
    return run(PAPER_DIR, workload, experiment, "smoke", seed, list(SMOKE) + list(overrides), run_dir=run_dir,
               track=False, progress=False, stop_after=stop_after)


def comparable(metrics):
    return {k: v for k, v in metrics.items() if not k.endswith("time_s")}


def history(run_dir):
    return (Path(run_dir) / "history.csv").read_text().splitlines()


def strip_rate(lines):  # throughput is a timing, not a result
    header = lines[0].split(",")
    keep = [i for i, h in enumerate(header) if not h.endswith("_per_s")]
    return [[row.split(",")[i] for i in keep] for row in lines]


def test_same_seed_same_metrics_and_outputs(tmp_path):
    a = smoke_run(tmp_path / "a")
    b = smoke_run(tmp_path / "b")
    assert comparable(a) == comparable(b)
    assert strip_rate(history(tmp_path / "a")) == strip_rate(history(tmp_path / "b"))
    for name in ("metrics.json", "history.csv", "config.yaml"):
        assert (tmp_path / "a" / name).exists()
    written = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert {"accuracy", "loss", "steps", "wall_time_s", "n_params", "seed", "config_hash"} <= set(written)
    assert written["steps"] == 30 and written["n_params"] > 0
    # the final parameters are exported in a stable file: the same bytes for the same seed (repro/export.py)
    assert written["final_params_sha256"] == b["final_params_sha256"] == export.sha256(tmp_path / "a" / export.FILENAME)
    c = smoke_run(tmp_path / "c", seed=1)
    assert comparable(c) != comparable(a)


@pytest.mark.parametrize("experiment", ["s6-mamba", "s4-no-gate"])
def test_stopped_and_resumed_run_ends_exactly_like_an_uninterrupted_one(tmp_path, experiment):
    whole = smoke_run(tmp_path / "whole", experiment)
    assert smoke_run(tmp_path / "parts", experiment, stop_after=20) is None
    assert not (tmp_path / "parts" / "metrics.json").exists()
    assert sorted(p.name for p in (tmp_path / "parts" / "checkpoints").iterdir() if p.name.isdigit()) == ["10", "20"]
    resumed = smoke_run(tmp_path / "parts", experiment)
    assert comparable(resumed) == comparable(whole)
    assert strip_rate(history(tmp_path / "parts")) == strip_rate(history(tmp_path / "whole"))


def test_corrupted_checkpoint_fails_with_path_and_fix(tmp_path):
    smoke_run(tmp_path, stop_after=20)
    step_dir = tmp_path / "checkpoints" / "20"
    for f in (step_dir / "state").rglob("*"):
        if f.is_file():
            f.write_bytes(b"\x00garbage" * 7)
    with pytest.raises(CheckpointError) as err:
        smoke_run(tmp_path)
    msg = str(err.value)
    assert str(step_dir) in msg and "corrupt" in msg and "delete" in msg
    # the fix it names works: removing the damaged step resumes from the one before
    shutil.rmtree(step_dir)
    assert smoke_run(tmp_path)["steps"] == 30


def test_resuming_with_another_config_is_refused(tmp_path):
    smoke_run(tmp_path, stop_after=10)
    with pytest.raises(CheckpointError, match="another config"):
        smoke_run(tmp_path, overrides=["train.lr=0.5"])


def test_seeds_side_by_side_equal_each_seed_alone_and_a_killed_group_resumes_exactly(tmp_path):
    """repro.train.fit_tasks through the driver (a Training workload's run_group): three seeds in one compiled
    program give each seed's numbers alone up to rounding; a group stopped at a checkpoint resumes to the numbers
    of a group never stopped, bit for bit."""
    from repro import config as rconfig
    from repro import driver
    cfg = rconfig.resolve(rconfig.load_paper_config(PAPER_DIR / "config.yaml"), "s6-mamba", "smoke", SMOKE)
    seeds = [0, 1, 2]
    work = workload(cfg)

    def group(name, stop_after=None):
        return driver.run_group(work, PAPER_DIR, cfg, seeds, [tmp_path / name / f"seed{s}" for s in seeds],
                                track=False, stop_after=stop_after)
    assert group("parts", stop_after=20) == {0: None, 1: None, 2: None}
    assert all(sorted(p.name for p in (tmp_path / "parts" / f"seed{s}" / "checkpoints").iterdir()
                      if p.name.isdigit()) == ["10", "20"] for s in seeds)
    resumed, whole = group("parts"), group("whole")
    keys = ("accuracy", "loss", "train_loss", "steps", "n_params", "final_params_sha256", "trained_with_seeds")
    for s in seeds:
        assert {k: resumed[s][k] for k in keys} == {k: whole[s][k] for k in keys}
        assert strip_rate(history(tmp_path / "parts" / f"seed{s}")) == strip_rate(history(tmp_path / "whole" /
                                                                                          f"seed{s}"))
        alone = smoke_run(tmp_path / f"alone{s}", seed=s)
        assert whole[s]["trained_with_seeds"] == seeds and whole[s]["steps"] == alone["steps"]
        for k in ("loss", "train_loss"):
            assert whole[s][k] == pytest.approx(alone[k], rel=1e-4), (s, k)
        assert whole[s]["accuracy"] == pytest.approx(alone["accuracy"], abs=0.5)
    assert len({whole[s]["loss"] for s in seeds}) == 3                      # three different seeds
