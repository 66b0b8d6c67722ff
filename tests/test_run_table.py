"""analysis/run_table.py: every finished run of a paper and scale as one CSV row, provenance last."""
import csv
import io
import json
import re

from analysis import run_table


def write_run(results, experiment, seed, metrics, scale="cpu"):
    d = results / "toy" / "runs" / experiment / scale / f"seed{seed}"
    d.mkdir(parents=True)
    if metrics is not None:
        (d / "metrics.json").write_text(json.dumps(metrics))


def test_finished_runs_become_rows_with_their_metrics_and_provenance(tmp_path, monkeypatch, capsys):
    write_run(tmp_path, "b", 1, {"accuracy": 50.123456789, "git_commit": "abcdef0123456789", "git_dirty": "false",
                                 "wall_time_s": 12.345, "packages": {"jax": "0"}, "flag": True, "seed": 1,
                                 "machine": "2 cores, AMD EPYC"})
    write_run(tmp_path, "b", 0, {"accuracy": 40.0, "acc_64": 99.0, "git_commit": "0123456789abcdef"})
    write_run(tmp_path, "a", 0, {"time_exponent": 1.02})
    write_run(tmp_path, "a", 1, None)                                        # checkpointed part-way: left out
    write_run(tmp_path, "a", 2, {"time_exponent": 9.0}, scale="smoke")       # another scale: left out
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    assert run_table.main(["papers/toy", "--scale", "cpu"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["experiment"], r["seed"]) for r in table] == [("a", "0"), ("b", "0"), ("b", "1")]
    assert list(table[0]) == ["experiment", "seed", "time_exponent", "accuracy", "acc_64", "git_commit", "git_dirty",
                              "wall_time_s", "machine", "metrics_written_utc"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", table[0]["metrics_written_utc"])
    assert table[2]["accuracy"] == "50.123457" and table[2]["wall_time_s"] == "12.3"
    assert table[2]["machine"] == "2 cores, AMD EPYC" and table[0]["machine"] == ""
    assert table[2]["git_commit"] == "abcdef0123" and table[1]["acc_64"] == "99.0" and table[2]["acc_64"] == ""
    out = tmp_path / "evidence" / "runs.csv"
    assert run_table.main(["papers/toy", "--out", str(out)]) == 0
    assert out.read_text().count("\n") == 4


def test_no_runs_names_the_command_that_makes_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    assert run_table.main(["papers/toy", "--scale", "cpu"]) == 2
    assert "snakemake papers/toy --config scale=cpu" in capsys.readouterr().err


def test_summary_is_a_markdown_table_of_one_metric_per_experiment(tmp_path, monkeypatch, capsys):
    write_run(tmp_path, "b", 2, {"accuracy": 30.0})
    write_run(tmp_path, "b", 0, {"accuracy": 10.04})
    write_run(tmp_path, "a", 0, {"time_exponent": 1.0})                     # does not record the metric: no row
    write_run(tmp_path, "c", 1, {"accuracy": float("nan")})                  # a non-finite value is not a seed's value
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    assert run_table.main(["papers/toy", "--summary", "accuracy"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:] == ["| b | 2 | 20.0 | 0: 10.0, 2: 30.0 |"]
    assert run_table.main(["papers/toy", "--summary", "accuracy,time_exponent", "--digits", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| experiment | metric | seeds | mean |")
    assert lines[2:] == ["| a | time_exponent | 1 | 1.00 | 0: 1.00 |",
                         "| b | accuracy | 2 | 20.02 | 0: 10.04, 2: 30.00 |"]
    assert run_table.main(["papers/toy", "--summary", "acuracy"]) == 2
    err = capsys.readouterr().err
    assert "'acuracy'" in err and "accuracy" in err and "time_exponent" in err


def test_history_is_one_column_of_every_finished_run_step_by_step(tmp_path, monkeypatch, capsys):
    write_run(tmp_path, "b", 0, {"accuracy": 40.0})
    (tmp_path / "toy/runs/b/cpu/seed0/history.csv").write_text(
        "step,train_loss,eval_accuracy\n50,2.6,\n100,2.1,12.5\n200,1.0,60.25\n")
    write_run(tmp_path, "a", 1, None)                                        # unfinished: left out
    (tmp_path / "toy/runs/a/cpu/seed1/history.csv").write_text("step,eval_accuracy\n100,99\n")
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path))
    assert run_table.main(["papers/toy", "--history", "eval_accuracy"]) == 0
    assert capsys.readouterr().out.splitlines() == ["experiment,seed,step,eval_accuracy", "b,0,100,12.5",
                                                    "b,0,200,60.25"]
    assert run_table.main(["papers/toy", "--history", "eval_acc"]) == 2
    assert "'eval_acc'" in capsys.readouterr().err


def test_against_puts_each_run_beside_the_same_run_of_an_earlier_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "before"))
    write_run(tmp_path / "before", "a", 0, {"accuracy": 40.0, "loss": 1.5, "config_hash": "h1", "git_commit": "c0"})
    write_run(tmp_path / "before", "a", 1, {"accuracy": 41.0, "loss": 1.4, "config_hash": "h1"})
    write_run(tmp_path / "before", "b", 0, {"accuracy": 7.0, "config_hash": "h2"})
    old = tmp_path / "old.csv"
    assert run_table.main(["papers/toy", "--out", str(old)]) == 0
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "now"))
    write_run(tmp_path / "now", "a", 0, {"accuracy": 40.0, "loss": 1.5, "config_hash": "h1", "git_commit": "c1"})
    write_run(tmp_path / "now", "a", 1, {"accuracy": 41.5, "loss": 1.4, "config_hash": "h1"})   # differs
    write_run(tmp_path / "now", "b", 0, {"accuracy": 9.0, "config_hash": "h3"})   # another config: not compared
    write_run(tmp_path / "now", "c", 0, {"accuracy": 1.0, "config_hash": "h1"})   # not in the old table
    capsys.readouterr()
    assert run_table.main(["papers/toy", "--against", str(old)]) == 0
    got = capsys.readouterr()
    table = list(csv.DictReader(io.StringIO(got.out)))
    assert [(r["experiment"], r["seed"], r["metric"], r["equal"]) for r in table] == [
        ("a", "0", "accuracy", "True"), ("a", "0", "loss", "True"),
        ("a", "1", "accuracy", "False"), ("a", "1", "loss", "True")]
    assert table[0]["before_commit"] == "c0" and table[0]["now_commit"] == "c1"
    assert "2 runs in both tables" in got.err and "accuracy: 1 of 2" in got.err and "loss: 2 of 2" in got.err
    assert run_table.main(["papers/toy", "--against", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv does not exist" in capsys.readouterr().err


def test_looks_say_when_each_look_ran_from_the_runs_records(tmp_path):
    def row(exp, seed, end, wall):
        return {"experiment": exp, "seed": seed, "metrics_written_utc": end, "wall_time_s": wall}

    table = [row("a", 0, "2026-12-05 10:10:00", 600.0), row("b", 0, "2026-12-05 10:05:00", 300.0),   # side by side
             row("a", 1, "2026-12-05 10:40:00", 600.0),                 # after a 20-minute gap: not busy time
             row("a", 3, "2026-12-05 11:00:00", 120.0), row("a", 7, "2026-12-05 12:00:00", 60.0)]
    got = run_table.looks(table, [3, 6, 10]).splitlines()
    assert got[2] == "| 0 | 0-2 | 3 | 2 | 2026-12-05 10:00 | 2026-12-05 10:40 | 20 min | 25 min |"
    assert got[3] == "| 1 | 3-5 | 1 | 1 | 2026-12-05 10:58 | 2026-12-05 11:00 | 2 min | 2 min |"
    assert got[4] == "| 2 | 6-9 | 1 | 1 | 2026-12-05 11:59 | 2026-12-05 12:00 | 1 min | 1 min |"
