"""MLflow tracking: tags on every run, the embedded store by default, a clear error for an unreachable server."""
import pytest

from repro import tracking

from test_train import SMOKE  # noqa: F401  (same tiny run settings)

pytestmark = pytest.mark.integration   # trains through the run driver: not in `make test-fast`


def test_run_is_logged_with_its_tags(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_TRACKING", "on")
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from papers.mamba.experiment import PAPER_DIR, workload
    from repro.driver import run
    run(PAPER_DIR, workload, "s4-mamba", "smoke", 3, ["train.steps=10", "train.log_every=10",
        "train.eval_every=10", "train.checkpoint_every=10"], run_dir=tmp_path / "run", progress=False)
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}"
    import mlflow
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking.tracking_uri())  # mlflow exports it; undone after the test
    mlflow.set_tracking_uri(tracking.tracking_uri())
    runs = mlflow.search_runs(experiment_names=["mamba"], filter_string="tags.seed = '3'")
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["tags.paper"] == "mamba" and row["tags.experiment"] == "s4-mamba" and row["tags.scale"] == "smoke"
    assert "selective-copying-s4-mamba" in row["tags.claims"]
    assert "selection-matters-more-than-architecture" in row["tags.claims"]
    for tag in ("git_commit", "git_dirty", "config_hash", "version.jax", "version.flax"):
        assert row[f"tags.{tag}"]
    assert row["params.train.steps"] == "10"
    assert 0.0 <= row["metrics.eval_accuracy"] <= 100.0
    assert row["status"] == "FINISHED"


def test_unreachable_server_fails_with_uri_and_fix(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    with pytest.raises(tracking.TrackingError) as err:
        tracking.client()
    msg = str(err.value)
    assert "http://127.0.0.1:9" in msg and "unreachable" in msg and "unset MLFLOW_TRACKING_URI" in msg


def test_tracking_uri_respects_the_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/elsewhere.db")
    assert tracking.tracking_uri() == "sqlite:////tmp/elsewhere.db"


def test_every_tracked_run_ends_in_a_final_state_and_a_task_that_cannot_be_built_leaves_none(tmp_path, monkeypatch,
                                                                                              capsys):
    """A run stopped early (to be resumed) is KILLED, not left RUNNING; a task whose build fails (a bad setting)
    is one error line and no MLflow run at all."""
    monkeypatch.setenv("REPRO_TRACKING", "on")
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from papers.mamba.experiment import PAPER_DIR, workload
    from repro import driver as cli
    small = ["train.steps=20", "train.log_every=10", "train.eval_every=10", "train.checkpoint_every=10"]
    assert not cli.run(PAPER_DIR, workload, "s4-mamba", "smoke", 4, small, run_dir=tmp_path / "run",
                       progress=False, stop_after=10)

    def broken(cfg):
        raise ValueError("model.kind 'transformerz' is not one of: mamba, s4")
    assert cli.main(PAPER_DIR, broken, ["--experiment", "s4-mamba", "--scale", "smoke", "--seed", "5"]) == 2
    assert "error: mamba s4-mamba (smoke): model.kind 'transformerz'" in capsys.readouterr().err
    import mlflow
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking.tracking_uri())
    mlflow.set_tracking_uri(tracking.tracking_uri())
    runs = mlflow.search_runs(experiment_names=["mamba"])
    assert list(runs["tags.seed"]) == ["4"] and list(runs["status"]) == ["KILLED"]
