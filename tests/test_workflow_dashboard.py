"""The dashboard's place in the workflow, in a copy of the repository holding the committed cpu verdicts (as a clone
has them): `all` plans the dashboard after every paper's verification; `snakemake dashboard` draws the page from the
verdicts present and runs nothing else; Snakemake's report carries each paper's claims table, the claim figures and
the dashboard."""
import json
import shutil

import pytest

from repo_copy import copy_repo
from repro import preflight, runio
from workflow_helpers import MIRROR, REPO, snakemake

pytestmark = [pytest.mark.workflow,     # runs Snakemake: not in `make test-fast`
              pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = copy_repo(tmp_path_factory.mktemp("repo"))
    for paper in preflight.papers():                        # the committed verdicts and figures
        for part in ("cpu", "figures"):
            if (REPO / "results" / paper / part).is_dir():
                shutil.copytree(REPO / "results" / paper / part, work / "results" / paper / part)
    return work


def test_dashboard_comes_after_every_papers_verification_and_draws_the_verdicts_present(workdir):
    env = {"REPRO_DATA_MIRROR": str(MIRROR)}
    r = snakemake(workdir, "all", "--config", "scale=smoke", "-n", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout + r.stderr
    planned = out.split("rule dashboard_page:")[1].split("rule ")[0] if "rule dashboard_page:" in out else ""
    for paper in preflight.papers():
        assert f"results/{paper}/smoke/.verified" in planned
    r = snakemake(workdir, "dashboard", "--config", "scale=cpu", env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "_train" not in r.stdout + r.stderr and "_verify" not in r.stdout + r.stderr   # nothing else ran
    page = (workdir / "results/dashboard/index.html").read_text()
    files = runio.verdict_files(workdir / "results")
    assert len(files) == len(preflight.papers())
    assert page.count('<article class="claim"') == sum(len(json.loads(p.read_text())["claims"]) for p in files)
    # Snakemake's report carries each paper's claims table, the claim figures and the dashboard as items
    r = snakemake(workdir, "all", "--config", "scale=cpu", "--report", "report.html", env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert log.count("Adding claims.csv") >= 4 and "Adding index.html" in log
    assert sum(f"Adding {p.name}" in log for p in (workdir / "results/dashboard/figures").glob("*/*.png")) > 20
    assert (workdir / "report.html").stat().st_size > 100_000
