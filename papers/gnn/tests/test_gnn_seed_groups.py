"""Seeds as a batch axis through the run driver, on Cora at the cpu scale's protocol: the seeds trained side by side
(`--group 0`) are each their own run, each seed's metrics equal the seed trained alone within rounding, and the
verdicts computed from the two sets of runs are the same. Slow (a minute on 2 cores: `make test-all`); the per-seed
equality is also tested on tiny graphs in test_gnn_models.py."""
from pathlib import Path

import pytest

from analysis.claims import load_claims, metric_range
from analysis.sequential import judge_sequential
from analysis.verdicts import ALPHA
from papers.gnn import experiment
from repro import config as rconfig
from repro import driver

MIRROR = Path(__file__).resolve().parents[4] / "shared" / "data"
PAPER_DIR = Path(experiment.__file__).parent
pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")]


def test_seeds_side_by_side_are_each_seed_alone_with_the_same_verdicts(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(MIRROR))
    monkeypatch.setenv("REPRO_TRACKING", "off")
    design = rconfig.seed_design(rconfig.load_paper_config(PAPER_DIR / "config.yaml"), "cpu")
    seeds = design["seeds"][:design["looks"][0]]           # the cpu scale's first look
    runs = {}
    for group in (1, 0):
        results = tmp_path / f"group{group}"
        monkeypatch.setenv("REPRO_RESULTS", str(results))
        runs[group] = driver.run_experiment(PAPER_DIR, experiment.workload, "gcn-cora", "cpu", seeds, track=False,
                                            quiet=True, group=group)
        assert (results / "gnn/runs/gcn-cora/cpu/seeds.json").exists()
    for seed in seeds:
        alone, side = runs[1][seed], runs[0][seed]
        assert "trained_with_seeds" not in alone and side["trained_with_seeds"] == seeds
        assert (side["epochs"], side["selected_epoch"]) == (alone["epochs"], alone["selected_epoch"])
        for key in ("test_accuracy", "val_accuracy", "train_accuracy"):
            assert side[key] == pytest.approx(alone[key], abs=0.11), (seed, key)   # 0.1: one node of 1000
    assert len({m["epochs"] for m in runs[0].values()}) > 1            # the seeds stopped at their own epochs

    claims = load_claims(PAPER_DIR / "claims.yaml")
    claim = next(c for c in claims["claims"] if c["id"] == "gcn-cora")
    verdicts = [judge_sequential(claim, {"gcn-cora": {s: runs[g][s]["test_accuracy"] for s in seeds}},
                                 design["looks"][:1], ALPHA, metric_range(claims, claim["metric"])) for g in (1, 0)]
    assert verdicts[0]["verdict"] == verdicts[1]["verdict"]
    assert verdicts[0]["reproduced"]["mean"] == pytest.approx(verdicts[1]["reproduced"]["mean"], abs=0.02)
