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


def test_training_time_counts_only_the_runs_behind_the_report(tmp_path):
    """A run trained after the report (another seed, or the same seed re-trained: a new MLflow id) is not its cost;
    an experiment no claim reads (a base model) counts when it ran at the judged runs' commit."""
    def run(exp, seed, wall, run_id=None, commit="aaaa1111"):
        d = tmp_path / "toy" / "runs" / exp / "cpu" / f"seed{seed}"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"wall_time_s": wall, "git_commit": commit}))
        if run_id:
            (d / "mlflow_run_id").write_text(run_id + "\n")

    run("a", 0, 60.0, "id-a0")
    run("a", 1, 120.0)                               # no id recorded on disk: counted by its commit
    run("a", 3, 7000.0, commit="cccc3333")          # not judged, no id: another commit, not counted
    run("a", 2, 6000.0, "id-a2", commit="bbbb2222")  # not judged, another commit: a later look's seed
    run("b", 0, 9000.0, "id-new")                    # re-trained since: the report judged id-old
    run("base", 0, 30.0, "id-base")                  # read by no claim, trained at the judged commit
    report = {"paper": "toy", "scale": "cpu", "runs_git": {"aaaa1111": "false"},
              "claims": [{"runs": [{"experiment": "a", "seed": 0, "mlflow_run_id": "id-a0"},
                                   {"experiment": "a", "seed": 1, "mlflow_run_id": "id-a1"},
                                   {"experiment": "b", "seed": 0, "mlflow_run_id": "id-old"}]},
                         {"runs": [{"experiment": "a", "seed": 0, "mlflow_run_id": "id-a0"}]}]}
    assert readme_table.total_wall_time(report, tmp_path) == " Training time summed over runs: 3.5 min."
    assert readme_table.total_wall_time({**report, "runs_git": {"dddd4444": "false"}}, tmp_path) == ""


def test_run_table_blocks_are_regenerated_from_the_runs_on_disk(tmp_path):
    for exp, seed, acc in [("s4", 0, 10.0), ("s4", 1, 20.0), ("s6", 0, 90.0), ("timing", 0, None)]:
        d = tmp_path / "toy" / "runs" / exp / "cpu" / f"seed{seed}"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"accuracy": acc} if acc is not None else {"time_exponent": 1.0}))
    text = ("intro\n<!-- run-table: accuracy except=s6 -->\n| stale |\n<!-- run-table:end -->\n- a bullet:\n\n"
            "  <!-- run-table: accuracy only=s6 digits=2 -->\n  | stale |\n  <!-- run-table:end -->\nend\n")
    out = readme_table.render_run_tables(text, tmp_path, "toy", "cpu")
    assert "| stale |" not in out and out.startswith("intro\n<!-- run-table: accuracy except=s6 -->\n| experiment |")
    assert "| s4 | 2 | 15.0 | 0: 10.0, 1: 20.0 |\n<!-- run-table:end -->\n- a bullet:" in out
    assert "  | s6 | 1 | 90.00 | 0: 90.00 |\n  <!-- run-table:end -->\nend\n" in out
    assert readme_table.render_run_tables(out, tmp_path, "toy", "cpu") == out            # idempotent
    assert readme_table.render_run_tables(text, tmp_path, "toy", "smoke") == text        # no runs: kept as is
    bad = text.replace("digits=2", "digit=2")
    try:
        readme_table.render_run_tables(bad, tmp_path, "toy", "cpu")
    except ValueError as e:
        assert "digit" in str(e) and "only=PREFIX" in str(e)
    else:
        raise AssertionError("an unknown option must fail")
