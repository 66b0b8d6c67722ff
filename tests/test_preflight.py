"""Everything a user can get wrong is refused before any job starts, with one line naming the thing and the valid
choices (repro/preflight.py), under `snakemake -n` too; `snakemake dashboard` draws the page and runs nothing else."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repo_copy import copy_repo

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """The repository as a fresh clone has it: code and the committed cpu-scale verdicts, no runs."""
    d = copy_repo(tmp_path_factory.mktemp("clone"))
    for verdicts in (REPO / "results").glob("*/cpu"):
        shutil.copytree(verdicts, d / "results" / verdicts.parent.name / "cpu")
    return d


def snakemake(cwd, *args):
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "REPRO_TRACKING": "off"}
    env.pop("REPRO_RESULTS", None)
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def refused(r) -> str:
    """The one error line; nothing was planned or run."""
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr and "Job stats" not in r.stdout + r.stderr, r.stderr
    return errors[0]


def test_an_unknown_config_key_is_refused_listing_the_valid_ones(clone):
    line = refused(snakemake(clone, "-n", "papers/gnn", "--config", "scael=smoke"))
    assert "unknown --config key scael" in line and "scale=smoke|cpu|full" in line and "set=" in line


def test_an_unknown_scale_is_refused(clone):
    line = refused(snakemake(clone, "-n", "papers/gnn", "--config", "scale=smok"))
    assert "scale=smok" in line and "smoke, cpu, full" in line


def test_a_bad_set_key_or_value_is_refused_naming_the_key(clone):
    line = refused(snakemake(clone, "-n", "papers/gnn", "--config", "scale=smoke", "set=train.stepz=3"))
    assert "train.'stepz'" in line and "valid keys here:" in line and "steps" in line
    line = refused(snakemake(clone, "-n", "papers/gnn", "--config", "scale=smoke", "set=train.steps=many"))
    assert "train.steps expects int, got 'many'" in line
    # a key of another paper's config is not checked against this one's (only the papers asked for)
    r = snakemake(clone, "-n", "papers/gnn", "--config", "scale=smoke", "set=train.patience=5")
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_malformed_claims_file_is_refused_before_any_training(clone):
    claims = clone / "papers/gnn/claims.yaml"
    good = claims.read_text()
    try:
        claims.write_text(good.replace("experiments: [gcn-cora]", "experiments: [gcn-kora]", 1))
        line = refused(snakemake(clone, "-n", "papers/gnn", "--config", "scale=smoke"))
        assert "claims.yaml" in line and "gcn-kora" in line
    finally:
        claims.write_text(good)


def test_an_unknown_paper_is_refused_listing_the_papers(clone):
    line = refused(snakemake(clone, "-n", "papers/mambo"))
    assert "no paper 'mambo'" in line and "gnn, mamba, moe, sae" in line


def test_dashboard_draws_the_committed_verdicts_and_runs_nothing_else(clone):
    r = snakemake(clone, "dashboard")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "_train" not in out and "_verify" not in out and "seed_plan" not in out
    page = (clone / "results/dashboard/index.html").read_text()
    assert page.count('<article class="claim"') > 50
