"""analysis/seed_budget.py: the cost of a seed design from recorded run times and the committed per-seed values."""
import json

from toy_paper import CLAIMS, CONFIG

from analysis import seed_budget


def toy(tmp_path, timings=True):
    paper = tmp_path / "papers" / "toy"
    paper.mkdir(parents=True)
    (paper / "config.yaml").write_text(CONFIG)
    (paper / "claims.yaml").write_text(CLAIMS)
    out = tmp_path / "results" / "toy" / "cpu"
    out.mkdir(parents=True)
    values = {"near": {"0": 7.0, "1": 13.0, "2": 10.5},                       # 10 +- 1 undecided on 3 seeds
              "high": {"0": 100.0, "1": 100.1, "2": 99.9}, "low": {"0": 0.0, "1": 0.1, "2": -0.1}}
    rows = [{"id": "near-ten", "metric": "score", "values": {"near": values["near"]}},
            {"id": "high-beats-low", "metric": "score", "values": {e: values[e] for e in ("high", "low")}}]
    (out / "claims.json").write_text(json.dumps({"paper": "toy", "scale": "cpu", "claims": rows}))
    if timings:
        per = {"near": 2.0, "high": 3.0, "low": 5.0}
        (out / "timings.json").write_text(json.dumps(
            {"scale": "cpu", "machine": "test", "experiments": {e: {"seconds_per_seed": s, "runs": 3}
                                                                 for e, s in per.items()}}))
    return paper, tmp_path / "results"


def test_first_look_and_the_most_the_later_looks_add(tmp_path):
    paper, results = toy(tmp_path)
    b = seed_budget.budget(paper, "cpu", results)
    assert b["looks"] == [3, 6, 12]
    assert b["undecided_at_first_look"] == ["near-ten"] and b["experiments_adding_seeds"] == ["near"]
    assert b["first_look_s"] == (2.0 + 3.0 + 5.0) * 3
    assert b["later_looks_max_s"] == 2.0 * (12 - 3)            # only the undecided claim's experiment, to the maximum


def test_experiments_without_a_recorded_time_are_listed_not_guessed(tmp_path, capsys):
    paper, results = toy(tmp_path, timings=False)
    assert seed_budget.main([str(paper), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "no run time recorded for: near, high, low" in out and "first look 0 s of work" in out
