"""A team's MLflow server (issue 9, item 3), for real: `mlflow server` on loopback with a SQLite backend.

- parallel Snakemake jobs all log their runs to it;
- a run whose server is down when it starts fails at once, naming the URI, before any compute;
- a run whose server goes away mid-run finishes, keeps metrics.json, says how to sync, and the sync later completes
  the MLflow record.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow_server
import pytest

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]
COPY = ["Snakefile", "profiles", "workflows", "papers", "repro", "analysis", "pyproject.toml"]
# the smoke scale's chunk of 10 steps (papers/mamba/config.yaml): the programs the smoke workflow compiles, loaded
# from the suite's compilation cache (tests/conftest.py)
QUICK = ["train.log_every=10", "train.eval_every=10", "train.checkpoint_every=10"]


def env_for(uri, results=None):
    e = {**os.environ, "MLFLOW_TRACKING_URI": uri, "REPRO_TRACKING": "on",
         "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    if results:
        e["REPRO_RESULTS"] = str(results)
    return e


def train(uri, run_dir, steps, **kw):
    every = [f"train.eval_every={steps // 4}", f"train.checkpoint_every={steps // 4}"] if steps > 100 else []
    sets = [a for s in QUICK + every + [f"train.steps={steps}"] for a in ("--set", s)]
    return subprocess.Popen([sys.executable, "-m", "papers.mamba.experiment", "--experiment", "s6-mamba", "--scale",
                             "smoke", "--seed", "0", *sets, "--run-dir", str(run_dir)], cwd=REPO,
                            env=env_for(uri, run_dir.parent), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def runs_of(url, paper="mamba"):
    exp = mlflow_server.api(url, f"experiments/get-by-name?experiment_name={paper}")["experiment"]
    runs = mlflow_server.api(url, "runs/search", {"experiment_ids": [exp["experiment_id"]], "max_results": 1000})
    return runs.get("runs", [])


def test_a_server_down_at_start_fails_at_once_naming_the_uri(tmp_path):
    uri = f"http://127.0.0.1:{mlflow_server.free_port()}"
    p = train(uri, tmp_path / "run", 20)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 2
    assert uri in err and "unreachable" in err and "mlflow server" in err
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "history.csv").exists()


def test_parallel_snakemake_jobs_all_log_to_the_server(tmp_path):
    work = tmp_path / "repo"
    (work / "data").mkdir(parents=True)
    shutil.copy(REPO / "data" / "registry.yaml", work / "data" / "registry.yaml")
    for name in COPY:
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, work / name)
    store = f"sqlite:///{tmp_path / 'server.db'}"
    experiments = ["s4-no-gate", "s6-mamba"]          # two jobs at once, each with its own MLflow run
    with mlflow_server.running(store, tmp_path / "artifacts", tmp_path / "server.log") as url:
        targets = [f"results/mamba/runs/{e}/smoke/seed0/metrics.json" for e in experiments]
        e = env_for(url)
        e.pop("REPRO_RESULTS", None)
        r = subprocess.run([sys.executable, "-m", "snakemake", *targets, "--cores", "2", "--config", "scale=smoke"],
                           cwd=work, env=e, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        runs = runs_of(url)
    tags = [{t["key"]: t["value"] for t in run["data"]["tags"]} for run in runs]
    assert sorted(t["experiment"] for t in tags) == sorted(experiments)
    assert all(run["info"]["status"] == "FINISHED" for run in runs)
    assert all(any(m["key"] == "eval_accuracy" for m in run["data"]["metrics"]) for run in runs)
    for ex in experiments:   # each run directory names its MLflow run on the server
        run_id = (work / f"results/mamba/runs/{ex}/smoke/seed0/mlflow_run_id").read_text().strip()
        assert run_id in {run["info"]["run_id"] for run in runs}


def test_a_server_lost_mid_run_leaves_the_run_finished_and_syncable(tmp_path):
    store = f"sqlite:///{tmp_path / 'server.db'}"
    run_dir = tmp_path / "results" / "run"
    steps = 400
    with mlflow_server.running(store, tmp_path / "artifacts", tmp_path / "server1.log") as url:
        proc = train(url, run_dir, steps)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:     # wait until the server has a training point
            runs = runs_of(url) if (run_dir / "mlflow_run_id").exists() else []
            if runs and any(m["key"] == "train_loss" for m in runs[0]["data"].get("metrics", [])):
                proc.send_signal(signal.SIGSTOP)      # held while the server stops: it is lost mid-run, not after
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before the server could be stopped: raise its steps"
    # the server is gone; the run goes on
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["steps"] == steps
    marker = json.loads((run_dir / "mlflow_unsynced.json").read_text())
    assert "stopped answering" in err and f"python -m repro.tracking_sync {run_dir}" in err
    assert 0 < marker["synced_step"] < steps
    # the server is back (same database): the sync completes the record
    with mlflow_server.running(store, tmp_path / "artifacts", tmp_path / "server2.log") as url:
        r = subprocess.run([sys.executable, "-m", "repro.tracking_sync", str(run_dir)], cwd=REPO,
                           env=env_for(url, run_dir.parent), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        (run,) = runs_of(url)
        history = mlflow_server.api(url, f"metrics/get-history?run_id={run['info']['run_id']}&metric_key=train_loss")
    assert run["info"]["status"] == "FINISHED" and not (run_dir / "mlflow_unsynced.json").exists()
    logged = sorted(m["step"] for m in history["metrics"] if m["step"] > 0)   # (step 0: the final metrics)
    assert logged == list(range(10, steps + 1, 10))                            # every training point, once
