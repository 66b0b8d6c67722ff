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


class Grouped:
    """A workload that trains seeds side by side (records each group it was given)."""

    def __init__(self, cfg, groups, stop=False):
        self.groups, self.stop = groups, stop

    def run(self, seed, run_dir, **_):
        self.groups.append([seed])
        return {"accuracy": float(seed)}, [{"step": 1}]

    def run_group(self, seeds, run_dirs, *, trackers=None, progress=False, stop_after=None):
        assert len(trackers) == len(seeds) and all(d.name == f"seed{s}" for s, d in zip(seeds, run_dirs))
        self.groups.append(list(seeds))
        return None if self.stop else [({"accuracy": float(s)}, [{"step": 1, "loss": 0.1 * s}]) for s in seeds]


def test_a_group_of_seeds_is_still_one_run_per_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    paper = tmp_path / "toy"
    paper.mkdir()
    (paper / "config.yaml").write_text(CONFIG)
    run = tmp_path / "results/toy/runs/e/cpu"
    groups = []
    # stopped part-way (a kill): no seed is finished, nothing marks the experiment done
    done = driver.run_experiment(paper, lambda c: Grouped(c, groups, stop=True), "e", "cpu", track=False,
                                 quiet=True, group=0)
    assert groups == [[0, 1, 2]] and done == {0: None, 1: None, 2: None}
    assert not list(run.glob("seed*/metrics.json")) and not (run / "seeds.json").exists()
    # resumed: the same group; each seed its own files, its metrics naming the group
    done = driver.run_experiment(paper, lambda c: Grouped(c, groups), "e", "cpu", track=False, quiet=True, group=0)
    assert groups[1:] == [[0, 1, 2]] and done[2]["accuracy"] == 2.0
    for s in (0, 1, 2):
        m = json.loads((run / f"seed{s}/metrics.json").read_text())
        assert m["seed"] == s and m["trained_with_seeds"] == [0, 1, 2] and (run / f"seed{s}/history.csv").exists()
    # a seed that did not finish trains again, alone in its group; groups of 2 split the seeds
    (run / "seed1/metrics.json").unlink()
    driver.run_experiment(paper, lambda c: Grouped(c, groups), "e", "cpu", track=False, quiet=True, group=2)
    assert groups[2:] == [[1]]
    (run / "seed0/metrics.json").unlink()
    (run / "seed2/metrics.json").unlink()
    driver.run_experiment(paper, lambda c: Grouped(c, groups), "e", "cpu", track=False, quiet=True, group=2)
    assert groups[3:] == [[0], [2]]
    # group 1 (the default) runs one seed at a time through `run`
    for s in (0, 1, 2):
        (run / f"seed{s}/metrics.json").unlink()
    driver.run_experiment(paper, lambda c: Grouped(c, groups), "e", "cpu", track=False, quiet=True)
    assert groups[5:] == [[0], [1], [2]]
    assert driver.main(paper, lambda c: Grouped(c, groups), ["--experiment", "e", "--group", "-1", "--no-track"]) == 2
