"""The GNN workflow end to end at smoke scale, in a copy of the repository, through the literal command."""
import json
import os

import pytest

from workflow_helpers import MIRROR, OFFLINE, snakemake

pytestmark = [pytest.mark.workflow,     # runs Snakemake: not in `make test-fast`
              pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")]


def test_gnn_smoke_workflow_fetches_data_trains_and_judges(workdir):
    # a clone carries the committed verdicts: they must not make the workflow look "up to date"
    (workdir / "results/gnn/smoke").mkdir(parents=True, exist_ok=True)
    (workdir / "results/gnn/smoke/claims.json").write_text("{}")
    r = snakemake(workdir, "papers/gnn", "--config", "scale=smoke", env=OFFLINE)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (workdir / "data/planetoid/.fetched").exists()          # fetched through the rule, checksums verified
    report = json.loads((workdir / "results/gnn/smoke/claims.json").read_text())
    verdicts = {c["id"]: c for c in report["claims"]}
    assert verdicts["gcn-pubmed"]["verdict"] == "not run" and "--record" in verdicts["gcn-pubmed"]["reason"]
    run = json.loads((workdir / "results/gnn/runs/gcn-cora/smoke/seed0/metrics.json").read_text())
    fold = json.loads((workdir / "results/gnn/runs/gin0-mutag/smoke/seed0/metrics.json").read_text())
    assert verdicts["gin-mutag"]["reproduced"]["values"] == {"0": fold["accuracy"]}    # GIN Table 1: fold 0 of round 0
    assert verdicts["gin-nci1"]["verdict"] == "not run" and "smoke scale" in verdicts["gin-nci1"]["reason"]
    assert verdicts["gcn-cora"]["reproduced"]["values"] == {"0": run["test_accuracy"]}
    assert verdicts["sum-separates-figure3"]["reproduced"]["values"] == {"0": 100.0}
    assert verdicts["max-fails-figure3"]["reproduced"]["values"] == {"0": 0.0}
    assert verdicts["csl-chance"]["reproduced"]["values"] == {"0": 10.0}
    assert (workdir / "results/gnn/runs/gat-cora/smoke/seeds.json").exists()
    assert "skipping gcn-pubmed" in r.stderr
    # a `dvc pull` restores files with new modification times: a newer data marker must not retrain anything
    os.utime(workdir / "data/planetoid/.fetched")
    r = snakemake(workdir, "papers/gnn", "--config", "scale=smoke", "-n", env=OFFLINE)
    assert r.returncode == 0 and "gnn_train_seeds" not in r.stdout + r.stderr, r.stdout[-2000:]
