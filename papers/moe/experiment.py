"""Train every seed of one MoE-paper experiment in one process:

    python -m papers.moe.experiment --experiment switch-e8 --scale cpu [--seeds 0,1,2] [--set moe.k=2]

The seed loop, run files and tracking are repro/driver.py's; language-model runs resume from their Orbax checkpoints
when killed. ``speedup`` runs read finished runs of other experiments (``needs`` in config.yaml).
"""
from __future__ import annotations

import sys
from pathlib import Path

from papers.moe import runs
from repro import config as rconfig
from repro import driver
from repro.workload import Function, Resumable

PAPER_DIR = Path(__file__).parent


def workload(cfg: dict):
    kind = cfg["task"]["kind"]
    if kind == "lm":
        return Resumable(cfg, runs.train_lm)
    if kind == "speedup":
        return Function(cfg, runs.speedup)
    raise rconfig.ConfigError(f"unknown task.kind {kind!r}; valid: lm, speedup")


def main(argv=None) -> int:
    return driver.main(PAPER_DIR, workload, argv)


if __name__ == "__main__":
    sys.exit(main())
