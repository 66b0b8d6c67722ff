"""GCN and GAT on Cora, whole training runs, ours (JAX) against PyTorch Geometric, same protocol, same machine.

    make bench-gnn                       # builds .venv-pyg (torch CPU + torch_geometric) once, then runs this
    .venv/bin/python benchmarks/bench_gnn.py --seeds 5 [--threads 2]

For each model and seed: the wall time of the whole training (every epoch's training step and evaluation, early
stopping included; data conversion and, for JAX, compilation reported apart) and the test accuracy, from both
implementations. Prints the per-seed rows, the medians and the speed ratio PyG / JAX (> 1: ours is faster); then
all the seeds at once: PyG one after another (as a user would train them) against ours side by side in one compiled
program (seeds as a batch axis, as the workflow trains them: NodeTrainer.run_many).
The PyG side (benchmarks/gnn_pyg.py) runs in its own virtual environment, fed the same arrays through an .npz.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PYG_PY = REPO / ".venv-pyg" / "bin" / "python"
PYG_DRIVER = """
import json, sys, numpy as np
sys.path.insert(0, {bench!r})
import gnn_pyg
d = dict(np.load({npz!r}))
out = []
for seed in range({seeds}):
    out.append(getattr(gnn_pyg, "train_" + {model!r})(d, seed, sparse_input_dropout={sparse}))
print("RESULT" + json.dumps(out))
"""


def cora_arrays(root: Path | None):
    from papers.gnn import graph_ops, planetoid
    d = planetoid.load("cora", root)
    g = graph_ops.node_graph(d.features, d.labels, d.senders, d.receivers, d.train, d.val, d.test)
    arrays = {"x": d.features.toarray(), "senders": d.senders.astype("int64"), "receivers": d.receivers.astype("int64"),
              "y": d.labels.astype("int64"), "train_mask": d.train, "val_mask": d.val, "test_mask": d.test}
    return d, g, arrays


def run_jax(model: str, d, g, seeds: int) -> list[dict]:
    from papers.gnn.node_train import NodeTrainer
    from repro import config as rconfig
    pcfg = rconfig.load_paper_config(REPO / "papers/gnn/config.yaml")
    cfg = rconfig.resolve(pcfg, f"{model}-cora", "cpu")
    trainer = NodeTrainer(cfg, g, d.features.shape[1], d.n_classes)
    out = []
    for seed in range(seeds):
        m, _ = trainer.run(seed)
        out.append({"test_accuracy": m["test_accuracy"], "seconds": m["wall_time_s"], "epochs": m["epochs"],
                    "compile_s": m["compile_time_s"]})
    return out


def run_jax_side_by_side(model: str, d, g, seeds: int) -> dict:
    """All the seeds side by side in one compiled program (NodeTrainer.run_many, as the workflow trains them); the
    wall time of the whole group, compilation included."""
    import time

    from papers.gnn.node_train import NodeTrainer
    from repro import config as rconfig
    pcfg = rconfig.load_paper_config(REPO / "papers/gnn/config.yaml")
    cfg = rconfig.resolve(pcfg, f"{model}-cora", "cpu")
    t0 = time.perf_counter()
    trainer = NodeTrainer(cfg, g, d.features.shape[1], d.n_classes)
    done = trainer.run_many(list(range(seeds)))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "compile_s": done[0][0]["compile_time_s"] * seeds,
            "epochs": [m["epochs"] for m, _ in done], "test_accuracy": [m["test_accuracy"] for m, _ in done]}


def run_pyg(model: str, npz: Path, seeds: int, threads: int | None, sparse: bool = True) -> list[dict]:
    if not PYG_PY.exists():
        raise SystemExit(f"{PYG_PY} is missing: build it with `make bench-gnn` (or python3.11 -m venv .venv-pyg && "
                         ".venv-pyg/bin/pip install -r benchmarks/requirements-pyg.txt)")
    # OMP_WAIT_POLICY=PASSIVE: torch's spinning OpenMP threads otherwise collapse when the cores are shared
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **({"BENCH_THREADS": str(threads)} if threads else {})}
    code = PYG_DRIVER.format(bench=str(REPO / "benchmarks"), npz=str(npz), seeds=seeds, model=model, sparse=sparse)
    r = subprocess.run([str(PYG_PY), "-c", code], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"PyG run failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.split("RESULT", 1)[1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--models", default="gcn,gat")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both sides (JAX: XLA intra-op threads; PyG: torch.set_num_threads)")
    p.add_argument("--data-root", type=Path, default=None, help="where planetoid/ lives (default: data/)")
    p.add_argument("--pyg-dense-dropout", action="store_true",
                   help="PyG side: plain F.dropout on the dense feature matrix (default: dropout on the non-zeros "
                        "only, as ours and the authors' GCN do; same distribution, far cheaper)")
    args = p.parse_args(argv)
    if args.threads:
        flag = "--xla_cpu_multi_thread_eigen=false" if args.threads == 1 else ""
        os.environ["XLA_FLAGS"] = f"{flag} intra_op_parallelism_threads={args.threads}".strip()
    import jax
    import numpy as np
    d, g, arrays = cora_arrays(args.data_root)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; jax {jax.__version__}; "
          f"threads: {args.threads or 'default'}; Cora, {args.seeds} seeds; PyG input dropout: "
          f"{'dense' if args.pyg_dense_dropout else 'non-zeros only (like ours)'}")
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "cora.npz"
        np.savez(npz, **arrays)
        for model in args.models.split(","):
            ours, peer = (
                run_jax(model, d, g, args.seeds),
                run_pyg(model, npz, args.seeds, args.threads, not args.pyg_dense_dropout),
            )
            print(f"\n{model.upper()}  seed  JAX s   epochs acc    | PyG s   epochs acc")
            for seed, (a, b) in enumerate(zip(ours, peer)):
                print(
                    f"      {seed:4d}  {a['seconds']:6.2f}  {a['epochs']:6d} {a['test_accuracy']:5.1f}  | "
                    f"{b['seconds']:6.2f}  {b['epochs']:6d} {b['test_accuracy']:5.1f}"
                )
            med = lambda rows, k: statistics.median(r[k] for r in rows)  # noqa: E731
            mean = lambda rows, k: statistics.mean(r[k] for r in rows)  # noqa: E731
            print(
                f"  median time: JAX {med(ours, 'seconds'):.2f} s (+ {ours[0]['compile_s']:.1f} s compilation once), "
                f"PyG {med(peer, 'seconds'):.2f} s; ratio PyG/JAX = {med(peer, 'seconds') / med(ours, 'seconds'):.1f}x"
                f"; per epoch {1000 * med(peer, 'seconds') / med(peer, 'epochs'):.1f} ms vs "
                f"{1000 * med(ours, 'seconds') / med(ours, 'epochs'):.1f} ms"
            )
            print(f"  mean test accuracy: JAX {mean(ours, 'test_accuracy'):.1f}, PyG {mean(peer, 'test_accuracy'):.1f}")
            side = run_jax_side_by_side(model, d, g, args.seeds)
            pyg_all = sum(r["seconds"] for r in peer)
            alone_all = sum(r["seconds"] for r in ours) + ours[0]["compile_s"]
            print(f"  all {args.seeds} seeds: PyG one after another {pyg_all:.1f} s; JAX one after another "
                  f"{alone_all:.1f} s (compilation included); JAX side by side {side['seconds']:.1f} s (one program, "
                  f"compilation {side['compile_s']:.1f} s included, {max(side['epochs'])} epochs for the last seed "
                  f"to stop); ratio PyG / JAX side by side = {pyg_all / side['seconds']:.1f}x")
            print(f"  mean test accuracy side by side: {statistics.mean(side['test_accuracy']):.1f} "
                  f"(one after another: {mean(ours, 'test_accuracy'):.1f}); epochs equal seed by seed: "
                  f"{side['epochs'] == [r['epochs'] for r in ours]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
