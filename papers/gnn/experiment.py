"""Train every seed of one GNN experiment in one process (one compilation, seconds per seed):

    python -m papers.gnn.experiment --experiment gcn-cora --scale cpu [--seeds 0,1,2] [--set train.lr=0.02]

The seed loop, run files and tracking are repro/driver.py's; this file builds the workload for a config. A Planetoid
seed killed mid-training resumes from its last checkpoint; the expressivity runs take seconds and start over. GIN
Table 1 (task.kind tu, gin_tu.py): seed k is fold k % 10 of a 10-fold cross-validation round; a round's folds train
together and its finished grid points are kept beside the runs, so a killed round loses at most one grid point.
"""
from __future__ import annotations

import sys
from pathlib import Path

from papers.gnn import expressivity_runs, gin_tu, graph_ops, planetoid
from papers.gnn.node_train import NodeTrainer
from repro import config as rconfig
from repro import driver
from repro.workload import Function
from repro.checkpoint import Checkpointer

PAPER_DIR = Path(__file__).parent
TASKS = ("planetoid", "multisets", "wl_pair", "csl", "tu")


class NodeTask:
    """Planetoid node classification: the graph is loaded and the training step compiled once for all seeds."""

    def __init__(self, cfg: dict):
        d = planetoid.load(cfg["data"]["name"])
        g = graph_ops.node_graph(d.features, d.labels, d.senders, d.receivers, d.train, d.val, d.test)
        self.trainer = NodeTrainer(cfg, g, d.features.shape[1], d.n_classes)

    def run(self, seed, run_dir, *, tracker=None, progress=False, stop_after=None):
        ckpt = Checkpointer(Path(run_dir) / "checkpoints", keep=self.trainer.cfg["train"]["keep_checkpoints"])
        try:
            metrics, history = self.trainer.run(seed, ckpt, stop_after=stop_after)
        finally:
            ckpt.close()
        return None if metrics is None else (metrics, history)

    def run_group(self, seeds, run_dirs, *, trackers=None, progress=False, stop_after=None):
        """Seeds side by side in one compiled program (NodeTrainer.run_many), each checkpointed in its own run."""
        keep = self.trainer.cfg["train"]["keep_checkpoints"]
        ckpts = [Checkpointer(Path(d) / "checkpoints", keep=keep) for d in run_dirs]
        try:
            return self.trainer.run_many(list(seeds), ckpts, stop_after=stop_after)
        finally:
            for c in ckpts:
                c.close()


def workload(cfg: dict):
    kind = cfg["task"]["kind"]
    if kind == "planetoid":
        return NodeTask(cfg)
    if kind == "tu":
        return gin_tu.CVTask(cfg)
    if kind in TASKS:
        return Function(cfg, getattr(expressivity_runs, kind))
    raise rconfig.ConfigError(f"unknown task.kind {kind!r}; valid: {', '.join(TASKS)}")


def main(argv=None) -> int:
    return driver.main(PAPER_DIR, workload, argv)


if __name__ == "__main__":
    sys.exit(main())
