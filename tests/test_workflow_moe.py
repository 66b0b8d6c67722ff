"""The MoE workflow end to end at smoke scale, in a copy of the repository, through the literal command."""
import json

import pytest

from workflow_helpers import MIRROR, OFFLINE, snakemake

pytestmark = [pytest.mark.workflow,     # runs Snakemake: not in `make test-fast`
              pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")]


def test_moe_smoke_workflow_trains_measures_and_judges(workdir):
    r = snakemake(workdir, "papers/moe", "--config", "scale=smoke", "--cores", "2", env=OFFLINE)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = workdir / "results/moe/runs"
    report = json.loads((workdir / "results/moe/smoke/claims.json").read_text())
    assert len(report["claims"]) == 16 and report["evidence"] is False
    dense = json.loads((runs / "dense/smoke/seed0/metrics.json").read_text())
    e8 = json.loads((runs / "switch-e8/smoke/seed0/metrics.json").read_text())
    speed = json.loads((runs / "speedup-e8/smoke/seed0/metrics.json").read_text())
    assert speed["dense_final_val_loss"] == dense["val_loss"]          # read from the dense run, same seed
    dropless = json.loads((runs / "switch-e8-dropless/smoke/seed0/metrics.json").read_text())
    assert dropless["val_dropped"] == 0.0 and 0.0 <= e8["val_dropped"] < 1.0
    per = {c["id"]: c for c in report["claims"]}
    assert per["e8-beats-dense"]["reproduced"]["per_experiment"]["dense"]["values"] == {"0": dense["val_loss"]}
    top2 = json.loads((runs / "top2-e8/smoke/seed0/metrics.json").read_text())      # Switch Table 1's top-2 MoE-Base
    faster = per["switch-top1-faster-than-top2"]["reproduced"]["per_experiment"]
    assert faster["top2-e8"]["values"] == {"0": top2["tok_per_s"]}
    for name in ("val_loss_curves", "expert_load", "capacity"):
        assert (workdir / f"results/moe/figures/{name}.smoke.png").stat().st_size > 10_000
