"""The repository's contracts that are files: DVC stage, CI script, conda pins, profile."""
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_dvc_stage_wraps_the_snakemake_target_with_claims_as_metrics():
    assert (REPO / ".dvc" / "config").exists()  # dvc init done
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["mamba"]
    assert stage["cmd"] == "snakemake papers/mamba --config scale=${scale}" and "scale" in stage["params"]
    assert yaml.safe_load((REPO / "params.yaml").read_text())["scale"] == "cpu"
    assert any("results/mamba/claims.json" in (m if isinstance(m, str) else next(iter(m))) for m in stage["metrics"])


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / ".ci" / "run").read_text()
    assert "make test" in (REPO / "README.md").read_text()


def test_conda_environment_uses_the_same_lock():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert "-r requirements.lock" in pip and "python=3.11" in env["dependencies"]
    lock = (REPO / "requirements.lock").read_text()
    for pkg in ("jax==", "flax==", "optax==", "orbax-checkpoint==", "snakemake==", "dvc==", "mlflow==", "pandas=="):
        assert pkg in lock


def test_workflow_profile_sets_cores():
    profile = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    assert "cores" in profile
