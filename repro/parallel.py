"""Data parallelism with jax.sharding: the batch is split over devices along its first axis, parameters and optimizer
state are replicated, and XLA (GSPMD) inserts the all-reduce of the gradients. Chosen by ``train.devices``:

    devices: "1"    one device (the default; the cpu and smoke scales)
    devices: all    every visible device (the full-scale configs)
    devices: "N"    the first N devices (a string in config.yaml, so that it can also say all)

The loss is a mean over the whole batch either way, so one step on 1 device and on N devices gives the same loss and
parameters up to floating-point reassociation (tests/test_data_parallel.py).
"""
from __future__ import annotations

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from repro.config import ConfigError

AXIS = "data"


def mesh(setting) -> Mesh | None:
    """The device mesh for ``train.devices``; None for a single device (nothing to shard)."""
    available = jax.devices()
    setting = str(setting if setting is not None else 1).strip()
    if setting == "all":
        n = len(available)
    elif setting.isdigit() and int(setting) > 0:
        n = int(setting)
    else:
        raise ConfigError(f"train.devices: {setting!r} is not 1, a positive number of devices or 'all'")
    if n > len(available):
        raise ConfigError(f"train.devices: {n} devices asked for, {len(available)} visible "
                          f"({available[0].platform}); lower train.devices or use 'all'")
    return None if n == 1 else Mesh(available[:n], (AXIS,))


def replicate(tree, m: Mesh | None):
    """Put every array of ``tree`` on all devices of the mesh (parameters, optimizer state)."""
    return tree if m is None else jax.device_put(tree, NamedSharding(m, P()))


def shard_batch(batch, m: Mesh | None):
    """Inside jit: constrain every array of ``batch`` (but scalars and random keys) to be split along its first
    axis over the mesh."""
    if m is None:
        return batch
    n = m.devices.size

    def split(x):
        if x.ndim == 0 or jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return x  # scalars and random keys (e.g. a gating-noise key) are the same on every device
        if x.shape[0] % n:
            raise ConfigError(f"data parallel over {n} devices: a batch array of shape {x.shape} does not split "
                              f"evenly; make the batch size a multiple of {n} or set train.devices")
        return jax.lax.with_sharding_constraint(x, NamedSharding(m, P(AXIS)))
    return jax.tree.map(split, batch)
