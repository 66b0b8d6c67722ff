"""The Mamba workflow end to end at smoke scale, in a temporary copy of the repository, through the literal command,
locally and through a SLURM cluster. The other papers' smoke workflows: tests/test_workflow_<paper>.py (one file
each, so that they run on different workers); the dashboard's place in the workflow: test_workflow_dashboard.py."""
import json
import os
import shutil
import subprocess

import pytest

from repo_copy import copy_repo
from workflow_helpers import REPO, snakemake

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
    assert len(verdicts) == 34
    assert verdicts["selective-copying-h3-s6"] == "not run"
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
    assert (runs["tags.kind"] == "claim").sum() == 34
    assert set(runs.loc[runs["tags.experiment"].notna(), "tags.experiment"]) == {
        "s4-no-gate", "s6-no-gate", "s4-mamba", "s6-mamba", "induction-mamba", "induction-mha-abs",
        "induction-mha-rope", "timing-mamba", "timing-mha"}
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
