"""The MLflow side of the dashboard: the UI, started with the README's command on the project's store, shows per
paper the verification run (reported, reproduced and verdict for each claim, a child run per claim) and the
training runs beside it as top-level siblings. Checked through the server's REST API, which is what the UI reads."""
import json
from pathlib import Path

from analysis import verify
from repro import tracking

import mlflow_server
import pytest

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]


def test_ui_shows_verification_and_training_runs_side_by_side(tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("REPRO_TRACKING", "on")
    monkeypatch.setenv("REPRO_RESULTS", str(results))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from papers.mamba.experiment import PAPER_DIR, workload
    from repro.driver import run
    run(PAPER_DIR, workload, "s4-mamba", "smoke", 3, ["train.steps=10", "train.log_every=10",
        "train.eval_every=10", "train.checkpoint_every=10"], run_dir=tmp_path / "run", progress=False)
    report = json.loads(
        (REPO / "results" / "mamba" / "cpu" / "claims.json").read_text()
    )  # a real verification's report
    verify.log_to_mlflow(report)

    with mlflow_server.running(tracking.tracking_uri(), results / "mlartifacts", tmp_path / "server.log") as url:
        import urllib.request

        assert b"<html" in urllib.request.urlopen(url + "/", timeout=30).read().lower()  # the UI itself
        exp = mlflow_server.api(url, "experiments/get-by-name?experiment_name=mamba")["experiment"]
        runs = mlflow_server.api(url, "runs/search", {"experiment_ids": [exp["experiment_id"]], "max_results": 1000})[
            "runs"
        ]
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    metrics = [{m["key"]: m["value"] for m in r["data"].get("metrics", [])} for r in runs]
    parents = [i for i, t in enumerate(tags) if t.get("kind") == "verification"]
    assert len(parents) == 1
    p = parents[0]
    parent_id = runs[p]["info"]["run_id"]
    for c in report["claims"]:
        assert tags[p][f"verdict.{c['id']}"] == c["verdict"]
        if c["rule"].get("reported") is not None:
            assert metrics[p][f"reported.{c['id']}"] == c["rule"]["reported"]
        if (c.get("reproduced") or {}).get("mean") is not None:
            assert abs(metrics[p][f"reproduced.{c['id']}"] - c["reproduced"]["mean"]) < 1e-9
    children = [t for t in tags if t.get("mlflow.parentRunId") == parent_id]
    assert sorted(t["claim"] for t in children) == sorted(c["id"] for c in report["claims"])
    training = [t for t in tags if t.get("experiment") == "s4-mamba"]
    assert len(training) == 1 and "mlflow.parentRunId" not in training[0]  # a sibling, not a child
