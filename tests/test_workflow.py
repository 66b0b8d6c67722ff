"""The workflow end to end at smoke scale, in a temporary copy of the repository, through the literal command."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repo_copy import copy_repo
from repro import preflight

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "data"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_repo(tmp_path_factory.mktemp("repo"))


def snakemake(workdir, *args, env=None):
    bindir = str(Path(sys.executable).parent)
    e = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "REPRO_TRACKING": "on", **(env or {})}
    for var in ("REPRO_RESULTS", "MLFLOW_TRACKING_URI", "TFDS_DATA_DIR"):
        e.pop(var, None)
    e.pop("XLA_FLAGS", None)
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, env=e, capture_output=True,
                          text=True, timeout=900)


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


@pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")
def test_gnn_smoke_workflow_fetches_data_trains_and_judges(workdir):
    # a clone carries the committed verdicts: they must not make the workflow look "up to date"
    (workdir / "results/gnn/smoke").mkdir(parents=True, exist_ok=True)
    (workdir / "results/gnn/smoke/claims.json").write_text("{}")
    r = snakemake(workdir, "papers/gnn", "--config", "scale=smoke", env={"REPRO_DATA_MIRROR": str(MIRROR)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (workdir / "data/planetoid/.fetched").exists()          # fetched through the rule, checksums verified
    report = json.loads((workdir / "results/gnn/smoke/claims.json").read_text())
    verdicts = {c["id"]: c for c in report["claims"]}
    assert verdicts["gcn-pubmed"]["verdict"] == "not run" and "--record" in verdicts["gcn-pubmed"]["reason"]
    assert verdicts["gin-mutag"]["verdict"] == "not run"
    run = json.loads((workdir / "results/gnn/runs/gcn-cora/smoke/seed0/metrics.json").read_text())
    assert verdicts["gcn-cora"]["reproduced"]["values"] == {"0": run["test_accuracy"]}
    assert verdicts["sum-separates-figure3"]["reproduced"]["values"] == {"0": 100.0}
    assert verdicts["max-fails-figure3"]["reproduced"]["values"] == {"0": 0.0}
    assert verdicts["csl-chance"]["reproduced"]["values"] == {"0": 10.0}
    assert (workdir / "results/gnn/runs/gat-cora/smoke/seeds.json").exists()
    assert "skipping gcn-pubmed" in r.stderr
    # a `dvc pull` restores files with new modification times: a newer data marker must not retrain anything
    os.utime(workdir / "data/planetoid/.fetched")
    r = snakemake(workdir, "papers/gnn", "--config", "scale=smoke", "-n", env={"REPRO_DATA_MIRROR": str(MIRROR)})
    assert r.returncode == 0 and "gnn_train_seeds" not in r.stdout + r.stderr, r.stdout[-2000:]


@pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")
def test_sae_smoke_workflow_orders_dependent_jobs_draws_figures_and_judges(workdir):
    r = snakemake(workdir, "papers/sae", "--config", "scale=smoke", "--cores", "2",
                  env={"REPRO_DATA_MIRROR": str(MIRROR)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = workdir / "results/sae/runs"
    report = json.loads((workdir / "results/sae/smoke/claims.json").read_text())
    assert len(report["claims"]) == 16 and report["evidence"] is False
    by_id = {c["id"]: c for c in report["claims"]}
    # the SAE on the LM read the LM this workflow trained (its checkpoint is a workflow output)
    lm_sae = json.loads((runs / "lm-topk-k16/smoke/seed0/metrics.json").read_text())
    assert lm_sae["ce_zero_ablation"] > lm_sae["ce_original"] > 0
    lm = json.loads((runs / "lm/smoke/seed0/metrics.json").read_text())
    assert abs(lm["val_loss"] - lm_sae["ce_original"]) < 1e-4
    # the matched-L0 comparison is computed from the sweep's runs, and the verdict from it
    from papers.sae.lm_runs import frontier_at
    sweep = sorted((m["l0"], m["fvu"]) for m in (json.loads((runs / f"lm-relu-l1-{x}/smoke/seed0/metrics.json")
                                                            .read_text()) for x in ("0.1", "0.3", "1", "3")))
    matched = json.loads((runs / "lm-relu-at-topk-k16/smoke/seed0/metrics.json").read_text())
    assert matched["fvu"] == pytest.approx(frontier_at(*zip(*sweep), lm_sae["l0"])[0])
    per = by_id["topk-beats-relu-lm-k16"]["reproduced"]["per_experiment"]
    assert per["lm-relu-at-topk-k16"]["values"] == {"0": matched["fvu"]}
    assert per["lm-topk-k16"]["values"] == {"0": lm_sae["fvu"]}
    for name in ("recovery_vs_l1", "l0_fvu_frontier", "superposition"):
        assert (workdir / f"results/sae/figures/{name}.smoke.png").stat().st_size > 10_000


@pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")
def test_moe_smoke_workflow_trains_measures_and_judges(workdir):
    r = snakemake(workdir, "papers/moe", "--config", "scale=smoke", "--cores", "2",
                  env={"REPRO_DATA_MIRROR": str(MIRROR)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = workdir / "results/moe/runs"
    report = json.loads((workdir / "results/moe/smoke/claims.json").read_text())
    assert len(report["claims"]) == 14 and report["evidence"] is False
    dense = json.loads((runs / "dense/smoke/seed0/metrics.json").read_text())
    e8 = json.loads((runs / "switch-e8/smoke/seed0/metrics.json").read_text())
    speed = json.loads((runs / "speedup-e8/smoke/seed0/metrics.json").read_text())
    assert speed["dense_final_val_loss"] == dense["val_loss"]          # read from the dense run, same seed
    dropless = json.loads((runs / "switch-e8-dropless/smoke/seed0/metrics.json").read_text())
    assert dropless["val_dropped"] == 0.0 and 0.0 <= e8["val_dropped"] < 1.0
    per = {c["id"]: c for c in report["claims"]}
    assert per["e8-beats-dense"]["reproduced"]["per_experiment"]["dense"]["values"] == {"0": dense["val_loss"]}
    for name in ("val_loss_curves", "expert_load", "capacity"):
        assert (workdir / f"results/moe/figures/{name}.smoke.png").stat().st_size > 10_000


@pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")
def test_dashboard_comes_after_every_papers_verification(workdir):
    """Runs after the four papers' smoke tests above (same copy): the default target plans the dashboard on the
    four papers' verdicts; `snakemake dashboard` draws the page from the verdicts present and runs nothing else."""
    r = snakemake(workdir, "all", "--config", "scale=smoke", "-n", env={"REPRO_DATA_MIRROR": str(MIRROR)})
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout + r.stderr
    planned = out.split("rule dashboard_page:")[1].split("rule ")[0] if "rule dashboard_page:" in out else ""
    for paper in preflight.papers():
        assert f"results/{paper}/smoke/.verified" in planned
    r = snakemake(workdir, "dashboard", "--config", "scale=smoke", env={"REPRO_DATA_MIRROR": str(MIRROR)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "_train" not in r.stdout + r.stderr and "_verify" not in r.stdout + r.stderr   # nothing else ran
    page = (workdir / "results/dashboard/index.html").read_text()
    from repro import runio
    n = sum(len(json.loads(p.read_text())["claims"]) for p in runio.verdict_files(workdir / "results"))
    assert page.count('<article class="claim"') == n
    # Snakemake's report carries each paper's claims table, the claim figures and the dashboard as items
    r = snakemake(workdir, "all", "--config", "scale=smoke", "--report", "report.html",
                  env={"REPRO_DATA_MIRROR": str(MIRROR)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert log.count("Adding claims.csv") >= 4 and "Adding index.html" in log
    assert sum(f"Adding {p.name}" in log for p in (workdir / "results/dashboard/figures").glob("*/*.png")) > 20
    assert (workdir / "report.html").stat().st_size > 100_000


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
