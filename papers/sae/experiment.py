"""Train every seed of one SAE-paper experiment in one process:

    python -m papers.sae.experiment --experiment relu-l1-0.1 --scale cpu [--seeds 0,1,2] [--set train.lr=0.001]

The seed loop, run files and tracking are repro.seedloop's. The language model resumes from its Orbax checkpoint
when killed; the SAE and toy-model runs take seconds and start over. ``lm_sae`` and ``matched`` runs read finished
runs of other experiments (``needs`` in config.yaml; the workflow orders the jobs).
"""
from __future__ import annotations

import sys
from pathlib import Path

from papers.sae import lm_runs, toy_runs
from repro import config as rconfig
from repro import seedloop

PAPER_DIR = Path(__file__).parent
SIMPLE = {"sharkey": toy_runs.sharkey, "superposition": toy_runs.superposition, "lm_sae": lm_runs.lm_sae,
          "matched": lm_runs.matched}


def make_task(cfg: dict):
    kind = cfg["task"]["kind"]
    if kind == "lm":
        return lambda c, seed, run_dir, stop_after=None: lm_runs.train_lm(c, seed, run_dir, stop_after)
    if kind in SIMPLE:
        fn = SIMPLE[kind]
        return lambda c, seed, run_dir, stop_after=None: fn(c, seed)
    raise rconfig.ConfigError(f"unknown task.kind {kind!r}; valid: lm, {', '.join(SIMPLE)}")


def main(argv=None) -> int:
    return seedloop.main(PAPER_DIR, make_task, argv)


if __name__ == "__main__":
    sys.exit(main())
