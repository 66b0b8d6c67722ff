"""MLflow tracking: one experiment per paper, one MLflow run per training run.

The default store is embedded: SQLite at ``results/mlflow.db`` (artifacts under ``results/mlartifacts``).
``MLFLOW_TRACKING_URI`` points it elsewhere (a server, another database). ``REPRO_TRACKING=off`` disables it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from pathlib import Path

from repro import provenance, runio

REPO = Path(__file__).resolve().parents[1]


class TrackingError(RuntimeError):
    """The tracking store cannot be used; the message names the URI and the fix."""


def results_dir() -> Path:
    return Path(os.environ.get("REPRO_RESULTS", REPO / "results")).absolute()


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{results_dir() / 'mlflow.db'}"


def enabled() -> bool:
    return os.environ.get("REPRO_TRACKING", "on").lower() not in ("off", "0", "false", "no")


def git_state() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    commit = git("rev-parse", "HEAD") or "unknown"
    # outputs under results/ (the committed verdict files, which Snakemake removes before re-creating) do not count
    dirty = (
        bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results"))
        if commit != "unknown"
        else None
    )
    return {"git_commit": commit, "git_dirty": str(dirty).lower()}


def package_versions() -> dict:
    """MLflow tags ``version.<package>`` for a run."""
    return {f"version.{k}": v for k, v in provenance.packages().items()}


def _check_reachable(uri: str) -> None:
    if uri.startswith(("http://", "https://")):
        # a server that goes away mid-run must cost seconds, not MLflow's default minutes of retries
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
        import urllib.error
        import urllib.request

        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5).read()
        except (urllib.error.URLError, OSError) as e:
            raise TrackingError(
                f"MLflow tracking server {uri} is unreachable ({e}). Start it "
                f"(mlflow server --backend-store-uri sqlite:///results/mlflow.db --host 127.0.0.1 --port PORT), "
                "or unset MLFLOW_TRACKING_URI to use the embedded store results/mlflow.db, "
                "or set REPRO_TRACKING=off"
            ) from e


@contextlib.contextmanager
def _store_lock():
    """Serialise store creation and run creation: parallel Snakemake jobs share one SQLite file."""
    results_dir().mkdir(parents=True, exist_ok=True)
    with open(results_dir() / ".mlflow.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def experiment_id(client, name: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    artifacts = None
    if tracking_uri().startswith("sqlite:"):
        artifacts = (results_dir() / "mlartifacts").as_uri()
    return client.create_experiment(name, artifact_location=artifacts)


def client():
    """An ``MlflowClient`` on the configured store, created under the store lock."""
    uri = tracking_uri()
    _check_reachable(uri)
    from mlflow.tracking import MlflowClient

    with _store_lock():
        try:
            c = MlflowClient(tracking_uri=uri)
            c.search_experiments(max_results=1)
        except Exception as e:
            raise TrackingError(
                f"MLflow store {uri} cannot be opened ({type(e).__name__}: {e}); "
                "fix the URI or unset MLFLOW_TRACKING_URI"
            ) from e
    return c


class RunTracker:
    """Logs one training run. Resumes the same MLflow run when the run directory names one."""

    def __init__(self, paper: str, run_name: str, tags: dict, params: dict, run_dir: Path):
        self.client = client()
        id_file = Path(run_dir) / "mlflow_run_id"
        with _store_lock():
            run_id = id_file.read_text().strip() if id_file.exists() else None
            if run_id:
                try:
                    self.client.get_run(run_id)
                except Exception:
                    run_id = None  # a different store: start a new run there
            if not run_id:
                run = self.client.create_run(
                    experiment_id(self.client, paper), run_name=run_name, tags={k: str(v) for k, v in tags.items()}
                )
                run_id = run.info.run_id
                id_file.write_text(run_id)
                from mlflow.entities import Param

                items = [Param(k, str(v)[:6000]) for k, v in params.items()]
                for i in range(0, len(items), 100):
                    self.client.log_batch(run_id, params=items[i : i + 100])
            else:
                self.client.update_run(run_id, status="RUNNING")
        self.run_id, self.run_dir, self.lost, self.synced_step = run_id, Path(run_dir), "", -1
        if (self.run_dir / self.UNSYNCED).exists():
            print(f"warning: an earlier part of this run is missing from MLflow. {self.sync_hint()}", file=sys.stderr)

    # Once the store stops answering mid-run, the run goes on without it: metrics.json and history.csv are the
    # record, and UNSYNCED (in the run directory) says what the store is missing, for `python -m repro.tracking_sync`.
    UNSYNCED = "mlflow_unsynced.json"

    def _guard(self, what: str, fn, step: int | None = None) -> None:
        if self.lost:
            return
        try:
            fn()
            if step is not None:
                self.synced_step = max(self.synced_step, step)
        except Exception as e:  # the server went away (or the store broke) after the run started
            self.lost = f"{type(e).__name__}: {str(e)[:300]}"
            runio.write_json(
                self.run_dir / self.UNSYNCED,
                {
                    "tracking_uri": tracking_uri(),
                    "run_id": self.run_id,
                    "synced_step": self.synced_step,
                    "failed_at": what,
                    "error": self.lost,
                },
            )
            print(
                f"warning: MLflow store {tracking_uri()} stopped answering ({self.lost}); the run goes on and "
                f"keeps its record in {self.run_dir} (metrics.json, history.csv). {self.sync_hint()}",
                file=sys.stderr,
                flush=True,
            )

    def sync_hint(self) -> str:
        return (
            f"Once the store is back: python -m repro.tracking_sync {self.run_dir} (with the same MLFLOW_TRACKING_URI)"
        )

    def log_metrics(self, metrics: dict, step: int) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items() if v is not None]
        if items:
            self._guard(f"metrics at step {step}", lambda: self.client.log_batch(self.run_id, metrics=items), step)

    def log_artifact(self, path: Path) -> None:
        self._guard(f"artifact {Path(path).name}", lambda: self.client.log_artifact(self.run_id, str(path)))

    def finish(self, status: str = "FINISHED") -> None:
        self._guard("end of run", lambda: self.client.set_terminated(self.run_id, status=status))
        if self.lost:
            print(
                f"warning: the MLflow record of this run is incomplete. {self.sync_hint()}", file=sys.stderr, flush=True
            )


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
