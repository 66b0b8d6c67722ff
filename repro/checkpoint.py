"""Orbax checkpoints of a training state (any pytree of arrays) plus JSON metadata.

The state is stored as a flat ``{path: array}`` dict so that restoring needs only a template of the same
structure (a freshly initialised state), and a mismatch or a damaged file fails with one clear message.
"""
from __future__ import annotations

import logging
from pathlib import Path

# JAX, NumPy and Orbax are imported where they are used: a process that only reads run files (the verification,
# the seed plan, a toy workflow's jobs) imports this module for CheckpointError, not the array libraries
logging.getLogger("absl").setLevel(logging.ERROR)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used, with the path and the fix in the message."""


def flatten(tree) -> dict:
    import jax
    import numpy as np
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def _keep_key_data(tree):
    """PRNG key arrays are stored as their raw uint32 data."""
    import jax
    return jax.tree.map(
        lambda x: jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x, tree
    )


class Checkpointer:
    def __init__(self, directory: Path, keep: int = 2):
        import orbax.checkpoint as ocp
        self.directory = Path(directory).absolute()
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False),
        )

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def steps(self) -> list[int]:
        """The steps of the checkpoints kept, oldest first."""
        return sorted(self.manager.all_steps())

    def save(self, step: int, state, meta: dict) -> None:
        import orbax.checkpoint as ocp
        self.manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(flatten(_keep_key_data(state))), meta=ocp.args.JsonSave(meta)
            ),
        )
        self.manager.wait_until_finished()

    def restore(self, step: int, template):
        """Restore into the structure of ``template``; returns (state, meta)."""
        import jax
        import numpy as np
        import orbax.checkpoint as ocp
        where = self.directory / str(step)
        fix = (
            f"delete {where} to resume from the checkpoint before it, or delete {self.directory} to start this run over"
        )
        flat_template = flatten(_keep_key_data(template))
        abstract = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in flat_template.items()}
        try:
            restored = self.manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore())
            )
        except Exception as e:  # orbax/tensorstore raise many types for a damaged file
            raise CheckpointError(
                f"checkpoint {where} is unreadable or corrupt ({type(e).__name__}: "
                f"{str(e).splitlines()[0][:300]}); {fix}"
            ) from e
        flat = restored["state"]
        if set(flat) != set(flat_template):
            raise CheckpointError(
                f"checkpoint {where} holds a different model/optimizer structure than this config builds; {fix}"
            )
        for k, v in flat.items():
            v = np.asarray(v)
            if np.issubdtype(v.dtype, np.floating) and not np.all(np.isfinite(v)):
                raise CheckpointError(f"checkpoint {where} holds non-finite values in {k}; {fix}")
        leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
        values = []
        for path, leaf in leaves:
            v = flat[jax.tree_util.keystr(path)]
            if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
                v = jax.random.wrap_key_data(v, impl=jax.random.key_impl(leaf))
            values.append(v)
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), values), restored["meta"]

    def close(self):
        self.manager.close()


def restore_group(ckpts: list[Checkpointer], states: list, config_hash: str | None = None):
    """Seeds trained side by side, one Checkpointer each: the latest step that *every* seed holds (a kill between two
    seeds' saves leaves the earlier step), and each seed's state and metadata there. Returns (step, states, metas);
    (0, states, None) when some seed has no checkpoint. With ``config_hash``, a checkpoint written with another
    config is refused, naming it."""
    common = set.intersection(*(set(c.steps()) for c in ckpts)) if ckpts else set()
    if not common:
        return 0, states, None
    step = max(common)
    restored = [c.restore(step, s) for c, s in zip(ckpts, states)]
    for c, (_, meta) in zip(ckpts, restored):
        if config_hash is not None and meta.get("config_hash") != config_hash:
            raise CheckpointError(f"checkpoint {c.directory / str(step)} was written with another config (hash "
                                  f"{meta.get('config_hash')}, now {config_hash}); delete its run directory to start "
                                  "that seed over with the new config")
    return step, [s for s, _ in restored], [m for _, m in restored]
