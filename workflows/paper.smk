# Shared rules for one paper's workflow: train every (experiment, seed) of the chosen scale, then verify.
# A paper's Snakefile sets PAPER and PAPER_DIR and includes this file. With JOB_PER_EXPERIMENT = True one job trains
# every seed of an experiment (for papers whose runs take seconds: one process, one compilation); it writes each
# seed's run directory and then results/<p>/runs/<experiment>/<scale>/seeds.json, the job's declared output (so a
# failed job never deletes seeds it finished).
# Experiments whose data set can be neither found nor fetched with a recorded checksum are left out; their claims
# say `not run` with the reason.
#
# Adaptive seeds (a scale's `seeds: {min, max}`, analysis/sequential.py): every experiment runs the first look's
# seeds; the `seed_plan` checkpoint judges the claims at each look and schedules more seeds for the experiments of
# the claims still undecided, look by look, up to `max`. A list of seeds is a single look.
#
#   config: scale=smoke|cpu|full (default cpu); set="train.steps=100 model.d_model=32" (overrides every run)
import json
import logging
import os
import shlex
import sys
from pathlib import Path

# the repository root: Snakemake runs from it (every path below is relative to it)
sys.path.insert(0, str(Path.cwd()))
from repro import preflight  # noqa: E402
from repro.config import load_paper_config, seed_design  # noqa: E402
from repro.availability import blocked_experiments  # noqa: E402

# absl (imported through TensorFlow Datasets above) puts a handler on the root logger, which would print every
# Snakemake line a second time ("INFO:snakemake.logging: ..."): Snakemake's logger has its own handlers
logging.getLogger("snakemake.logging").propagate = False

PY = sys.executable
preflight.checked(preflight.check_config, config)
SCALE = config.get("scale", "cpu")
OVERRIDES = preflight.overrides(config)
_PCFG = preflight.checked(load_paper_config, f"{PAPER_DIR}/config.yaml")
if SCALE not in _PCFG["scales"]:
    preflight.refuse(f"{PAPER_DIR}/config.yaml has no scale {SCALE!r}; valid: {', '.join(_PCFG['scales'])}")
BLOCKED = blocked_experiments(_PCFG, SCALE)
EXPERIMENTS = [e for e in _PCFG["experiments"] if e not in BLOCKED]
DESIGN = seed_design(_PCFG, SCALE)
LOOKS = DESIGN["looks"]
SEEDS = DESIGN["seeds"][:LOOKS[0]]
# every experiment resolved with the user's `set=` overrides (when this paper is asked for), and claims.yaml
# validated: refused before any job
TARGETED = preflight.targeted(PAPER, preflight.papers())
for _e, _why in (BLOCKED.items() if TARGETED else ()):     # said for the papers asked for only
    print(f"{PAPER}: skipping {_e}: {_why}", file=sys.stderr)
if not TARGETED:
    OVERRIDES = []
elif OVERRIDES and SCALE != "smoke":
    print(f"{PAPER}: set= changes the {SCALE} scale's configuration: the verdicts written to results/{PAPER}/{SCALE}/ "
          f"will be those of the overridden runs (git diff shows them against the committed ones)", file=sys.stderr)
_RESOLVED = preflight.checked(preflight.check_paper, PAPER_DIR, SCALE, OVERRIDES, EXPERIMENTS)
DATA = {e: (c.get("data") or {}).get("registry") for e, c in _RESOLVED.items()}
# `needs: [experiments]` in an experiment's config: it reads those experiments' finished runs (same seeds)
NEEDS = {e: list(c.get("needs") or []) for e, c in _RESOLVED.items()}
for _e, _n in NEEDS.items():
    for _x in _n:
        if _x not in _PCFG["experiments"]:
            preflight.refuse(f"{PAPER_DIR}/config.yaml: experiment {_e!r} needs unknown experiment {_x!r}")
        if _x in BLOCKED:
            preflight.refuse(f"{PAPER}: {_e} needs {_x}, which is skipped: {BLOCKED[_x]}")
PER_EXPERIMENT = globals().get("JOB_PER_EXPERIMENT", False)
# SEEDS_PER_PROGRAM = N in a paper's Snakefile (with JOB_PER_EXPERIMENT): a job trains up to N of its seeds side by
# side in one compiled program where the experiment supports it (repro/workload.py run_group), 0 for all of them
GROUP = int(globals().get("SEEDS_PER_PROGRAM", 1))
# MEASURED_ALONE = [experiments] in a paper's Snakefile: runs that time something (a claim is about speed) take every
# core of the workflow, so no other job runs beside them and slows their clock; they still use one XLA thread. Not at
# the smoke scale, whose times are never evidence (its jobs share the cores like the rest)
ALONE = set(globals().get("MEASURED_ALONE", ()))


def job_threads(wildcards):
    alone = wildcards.experiment in ALONE and wildcards.scale != "smoke"
    return max(min(workflow.cores or 1, os.cpu_count() or 1), 1) if alone else 1

# After a `dvc pull`: the pulled runs (results/<p>/shared, repro/share.py) that are missing here are copied in, never
# over a file, so finished runs are not trained again (not under -n: a dry run changes nothing)
if not {"-n", "--dry-run", "--dryrun"} & set(sys.argv):
    from repro import share  # noqa: E402
    if _restored := share.restore(Path("results"), PAPER):
        print(f"{PAPER}: {_restored} finished runs restored from results/{PAPER}/shared (dvc pull)", file=sys.stderr)


def data_input(wildcards):
    """A run's inputs: its data set's fetch marker and the runs it needs. ancient(): a `dvc pull` or `dvc checkout`
    restores files with new modification times, which must not make finished runs train again (their contents are
    checked by checksum where they are read: repro/data.py, repro/export.py)."""
    name = DATA.get(wildcards.experiment)
    data = [f"data/{name}/.fetched"] if name else []
    if PER_EXPERIMENT:
        name = f"seeds.{wildcards.n}.json" if "n" in wildcards.keys() else "seeds.json"
        needed = [f"results/{PAPER}/runs/{x}/{wildcards.scale}/{name}" for x in NEEDS[wildcards.experiment]]
    else:
        needed = [f"results/{PAPER}/runs/{x}/{wildcards.scale}/seed{wildcards.seed}/metrics.json"
                  for x in NEEDS[wildcards.experiment]]
    return [ancient(f) for f in data + needed]

SET_ARGS = " ".join(f"--set {shlex.quote(s)}" for s in OVERRIDES)
# one XLA thread per job: Snakemake runs as many jobs as there are cores, and results stay bit-identical; the job's
# terminal is its file descriptor 3, for a progress line now and then (repro/progress.py)
XLA_ENV = "XLA_FLAGS='--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1' REPRO_PROGRESS_FD=3"
TO_LOG = "3>&2 > {log} 2>&1"

# the time this will take, from the run times recorded at this scale (repro/plan_time.py), before any job starts
if TARGETED:
    from repro import plan_time  # noqa: E402
    print(plan_time.estimate(Path("results"), PAPER, SCALE, EXPERIMENTS, SEEDS, workflow.cores or 1,
                             PER_EXPERIMENT), file=sys.stderr)

RUN = f"results/{PAPER}/runs/{{experiment}}/{{scale}}/seed{{seed}}"


if PER_EXPERIMENT:
    rule train_seeds:
        input: data_input
        output: f"results/{PAPER}/runs/{{experiment}}/{{scale}}/seeds.json"
        log: f"results/{PAPER}/logs/{{experiment}}.{{scale}}.log"
        params: seeds=",".join(map(str, SEEDS))
        wildcard_constraints:
            experiment="|".join(EXPERIMENTS), scale="smoke|cpu|full"
        threads: job_threads
        shell:
            f"{XLA_ENV} {PY} -m papers.{PAPER}.experiment --experiment {{wildcards.experiment}} "
            f"--scale {{wildcards.scale}} --seeds {{params.seeds}} --group {GROUP} {SET_ARGS} {TO_LOG}"


    # a later look of an adaptive design: the first n seeds (those already done are skipped)
    rule train_more_seeds:
        input: data_input, f"results/{PAPER}/runs/{{experiment}}/{{scale}}/seeds.json"
        output: f"results/{PAPER}/runs/{{experiment}}/{{scale}}/seeds.{{n}}.json"
        log: f"results/{PAPER}/logs/{{experiment}}.{{scale}}.upto{{n}}.log"
        params: seeds=lambda w: ",".join(map(str, DESIGN["seeds"][:int(w.n)]))
        wildcard_constraints:
            experiment="|".join(EXPERIMENTS), scale="smoke|cpu|full", n=r"\d+"
        threads: job_threads
        shell:
            f"{XLA_ENV} {PY} -m papers.{PAPER}.experiment --experiment {{wildcards.experiment}} "
            f"--scale {{wildcards.scale}} --seeds {{params.seeds}} --group {GROUP} --marker seeds.{{wildcards.n}}.json "
            f"{SET_ARGS} "
            f"{TO_LOG}"


else:
    rule train:
        input: data_input
        output: f"{RUN}/metrics.json"
        log: f"results/{PAPER}/logs/{{experiment}}.{{scale}}.seed{{seed}}.log"
        wildcard_constraints:
            experiment="|".join(EXPERIMENTS), scale="smoke|cpu|full", seed=r"\d+"
        threads: job_threads
        shell:
            f"{XLA_ENV} {PY} -m papers.{PAPER}.experiment --experiment {{wildcards.experiment}} "
            f"--scale {{wildcards.scale}} --seed {{wildcards.seed}} {SET_ARGS} {TO_LOG}"


def runs_at(experiments, n):
    """The files that say these experiments have run their first n seeds."""
    if PER_EXPERIMENT:
        name = "seeds.json" if n == LOOKS[0] else f"seeds.{n}.json"
        return [f"results/{PAPER}/runs/{e}/{SCALE}/{name}" for e in experiments]
    return [f"results/{PAPER}/runs/{e}/{SCALE}/seed{s}/metrics.json" for e in experiments for s in DESIGN["seeds"][:n]]


def plan_input(wildcards):
    """Look 0 needs every experiment's first seeds; look k the seeds that look k-1 asked for."""
    k = int(wildcards.k)
    if k == 0:
        return runs_at(EXPERIMENTS, LOOKS[0])
    previous = checkpoints.seed_plan.get(k=str(k - 1)).output[0]
    with open(previous) as f:
        wanted = json.load(f)["experiments"]
    return [previous] + runs_at(wanted, LOOKS[k])


checkpoint seed_plan:
    input: plan_input
    output: f"results/{PAPER}/plan/{SCALE}/look{{k}}.json"
    wildcard_constraints:
        k=r"\d+"
    localrule: True
    shell:
        f"{PY} -m analysis.seed_plan {PAPER_DIR} --scale {SCALE} --look {{wildcards.k}} --out {{output}}"


rule verify:
    input:
        plan=f"results/{PAPER}/plan/{SCALE}/look{len(LOOKS) - 1}.json",
        claims=f"{PAPER_DIR}/claims.yaml",
        # a paper's figures (REPORT_FILES, drawn by its own rule) are made before the verdicts
        report=globals().get("REPORT_FILES", []),
    output:
        # results/<paper>/<scale>/: one folder per scale, so a smoke run never touches the cpu verdicts
        json=f"results/{PAPER}/{SCALE}/claims.json",
        csv=report(f"results/{PAPER}/{SCALE}/claims.csv", category="Claims", subcategory=PAPER,
                   caption=str(Path(workflow.main_snakefile).parent / "workflows/report/claims_table.rst")),
        # Not in git: a fresh clone holds the committed claims.json but not this marker, so the workflow still
        # trains and verifies instead of finding its target "up to date".
        marker=f"results/{PAPER}/{SCALE}/.verified",
    localrule: True
    shell:
        f"{PY} -m analysis.verify {PAPER_DIR} --scale {SCALE} && touch {{output.marker}}"
