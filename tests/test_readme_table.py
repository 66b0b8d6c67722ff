"""The README verdict table is generated from claims.json, never typed."""
import json
import shutil
from pathlib import Path

from analysis import readme_table

REPO = Path(__file__).resolve().parents[1]


def test_table_is_rewritten_from_claims_json(tmp_path):
    paper = tmp_path / "papers" / "mamba"
    paper.mkdir(parents=True)
    shutil.copy(REPO / "papers/mamba/config.yaml", paper / "config.yaml")
    (paper / "README.md").write_text("intro\n<!-- verdicts:start -->\nold\n<!-- verdicts:end -->\n"
                                     "<!-- diagnostics:start -->\n<!-- diagnostics:end -->\nend\n")
    results = tmp_path / "results"
    report = {"paper": "mamba", "title": "T", "scale": "cpu", "note": "", "git_commit": "abc1234567890",
              "git_dirty": "false", "runs_git": {"fedcba9876543": "false"},
              "claims": [{"id": "c1", "source": "Table 1", "kind": "value", "verdict": "reproduced", "reason": "ok",
                          "rule": {"kind": "value", "reported": 97.0, "tolerance": 3.0},
                          "target": "paper, our band", "fragile": True, "margin": 0.2,
                          "rule_status": {"after_runs": True}, "sequential": {"n_seeds": 3},
                          "reproduced": {"mean": 96.5, "std": 0.5, "n": 3, "ci_low": 95.3, "ci_high": 97.7}},
                         {"id": "c2", "source": "Table 2", "kind": "value", "verdict": "reproduced", "reason": "ok",
                          "rule": {"kind": "value", "reported": 1.0, "tolerance": 0.05}, "target": "paper",
                          "reproduced": {"mean": 0.95, "std": 0.004, "n": 3, "ci_low": 0.951, "ci_high": 0.953}},
                         {"id": "c3", "source": "Table 3", "kind": "ordering", "verdict": "holds", "reason": "ok",
                          "rule": {"kind": "ordering", "better": ["moe"], "worse": ["dense"], "margin": 0.0,
                                   "higher_is_better": False}, "target": "paper",
                          "reproduced": {"gap": 0.1, "ci_low": 0.05, "ci_high": 0.15}}],
              "summary": {"reproduced": 2, "holds": 1}, "flags": {"fragile": 1}}
    (results / "mamba" / "cpu").mkdir(parents=True)
    (results / "mamba" / "cpu" / "claims.json").write_text(json.dumps(report))
    diag = results / "mamba" / "diagnostics" / "long" / "seed0"
    diag.mkdir(parents=True)
    (diag / "metrics.json").write_text(json.dumps({"experiment": "s4-no-gate", "scale": "cpu", "seed": 0,
                                                  "accuracy": 42.0, "steps": 8000, "git_commit": "0123456789ab"}))
    from repro import config as rc
    cfg = rc.resolve(rc.load_paper_config(paper / "config.yaml"), "s4-no-gate", "cpu", ["task.seq_len=256"])
    (diag / "config.yaml").write_text(json.dumps(cfg))
    assert readme_table.main([str(paper), "--results", str(results)]) == 0
    text = (paper / "README.md").read_text()
    assert "\nold\n" not in text and text.startswith("intro") and text.endswith("end\n")
    assert ("| c1 | Table 1 | paper, our band | 97.0; band ± 3 | 96.5 ± 0.5 | [95.3, 97.7] | 3 | reproduced | "
            "fragile, rule changed after its runs |") in text
    assert "| 0.950 ± 0.004 |" in text                                   # digits enough to show the difference
    assert "| moe < dense (lower is better) |" in text                   # the right way round
    assert "Verdicts: holds 1, reproduced 2; fragile 1." in text
    assert "`fedcba9876`" in text and "`abc1234567`" in text
    assert "| long | s4-no-gate | cpu | task.seq_len=256 | 0 | 42.0 | 8000 | `0123456789` |" in text


def test_missing_claims_json_names_the_command(tmp_path, capsys):
    paper = tmp_path / "papers" / "mamba"
    paper.mkdir(parents=True)
    assert readme_table.main([str(paper), "--results", str(tmp_path / "results")]) == 2
    assert "snakemake papers/mamba" in capsys.readouterr().err


def test_experiment_summary_lists_every_experiment_with_seed_stats(tmp_path):
    import json

    from analysis.readme_table import render_experiments
    from repro import runio
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "config.yaml").write_text(
        "paper: p\nbase: {train: {steps: 1, log_every: 1}}\nexperiments: {a: {}, b: {}}\n"
        "scales: {cpu: {seeds: [0, 1]}}\nreport: {metrics: [acc, epochs]}\n")
    for seed, acc in ((0, 80.0), (1, 82.0)):
        d = runio.run_dir(tmp_path / "results", "p", "a", "cpu", seed)
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"acc": acc, "epochs": 200}))
    out = render_experiments(paper, tmp_path / "results", "cpu")
    assert "| a | 2 | 81 ± 1.4 (80–82) | 200 |" in out
    assert "| b | 0 | not run | not run |" in out
