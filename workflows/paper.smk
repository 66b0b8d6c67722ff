# Shared rules for one paper's workflow: train every (experiment, seed) of the chosen scale, then verify.
# A paper's Snakefile sets PAPER and PAPER_DIR and includes this file.
#
#   config: scale=smoke|cpu|full (default cpu); set="train.steps=100 model.d_model=32" (overrides every run)
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.main_snakefile).parent))
from repro.config import load_paper_config, seeds as scale_seeds  # noqa: E402

PY = sys.executable
SCALE = config.get("scale", "cpu")
_PCFG = load_paper_config(f"{PAPER_DIR}/config.yaml")
EXPERIMENTS = list(_PCFG["experiments"])
SEEDS = scale_seeds(_PCFG, SCALE)
SET_ARGS = " ".join(f"--set {shlex.quote(s)}" for s in str(config.get("set", "")).split())
# one XLA thread per job: Snakemake runs as many jobs as there are cores, and results stay bit-identical
XLA_ENV = "XLA_FLAGS='--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1'"

RUN = f"results/{PAPER}/runs/{{experiment}}/{{scale}}/seed{{seed}}"


rule train:
    output: f"{RUN}/metrics.json"
    log: f"results/{PAPER}/logs/{{experiment}}.{{scale}}.seed{{seed}}.log"
    wildcard_constraints:
        experiment="|".join(EXPERIMENTS), scale="smoke|cpu|full", seed=r"\d+"
    threads: 1
    resources:
        gpu=1 if SCALE == "full" else 0
    shell:
        f"{XLA_ENV} {PY} -m papers.{PAPER}.experiment --experiment {{wildcards.experiment}} "
        f"--scale {{wildcards.scale}} --seed {{wildcards.seed}} {SET_ARGS} > {{log}} 2>&1"


rule verify:
    input:
        expand(f"results/{PAPER}/runs/{{experiment}}/{SCALE}/seed{{seed}}/metrics.json",
               experiment=EXPERIMENTS, seed=SEEDS),
        claims=f"{PAPER_DIR}/claims.yaml",
    output:
        json=f"results/{PAPER}/claims.json",
        csv=f"results/{PAPER}/claims.csv",
    localrule: True
    shell:
        f"{PY} -m analysis.verify {PAPER_DIR} --scale {SCALE}"
