"""Seeds: one integer per run, split into named streams so that adding a stream never shifts another.

The batch for step t is ``fold_in(data_key, t)``: a pure function of (seed, t), whatever happened before.
"""
import jax

STREAMS = {"init": 0, "data": 1, "dropout": 2, "eval": 3}


def key(seed: int, stream: str):
    if stream not in STREAMS:
        raise ValueError(f"unknown seed stream {stream!r}; valid: {', '.join(STREAMS)}")
    return jax.random.fold_in(jax.random.key(seed), STREAMS[stream])


def step_key(data_key, step):
    return jax.random.fold_in(data_key, step)
