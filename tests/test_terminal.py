"""The verdict table the workflow prints: every committed paper's fits 100 columns, with the count of each verdict;
a one-seed (smoke) interval is left out instead of printed as infinities."""
import json
from pathlib import Path

import pytest

from analysis import terminal
from repro import preflight

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("paper", preflight.papers())
def test_the_table_fits_100_columns_and_counts_each_verdict(paper):
    report = json.loads((REPO / "results" / paper / "cpu" / "claims.json").read_text())
    text = terminal.render(report)
    assert max(len(line) for line in text.splitlines()) <= 100
    for c in report["claims"]:
        assert c["id"][:30] in text
    total = sum(terminal.counts(report).values())
    assert total == len(report["claims"])
    counts_line = next(line for line in text.splitlines() if line.startswith("verdicts: "))
    assert sum(int(part.split()[0]) for part in counts_line[len("verdicts: "):].split(" · ")) == total


def test_an_interval_one_seed_cannot_bound_is_not_printed_as_infinite():
    claim = {"id": "c", "kind": "value", "verdict": "inconclusive", "sequential": {"n_seeds": 1},
             "rule": {"kind": "value", "reported": 97.0, "tolerance": 3.0},
             "reproduced": {"mean": 96.0, "ci_low": float("-inf"), "ci_high": float("inf")}}
    text = terminal.render({"title": "T", "scale": "smoke", "evidence": False, "claims": [claim]})
    assert "inf" not in text and "96.0" in text and "not evidence" in text
