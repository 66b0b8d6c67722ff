"""SAELens's training loop (SAETrainer with its StandardTrainingSAE or TopKTrainingSAE) on a given array of
activations, for the CPU throughput comparison in bench_sae.py. Runs in its own venv (.venv-saelens):

    .venv-saelens/bin/python benchmarks/sae_saelens.py ACTS.npy --arch relu --batch 256 --steps 400

Minibatches are drawn uniformly from the array with a seeded torch generator (the data provider is not timed
separately: it is a single index-and-gather, as on the JAX side). Prints ``RESULT{json}`` with the wall time of
``trainer.fit()``; threads: torch's default unless BENCH_THREADS is set.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from sae_lens.config import LoggingConfig, SAETrainerConfig
from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig
from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
from sae_lens.training.sae_trainer import SAETrainer


class Minibatches:
    def __init__(self, acts: torch.Tensor, batch: int, seed: int = 0):
        self.acts, self.batch = acts, batch
        self.gen = torch.Generator().manual_seed(seed)

    def __iter__(self):
        return self

    def __next__(self):
        return self.acts[torch.randint(0, self.acts.shape[0], (self.batch,), generator=self.gen)]


def run(acts: np.ndarray, arch: str, latents: int, batch: int, steps: int, lr: float, l1: float, k: int,
        dead_window: int) -> dict:
    if os.environ.get("BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    torch.manual_seed(0)
    d = acts.shape[1]
    if arch == "relu":
        sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=d, d_sae=latents, l1_coefficient=l1,
                                                            device="cpu"))
    else:
        sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d, d_sae=latents, k=k, aux_loss_coefficient=1 / 32,
                                                    device="cpu"))
    cfg = SAETrainerConfig(total_training_samples=steps * batch, train_batch_size_samples=batch, lr=lr, lr_end=lr,
                           device="cpu", logger=LoggingConfig(log_to_wandb=False), n_batches_for_norm_estimate=10,
                           dead_feature_window=dead_window)
    trainer = SAETrainer(cfg=cfg, sae=sae, data_provider=Minibatches(torch.from_numpy(acts), batch))
    t0 = time.perf_counter()
    trainer.fit()
    return {"seconds": time.perf_counter() - t0, "steps": trainer.n_training_steps, "threads": torch.get_num_threads()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("acts")
    p.add_argument("--arch", choices=("relu", "topk"), default="relu")
    p.add_argument("--latents", type=int, default=1024)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--l1", type=float, default=0.1)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--dead-window", type=int, default=1000, help="steps without firing before a latent is dead")
    a = p.parse_args()
    acts = np.load(a.acts).astype(np.float32)
    print("RESULT" + json.dumps(run(acts, a.arch, a.latents, a.batch, a.steps, a.lr, a.l1, a.k, a.dead_window)))


if __name__ == "__main__":
    main()
