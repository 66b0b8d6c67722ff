"""The one fit loop (repro/fit.py): chunks equal one scan, a stopped run's steps are no-ops, a run saved and resumed
ends where an uninterrupted one does."""
import jax
import jax.numpy as jnp
import numpy as np
import optax

from repro import fit

W_TRUE = jnp.array([1.5, -2.0, 0.5])


def regression(done_after=None):
    """Least squares on fresh noisy batches; ``extra`` counts steps and, if asked, stops after ``done_after``."""
    def batch(key, data):
        x = jax.random.normal(key, (16, 3))
        return x, x @ W_TRUE + 0.1 * jax.random.normal(jax.random.fold_in(key, 1), (16,)) + data

    def loss(w, b, extra):
        x, y = b
        return jnp.mean((x @ w - y) ** 2), {"mse": jnp.mean((x @ w - y) ** 2)}

    def after(w, count, loss_value, aux, b, t):
        return w, count + 1, {"loss": loss_value, "t": t}

    done = None if done_after is None else (lambda count: count >= done_after)
    return fit.Objective(loss=loss, optimizer=optax.adam(0.05), batch=batch, after_update=after, done=done)


def collect():
    rows = []
    return rows, lambda step, state, r, seconds: rows.append(jax.device_get(r))


def test_chunks_equal_one_scan_and_the_batches_depend_on_the_step_alone():
    obj = regression()
    whole, rows_whole = fit.run_all(obj, obj.init(jnp.zeros(3), jnp.int32(0)), steps=40,
                                    data_key=jax.random.key(0), data=jnp.float32(0))
    rows, on_chunk = collect()
    chunked = fit.run(obj, obj.init(jnp.zeros(3), jnp.int32(0)), steps=40, chunk=10, data_key=jax.random.key(0),
                      data=jnp.float32(0), on_chunk=on_chunk)
    assert chunked.finished and chunked.step == 40 and len(rows) == 4
    np.testing.assert_allclose(chunked.state.params, whole.params, rtol=1e-6)
    np.testing.assert_allclose(np.concatenate([r["loss"] for r in rows]), rows_whole["loss"], rtol=1e-6)
    assert list(np.concatenate([r["t"] for r in rows])) == list(range(40))
    assert float(rows_whole["loss"][-5:].mean()) < 0.1 * float(rows_whole["loss"][:5].mean())   # it learns


def test_once_done_every_step_is_a_no_op_and_the_loop_ends():
    obj = regression(done_after=7)
    rows, on_chunk = collect()
    r = fit.run(obj, obj.init(jnp.zeros(3), jnp.int32(0)), steps=40, chunk=5, data_key=jax.random.key(0),
                data=jnp.float32(0), on_chunk=on_chunk)
    assert int(r.state.extra) == 7 and r.step == 10 and len(rows) == 2     # ended after the chunk where it stopped
    active = np.concatenate([x["active"] for x in rows])
    assert list(active) == [True] * 7 + [False] * 3
    stopped_early = fit.run_all(obj, obj.init(jnp.zeros(3), jnp.int32(0)), steps=7, data_key=jax.random.key(0),
                                data=jnp.float32(0))[0]
    np.testing.assert_array_equal(r.state.params, stopped_early.params)   # the masked steps changed nothing


def test_a_run_stopped_at_a_save_resumes_to_the_same_state():
    obj = regression()
    saved = {}

    def save(step, state, seconds):
        saved[step] = jax.device_get(state)

    kw = dict(steps=40, chunk=10, data_key=jax.random.key(3), data=jnp.float32(0.5))
    whole = fit.run(obj, obj.init(jnp.zeros(3), jnp.int32(0)), save=save, save_every=20, **kw)
    assert set(saved) == {20, 40}
    part = fit.run(obj, obj.init(jnp.zeros(3), jnp.int32(0)), save=save, save_every=20, stop_after=20, **kw)
    assert not part.finished and part.step == 20
    resumed = fit.run(obj, fit.FitState(*saved[20]), start=20, **kw)
    np.testing.assert_array_equal(resumed.state.params, whole.state.params)
    assert int(resumed.state.extra) == 40


def test_seeds_trained_side_by_side_equal_each_seed_alone_with_their_own_stops():
    """Seeds as a batch axis (vmap): each seed's state and rows equal those of the same seed run alone, including
    where one seed's early stop masks its later steps while the other trains on."""
    def extra(stop):
        return (jnp.int32(0), jnp.int32(stop))

    def after(w, e, loss_value, aux, b, t):
        return w, (e[0] + 1, e[1]), {"loss": loss_value}

    base = regression()
    obj = fit.Objective(loss=base.loss, optimizer=base.optimizer, batch=base.batch, after_update=after,
                        done=lambda e: e[0] >= e[1])
    stops, keys = (7, 40), [jax.random.key(11), jax.random.key(12)]
    alone = [fit.run_all(obj, obj.init(jnp.zeros(3), extra(s)), steps=40, data_key=k, data=jnp.float32(0))
             for s, k in zip(stops, keys)]
    together, rows = fit.run_all(obj, fit.stack([obj.init(jnp.zeros(3), extra(s)) for s in stops]), steps=40,
                                 data_key=fit.stack(keys), data=jnp.float32(0), batched=True)
    assert rows["loss"].shape == (40, 2)
    for i, (state, r) in enumerate(alone):
        np.testing.assert_allclose(fit.unstack(together, i).params, state.params, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(rows["loss"][:, i], r["loss"], rtol=1e-6, atol=1e-7)
        assert int(fit.unstack(together, i).extra[0]) == stops[i]


def test_batches_read_by_step_from_a_per_seed_schedule_side_by_side_equal_each_seed_alone():
    """``step_batch`` reads step t's batch from a schedule drawn ahead (GIN's numpy-drawn batch ids); with
    ``data_axes`` the schedule has a seed axis while the rest of the data is shared."""
    x = jax.random.normal(jax.random.key(0), (50, 3))
    y = x @ W_TRUE

    def step_batch(key, t, data):
        (x, y), ids = data
        return x[ids[t]], y[ids[t]] + 0.01 * jax.random.normal(jax.random.fold_in(key, t), (4,))

    obj = fit.Objective(loss=lambda w, b, _: (jnp.mean((b[0] @ w - b[1]) ** 2), {}), optimizer=optax.sgd(0.1),
                        step_batch=step_batch)
    schedules = [np.random.default_rng(s).integers(0, 50, (12, 4)).astype(np.int32) for s in (1, 2)]
    keys = [jax.random.key(5), jax.random.key(6)]
    alone = [fit.run_all(obj, obj.init(jnp.zeros(3)), steps=12, data_key=k, data=((x, y), jnp.asarray(s)))
             for s, k in zip(schedules, keys)]
    together, rows = fit.run_all(obj, fit.stack([obj.init(jnp.zeros(3))] * 2), steps=12, data_key=fit.stack(keys),
                                 data=((x, y), jnp.asarray(np.stack(schedules))), batched=True, data_axes=(None, 0))
    assert rows["loss"].shape == (12, 2)
    for i, (state, r) in enumerate(alone):
        np.testing.assert_allclose(fit.unstack(together, i).params, state.params, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(rows["loss"][:, i], r["loss"], rtol=1e-6, atol=1e-7)
    # the batch really is read from the schedule: step 0's loss is that of schedule row 0 at w = 0
    (xb, yb) = step_batch(keys[0], 0, ((x, y), jnp.asarray(schedules[0])))
    np.testing.assert_allclose(alone[0][1]["loss"][0], jnp.mean(yb ** 2), rtol=1e-6)
    assert not np.allclose(alone[0][0].params, alone[1][0].params)
