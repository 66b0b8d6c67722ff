"""The run driver's seed loop: per-seed run files, skipping finished seeds, refusing a changed config."""
import json

import pytest

from repro import driver
from repro.workload import Function
from repro.checkpoint import CheckpointError

CONFIG = ("paper: toy\nbase: {task: {bias: 0.0}, train: {steps: 1, log_every: 1}}\n"
          "experiments: {e: {}}\nscales: {cpu: {seeds: [0, 1, 2]}}\n")


def make_task(calls):
    def make(cfg):
        def task(c, seed):
            calls.append(seed)
            return {"accuracy": 10.0 * seed + c["task"]["bias"]}, [{"step": 1, "loss": 0.5}]
        return Function(cfg, task)
    return make


def test_seeds_run_once_then_are_skipped_and_a_changed_config_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    paper = tmp_path / "toy"
    paper.mkdir()
    (paper / "config.yaml").write_text(CONFIG)
    calls = []
    done = driver.run_experiment(paper, make_task(calls), "e", "cpu", track=False, quiet=True)
    assert calls == [0, 1, 2] and done[2]["accuracy"] == 20.0
    run = tmp_path / "results/toy/runs/e/cpu"
    assert json.loads((run / "seed1/metrics.json").read_text())["accuracy"] == 10.0
    assert (run / "seed1/history.csv").exists() and (run / "seed1/config.yaml").exists()
    assert set(json.loads((run / "seeds.json").read_text())["seeds"]) == {"0", "1", "2"}
    driver.run_experiment(paper, make_task(calls), "e", "cpu", track=False, quiet=True)
    assert calls == [0, 1, 2]                                   # nothing retrained
    (run / "seed2/metrics.json").unlink()                       # a seed that did not finish runs again
    driver.run_experiment(paper, make_task(calls), "e", "cpu", track=False, quiet=True)
    assert calls == [0, 1, 2, 2]
    with pytest.raises(CheckpointError, match="different config"):
        driver.run_experiment(paper, make_task(calls), "e", "cpu", overrides=["task.bias=1.0"], track=False,
                                quiet=True)
    assert driver.main(paper, make_task(calls), ["--experiment", "e", "--set", "task.bias=1.0", "--no-track"]) == 2


def test_parameters_a_task_returns_are_exported_not_written_as_metrics(tmp_path, monkeypatch):
    import numpy as np

    from repro import export
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    paper = tmp_path / "toy"
    paper.mkdir()
    (paper / "config.yaml").write_text(CONFIG)

    def make(cfg):
        def task(c, seed):
            return {"accuracy": 1.0, "final_params": {"w": np.full((2, 3), float(seed))}}, [{"step": 1}]
        return Function(cfg, task)
    driver.run_experiment(paper, make, "e", "cpu", seeds=[0, 1], track=False, quiet=True)
    run = tmp_path / "results/toy/runs/e/cpu"
    m = json.loads((run / "seed1/metrics.json").read_text())
    assert "final_params" not in m and m["final_params_sha256"] == export.sha256(run / "seed1" / export.FILENAME)
    back = export.read({"w": np.zeros((2, 3))}, run / "seed1", m["final_params_sha256"])
    np.testing.assert_array_equal(back["w"], np.ones((2, 3)))
