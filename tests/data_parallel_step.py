"""Run in a subprocess with 4 forced host devices (XLA_FLAGS set before JAX starts): one training step of a paper's
task through repro.train on 1 device and on 4, printing the losses and final parameters' max difference as JSON.

    python tests/data_parallel_step.py mamba|moe|sae|tms OUT_DIR
"""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flax import serialization  # noqa: E402

from repro import export  # noqa: E402
from repro.driver import run  # noqa: E402

STEP = ["train.steps=2", "train.log_every=2", "train.eval_every=2", "train.checkpoint_every=2"]


def one(paper: str, devices, run_dir: Path) -> dict:
    overrides = STEP + [f"train.devices={devices}"]
    if paper == "mamba":
        from papers.mamba.experiment import PAPER_DIR, workload
        batch = [f"train.batch_size={6 if run_dir.name == 'six' else 8}"]
        m = run(PAPER_DIR, workload, "s6-mamba", "smoke", 0, overrides + batch, run_dir=run_dir, track=False,
                progress=False)
    elif paper == "sae":
        import jax
        from flax import nnx
        from papers.sae import fit as F
        from papers.sae import models as S
        from repro import parallel
        model = S.TopKSAE(16, 64, 4, rngs=nnx.Rngs(params=jax.random.key(0)), tied_init=True)
        feats = jax.random.normal(jax.random.key(1), (32, 16))
        batch_fn = lambda k, d: jax.random.normal(k, (64, 32)) @ d  # noqa: E731
        model, losses, _ = F.fit_topk(model, batch_fn, jax.random.key(2), feats, steps=2, lr=3e-3, k_aux=8,
                                      dead_after=0, mesh=parallel.mesh(devices))
        run_dir.mkdir(parents=True)
        export.write(nnx.state(model, nnx.Param), run_dir)
        m = {"train_loss": float(losses[-1])}
    elif paper == "tms":
        import jax
        import numpy as np
        from papers.sae import superposition as SP
        from repro import parallel
        w, b, losses = SP.fit_instances(jax.random.key(0), 5, 2, [1.0, 0.1, 0.03], 0.9 ** np.arange(5), steps=2,
                                        batch=64, mesh=parallel.mesh(devices))
        run_dir.mkdir(parents=True)
        export.write({"W": w, "b": b}, run_dir)
        m = {"train_loss": float(losses[-1])}
    else:
        from papers.moe import runs
        from papers.moe.experiment import PAPER_DIR
        from repro import config as rconfig
        from repro import text
        text.load_chars = lambda *a, **k: text.corpus_from_text("First Citizen:\nBefore we proceed any further.\n" * 40)
        # one block, a mixture of experts (moe.every=1): the split batch goes through the expert dispatch
        small = ["lm.layers=1", "moe.every=1", "lm.d_model=16", "lm.d_ff=64", "lm.heads=2", "lm.context=16",
                 "moe.group_size=32", "train.batch_size=8", "train.warmup=1", "eval.windows=4"]
        cfg = rconfig.resolve(rconfig.load_paper_config(PAPER_DIR / "config.yaml"), "noisy-e8", "smoke",
                              overrides + small)
        m, _ = runs.train_lm(cfg, 0, run_dir)
        export.write(m["final_params"], run_dir)
    flat = serialization.msgpack_restore((run_dir / export.FILENAME).read_bytes())
    return {"loss": m["train_loss"], "params": flat}


def gradient_all_reduce() -> bool:
    """The 4-device training step really splits the batch: its compiled program all-reduces the gradients."""
    import jax.numpy as jnp

    from papers.mamba.experiment import PAPER_DIR, build_task
    from repro import config as rconfig
    from repro import fit, parallel, seeding, train
    cfg = rconfig.resolve(rconfig.load_paper_config(PAPER_DIR / "config.yaml"), "s6-mamba", "smoke",
                          ["train.batch_size=8"])
    task = build_task(cfg, 0)
    obj, _, params, _ = train.objective(task)
    mesh = parallel.mesh(4)
    state = parallel.replicate(obj.init(params), mesh)
    hlo = fit.chunk_fn(obj, 2, mesh).lower(state, jnp.int32(0), seeding.key(0, "data"), None)
    return "all-reduce" in hlo.compile().as_text()


def indivisible_error(out: Path) -> str:
    """A batch of 6 on 4 devices: the run stops with the config error (before any step)."""
    from repro.config import ConfigError
    try:
        one("mamba", 4, out / "six")
    except ConfigError as e:
        return str(e)
    return ""


if __name__ == "__main__":
    import jax
    paper, out = sys.argv[1], Path(sys.argv[2])
    a, b = one(paper, 1, out / "one"), one(paper, 4, out / "four")
    diff = max(float(np.max(np.abs(np.asarray(a["params"][k]) - np.asarray(b["params"][k])))) for k in a["params"])
    print(json.dumps({"devices": jax.device_count(), "loss_1": a["loss"], "loss_4": b["loss"], "max_param_diff": diff,
                      "n_params": len(a["params"]),
                      "all_reduce": gradient_all_reduce() if paper == "mamba" else None,
                      "indivisible": indivisible_error(out) if paper == "mamba" else None}))
