"""The cost plan (repro/cost_plan.py, the papers' cost.py hooks): its arithmetic, its refusals, one experiment per
branch of every hook compiled at the smoke scale, the full-scale parameter counts against what the papers state, and
(marked slow: `pytest -m slow tests/test_cost_plan.py`) one training and one evaluation step of every full-scale
experiment compiled ahead of time from abstract shapes: nothing allocated at full size, nothing trained.

Measured on the 2-core machine on 2026-12-04, one XLA thread, with a cold compilation cache, while another job kept
the load average near 5 (wall about 1.6x the CPU time): the default tests of this file 43 s of CPU (67 s wall; 12 s
with the suite's warm compilation cache); the slow ones 304 s of CPU (about 8 min wall in one process): Mamba 66 s,
MoE and SAE 98 s, the GNN paper's Planetoid and expressivity experiments 53 s, GIN Table 1 87 s.
"""
from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from repro import config as rconfig
from repro import cost_plan as cp

REPO = Path(__file__).resolve().parents[1]
PAPERS = ("gnn", "mamba", "moe", "sae")
MIRROR = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def offline_data(monkeypatch):
    """The hooks read the data sets' sizes (Cora, CiteSeer, the TU sets, tinyshakespeare): from the offline mirror
    where it is beside the repository (CI, a fresh clone), else from data/ as fetched."""
    if MIRROR.exists():
        monkeypatch.setenv("REPRO_DATA", str(MIRROR))


def require_data(paper: str):
    """Skip, as the other data tests do, where the paper's data sets are neither in the mirror nor fetched."""
    needed = {"gnn": ["planetoid/ind.cora.x", "tu/MUTAG.txt"], "moe": ["tinyshakespeare/input.txt"],
              "sae": ["tinyshakespeare/input.txt"]}.get(paper, [])
    if not MIRROR.exists() and not all((REPO / "data" / f).exists() for f in needed):
        pytest.skip("the offline mirror ../shared/data is not present and the data sets are not fetched")


# --- arithmetic --------------------------------------------------------------------------------------------------
def measured(flops, memory=1000, loop=1):
    return cp.Measured(flops=flops, memory=memory, longest_loop=loop, unknown_loops=0, compile_s=0.0)


def test_time_is_flops_over_peak_times_utilisation():
    h100 = cp.DEVICES["h100"]
    assert cp.seconds(66.9e12, h100, "fp32", 1.0) == pytest.approx(1.0)
    assert cp.seconds(1e15, h100, "fp32", 0.4) == pytest.approx(1e15 / (66.9e12 * 0.4))
    assert cp.seconds(1e15, cp.DEVICES["a100"], "bf16", 0.5) == pytest.approx(1e15 / 156e12)


def test_run_flops_and_the_total():
    spec = cp.CostSpec(steps=100, evals=4, n_params=10, note="n")
    row = cp.Row("a", spec, runs=3, train=measured(2e9, 5000), evaluate=measured(1e9, 7000))
    assert row.flops == pytest.approx((2e9 * 100 + 1e9 * 4) * 3)
    assert row.memory == 7000
    row.more.append(("other shape", measured(1e9, 0), 50))
    assert row.flops == pytest.approx((2e9 * 100 + 1e9 * 4 + 1e9 * 50) * 3)
    other = cp.Row("b", cp.CostSpec(steps=10, n_params=5), runs=2, train=measured(1e12))
    skipped = cp.Row("c", cp.CostSpec(not_costed="no training"), runs=0)
    device = cp.DEVICES["a100"]
    text = cp.table("p", "full", [row, other, skipped], device, "fp32", 0.5)
    lines = text.splitlines()
    assert "fp32 peak 19.5 TFLOP/s x utilisation 0.5 (assumed) = 9.75 TFLOP/s" in lines[0]
    total = row.flops + other.flops
    total_line = next(x for x in lines if x.startswith("total"))
    assert f"{total / 1e12:.3g} TFLOP" in total_line
    assert total_line.rstrip().endswith(cp.duration(total / (19.5e12 * 0.5)))
    assert any(x.startswith("c ") and "not costed: no training" in x for x in lines)


def test_without_a_precision_each_row_is_timed_at_its_own_train_precision_peak():
    rows = [cp.Row("a", cp.CostSpec(steps=10, n_params=1), runs=1, train=measured(1e12), precision="fp32"),
            cp.Row("b", cp.CostSpec(steps=10, n_params=1), runs=1, train=measured(1e12), precision="bf16")]
    h100 = cp.DEVICES["h100"]
    text = cp.table("p", "full", rows, h100, None, 0.5)
    assert "each experiment at its train.precision's peak (bf16 peak 989 TFLOP/s, fp32 peak 66.9 TFLOP/s)" in text
    total = next(x for x in text.splitlines() if x.startswith("total"))
    assert total.rstrip().endswith(cp.duration(1e13 / (66.9e12 * 0.5) + 1e13 / (989.4e12 * 0.5)))
    line_b = next(x for x in text.splitlines() if x.startswith("b "))
    assert " bf16 " in line_b and line_b.rstrip().endswith(cp.duration(1e13 / (989.4e12 * 0.5)))


def test_measure_counts_a_loop_by_its_trip_count_and_sums_the_memory_fields():
    x, w = jax.ShapeDtypeStruct((128, 256), jnp.float32), jax.ShapeDtypeStruct((256, 256), jnp.float32)
    body = 2 * 128 * 256 * 256                                   # one matmul

    def scanned(x, w):
        return jax.lax.scan(lambda h, _: (jnp.tanh(h @ w), None), x, None, length=10)[0].sum()

    def nested(x, w):
        inner = lambda h, _: (jax.lax.scan(lambda g, _: (jnp.tanh(g @ w), None), h, None, length=3)[0], None)  # noqa
        return jax.lax.scan(inner, x, None, length=4)[0].sum()

    for fn, n in ((scanned, 10), (nested, 12), (jax.grad(scanned, argnums=1), 30)):   # grad: forward + two matmuls
        m = cp.measure(cp.Step(fn, (x, w)))
        assert m.flops == pytest.approx(n * body, rel=0.02), fn
    assert cp.measure(cp.Step(nested, (x, w))).longest_loop == 12
    mem = jax.jit(scanned).lower(x, w).compile().memory_analysis()
    expect = (mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
              - mem.alias_size_in_bytes)
    assert cp.measure(cp.Step(scanned, (x, w))).memory == expect
    assert mem.argument_size_in_bytes == 4 * (128 * 256 + 256 * 256) and mem.output_size_in_bytes == 4
    assert mem.temp_size_in_bytes > 0 and mem.alias_size_in_bytes == 0       # the loop's carry


# --- refusals: one line each ---------------------------------------------------------------------------------------
TINY = """
paper: tiny
base: {train: {steps: 1, log_every: 1}}
experiments: {a: {}, b: {}}
scales:
  smoke: {seeds: [0], skip: {a: "never at this scale", b: "nor this"}}
"""


@pytest.fixture
def tiny_paper(tmp_path):
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "config.yaml").write_text(TINY)
    (d / "cost.py").write_text("def spec(cfg):\n    raise AssertionError('never called')\n")
    return d


MAMBA = str(REPO / "papers" / "mamba")


@pytest.mark.parametrize("argv, message", [
    ([str(REPO / "papers" / "nope")], "papers/nope: not a paper (no config.yaml there); papers: papers/gnn, "
                                      "papers/mamba, papers/moe, papers/sae"),
    ([MAMBA, "--device", "tpu"], "unknown device 'tpu'; valid: h100, a100, cpu"),
    ([MAMBA, "--precision", "fp8"], "unknown precision 'fp8'; valid: fp32, tf32, bf16"),
    ([MAMBA, "--utilisation", "2"], "--utilisation 2: must be a number in (0, 1]"),
    ([MAMBA, "--utilisation", "x"], "--utilisation x: must be a number in (0, 1]"),
    ([MAMBA, "--scale", "huge"], "unknown scale 'huge'; valid: smoke, cpu, full"),
    ([MAMBA, "--experiment", "s7"], "papers/mamba: no experiment 's7'; valid: s4-no-gate"),
    ([MAMBA, "--set", "train.stepz=3", "--experiment", "s6-mamba"], "unknown config key train.'stepz'"),
])
def test_bad_input_is_one_clear_line(argv, message, capsys):
    assert cp.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


def test_a_scale_without_experiments_is_refused(tiny_paper, capsys):
    assert cp.main([str(tiny_paper), "--scale", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scale 'smoke' trains no experiment (all skipped: a, b)" in err
    assert cp.main([str(tiny_paper), "--scale", "full"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.yaml has no scale 'full'; its scales: smoke" in err
    (tiny_paper / "cost.py").unlink()
    assert cp.main([str(tiny_paper), "--scale", "smoke"]) == 2
    assert "no cost.py" in capsys.readouterr().err


# --- every hook's code path, compiled at the smoke scale ----------------------------------------------------------
# one experiment per branch of each papers/<p>/cost.py (the default run; the slow test below compiles them all at
# full scale)
BRANCHES = {
    "mamba": ["s6-no-gate", "induction-mamba", "s4-smnist", "timing-mamba"],
    "moe": ["switch-e4", "speedup-e8"],
    "sae": ["topk-k4", "tms-5-2-dense", "lm", "lm-relu-l1-0.1", "relu-at-topk-k2"],
    "gnn": ["gcn-cora", "gin0-mutag", "wl-pair"],
}


@pytest.mark.integration   # builds every paper's tasks and compiles their steps: in `make test`, not `make test-fast`
@pytest.mark.parametrize("paper", PAPERS)
def test_every_hook_branch_compiles_at_smoke_scale(paper):
    require_data(paper)
    rows = cp.plan(REPO / "papers" / paper, "smoke", BRANCHES[paper])
    assert [r.experiment for r in rows] == BRANCHES[paper]
    for r in rows:
        assert not r.error, (r.experiment, r.error)
        if r.spec.not_costed:
            assert r.train is None and len(r.spec.not_costed) > 10
            continue
        assert r.spec.n_params > 0 and r.spec.steps > 0 and r.runs >= 1, r.experiment
        assert r.train.flops > 0 and r.train.memory > 0 and r.flops > 0, r.experiment
        assert r.evaluate is None or (r.evaluate.flops > 0 and r.evaluate.memory > 0), r.experiment


# --- parameter counts at full scale (abstract: nothing compiled) ------------------------------------------------
def full_specs(paper: str, experiments=None) -> dict:
    """The hook's CostSpec of each experiment at full scale: abstract shapes only, nothing compiled."""
    pcfg = rconfig.load_paper_config(REPO / "papers" / paper / "config.yaml")
    module = cp.hook(REPO / "papers" / paper)
    return {e: module.spec(rconfig.resolve(pcfg, e, "full")) for e in experiments or pcfg["experiments"]}


# the only parameter count the four papers state for a model we train (Mamba Table 2 / Table 11: "Mamba (74K
# params)"), and what our model has: 2 x 32,704 per Mamba block (in_proj 16,384, conv 640, x_proj 4,608 with the
# reference's dt_rank = ceil(64 / 16) = 4, dt_proj 640, A 2,048, D 128, out_proj 8,192, norm 64), the embedding
# 1,024 (tied to the output) and the final norm 64. The paper's number is rounded to 1K and ours is 10% below it;
# the paper gives no breakdown, so the gap is not explained (an untied output layer would add 1,024).
MAMBA_INDUCTION = 66_496


def test_mamba_induction_count():
    specs = full_specs("mamba")
    s = specs["induction-mamba"]
    assert s.n_params == MAMBA_INDUCTION and s.paper_params == 74_000
    assert [e for e, x in specs.items() if x.paper_params] == ["induction-mamba"]


@pytest.mark.xfail(strict=True, reason="ours 66,496 against the paper's 74K: see MAMBA_INDUCTION")
def test_mamba_induction_count_matches_the_paper_to_its_rounding():
    assert round(full_specs("mamba")["induction-mamba"].n_params, -3) == 74_000


def test_gnn_counts_are_what_the_papers_sizes_imply():
    """GCN, GAT and GIN state layer sizes, not parameter counts: nothing to compare with a paper's number. Our counts
    are checked against what those sizes imply (GCN: no biases, as its code; GAT: W and the attention vector a per
    head, plus the per-head bias of its code; GIN: 5 layers counting the input, 2-layer MLPs with batch norm, one
    linear readout per layer)."""
    require_data("gnn")
    specs = full_specs("gnn", ["gcn-cora", "gcn-citeseer", "mlp-cora", "gat-cora", "gat-citeseer", "gat-pubmed",
                               "gin0-mutag", "gineps-mutag"])
    assert all(s.paper_params is None for s in specs.values())
    cora, citeseer, pubmed = (1433, 7), (3703, 6), (500, 3)
    gcn = lambda f, c, h=16: f * h + h * c  # noqa: E731
    assert specs["gcn-cora"].n_params == gcn(*cora) == 23_040
    assert specs["gcn-citeseer"].n_params == gcn(*citeseer)
    assert specs["mlp-cora"].n_params == gcn(*cora)

    def gat(f, c, heads=8, hidden=8, out_heads=1):
        layer = lambda n_in, n_out, h: h * (n_in * n_out + 2 * n_out + n_out)  # noqa: E731  W, a = (a1, a2), bias
        return layer(f, hidden, heads) + layer(heads * hidden, c, out_heads)
    assert specs["gat-cora"].n_params == gat(*cora) == 92_373
    assert specs["gat-citeseer"].n_params == gat(*citeseer)
    assert specs["gat-pubmed"].n_params == gat(*pubmed, out_heads=8)

    def gin(f, c, hidden, learn_eps=False):
        mlp = lambda n_in: n_in * hidden + hidden + hidden * hidden + hidden + 2 * 2 * hidden  # noqa: E731
        return (mlp(f) + 3 * mlp(hidden) + 4 * learn_eps) + (f * c + c) + 4 * (hidden * c + c)
    assert specs["gin0-mutag"].n_params == gin(7, 2, 32) == 8_440          # MUTAG: 7 node labels, 2 classes
    assert specs["gineps-mutag"].n_params == gin(7, 2, 32, learn_eps=True)


def test_moe_and_sae_papers_state_no_count_for_these_models():
    """Switch Transformers states counts for its T5-sized models only; the SAE papers size their dictionaries by
    latents; so no experiment here has a paper count. The counts follow from the configs."""
    require_data("moe")
    moe, sae = full_specs("moe"), full_specs("sae")
    assert all(s.paper_params is None for s in [*moe.values(), *sae.values()])
    d, ff, vocab, ctx = 256, 1024, 65, 256                        # full scale: 4 layers, d 256, d_ff 1024
    block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d)        # two layer norms, attention
    dense_ffn = d * ff + ff + ff * d + d
    dense = vocab * d + ctx * d + 4 * (block + dense_ffn) + 2 * d
    assert moe["dense"].n_params == dense
    expert_ffn = lambda e: d * e + e * (d * ff + ff + ff * d + d)  # noqa: E731  router + e experts d_ff wide
    assert moe["switch-e8"].n_params == dense - 2 * dense_ffn + 2 * expert_ffn(8)
    assert sae["relu-l1-0.1"].n_params == 256 * 1024 * 2 + 1024 + 256  # encoder, decoder, biases


# --- the slow part: every full-scale experiment compiled --------------------------------------------------------
def full_cases():
    out = []
    for paper in PAPERS:
        for e in rconfig.load_paper_config(REPO / "papers" / paper / "config.yaml")["experiments"]:
            out.append(pytest.param(paper, e, marks=[pytest.mark.slow], id=f"{paper}-{e}"))
    return out


@pytest.mark.parametrize("paper, experiment", full_cases())
def test_full_scale_steps_compile(paper, experiment):
    require_data(paper)
    (row,) = cp.plan(REPO / "papers" / paper, "full", [experiment])
    assert not row.error, row.error
    if row.spec.not_costed:
        return
    assert row.train is not None and row.train.flops > 0 and row.train.memory > 0
    assert row.spec.evaluate is None or row.evaluate is not None
    assert row.memory < cp.DEVICES["h100"].memory, "does not fit one 80 GB GPU"
    assert math.isfinite(row.flops) and row.flops > 0


def test_the_workflow_plan_points_at_the_cost_plan_where_no_run_time_is_recorded(tmp_path):
    from repro import plan_time
    line = plan_time.estimate(tmp_path, "mamba", "full", ["s6-mamba"], [0, 1, 2], 2, True)
    assert "no run times recorded" in line and line.endswith("python -m repro.cost_plan papers/mamba --scale full")
    assert "cost_plan" not in plan_time.estimate(tmp_path, "toy", "full", ["a"], [0], 2, True)   # no cost.py
