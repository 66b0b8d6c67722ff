"""Adaptive seeds through the real workflow: a toy paper whose runs take milliseconds (no JAX), run by Snakemake.

The seed_plan checkpoint adds seeds to the experiments of undecided claims, look by look, and leaves decided ones
alone; each verdict records how many seeds decided it and why it stopped."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

EXPERIMENT = '''
"""A toy experiment: score = centre + N(0, noise) drawn from the seed."""
import sys
from pathlib import Path

import numpy as np

from repro import seedloop


def make_task(cfg):
    def task(c, seed, run_dir, stop_after=None):
        x = np.random.default_rng(seed).standard_normal()
        return {"score": c["task"]["centre"] + c["task"]["noise"] * float(x)}, [{"step": 1}]
    return task


if __name__ == "__main__":
    sys.exit(seedloop.main(Path(__file__).parent, make_task))
'''

CONFIG = """
paper: toy
base: {task: {centre: 0.0, noise: 1.0}, train: {steps: 1, log_every: 1}}
experiments:
  near: {task: {centre: 10.0, noise: 3.0}}      # judged against 10 +- 1: too noisy to decide, even on 12 seeds
  high: {task: {centre: 100.0, noise: 0.1}}
  low: {task: {centre: 0.0, noise: 0.1}}        # high > low: decided on 3 seeds
scales:
  cpu: {seeds: {min: 3, max: 12, looks: [3, 6, 12]}}
"""

CLAIMS = """
paper: {title: Toy}
metrics: {score: {range: [null, null]}}
claims:
  - id: near-ten
    statement: s
    source: Table 1
    metric: score
    experiments: [near]
    rule: {kind: value, reported: 10.0, tolerance: 1.0, basis: {reported: "paper: Table 1",
           tolerance: "our choice: a test"}}
  - id: high-beats-low
    statement: s
    source: Table 1
    metric: score
    rule: {kind: ordering, better: [high], worse: [low], margin: 0.0, basis: {margin: "direction: a test"}}
"""

SNAKEFILE = """
PAPER = "toy"
PAPER_DIR = "papers/toy"
JOB_PER_EXPERIMENT = True

include: "../../workflows/paper.smk"
"""


@pytest.fixture
def toy(tmp_path):
    for name in ("workflows", "repro", "analysis", "pyproject.toml"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    paper = tmp_path / "papers" / "toy"
    paper.mkdir(parents=True)
    (tmp_path / "papers" / "__init__.py").write_text("")
    (paper / "__init__.py").write_text("")
    (paper / "experiment.py").write_text(textwrap.dedent(EXPERIMENT))
    (paper / "config.yaml").write_text(CONFIG)
    (paper / "claims.yaml").write_text(CLAIMS)
    (paper / "Snakefile").write_text(SNAKEFILE)
    return tmp_path


def run(workdir, *args):
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "REPRO_TRACKING": "off"}
    env.pop("REPRO_RESULTS", None)
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", "papers/toy/Snakefile", "--cores", "2", *args],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=600)


def test_undecided_claims_get_more_seeds_and_decided_ones_do_not(toy):
    r = run(toy, "results/toy/.verified.cpu")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = toy / "results/toy/runs"
    look0 = json.loads((toy / "results/toy/plan/cpu/look0.json").read_text())
    assert look0["undecided"] == ["near-ten"] and look0["experiments"] == ["near"] and look0["next_seeds"] == 6
    assert sorted(p.name for p in (runs / "high/cpu").glob("seed?")) == ["seed0", "seed1", "seed2"]
    report = json.loads((toy / "results/toy/claims.json").read_text())
    by_id = {c["id"]: c for c in report["claims"]}
    order = by_id["high-beats-low"]
    assert order["verdict"] == "holds" and order["sequential"]["n_seeds"] == 3
    assert order["sequential"]["stopped"] == "decided" and len(order["runs"]) == 6
    near = by_id["near-ten"]
    n = near["sequential"]["n_seeds"]
    assert n == 12 and len(list((runs / "near/cpu").glob("seed*/metrics.json"))) == 12
    assert [t["n"] for t in near["sequential"]["taken"]] == [3, 6, 12]
    assert near["sequential"]["stopped"] == "undecided at the most seeds allowed"
    assert len(near["values"]["near"]) == 12 and near["verdict"] == "inconclusive"
    assert report["seeds_per_experiment"] == {"high": 3, "low": 3, "near": n}
    # nothing left to do: the plan files and the runs are the workflow's outputs
    again = run(toy, "results/toy/.verified.cpu", "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_a_malformed_seed_design_is_refused_naming_the_field(toy):
    cfg = toy / "papers/toy/config.yaml"
    cfg.write_text(CONFIG.replace("{min: 3, max: 12, looks: [3, 6, 12]}", "{min: 3, max: 12, looks: [3, 12, 6]}"))
    r = run(toy, "results/toy/.verified.cpu", "-n")
    assert r.returncode != 0 and "scales.cpu.seeds.looks must rise strictly" in r.stdout + r.stderr
