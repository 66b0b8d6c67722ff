"""A paper's MEASURED_ALONE experiments (workflows/paper.smk): runs whose claims are about time train with no other
job beside them, while the rest of the workflow still runs jobs side by side (a toy paper, the real workflow)."""
import pytest

import toy_paper
from toy_paper import run

pytestmark = pytest.mark.workflow   # runs Snakemake: not in `make test-fast`


def runs_and_times(toy, times, targets, cores=2):
    r = run(toy, *targets, "--cores", str(cores), TOY_TIMES=str(times), TOY_SLEEP="0.4")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return [(name, float(start), float(end)) for name, start, end in map(str.split, times.read_text().splitlines())]


def overlapping(runs):
    """Pairs of runs of different experiments that trained at the same time."""
    return [(a[0], b[0]) for a in runs for b in runs if a[0] < b[0] and a[1] < b[2] and b[1] < a[2]]


def test_a_measured_experiment_never_shares_the_cores_and_the_others_do(tmp_path):
    (tmp_path / "alone").mkdir(), (tmp_path / "plain").mkdir()
    toy = toy_paper.make(tmp_path / "alone", 'MEASURED_ALONE = ["high"]\n')
    runs = runs_and_times(toy, tmp_path / "alone.txt", toy_paper.verdicts("cpu"))
    assert {r[0] for r in runs} == {"high", "low", "near"}
    pairs = overlapping(runs)
    assert pairs and not [p for p in pairs if "high" in p]      # low and near side by side; high never
    # without MEASURED_ALONE high runs beside the others (the check above can fail): given a core per job, so that
    # the three start together (on 2 cores high may be scheduled third, after the other two have ended)
    toy = toy_paper.make(tmp_path / "plain")
    runs = runs_and_times(toy, tmp_path / "plain.txt", [f"results/toy/runs/{e}/cpu/seeds.json"
                                                        for e in ("high", "low", "near")], cores=3)
    assert [p for p in overlapping(runs) if "high" in p]
