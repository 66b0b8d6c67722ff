"""The Mamba workflow end to end at smoke scale, in a temporary copy of the repository, through the literal command,
locally, through a SLURM cluster, and through DVC (the round trip, last, shares the runs of the first test). The
other papers' smoke workflows: tests/test_workflow_<paper>.py (one file each, so that they run on different workers);
the dashboard's place in the workflow: test_workflow_dashboard.py."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repo_copy import copy_repo
from repro import data, export
from workflow_helpers import MIRROR, REPO, snakemake

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`


def test_bare_command_runs_the_smoke_workflow_and_writes_verdicts(workdir, monkeypatch):
    # the committed cpu-scale verdicts, as a clone has them: a smoke run must not touch them
    cpu = workdir / "results/mamba/cpu"
    shutil.copytree(REPO / "results/mamba/cpu", cpu)
    committed = {p: p.read_bytes() for p in cpu.rglob("*") if p.is_file()}
    r = snakemake(workdir, "papers/mamba", "--config", "scale=smoke")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert {p: p.read_bytes() for p in cpu.rglob("*") if p.is_file()} == committed
    report = json.loads((workdir / "results/mamba/smoke/claims.json").read_text())
    assert report["scale"] == "smoke" and report["evidence"] is False
    verdicts = {c["id"]: c["verdict"] for c in report["claims"]}
    assert len(verdicts) == 40
    assert verdicts["selective-copying-hyena-h3"] != "not run"          # the H3 block with Hyena inside, trained
    reason = next(c["reason"] for c in report["claims"] if c["id"] == "selective-copying-h3-s6")
    assert verdicts["selective-copying-h3-s6"] == "not run" and "not trained at the smoke scale" in reason
    # induction heads at smoke scale: trained at 32, tested at 32, 64, 512; attention stops at 256; the rest of
    # Table 2 not run; attention's claims at 1x, 2x, 4x its training length (4x = 128 is not tested)
    reasons = {c["id"]: c.get("reason", "") for c in report["claims"]}
    assert verdicts["induction-mamba-512"] != "not run" and verdicts["induction-mamba-1024"] == "not run"
    assert verdicts["induction-mha-abs-2x"] != "not run"
    assert verdicts["induction-mha-rope-4x"] == "not run" and "not tested" in reasons["induction-mha-rope-4x"]
    mamba_run = json.loads((workdir / "results/mamba/runs/induction-mamba/smoke/seed0/metrics.json").read_text())
    assert set(mamba_run) >= {"acc_32", "acc_64", "acc_512"} and "acc_1024" in mamba_run["not_run"]
    mha_run = json.loads((workdir / "results/mamba/runs/induction-mha-abs/smoke/seed0/metrics.json").read_text())
    assert mha_run["acc_x2"] == mha_run["acc_64"] and "GiB" in mha_run["not_run"]["acc_512"]
    # S4 on sequential MNIST: the data is not prepared in this copy, so `not run` with the command that prepares it
    assert verdicts["s4-smnist"] == verdicts["s4-psmnist"] == "not run"
    assert "python -m repro.tfds_data prepare mnist" in reasons["s4-psmnist"]
    assert all(v in ("reproduced", "holds", "not reproduced", "inconclusive", "not run") for v in verdicts.values())
    value = next(c for c in report["claims"] if c["id"] == "selective-copying-s6-mamba")
    run_metrics = json.loads((workdir / "results/mamba/runs/s6-mamba/smoke/seed0/metrics.json").read_text())
    assert value["reproduced"]["values"] == {"0": run_metrics["accuracy"]}  # the verdict comes from the run
    assert (workdir / "results/mamba/smoke/claims.csv").exists()
    assert "selective-copying-s6-mamba" in r.stdout + r.stderr  # the table is printed
    # every run and every claim is in MLflow
    import mlflow
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'results/mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'results/mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["mamba"])
    assert (runs["tags.kind"] == "claim").sum() == 40
    assert set(runs.loc[runs["tags.experiment"].notna(), "tags.experiment"]) == {
        "s4-no-gate", "s6-no-gate", "s4-mamba", "s6-mamba", "h3-hyena", "induction-mamba", "induction-mha-abs",
        "induction-mha-rope", "induction-mha-xpos", "timing-mamba", "timing-mha"}
    # a second invocation has nothing to do, also via the trailing-slash name
    r = snakemake(workdir, "papers/mamba/", "--config", "scale=smoke", "-n")
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr


def test_full_scale_selects_the_papers_settings(workdir):
    r = snakemake(workdir, "papers/mamba", "--config", "scale=full", "-n")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "results/mamba/runs/s6-mamba/full/seed0/metrics.json" in r.stdout


def test_unknown_scale_fails_listing_the_valid_ones(workdir):
    r = snakemake(workdir, "papers/mamba", "--config", "scale=huge", "-n")
    assert r.returncode != 0 and "valid: smoke, cpu, full" in r.stdout + r.stderr


SLURM_SCRIPT = REPO / "tests" / "cluster" / "slurm.sh"


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A single-node SLURM cluster with accounting on this machine (tests/cluster/slurm.sh): Debian's packages are
    installed when missing (root and apt-get needed), the daemons started, and stopped after the tests."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("a SLURM cluster needs root and apt-get here (Debian's slurm-wlm, slurmdbd, mariadb-server, munge)")
    r = subprocess.run(["bash", str(SLURM_SCRIPT), "install"], capture_output=True, text=True, timeout=1500)
    if r.returncode != 0:
        pytest.skip(f"installing SLURM failed: {(r.stdout + r.stderr)[-500:]}")
    state = tmp_path_factory.mktemp("slurm")
    r = subprocess.run(["bash", str(SLURM_SCRIPT), "start", str(state)], capture_output=True, text=True, timeout=300)
    if r.returncode == 3:
        pytest.skip(r.stdout.strip())
    assert r.returncode == 0, f"SLURM did not start: {(r.stdout + r.stderr)[-3000:]}"
    yield state
    subprocess.run(["bash", str(SLURM_SCRIPT), "stop", str(state)], capture_output=True, timeout=120)


@pytest.mark.slow   # ~2 minutes, plus installing SLURM, MariaDB and munge with apt-get the first time: `make test-all`
def test_slurm_profile_runs_the_paper_through_the_cluster_with_the_local_verdicts(workdir, slurm_cluster, tmp_path):
    """`snakemake papers/mamba --profile profiles/slurm` at smoke scale submits every training job to SLURM (the
    executor plugin; resources from the profile) and reaches the verdicts of the local run above (same workdir
    fixture; the two timing claims measure wall-clock time, so only their being measured is compared)."""
    local = json.loads((workdir / "results/mamba/smoke/claims.json").read_text())
    work = copy_repo(tmp_path / "repo")
    r = snakemake(work, "papers/mamba", "--profile", "profiles/slurm", "--config", "scale=smoke")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    submitted = {line.split("SLURM jobid ")[1].split()[0] for line in out.splitlines()
                 if "submitted with SLURM jobid" in line}
    assert len(submitted) == 9  # every training job went through the cluster
    acct = subprocess.run(
        ["sacct", "-X", "-n", "--parsable2", "--format=JobIDRaw,State", "-j", ",".join(submitted)],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    assert sorted(acct) == sorted(f"{j}|COMPLETED" for j in submitted)
    remote = json.loads((work / "results/mamba/smoke/claims.json").read_text())
    timing = {"mamba-time-linear-in-length", "attention-time-superlinear-in-length"}
    for a, b in zip(local["claims"], remote["claims"]):
        assert a["id"] == b["id"]
        if a["id"] in timing:
            assert b["verdict"] != "not run"
        else:
            assert (a["verdict"], a.get("reproduced")) == (b["verdict"], b.get("reproduced")), a["id"]


def sh(cwd, *cmd, env):
    r = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


def team_repo(repo, tmp_path):
    """The workflow test's working copy made a git + DVC repository with a local-directory remote."""
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(REPO / name, repo / name)
    (repo / "params.yaml").write_text("scale: smoke\n")
    (repo / ".gitignore").write_text("results/*/runs/\nresults/*/*/.verified\nresults/*/plan/\nresults/*/logs/\n"
                                     "results/mlflow.db\nresults/mlruns/\nresults/.jax_cache/\n"
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


def test_dvc_pull_restores_runs_and_data_and_nothing_trains_again(workdir, tmp_path):
    """DVC round trip: one person trains and pushes; another pulls into a clean state and gets the same verdicts
    without training again (dvc.yaml's stages, a local-directory remote, the smoke scale). The stage's Snakemake
    finds the runs of the first test of this file finished: it packs and shares them."""
    if not MIRROR.exists():
        pytest.skip(f"needs the offline data mirror at {MIRROR}")
    repo, env = team_repo(workdir, tmp_path)
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
