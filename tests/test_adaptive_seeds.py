"""Adaptive seeds through the real workflow: a toy paper whose runs take milliseconds (no JAX), run by Snakemake.

The seed_plan checkpoint adds seeds to the experiments of undecided claims, look by look, and leaves decided ones
alone; each verdict records how many seeds decided it and why it stopped."""
import json

import pytest

import toy_paper
from toy_paper import CONFIG, run

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`


@pytest.fixture
def toy(tmp_path):
    return toy_paper.make(tmp_path)


def test_undecided_claims_get_more_seeds_and_decided_ones_do_not(toy):
    r = run(toy, *toy_paper.verdicts("cpu"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = toy / "results/toy/runs"
    look0 = json.loads((toy / "results/toy/plan/cpu/look0.json").read_text())
    assert look0["undecided"] == ["near-ten"] and look0["experiments"] == ["near"] and look0["next_seeds"] == 6
    assert sorted(p.name for p in (runs / "high/cpu").glob("seed?")) == ["seed0", "seed1", "seed2"]
    report = json.loads((toy / "results/toy/cpu/claims.json").read_text())
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
    again = run(toy, *toy_paper.verdicts("cpu"), "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_a_malformed_seed_design_is_refused_naming_the_field(toy):
    cfg = toy / "papers/toy/config.yaml"
    cfg.write_text(CONFIG.replace("{min: 3, max: 12, looks: [3, 6, 12]}", "{min: 3, max: 12, looks: [3, 12, 6]}"))
    r = run(toy, *toy_paper.verdicts("cpu"), "-n")
    assert r.returncode != 0 and "scales.cpu.seeds.looks must rise strictly" in r.stdout + r.stderr
