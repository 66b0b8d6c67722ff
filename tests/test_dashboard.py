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
    figures = sorted((tmp_path / "dashboard" / "figures").glob("*/*.png"))  # the same figures as report items
    assert len(figures) == page.count('<img class="fig"') and figures[0].read_bytes()[:4] == b"\x89PNG"


def test_no_results_is_one_clear_error(tmp_path, capsys):
    assert dashboard.main(["--results", str(tmp_path)]) == 2
    assert "snakemake papers/<paper>" in capsys.readouterr().err


def _copy_results(dst, papers=("mamba", "moe")):
    for paper in papers:
        (dst / paper).mkdir(parents=True)
        shutil.copy(REPO / "results" / paper / "claims.json", dst / paper / "claims.json")


def test_compare_shows_changed_verdicts_and_values(tmp_path):
    from analysis import compare
    old, new = tmp_path / "old", tmp_path / "new"
    _copy_results(old)
    _copy_results(new)
    report = json.loads((new / "moe" / "claims.json").read_text())
    changed = next(c for c in report["claims"] if (c.get("reproduced") or {}).get("mean") is not None)
    changed["verdict"] = "not reproduced" if changed["verdict"] != "not reproduced" else "reproduced"
    changed["reproduced"]["mean"] += 1.5
    report["claims"] = report["claims"][1:] if report["claims"][0] is not changed else report["claims"][:-1]
    (new / "moe" / "claims.json").write_text(json.dumps(report))
    df = compare.diff(compare.load_set(old), compare.load_set(new))
    row = df[df["claim"] == changed["id"]].iloc[0]
    assert row["change"] == "verdict" and abs(row["delta"] - 1.5) < 1e-9
    assert (df["change"] == "removed").sum() == 1 and (df["change"] == "").sum() == len(df) - 2
    assert dashboard.main(["--results", str(new), "--compare", str(old)]) == 0
    page = (new / "dashboard" / "index.html").read_text()
    assert '<span id="n-changed">2</span>' in page and changed["id"] in page.split('id="compare"')[1]


def test_compare_against_a_git_revision_reads_the_committed_verdicts(tmp_path):
    from analysis import compare
    committed = compare.load_set("HEAD")
    assert set(committed) >= {"mamba", "gnn", "sae", "moe"}
    df = compare.diff(committed, compare.load_set(REPO / "results"))
    assert len(df) == sum(len(r["claims"]) for r in committed.values())


def test_compare_with_a_bad_reference_is_one_clear_error(tmp_path, capsys):
    _copy_results(tmp_path)
    assert dashboard.main(["--results", str(tmp_path), "--compare", "no-such-rev"]) == 2
    assert "neither a results directory nor a git revision" in capsys.readouterr().err
