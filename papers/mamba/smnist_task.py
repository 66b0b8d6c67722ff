"""S4 on sequential and permuted MNIST (S4 paper, Section 4; reported 99.63 / 98.70 [secondary source]).

Each 28x28 image is read one pixel at a time: a sequence of 784 scalars (normalised with MNIST's mean and std),
in raster order (sMNIST) or in one fixed random order, the same for every seed and run (psMNIST, ``task.permute``).
The model sees the whole sequence and classifies from the mean of its outputs (s4_classifier.py).

Data come from TensorFlow Datasets (``tfds.data_source``, no TensorFlow; repro/tfds_data.py). The batch of step t
is a pure function of (seed, t): ``batch_size`` examples drawn uniformly from the training set (the S4 repository
shuffles epochs; with the same number of examples seen, the two differ only in sampling without replacement).
``task.train_examples`` / ``task.test_examples`` > 0 take the first N of each split (the reduced cpu scale).

Optimiser (the S4 repository's recipe): AdamW at ``lr`` with weight decay ``weight_decay`` and a cosine decay to 0,
except the SSM parameters (A, delta), which use ``ssm_lr`` and no weight decay.
"""
from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp
import optax
from flax import nnx

from papers.mamba.s4_classifier import SSM_PARAMS, S4Classifier
from repro import seeding, tfds_data
from repro.train import Task

MEAN, STD = 0.1307, 0.3081   # MNIST pixel statistics (on [0, 1])
N_CLASSES = 10


def permutation(seed: int, length: int = 784) -> np.ndarray:
    """The fixed pixel order of psMNIST."""
    return np.random.default_rng(seed).permutation(length)


def load_split(name: str, split: str, limit: int = 0):
    """(pixels (N, 784) float32 normalised, labels (N,) int32) from a prepared TFDS data set."""
    src = tfds_data.source(name, split)
    n = len(src) if limit <= 0 else min(limit, len(src))
    pixels, labels = np.empty((n, 784), np.float32), np.empty((n,), np.int32)
    for i in range(n):
        record = src[i]
        pixels[i] = np.asarray(record["image"], np.float32).reshape(-1) / 255.0
        labels[i] = int(record["label"])
    return (pixels - MEAN) / STD, labels


def sequences(cfg: dict, split: str, limit: int):
    pixels, labels = load_split(cfg["data"]["tfds"], split, limit)
    t = cfg["task"]
    if t["permute"]:
        pixels = pixels[:, permutation(t["permutation_seed"])]
    return jnp.asarray(pixels), jnp.asarray(labels)


def optimizer(tr: dict) -> optax.GradientTransformation:
    schedule = lambda peak: optax.cosine_decay_schedule(peak, tr["steps"])  # noqa: E731
    label = lambda params: jax.tree_util.tree_map_with_path(  # noqa: E731
        lambda path, _: "ssm" if any(name in jax.tree_util.keystr(path) for name in SSM_PARAMS) else "main", params)
    return optax.multi_transform({"main": optax.adamw(schedule(tr["lr"]), weight_decay=tr["weight_decay"]),
                                  "ssm": optax.adam(schedule(tr["ssm_lr"]))}, label)


def classify_loss(logits, labels):
    logits = logits.astype(jnp.float32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, 100.0 * jnp.mean(jnp.argmax(logits, -1) == labels)


def build_model(cfg: dict, seed: int) -> S4Classifier:
    return S4Classifier(cfg["model"], N_CLASSES, rngs=nnx.Rngs(params=seeding.key(seed, "init")))


def build_task(cfg: dict, seed: int) -> Task:
    t = cfg["task"]
    x_train, y_train = sequences(cfg, "train", t["train_examples"])
    x_test, y_test = sequences(cfg, "test", t["test_examples"])
    return task_from_arrays(cfg, seed, x_train, y_train, x_test, y_test)


def task_from_arrays(cfg: dict, seed: int, x_train, y_train, x_test, y_test, model: S4Classifier | None = None) -> Task:
    """The task on these pixel sequences (N, 784) and labels (N,); ``model``: an already built model
    (repro/cost_plan.py hands an abstract one, and abstract data); default: ``build_model``."""
    t, tr = cfg["task"], cfg["train"]
    model = build_model(cfg, seed) if model is None else model

    def batch(key):
        k_idx, k_drop = jax.random.split(key)
        idx = jax.random.randint(k_idx, (tr["batch_size"],), 0, x_train.shape[0])
        return x_train[idx], y_train[idx], k_drop

    def loss(model, b):
        value, accuracy = classify_loss(model(b[0], key=b[2]), b[1])
        return value, {"accuracy": accuracy}

    n_eval = (x_test.shape[0] // t["eval_batch"]) * t["eval_batch"]   # whole batches (the rest is dropped)
    xs = x_test[:n_eval].reshape(-1, t["eval_batch"], x_test.shape[1])
    ys = y_test[:n_eval].reshape(-1, t["eval_batch"])

    def evaluate(model):
        losses, accs = jax.lax.map(lambda b: classify_loss(model(b[0]), b[1]), (xs, ys))
        return {"loss": jnp.mean(losses), "accuracy": jnp.mean(accs)}

    return Task(model=model, optimizer=optimizer(tr), batch=batch, loss=loss, evaluate=evaluate,
                items_per_step=tr["batch_size"], items_name="img")
