"""A paper is its folder: a new papers/<name>/ (config.yaml, claims.yaml, experiment.py, a Snakefile that includes
workflows/paper.smk) is planned, run and shown on the dashboard with no file outside it touched (the toy paper of
tests/toy_paper.py, under a new name, in a copy of the repository's code)."""
import subprocess
import sys

import toy_paper
from repo_copy import copy_repo
import pytest

pytestmark = pytest.mark.workflow   # runs Snakemake, DVC, a browser or a server: not in `make test-fast`


def test_a_new_paper_folder_is_found_run_and_shown(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    toy = toy_paper.make(tmp_path / "toy")
    paper = repo / "papers" / "newpaper"
    (toy / "papers" / "toy").rename(paper)
    for name in ("config.yaml", "Snakefile"):
        f = paper / name
        f.write_text(f.read_text().replace("toy", "newpaper"))
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and paper not in p.parents}

    def snakemake(*args):
        return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=repo, env=toy_paper.env(),
                              capture_output=True, text=True, timeout=600)
    planned = snakemake("-n", "papers/newpaper", "--config", "scale=smoke")
    assert planned.returncode == 0 and "newpaper_train_seeds" in planned.stdout, planned.stderr[-2000:]
    r = snakemake("papers/newpaper", "--config", "scale=smoke")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (repo / "results/newpaper/smoke/claims.json").exists()
    r = snakemake("dashboard")
    assert r.returncode == 0, r.stderr[-2000:]
    page = (repo / "results/dashboard/index.html").read_text()
    assert 'data-paper="newpaper"' in page and 'href="#p-newpaper-smoke"' in page
    after = {p: p.read_bytes() for p in before if p.exists()}
    assert after == before                        # nothing outside the paper's folder (and results/) was touched
