"""The one fit loop: Optax steps in jitted ``lax.scan`` chunks, for every paper's training (the Mamba, MoE and SAE
language models, GNN node and graph training, the SAE fits, the toy models).

A fit is an ``Objective`` and a ``FitState`` (params, optimizer state, ``extra``: whatever else a step carries, such
as a dead-latent counter or an early-stopping rule's state). Step t does

    batch = objective.batch(fold_in(data_key, t), data)                # a pure function of (seed, t)
    (loss, aux), grads = value_and_grad(objective.loss)(params, batch, extra)
    params = apply_updates(params, optimizer.update(grads, opt_state, params))
    params, extra, row = objective.after_update(params, extra, loss, aux, batch, t)

(or, for batches drawn ahead of time, ``objective.step_batch(data_key, t, data)``: GIN's numpy-drawn batch ids read
from a schedule in ``data``) and, where ``objective.done(extra)`` holds, the step is a no-op (an early-stopped run's
remaining steps). ``data`` (a graph, stored activations, feature directions) is a jit argument: an array closed over
would be constant-folded into the program, which is slow to compile. ``run`` calls one compiled chunk of ``chunk``
steps at a time (no per-step Python) and between chunks hands the rows to the caller and saves checkpoints, so a run
stopped at a checkpoint and started again sees the same batches and ends with the same numbers. With a device mesh
the state and data are replicated and every batch is split over the devices (repro/parallel.py).
"""
from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from repro import parallel, precision, seeding


class FitState(NamedTuple):
    params: Any
    opt_state: Any
    extra: Any = ()


def stack(trees):
    """Per-seed states (or keys) stacked on a new leading axis, for a batched run."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def unstack(tree, i: int):
    """Seed ``i`` of a batched state (or rows)."""
    return jax.tree.map(lambda x: x[i], tree)


def whole_data(key, data):
    """The default batch: all of ``data`` at every step (full-batch training)."""
    return data


@dataclasses.dataclass(frozen=True)
class Objective:
    loss: Callable[[Any, Any, Any], tuple]   # (params, batch, extra) -> (loss, aux)
    optimizer: optax.GradientTransformation
    batch: Callable[[jax.Array, Any], Any] = whole_data
    # (params after the update, extra, loss, aux, batch, t) -> (params, extra, row); default: nothing changes and
    # the row is {"loss": loss, **aux}
    after_update: Callable | None = None
    done: Callable[[Any], jax.Array] | None = None   # extra -> bool: from then on every step is a no-op
    # (data_key, t, data) -> batch, in place of ``batch``: a batch read by step index from a schedule drawn ahead
    step_batch: Callable[[jax.Array, jax.Array, Any], Any] | None = None
    # train.precision (repro/precision.py): "bf16" evaluates the loss on bfloat16 copies of the parameters (but those
    # whose path matches ``fp32_params``) and of the batch; the state stays float32
    precision: str = "fp32"
    fp32_params: str = ""

    def init(self, params, extra=()) -> FitState:
        return FitState(params, self.optimizer.init(params), extra)


def step_fn(objective: Objective, mesh=None):
    def step(state: FitState, t, data_key, data):
        params, opt_state, extra = state
        batch = (objective.batch(seeding.step_key(data_key, t), data) if objective.step_batch is None
                 else objective.step_batch(data_key, t, data))
        batch = parallel.shard_batch(batch, mesh)
        loss_fn = precision.loss_in(objective.loss, objective.precision, objective.fp32_params)
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch, extra)
        updates, opt_state = objective.optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if objective.after_update is None:
            new, row = FitState(params, opt_state, extra), {"loss": loss, **aux}
        else:
            params, extra, row = objective.after_update(params, extra, loss, aux, batch, t)
            new = FitState(params, opt_state, extra)
        if objective.done is None:
            return new, row
        stopped = objective.done(state.extra)
        return jax.tree.map(lambda old, n: jnp.where(stopped, old, n), state, new), {**row, "active": ~stopped}
    return step


def seeds_step_fn(objective: Objective, mesh=None, batched: bool = False, data_axes=None):
    """One step (``step_fn``); ``batched``: vmapped over a leading seed axis of the state and the data key (and of
    the data where ``data_axes`` says), as ``chunk_fn`` scans it."""
    step = step_fn(objective, mesh)
    return jax.vmap(step, in_axes=(0, None, 0, data_axes)) if batched else step


@functools.lru_cache(maxsize=32)
def chunk_fn(objective: Objective, n_steps: int, mesh=None, batched: bool = False, data_axes=None):
    """(Cached per objective, so that the seeds of one trainer share one jitted function and compile once.)
    ``n_steps`` steps from ``start`` in one jitted scan: (state, start, data_key, data) -> (state, rows), each
    row an array with a leading axis of ``n_steps``. ``batched``: the state and the data key carry a leading axis of
    seeds, trained side by side in one program (vmap), each row then (n_steps, seeds); the data is shared unless
    ``data_axes`` (a vmap axis spec for ``data``, hashable: a tuple for a tuple) gives some of it a seed axis."""
    step = seeds_step_fn(objective, mesh, batched, data_axes)

    @jax.jit
    def chunk(state, start, data_key, data):
        return jax.lax.scan(lambda s, t: step(s, t, data_key, data), state, start + jnp.arange(n_steps))
    return chunk


@dataclasses.dataclass
class Result:
    state: FitState
    step: int              # steps done (the steps of a stopped run's masked tail included)
    finished: bool         # False when ``stop_after`` ended the work early
    compile_s: float


def run(objective: Objective, state: FitState, *, steps: int, data_key, data=None, chunk: int | None = None,
        start: int = 0, mesh=None, on_chunk: Callable | None = None, save: Callable | None = None,
        save_every: int | None = None, stop_after: int | None = None, batched: bool = False,
        data_axes=None) -> Result:
    """Train from step ``start`` to ``steps`` in chunks of ``chunk`` steps (default: all in one), or until
    ``objective.done``. After each chunk: ``on_chunk(step, state, rows, seconds)``, then ``save(step, state, seconds)``
    every ``save_every`` steps and at the end (``seconds``: the chunk's time; this call's time so far, compilation
    included).
    ``stop_after`` ends the work once that many steps are done, as a kill would (the tests' way to stop a run at
    a checkpoint). ``batched``: several seeds at once (``chunk_fn``, ``data_axes`` as there); the loop ends when
    every seed is done."""
    chunk = chunk or steps - start
    state, data = parallel.replicate(state, mesh), parallel.replicate(data, mesh)
    t0 = time.perf_counter()
    compiled = chunk_fn(objective, chunk, mesh, batched, data_axes)
    compiled = compiled.lower(state, jnp.int32(start), data_key, data).compile()
    compile_s = time.perf_counter() - t0
    step = start

    def stopped(s):
        return objective.done is not None and bool(jnp.all(objective.done(s.extra)))

    while step < steps and not stopped(state):
        if stop_after is not None and step >= stop_after:
            return Result(state, step, False, compile_s)
        t_chunk = time.perf_counter()
        state, rows = jax.block_until_ready(compiled(state, jnp.int32(step), data_key, data))
        step += chunk
        if on_chunk is not None:
            on_chunk(step, state, rows, time.perf_counter() - t_chunk)
        if save is not None and (step % (save_every or steps) == 0 or step >= steps or stopped(state)):
            save(step, state, time.perf_counter() - t0)
    return Result(state, step, True, compile_s)


def run_all(objective: Objective, state: FitState, *, steps: int, data_key, data=None, mesh=None,
            batched: bool = False, data_axes=None):
    """Every step in one compiled scan: (final state, rows with a leading axis of ``steps``)."""
    rows = []
    result = run(objective, state, steps=steps, data_key=data_key, data=data, mesh=mesh, batched=batched,
                 data_axes=data_axes, on_chunk=lambda _step, _state, r, _s: rows.append(r))
    return result.state, rows[0]
