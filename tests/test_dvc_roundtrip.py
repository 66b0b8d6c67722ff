"""DVC round trip: one person trains and pushes; another pulls into a clean state and gets the same verdicts without
training again (dvc.yaml's stages, a local-directory remote, the smoke scale)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repro import data, export

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "data"
COPY = ["Snakefile", "profiles", "workflows", "papers", "repro", "analysis", "pyproject.toml", "dvc.yaml", ".dvcignore"]


def sh(cwd, *cmd, env):
    r = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


@pytest.fixture
def team_repo(tmp_path):
    if not MIRROR.exists():
        pytest.skip(f"needs the offline data mirror at {MIRROR}")
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in COPY:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, repo / name, **(
            {"ignore": shutil.ignore_patterns("__pycache__")} if src.is_dir() else {}))
    (repo / "data").mkdir()
    shutil.copy(REPO / "data" / "registry.yaml", repo / "data" / "registry.yaml")
    (repo / "params.yaml").write_text("scale: smoke\n")
    (repo / ".gitignore").write_text("results/*/runs/\nresults/*/*/.verified\nresults/*/plan/\nresults/*/logs/\n"
                                     "results/mlflow.db\nresults/mlruns/\n"
                                     ".snakemake/\ndata/planetoid/\n")
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "REPRO_TRACKING": "off",
           "REPRO_DATA_MIRROR": str(MIRROR), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for var in ("REPRO_RESULTS", "MLFLOW_TRACKING_URI", "XLA_FLAGS", "TFDS_DATA_DIR"):
        env.pop(var, None)
    sh(repo, "git", "init", "-q", env=env)
    sh(repo, "dvc", "init", "-q", env=env)
    sh(repo, "dvc", "remote", "add", "-d", "team", str(tmp_path / "remote"), env=env)
    # the project's plot template and the offline page template (.dvc/config, analysis/dvc_plots.py)
    shutil.copytree(REPO / ".dvc" / "plots", repo / ".dvc" / "plots", ignore=shutil.ignore_patterns("offline.html"))
    sh(repo, "dvc", "config", "plots.html_template", "plots/offline.html", env=env)
    sh(repo, sys.executable, "-c", "from analysis import dvc_plots; from pathlib import Path; "
       "dvc_plots.write(Path('.dvc/plots/offline.html'))", env=env)
    sh(repo, "git", "add", "-A", env=env)
    sh(repo, "git", "commit", "-qm", "start", env=env)
    return repo, env


def run_hashes(results: Path) -> dict:
    out = {}
    for m in sorted(results.glob("mamba/runs/*/smoke/seed*/metrics.json")):
        metrics = json.loads(m.read_text())
        out[str(m.parent.relative_to(results))] = metrics.get("final_params_sha256")
    return out


def test_pull_restores_runs_and_data_and_nothing_trains_again(team_repo):
    repo, env = team_repo
    sh(repo, "dvc", "repro", "data-planetoid", "papers/mamba/dvc.yaml", env=env)
    verdicts = json.loads((repo / "results/mamba/smoke/claims.json").read_text())["claims"]
    before = run_hashes(repo / "results")
    trained = {k: v for k, v in before.items() if "/timing-" not in k}    # timing runs measure, they do not train
    assert trained and all(trained.values())          # every training run exported its final parameters
    sh(repo, "dvc", "push", env=env)

    # a teammate's clean state: no runs, no data, no DVC cache, no Snakemake state
    for p in ("results/mamba/runs", "results/mamba/shared", "data/planetoid", ".dvc/cache", ".snakemake"):
        shutil.rmtree(repo / p)
    (repo / "results/mamba/smoke/.verified").unlink()
    sh(repo, "dvc", "pull", "data-planetoid", "papers/mamba/dvc.yaml", env=env)
    assert not (repo / "results/mamba/runs").exists()       # DVC brings the shared copy; the workflow restores it

    for f, md5 in data.entry("planetoid")["files"].items():
        assert data.md5(repo / "data/planetoid" / f) == md5

    out = sh(repo, sys.executable, "-m", "snakemake", "papers/mamba", "--config", "scale=smoke", env=env)
    assert "mamba_train" not in out and "mamba_verify" in out, out[-3000:]   # only the verdicts were recomputed
    assert "finished runs restored from results/mamba/shared" in out
    assert run_hashes(repo / "results") == before
    for d in (repo / "results").glob("mamba/runs/*/smoke/seed*"):
        sha = json.loads((d / "metrics.json").read_text()).get("final_params_sha256")
        if sha:
            assert export.sha256(d / export.FILENAME) == sha
        assert not (d / "checkpoints").exists()        # Orbax folders stay local (repro/share.py)
    after = json.loads((repo / "results/mamba/smoke/claims.json").read_text())["claims"]
    assert [(c["id"], c["verdict"], c.get("reproduced")) for c in after] == \
        [(c["id"], c["verdict"], c.get("reproduced")) for c in verdicts]
    # the stage's metrics and plots are what `dvc metrics diff` / `dvc plots diff` compare across commits
    shown = sh(repo, "dvc", "metrics", "show", env=env)
    assert "results/mamba/smoke/metrics/selective-copying-s6-mamba.json" in shown
    assert "results/mamba/smoke/metrics/verdicts/not_run.json" in shown
    assert max(len(line) for line in shown.splitlines()) < 160            # a row per claim, a few columns
    sh(repo, "dvc", "plots", "show", "-o", "plots", env=env)
    page = (repo / "plots" / "index.html").read_text()
    assert "s6-mamba.csv" in page and "cdn.jsdelivr" not in page and "vegaEmbed" in page   # renders offline
