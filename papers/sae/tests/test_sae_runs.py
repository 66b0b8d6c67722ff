"""The SAE paper's derived measurements: the 1/2-plateau test, the matched-L0 frontier, and the runs that read
other runs."""
import json

import numpy as np
import pytest

from papers.sae import toy_runs
from papers.sae.lm_runs import frontier_at, matched
from repro.config import ConfigError


def test_a_straight_descent_has_stickiness_one_and_a_plateau_more():
    x = np.linspace(0, 1.5, 31)
    straight = toy_runs.half_plateau(x, np.linspace(1.0, 0.1, 31), 0.05)
    assert straight["stickiness"] == pytest.approx(1.0, abs=0.05)
    # the same descent with a flat stretch at 1/2 over 0.3 decades
    y = np.interp(x, [0, 0.4, 0.7, 1.5], [1.0, 0.5, 0.5, 0.1])
    assert toy_runs.half_plateau(x, y, 0.05)["stickiness"] > 2.0
    assert np.isnan(toy_runs.half_plateau(x, np.linspace(1.0, 0.6, 31), 0.05)["stickiness"])   # never reaches 1/4


def test_frontier_is_exact_at_points_loglinear_between_and_flags_extrapolation():
    l0, fvu = [1.0, 4.0, 16.0], [0.4, 0.1, 0.025]            # FVU = 0.4 / L0
    assert frontier_at(l0, fvu, 4.0) == (pytest.approx(0.1), False)
    assert frontier_at(l0, fvu, 2.0) == (pytest.approx(0.2), False)
    assert frontier_at(l0, fvu, 32.0) == (pytest.approx(0.0125), True)


def _write(results, exp, metrics):
    d = results / "sae" / "runs" / exp / "cpu" / "seed0"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps(metrics))


def test_matched_reads_the_same_seeds_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    _write(tmp_path, "a", {"l0": 1.0, "fvu": 0.4})
    _write(tmp_path, "b", {"l0": 16.0, "fvu": 0.025})
    _write(tmp_path, "t", {"l0": 4.0, "fvu": 0.05})
    cfg = {"run": {"paper": "sae", "experiment": "m", "scale": "cpu"}, "task": {"target": "t", "sweep": ["a", "b"]},
           "needs": ["t", "a", "b"]}
    m, rows = matched(cfg, 0)
    assert m["fvu"] == pytest.approx(0.1) and m["fvu_ratio"] == pytest.approx(0.5) and m["extrapolated"] == 0
    assert [r["l0"] for r in rows] == [1.0, 16.0]
    with pytest.raises(ConfigError, match="needs"):
        matched({**cfg, "needs": ["t"]}, 0)
    with pytest.raises(ConfigError, match="seed 1 first"):
        matched(cfg, 1)
