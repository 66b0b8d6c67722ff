"""No command of the README, in any order, deletes or overwrites a run or a verdict it did not produce (the toy paper
of tests/toy_paper.py through the real workflow: runs take milliseconds, the logic is the workflow's)."""
import hashlib
import json
import shutil
import subprocess
import sys

import pytest

import toy_paper
from toy_paper import run, verdicts

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`


def snapshot(root):
    """{file: (sha256, mtime)} of every run file: a file trained again has a new mtime even with equal bytes."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted((root / "results/toy/runs").rglob("*")) if p.is_file()}


@pytest.fixture
def toy(tmp_path):
    return toy_paper.make(tmp_path)


def ok(r):
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout + r.stderr


def test_smoke_after_cpu_leaves_the_cpu_runs_and_verdicts_alone(toy):
    ok(run(toy, *verdicts("cpu")))
    cpu = (toy / "results/toy/cpu/claims.json").read_bytes()
    before = snapshot(toy)
    ok(run(toy, *verdicts("smoke"), "--config", "scale=smoke"))
    assert json.loads((toy / "results/toy/smoke/claims.json").read_text())["scale"] == "smoke"
    assert (toy / "results/toy/cpu/claims.json").read_bytes() == cpu
    after = snapshot(toy)
    assert {k: v for k, v in after.items() if "/cpu/" in k} == before


def test_a_rerun_does_nothing_and_a_deleted_verdict_is_remade_without_training(toy):
    ok(run(toy, *verdicts("cpu")))
    before = snapshot(toy)
    assert "Nothing to be done" in ok(run(toy, *verdicts("cpu"), "-n"))
    (toy / "results/toy/cpu/claims.json").unlink()
    out = ok(run(toy, *verdicts("cpu")))
    assert "verify" in out and "train_seeds" not in out and "train_more_seeds" not in out
    assert (toy / "results/toy/cpu/claims.json").exists() and snapshot(toy) == before


def test_a_job_killed_part_way_keeps_the_seeds_it_finished(toy):
    r = run(toy, *verdicts("cpu"), TOY_FAIL_AT_SEED="2")
    assert r.returncode != 0
    finished = {k: v for k, v in snapshot(toy).items() if "/seed0/" in k or "/seed1/" in k}
    assert any(k.endswith("near/cpu/seed1/metrics.json") for k in finished)
    ok(run(toy, *verdicts("cpu")))
    after = snapshot(toy)
    assert {k: after[k] for k in finished} == finished            # seeds 0 and 1 were not trained again


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_dvc_exp_run_after_snakemake_deletes_no_run_and_no_verdict(toy):
    """`dvc exp run` checks out dvc.lock's outputs with force before it runs: an output it has no record of is
    deleted. The stage's only cached output is results/<p>/shared (a copy); the runs are not an output at all."""
    env = toy_paper.env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    dvc = [sys.executable, "-m", "dvc"]

    def sh(*cmd):
        r = subprocess.run(list(cmd), cwd=toy, env=env, capture_output=True, text=True, timeout=600)
        return ok(r)

    # the toy's stage in its folder, shaped as the papers' dvc.yaml stages are (tests/test_repo.py checks those)
    (toy / "papers/toy/dvc.yaml").write_text(
        "vars: [../../params.yaml]\nstages:\n  toy:\n    wdir: ../..\n"
        "    cmd: snakemake -s papers/toy/Snakefile --cores 2 results/toy/${scale}/claims.json "
        "results/toy/${scale}/.verified --config scale=${scale} && python -m repro.share pack toy\n"
        "    deps: [papers/toy/experiment.py, papers/toy/config.yaml, papers/toy/claims.yaml, papers/toy/Snakefile]\n"
        "    params: [scale]\n"
        "    outs:\n      - results/toy/shared\n"
        "      - results/toy/${scale}/claims.json: {cache: false, persist: true}\n"
        "    metrics:\n      - results/toy/${scale}/metrics: {cache: false, persist: true}\n")
    (toy / "params.yaml").write_text("scale: cpu\n")
    (toy / ".gitignore").write_text("results/*/runs/\nresults/*/shared/\nresults/*/*/.verified\nresults/*/plan/\n"
                                    "results/*/logs/\n.snakemake/\n__pycache__/\n")
    sh("git", "init", "-q")
    sh(*dvc, "init", "-q")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "start")

    ok(run(toy, *verdicts("cpu")))                        # a plain Snakemake run first
    cpu = (toy / "results/toy/cpu/claims.json").read_bytes()
    before = snapshot(toy)
    sh(*dvc, "exp", "run", "-S", "scale=smoke", "papers/toy/dvc.yaml")   # then a DVC experiment at another scale
    assert {k: v for k, v in snapshot(toy).items() if "/cpu/" in k} == before
    assert (toy / "results/toy/cpu/claims.json").read_bytes() == cpu
    assert (toy / "results/toy/smoke/claims.json").exists() and (toy / "results/toy/shared").is_dir()
    # and at the scale Snakemake ran: nothing trains again
    sh(*dvc, "exp", "run", "-S", "scale=cpu", "papers/toy/dvc.yaml")
    assert {k: v for k, v in snapshot(toy).items() if "/cpu/" in k} == before
    metrics = sh(*dvc, "metrics", "show")
    assert "results/toy/cpu/metrics/high-beats-low.json" in metrics and "holds" in metrics


def test_the_terminal_shows_each_jobs_progress_and_the_plans_time_before_it_starts(toy):
    out = ok(run(toy, *verdicts("cpu")))
    assert "toy (cpu): 9 runs to train in 3 experiments; no run times recorded" in out
    assert "[toy high cpu] seed 3/3" in out and "done in" in out          # from the job itself, not its log
    assert "INFO:snakemake.logging" not in out                           # every Snakemake line once
    timings = json.loads((toy / "results/toy/cpu/timings.json").read_text())
    assert set(timings["experiments"]) == {"near", "high", "low"}
    shutil.rmtree(toy / "results/toy/runs/low/cpu/seed2")
    out = ok(run(toy, *verdicts("cpu"), "-n"))
    assert "toy (cpu): 1 run to train, about" in out and "on 2 cores" in out


def test_verdicts_of_runs_with_a_changed_configuration_say_so(toy):
    ok(run(toy, *verdicts("cpu")))
    assert json.loads((toy / "results/toy/cpu/claims.json").read_text())["config_changed"] == []
    shutil.rmtree(toy / "results/toy/runs")                     # the same scale, trained with an override
    (toy / "results/toy/cpu/claims.json").unlink()
    out = ok(run(toy, *verdicts("cpu"), "--config", "set=task.noise=0.5"))
    assert "set= changes the cpu scale's configuration" in out
    report = json.loads((toy / "results/toy/cpu/claims.json").read_text())
    assert report["config_changed"] == ["high", "low", "near"]
    assert "not the cpu scale's configuration" in out              # the verdict table says it too
