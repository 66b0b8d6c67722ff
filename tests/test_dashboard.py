"""The static dashboard: a row per claim across papers, filters, embedded figures, nothing fetched from outside."""
import html
import json
import re
import shutil
from pathlib import Path

import pytest

from analysis import dashboard
from repro import preflight

pytestmark = pytest.mark.integration   # draws the dashboard from the committed verdicts: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]


def test_one_row_per_claim_with_filters_figures_and_no_external_resources(tmp_path):
    _copy_results(tmp_path)
    (tmp_path / "moe" / "cpu" / "curves").mkdir()
    (tmp_path / "moe" / "cpu" / "curves" / "dense.csv").write_text("step,seed,loss\n50,0,3.7\n100,0,3.0\n50,1,3.6\n")
    assert dashboard.main(["--results", str(tmp_path)]) == 0
    page = (tmp_path / "dashboard" / "index.html").read_text()
    n_claims = sum(
        len(json.loads((tmp_path / p / "cpu" / "claims.json").read_text())["claims"]) for p in ("mamba", "moe")
    )
    assert page.count('<article class="claim"') == n_claims
    for key in ("paper", "verdict", "scale"):
        assert f'data-key="{key}"' in page
    assert 'data-verdict="not run"' in page and 'data-paper="moe"' in page
    assert page.count("data:image/png;base64,") > n_claims // 2 and "dense" in page
    assert not re.search(r'(src|href)="?https?:', page)  # opens from disk, no network
    figures = sorted((tmp_path / "dashboard" / "figures").glob("*/*.png"))  # the same figures as report items
    assert len(figures) == page.count('<img class="fig"') and figures[0].read_bytes()[:4] == b"\x89PNG"
    # the summary on top: per paper and scale a bar of verdict counts, linked to the paper's section
    summary = page.split('<div class="summary">')[1].split('<div class="filters">')[0]
    assert summary.count('<div class="bar"') == 2 and 'href="#p-mamba-cpu"' in summary and 'id="p-mamba-cpu"' in page
    # every claim's reason and deviation are text on the page, not hover titles
    report = json.loads((tmp_path / "mamba" / "cpu" / "claims.json").read_text())
    for c in report["claims"]:
        assert html.escape(c["reason"]) in page
        assert not c["deviation"] or html.escape(c["deviation"]) in page.split(f'id="mamba-{c["id"]}"')[1][:20000]
    assert 'title="' + html.escape(report["claims"][0]["reason"]) not in page


def test_no_results_is_one_clear_error(tmp_path, capsys):
    assert dashboard.main(["--results", str(tmp_path)]) == 2
    assert "snakemake papers/<paper>" in capsys.readouterr().err


def _copy_results(dst, papers=("mamba", "moe")):
    for paper in papers:
        (dst / paper / "cpu").mkdir(parents=True)
        shutil.copy(REPO / "results" / paper / "cpu" / "claims.json", dst / paper / "cpu" / "claims.json")


def test_compare_shows_changed_verdicts_and_values(tmp_path):
    from analysis import compare

    old, new = tmp_path / "old", tmp_path / "new"
    _copy_results(old)
    _copy_results(new)
    report = json.loads((new / "moe" / "cpu" / "claims.json").read_text())
    changed = next(c for c in report["claims"] if (c.get("reproduced") or {}).get("mean") is not None)
    changed["verdict"] = "not reproduced" if changed["verdict"] != "not reproduced" else "reproduced"
    changed["reproduced"]["mean"] += 1.5
    report["claims"] = report["claims"][1:] if report["claims"][0] is not changed else report["claims"][:-1]
    (new / "moe" / "cpu" / "claims.json").write_text(json.dumps(report))
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
    assert set(committed) >= set(preflight.papers())
    df = compare.diff(committed, compare.load_set(REPO / "results"))
    assert len(df) == sum(len(r["claims"]) for r in committed.values())


def test_compare_with_a_bad_reference_is_one_clear_error(tmp_path, capsys):
    _copy_results(tmp_path)
    assert dashboard.main(["--results", str(tmp_path), "--compare", "no-such-rev"]) == 2
    assert "neither a results directory nor a git revision" in capsys.readouterr().err


def test_each_row_names_the_mlflow_runs_behind_its_number(tmp_path):
    _copy_results(tmp_path, papers=("moe",))
    path = tmp_path / "moe" / "cpu" / "claims.json"
    report = json.loads(path.read_text())
    judged = [c for c in report["claims"] if c["verdict"] != "not run"]
    for c in judged:
        c["runs"] = [{"experiment": e, "seed": 0, "mlflow_run_id": f"id-{e}"} for e in ("dense", "switch-e8")]
    judged[0]["runs"][1]["mlflow_run_id"] = None
    report["mlflow"] = {
        "experiment_id": "7",
        "verify_run_id": "verify-id",
        "claim_run_ids": {c["id"]: f"claim-{i}" for i, c in enumerate(report["claims"])},
    }
    path.write_text(json.dumps(report))
    run = tmp_path / "moe" / "runs" / "dense" / report["scale"] / "seed0"  # one run is on disk: linked
    run.mkdir(parents=True)
    (run / "metrics.json").write_text("{}")
    assert dashboard.main(["--results", str(tmp_path)]) == 0
    page = (tmp_path / "dashboard" / "index.html").read_text()
    links = {a for a in re.findall(r'href="([^"]+)"', page) if not a.startswith("#")}
    assert links == {f"../moe/runs/dense/{report['scale']}/seed0/metrics.json"}
    assert all((tmp_path / "dashboard" / link).resolve() == (run / "metrics.json").resolve() for link in links)
    rows = page.split('<article class="claim"')[1:]
    first = rows[report["claims"].index(judged[0])]
    assert "dense seed 0: <code>id-dense</code>" in first and "switch-e8 seed 0: <code>not tracked</code>" in first
    assert f"verdict: <code>claim-{report['claims'].index(judged[0])}</code>" in first
    assert page.count('<details class="runs">') == len(report["claims"])
    assert "verification run <code>verify-id</code>" in page and "seed 0 <code>id-switch-e8</code>" in page


def test_verdicts_without_recorded_runs_say_so(tmp_path):
    _copy_results(tmp_path, papers=("moe",))
    path = tmp_path / "moe" / "cpu" / "claims.json"
    report = json.loads(path.read_text())  # verified without tracking (or before the field)
    report.pop("mlflow", None)
    for c in report["claims"]:
        c.pop("runs", None)
    path.write_text(json.dumps(report))
    assert dashboard.main(["--results", str(tmp_path)]) == 0
    assert "MLflow run ids: not recorded" in (tmp_path / "dashboard" / "index.html").read_text()


def test_every_judged_claim_has_a_figure_trends_included(tmp_path):
    papers = [p.parent.parent.name for p in sorted((REPO / "results").glob("*/cpu/claims.json"))]
    _copy_results(tmp_path, papers=papers)
    reports = [json.loads((tmp_path / p / "cpu" / "claims.json").read_text()) for p in papers]
    judged = [c for r in reports for c in r["claims"] if c.get("reproduced")]
    assert any(c["kind"] == "trend" for c in judged)
    assert dashboard.main(["--results", str(tmp_path)]) == 0
    figures = {f"{f.parent.name}/{f.stem}" for f in (tmp_path / "dashboard" / "figures").glob("*/*.png")}
    assert figures == {f"{r['paper']}/{c['id']}" for r in reports for c in r["claims"] if c.get("reproduced")}


def test_a_row_says_whose_target_it_is_and_flags_fragile_and_late_rules(tmp_path):
    """The committed Mamba verdicts, with one claim marked fragile and one whose rule changed after its runs."""
    _copy_results(tmp_path, papers=("mamba",))
    path = tmp_path / "mamba" / "cpu" / "claims.json"
    report = json.loads(path.read_text())
    judged = [c for c in report["claims"] if c["verdict"] not in ("not run", "inconclusive")]
    judged[0].update(fragile=True, margin=0.01)
    judged[1]["rule_status"] = {"after_runs": True, "rule_commit": "0123456789abcdef"}
    path.write_text(json.dumps(report))
    assert dashboard.main(["--results", str(tmp_path)]) == 0
    page = (tmp_path / "dashboard" / "index.html").read_text()
    rows = page.split('<article class="claim"')[1:]
    row0 = next(r for r in rows if f"<code>{judged[0]['id']}</code>" in r)
    row1 = next(r for r in rows if f"<code>{judged[1]['id']}</code>" in r)
    assert "fragile: decided by a margin of 0.01" in row0 and "rule changed after its runs (rule at 0123456789)" in row1
    assert "paper, our band" in row0 and "seeds: decided" in row0
    order = next(r for r in rows if "selection-matters-more-than-architecture" in r)
    assert "our choice" in order and "by more than 20" in order


def test_mlflow_ids_are_links_into_the_ui_where_a_store_is_present(tmp_path):
    _copy_results(tmp_path, papers=("moe",))
    path = tmp_path / "moe" / "cpu" / "claims.json"
    report = json.loads(path.read_text())
    report["claims"][0]["runs"] = [{"experiment": "dense", "seed": 0, "mlflow_run_id": "abc123"}]
    report["mlflow"] = {"experiment_id": "7", "verify_run_id": "v1", "claim_run_ids": {}}
    path.write_text(json.dumps(report))
    assert dashboard.main(["--results", str(tmp_path)]) == 0
    page = (tmp_path / "dashboard" / "index.html").read_text()
    assert "/#/experiments/7/runs/abc123" not in page and "No MLflow store is here" in page
    (tmp_path / "mlflow.db").write_bytes(b"")  # a store beside the results
    assert dashboard.main(["--results", str(tmp_path)]) == 0
    page = (tmp_path / "dashboard" / "index.html").read_text()
    assert 'href="http://127.0.0.1:5000/#/experiments/7/runs/abc123"' in page and "mlflow ui" in page


def test_figure_intervals_and_bands_stay_inside_the_metrics_range(monkeypatch):
    """An accuracy interval or band reaching past 100 is drawn up to 100, never beyond."""
    from analysis import dashboard_figures as F

    assert F._clip(97.0, 103.0, [0, 100]) == (97.0, 100) and F._clip(-2.0, 5.0, [0, None]) == (0, 5.0)
    drawn = []
    import matplotlib.axes

    real_plot, real_span = matplotlib.axes.Axes.plot, matplotlib.axes.Axes.axvspan
    monkeypatch.setattr(matplotlib.axes.Axes, "plot", lambda self, *a, **k: drawn.append(a) or real_plot(self, *a, **k))
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "axvspan",
        lambda self, lo, hi, **k: drawn.append(([lo, hi],)) or real_span(self, lo, hi, **k),
    )
    claim = {
        "id": "c",
        "kind": "value",
        "metric": "accuracy",
        "range": [0, 100],
        "band": [97.0, 103.0],
        "rule": {"kind": "value", "reported": 100.0, "tolerance": 3.0},
        "reproduced": {"mean": 99.0, "values": {"0": 98.5, "1": 99.5}, "ci_low": 96.0, "ci_high": 102.0},
    }
    assert F.claim_figure(claim)[:4] == b"\x89PNG"
    xs = [x for a in drawn for x in (a[0] if isinstance(a[0], list) else [])]
    assert xs and max(xs) <= 100
