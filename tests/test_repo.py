"""The repository's contracts that are files: DVC stages, CI script, conda pins, profile."""
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_each_papers_dvc_stage_wraps_its_snakemake_target_and_owns_nothing_snakemake_made():
    assert (REPO / ".dvc" / "config").exists()  # dvc init done
    root = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert all(name.startswith("data-") for name in root)       # the papers' stages are in their folders
    from repro import preflight
    for paper in preflight.papers():
        spec = yaml.safe_load((REPO / "papers" / paper / "dvc.yaml").read_text())
        assert spec["vars"] == ["../../params.yaml"] and list(spec["stages"]) == [paper]
        stage = spec["stages"][paper]
        assert stage["wdir"] == "../.."                          # paths below are the repository root's
        assert (
            stage["cmd"].startswith(f"snakemake papers/{paper} --config scale=${{scale}}")
            and "scale" in stage["params"]
        )
        # every file of the folder that the workflow reads is a dependency (named one by one: the folder holds
        # dvc.lock, which a run rewrites); cost.py is the cost plan's hook (repro/cost_plan.py), which no run reads
        tracked = {p.name for p in (REPO / "papers" / paper).iterdir() if p.name not in
                   ("dvc.lock", "dvc.yaml", "README.md", "tests", "__pycache__", "cost.py")}
        missing = tracked - {Path(d).name for d in stage["deps"] if d.startswith(f"papers/{paper}/")}
        assert not missing, f"papers/{paper}/dvc.yaml: add {sorted(missing)} to the stage's deps"
        assert {"Snakefile", "workflows/paper.smk", "repro", "analysis"} <= set(stage["deps"])
        outs = {next(iter(o)) if isinstance(o, dict) else o: o for o in stage["outs"] + stage["metrics"]}
        assert f"results/{paper}/runs" not in outs  # DVC caches a copy (repro/share.py), not the runs
        cached = [p for p, o in outs.items() if not isinstance(o, dict) or o[p].get("cache", True)]
        assert cached == [f"results/{paper}/shared"]
        for p, o in outs.items():  # what DVC does not cache it must not delete either: `dvc exp run` would
            assert p in cached or o[p] == {"cache": False, "persist": True}, p
        assert f"results/{paper}/${{scale}}/metrics" in outs
        assert [next(iter(p)) for p in spec["plots"]] == [f"../../results/{paper}/${{scale}}/curves"]
    assert yaml.safe_load((REPO / "params.yaml").read_text())["scale"] == "cpu"


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
