"""Full-batch node classification with the authors' stopping and model-selection rules, for one seed.

One epoch = one Adam step on the training nodes (dropout on), then an evaluation (dropout off). Epochs run in
jitted ``lax.scan`` chunks of ``train.log_every`` (repro/fit.py); a finished run's later epochs are masked no-ops. Every
``train.checkpoint_every`` epochs the whole state (weights, optimizer, stopping-rule state) is checkpointed, so a
killed run resumes where it was and ends with the same numbers. Dropout at epoch t uses fold_in(dropout key, t).

Stopping rules (``train.stop``):
- ``gcn`` (Kipf & Welling's train.py): stop after epoch t > window when the validation loss, L2 term included,
  exceeds the mean of the previous ``window`` validation losses; test at the final weights.
- ``gat`` (Velickovic et al.'s execute_cora.py): patience counter reset whenever val accuracy >= its best OR val
  loss (no L2) <= its best; the model kept is the last one where BOTH improved, and the test uses it.
- ``none``: run train.steps epochs; test at the final weights.
"""
from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from papers.gnn import models
from papers.gnn.graph_ops import NodeGraph
from repro import fit, seeding
from repro.checkpoint import Checkpointer, restore_group

BIG = 1e30  # "infinite" best loss, finite so that checkpoints stay finite


class Stop(NamedTuple):
    epoch: jax.Array          # epochs done
    done: jax.Array
    val_hist: jax.Array       # gcn rule: the last `window` validation losses
    acc_max: jax.Array        # gat rule: best val accuracy / loss seen, patience counter
    loss_min: jax.Array
    wait: jax.Array
    kept_epoch: jax.Array     # gat rule: the kept model's epoch and its metrics
    kept_val_acc: jax.Array
    kept_val_loss: jax.Array
    kept_test_acc: jax.Array
    last_val_acc: jax.Array   # metrics at the final weights
    last_val_loss: jax.Array
    last_test_acc: jax.Array
    last_train_acc: jax.Array


def gcn_rule(epoch, val_loss, val_hist, window: int):
    """Kipf & Welling's stopping test (tkipf/gcn, gcn/train.py), for epoch ``epoch`` (0-based) whose validation loss
    (cross-entropy plus the L2 term, as their ``model.loss``) is ``val_loss``:
    ``epoch > early_stopping and cost_val[-1] > np.mean(cost_val[-(early_stopping + 1):-1])``. ``val_hist`` holds
    the previous ``window`` losses (zeros before there are so many: the test is off until then). Returns (stop, the
    history with this epoch's loss appended)."""
    stop = (epoch > window) & (val_loss > jnp.mean(val_hist))
    return stop, jnp.concatenate([val_hist[1:], val_loss[None]])


def _masked_ce(logits, labels, mask):
    ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), jnp.maximum(labels, 0))
    return jnp.sum(ce * mask) / jnp.sum(mask)


def _masked_acc(logits, labels, mask):
    return 100.0 * jnp.sum((jnp.argmax(logits, -1) == labels) * mask) / jnp.sum(mask)


class NodeTrainer:
    """Builds the jitted chunk function for one config; ``run`` trains one seed."""

    def __init__(self, cfg: dict, graph: NodeGraph, n_features: int, n_classes: int):
        self.cfg, self.graph = cfg, graph
        t = cfg["train"]
        self.build = lambda key: models.build(cfg, n_features, n_classes, nnx.Rngs(params=key))
        self.graphdef, _ = nnx.split(nnx.eval_shape(lambda: self.build(jax.random.key(0))))
        self.tx = optax.adam(t["lr"])
        self.wd, self.wd_on, self.rule = t["weight_decay"], t["weight_decay_on"], t["stop"]
        self.window, self.patience, self.max_epochs = t["window"], t["patience"], t["steps"]
        if self.rule not in ("gcn", "gat", "none"):
            raise ValueError(f"unknown train.stop {self.rule!r}; valid: gcn, gat, none")
        self.objective = fit.Objective(loss=self._loss, optimizer=self.tx, batch=lambda key, g: (g, key),
                                       after_update=self._after_update, done=lambda s: s.done,
                                       precision=t.get("precision", "fp32"))

    # --- the pieces of one epoch ---------------------------------------------------------------------------
    def _l2(self, model):
        return self.wd * sum(jnp.sum(w.astype(jnp.float32) ** 2) for w in models.decayed(model, self.wd_on)) / 2.0

    def _loss(self, params, batch, stop):
        (g, key), model = batch, nnx.merge(self.graphdef, params)
        return _masked_ce(model(g, key), g.labels, g.train) + self._l2(model), {}

    def _evaluate(self, params, g):
        model = nnx.merge(self.graphdef, params)
        logits = model(g)
        ce_val = _masked_ce(logits, g.labels, g.val)
        return {"val_loss": ce_val, "val_loss_l2": ce_val + self._l2(model),
                "val_acc": _masked_acc(logits, g.labels, g.val), "test_acc": _masked_acc(logits, g.labels, g.test),
                "train_acc": _masked_acc(logits, g.labels, g.train),
                "train_loss": _masked_ce(logits, g.labels, g.train)}

    def init(self, seed: int):
        params = nnx.state(self.build(seeding.key(seed, "init")), nnx.Param)
        zero, f = jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32)
        stop = Stop(zero, jnp.zeros((), bool), jnp.zeros((self.window,), jnp.float32), f, f + BIG, zero,
                    zero - 1, f, f, f, f, f, f, f)
        return self.objective.init(params, stop)

    def _after_update(self, new_params, s: Stop, loss, aux, batch, t_loop):
        """Evaluate the updated weights and advance the stopping rule (t = s.epoch: the loop's step while active)."""
        g, t = batch[0], s.epoch
        ev = self._evaluate(new_params, g)
        stop_gcn, val_hist = gcn_rule(t, ev["val_loss_l2"], s.val_hist, self.window)
        # gat rule
        acc_up, loss_down = ev["val_acc"] >= s.acc_max, ev["val_loss"] <= s.loss_min
        any_up, both_up = acc_up | loss_down, acc_up & loss_down
        wait = jnp.where(any_up, 0, s.wait + 1)
        keep = lambda new, old: jnp.where(both_up, new, old)  # noqa: E731
        stop = {"gcn": stop_gcn, "gat": wait >= self.patience, "none": jnp.zeros((), bool)}[self.rule]
        new_s = Stop(t + 1, stop | (t + 1 >= self.max_epochs), val_hist,
                     jnp.where(any_up, jnp.maximum(ev["val_acc"], s.acc_max), s.acc_max),
                     jnp.where(any_up, jnp.minimum(ev["val_loss"], s.loss_min), s.loss_min), wait,
                     keep(t, s.kept_epoch), keep(ev["val_acc"], s.kept_val_acc), keep(ev["val_loss"], s.kept_val_loss),
                     keep(ev["test_acc"], s.kept_test_acc), ev["val_acc"], ev["val_loss"], ev["test_acc"],
                     ev["train_acc"])
        return new_params, new_s, {"epoch": t + 1, "loss": loss, **ev}

    # --- one seed ------------------------------------------------------------------------------------------
    def run(self, seed: int, ckpt: Checkpointer | None = None, progress=None, stop_after: int | None = None):
        """Train one seed; returns (metrics, history rows). Resumes from ``ckpt``'s latest checkpoint."""
        t_cfg = self.cfg["train"]
        state, history, wall, start = self.init(seed), [], 0.0, 0
        if ckpt is not None and ckpt.latest_step() is not None:
            start = ckpt.latest_step()
            state, meta = ckpt.restore(start, state)
            history, wall = meta["history"], meta["wall_time_s"]

        def on_chunk(step, state, rows, seconds):
            rows = jax.device_get(rows)
            active = np.asarray(rows.pop("active"))
            history.extend({k: float(v[i]) for k, v in rows.items()} for i in np.flatnonzero(active))
            if progress:
                progress(int(state.extra.epoch), history[-1])

        def save(step, state, seconds):
            ckpt.save(step, state, {"history": history, "wall_time_s": wall + seconds})

        t0 = time.perf_counter()
        result = fit.run(self.objective, state, steps=self.max_epochs, data_key=seeding.key(seed, "dropout"),
                         data=self.graph, chunk=t_cfg["log_every"], start=start, on_chunk=on_chunk,
                         save=save if ckpt is not None else None, save_every=t_cfg["checkpoint_every"],
                         stop_after=stop_after)
        if not result.finished:
            return None, history
        return self._metrics(result.state, wall + time.perf_counter() - t0, result.compile_s), history

    def run_many(self, seeds: list[int], ckpts: list[Checkpointer] | None = None, progress=None,
                 stop_after: int | None = None):
        """Several seeds side by side in one compiled program (repro/fit.py, ``batched``: the seeds are a vmapped
        axis, each with its own initialisation, dropout keys and stopping rule); returns [(metrics, history)] in
        the order of ``seeds``, each equal to ``run(seed)`` up to floating-point reassociation, or None when
        ``stop_after`` stopped the group. With ``ckpts`` (one per seed) every seed's state is checkpointed at the
        group's checkpoint steps, and the group resumes from the latest step that every seed has (a kill between
        two seeds' saves leaves the earlier one), so a killed group ends with the numbers of an uninterrupted one."""
        t_cfg = self.cfg["train"]
        states = [self.init(s) for s in seeds]
        start, states, metas = restore_group(ckpts or [], states)
        histories = [m["history"] for m in metas] if metas else [[] for _ in seeds]
        wall = metas[0]["wall_time_s"] if metas else 0.0

        def on_chunk(step, state, rows, seconds):
            rows = jax.device_get(rows)
            active = np.asarray(rows.pop("active"))
            for i, history in enumerate(histories):
                history.extend({k: float(v[t, i]) for k, v in rows.items()} for t in np.flatnonzero(active[:, i]))
            if progress:
                progress(step, {})

        def save(step, state, seconds):
            for i, ckpt in enumerate(ckpts):
                ckpt.save(step, fit.unstack(state, i), {"history": histories[i], "wall_time_s": wall + seconds})

        t0 = time.perf_counter()
        result = fit.run(self.objective, fit.stack(states), steps=self.max_epochs,
                         data_key=fit.stack([seeding.key(s, "dropout") for s in seeds]), data=self.graph,
                         chunk=t_cfg["log_every"], start=start, on_chunk=on_chunk,
                         save=save if ckpts else None, save_every=t_cfg["checkpoint_every"], stop_after=stop_after,
                         batched=True)
        if not result.finished:
            return None
        per_seed = (wall + time.perf_counter() - t0) / len(seeds)          # the group's time, shared out
        return [(self._metrics(fit.unstack(result.state, i), per_seed, result.compile_s / len(seeds)), histories[i])
                for i in range(len(seeds))]

    def _metrics(self, state, wall: float, compile_s: float) -> dict:
        s = jax.device_get(state.extra)
        selected = self.rule == "gat"
        n_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))
        return {
            "test_accuracy": float(s.kept_test_acc if selected else s.last_test_acc),
            "val_accuracy": float(s.kept_val_acc if selected else s.last_val_acc),
            "test_accuracy_final_weights": float(s.last_test_acc),
            "train_accuracy": float(s.last_train_acc),
            "epochs": int(s.epoch), "stopped_early": bool(s.epoch < self.max_epochs),
            "selected_epoch": int(s.kept_epoch) + 1 if selected else int(s.epoch),
            "wall_time_s": wall, "compile_time_s": compile_s, "n_params": n_params,
            "final_params": state.params,
        }

