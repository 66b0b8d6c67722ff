"""A toy paper whose runs take milliseconds (no JAX), run through the real workflow (workflows/paper.smk) by
Snakemake: for the tests of the workflow's logic (adaptive seeds, what no command may lose)."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

EXPERIMENT = '''
"""A toy experiment: score = centre + N(0, noise) drawn from the seed."""
import os
import sys
import time
from pathlib import Path

import numpy as np

from repro import driver
from repro.workload import Function


def score(c, seed):
    if str(seed) == os.environ.get("TOY_FAIL_AT_SEED"):        # a job killed part-way through its seeds
        raise SystemExit(f"toy: stopped at seed {seed}")
    start = time.time()
    time.sleep(float(os.environ.get("TOY_SLEEP", "0")))
    x = np.random.default_rng(seed).standard_normal()
    if os.environ.get("TOY_TIMES"):                            # when each run trained (tests/test_measured_alone.py)
        with open(os.environ["TOY_TIMES"], "a") as f:
            f.write(f"{c['run']['experiment']} {start} {time.time()}\\n")
    return {"score": c["task"]["centre"] + c["task"]["noise"] * float(x)}, [{"step": 1}]


if __name__ == "__main__":
    sys.exit(driver.main(Path(__file__).parent, lambda cfg: Function(cfg, score)))
'''

CONFIG = """
paper: toy
base: {task: {centre: 0.0, noise: 1.0}, train: {steps: 1, log_every: 1}}
experiments:
  near: {task: {centre: 10.0, noise: 3.0}}      # judged against 10 +- 1: too noisy to decide, even on 12 seeds
  high: {task: {centre: 100.0, noise: 0.1}}
  low: {task: {centre: 0.0, noise: 0.1}}        # high > low: decided on 3 seeds
scales:
  smoke: {seeds: [0]}
  cpu: {seeds: {min: 3, max: 12, looks: [3, 6, 12]}}
"""

CLAIMS = """
paper: {title: Toy}
metrics: {score: {range: [null, null]}}
claims:
  - id: near-ten
    statement: s
    source: Table 1
    metric: score
    experiments: [near]
    rule: {kind: value, reported: 10.0, tolerance: 1.0, basis: {reported: "paper: Table 1",
           tolerance: "our choice: a test"}}
  - id: high-beats-low
    statement: s
    source: Table 1
    metric: score
    rule: {kind: ordering, better: [high], worse: [low], margin: 0.0, basis: {margin: "direction: a test"}}
"""

SNAKEFILE = """
PAPER = "toy"
PAPER_DIR = "papers/toy"
JOB_PER_EXPERIMENT = True

include: "../../workflows/paper.smk"
"""


def make(tmp_path, snakefile_extra: str = ""):
    for name in ("workflows", "repro", "analysis", "pyproject.toml"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    paper = tmp_path / "papers" / "toy"
    paper.mkdir(parents=True)
    (tmp_path / "papers" / "__init__.py").write_text("")
    (paper / "__init__.py").write_text("")
    (paper / "experiment.py").write_text(textwrap.dedent(EXPERIMENT))
    (paper / "config.yaml").write_text(CONFIG)
    (paper / "claims.yaml").write_text(CLAIMS)
    (paper / "Snakefile").write_text(snakefile_extra + SNAKEFILE)
    return tmp_path


def env(**extra):
    bindir = str(Path(sys.executable).parent)
    e = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "REPRO_TRACKING": "off", **extra}
    e.pop("REPRO_RESULTS", None)
    return e


def verdicts(scale):
    """The files that say a scale's verdicts are made (the workflow's targets for a paper)."""
    return [f"results/toy/{scale}/claims.json", f"results/toy/{scale}/.verified"]


def run(workdir, *args, **extra_env):
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", "papers/toy/Snakefile", "--cores", "2", *args],
                          cwd=workdir, env=env(**extra_env), capture_output=True, text=True, timeout=600)

