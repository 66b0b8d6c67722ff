"""Train every seed of one SAE-paper experiment in one process:

    python -m papers.sae.experiment --experiment relu-l1-0.1 --scale cpu [--seeds 0,1,2] [--set train.lr=0.001]

The seed loop, run files and tracking are repro/driver.py's. The language model resumes from its Orbax checkpoint
when killed; the SAE and toy-model runs take seconds and start over. ``lm_sae`` and ``matched`` runs read finished
runs of other experiments (``needs`` in config.yaml; the workflow orders the jobs).
"""
from __future__ import annotations

import sys
from pathlib import Path

from papers.sae import lm_runs, toy_runs
from repro import config as rconfig
from repro import driver
from repro.workload import Function, Resumable

PAPER_DIR = Path(__file__).parent
SIMPLE = {"sharkey": toy_runs.sharkey, "superposition": toy_runs.superposition, "lm_sae": lm_runs.lm_sae,
          "matched": lm_runs.matched}


def workload(cfg: dict):
    kind = cfg["task"]["kind"]
    if kind == "lm":
        return Resumable(cfg, lm_runs.train_lm)
    if kind in SIMPLE:
        return Function(cfg, SIMPLE[kind])
    raise rconfig.ConfigError(f"unknown task.kind {kind!r}; valid: lm, {', '.join(SIMPLE)}")


def main(argv=None) -> int:
    return driver.main(PAPER_DIR, workload, argv)


if __name__ == "__main__":
    sys.exit(main())
