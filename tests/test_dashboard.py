"""The static dashboard: a row per claim across papers, filters, embedded figures, nothing fetched from outside."""
import json
import re
import shutil
from pathlib import Path

from analysis import dashboard

REPO = Path(__file__).resolve().parents[1]


def test_one_row_per_claim_with_filters_figures_and_no_external_resources(tmp_path):
    for paper in ("mamba", "moe"):
        (tmp_path / paper).mkdir()
        shutil.copy(REPO / "results" / paper / "claims.json", tmp_path / paper / "claims.json")
    (tmp_path / "moe" / "curves").mkdir()
    (tmp_path / "moe" / "curves" / "dense.csv").write_text("step,seed0,seed1\n50,3.7,3.6\n100,3.0,2.9\n")
    assert dashboard.main(["--results", str(tmp_path)]) == 0
    page = (tmp_path / "dashboard" / "index.html").read_text()
    n_claims = sum(len(json.loads((tmp_path / p / "claims.json").read_text())["claims"]) for p in ("mamba", "moe"))
    assert page.count('<tr class="claim"') == n_claims
    for key in ("paper", "verdict", "scale"):
        assert f'data-key="{key}"' in page
    assert 'data-verdict="not run"' in page and 'data-paper="moe"' in page
    assert page.count("data:image/png;base64,") > n_claims // 2 and "dense" in page
    assert not re.search(r'(src|href)="?https?:', page)               # opens from disk, no network


def test_no_results_is_one_clear_error(tmp_path, capsys):
    assert dashboard.main(["--results", str(tmp_path)]) == 2
    assert "snakemake papers/<paper>" in capsys.readouterr().err
