"""The SAE workflow end to end at smoke scale, in a copy of the repository, through the literal command."""
import json

import pytest

from workflow_helpers import MIRROR, OFFLINE, snakemake

pytestmark = [pytest.mark.workflow,     # runs Snakemake: not in `make test-fast`
              pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")]


def test_sae_smoke_workflow_orders_dependent_jobs_draws_figures_and_judges(workdir):
    r = snakemake(workdir, "papers/sae", "--config", "scale=smoke", "--cores", "2", env=OFFLINE)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = workdir / "results/sae/runs"
    report = json.loads((workdir / "results/sae/smoke/claims.json").read_text())
    assert len(report["claims"]) == 16 and report["evidence"] is False
    by_id = {c["id"]: c for c in report["claims"]}
    # the SAE on the LM read the LM this workflow trained (its checkpoint is a workflow output)
    lm_sae = json.loads((runs / "lm-topk-k16/smoke/seed0/metrics.json").read_text())
    assert lm_sae["ce_zero_ablation"] > lm_sae["ce_original"] > 0
    lm = json.loads((runs / "lm/smoke/seed0/metrics.json").read_text())
    assert abs(lm["val_loss"] - lm_sae["ce_original"]) < 1e-4
    # the matched-L0 comparison is computed from the sweep's runs, and the verdict from it
    from papers.sae.lm_runs import frontier_at
    sweep = sorted((m["l0"], m["fvu"]) for m in (json.loads((runs / f"lm-relu-l1-{x}/smoke/seed0/metrics.json")
                                                            .read_text()) for x in ("0.1", "0.3", "1", "3")))
    matched = json.loads((runs / "lm-relu-at-topk-k16/smoke/seed0/metrics.json").read_text())
    assert matched["fvu"] == pytest.approx(frontier_at(*zip(*sweep), lm_sae["l0"])[0])
    per = by_id["topk-beats-relu-lm-k16"]["reproduced"]["per_experiment"]
    assert per["lm-relu-at-topk-k16"]["values"] == {"0": matched["fvu"]}
    assert per["lm-topk-k16"]["values"] == {"0": lm_sae["fvu"]}
    for name in ("recovery_vs_l1", "l0_fvu_frontier", "superposition"):
        assert (workdir / f"results/sae/figures/{name}.smoke.png").stat().st_size > 10_000
