"""A run's final parameters in a stable file: ``final_params.msgpack`` beside its metrics.json.

Orbax checkpoint folders hold timestamps and temporary names, so their bytes change when the weights do not; this
file is a function of the weights alone (flax msgpack of ``{parameter path: array}`` in sorted order), so DVC
hashes it stably and a team can share it. Its sha256 is recorded in the run's metrics.json; loading checks it, and
a file that does not match is refused with its path and the commands that restore it.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from repro.checkpoint import CheckpointError, flatten
from repro.data import digest

FILENAME = "final_params.msgpack"


def sha256(path: Path) -> str:
    return digest(path, "sha256")


def write(params, run_dir: Path) -> str:
    """Write the parameters (any pytree of arrays) atomically; returns the file's sha256."""
    from flax import serialization
    flat = flatten(params)
    data = serialization.msgpack_serialize({k: flat[k] for k in sorted(flat)})
    target = Path(run_dir) / FILENAME
    tmp = target.with_name(f".{FILENAME}.part{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return hashlib.sha256(data).hexdigest()


def restore_hint(run_dir: Path) -> str:
    return f"restore it with `dvc pull` (if the team's runs are on a DVC remote) or delete {run_dir} to retrain"


def check(run_dir: Path, expected_sha256: str | None) -> Path:
    """The file's path, once it exists and (when the run recorded one) matches ``expected_sha256``."""
    run_dir = Path(run_dir)
    path = run_dir / FILENAME
    if not path.exists():
        raise CheckpointError(f"{path} is missing; {restore_hint(run_dir)}")
    got = sha256(path)
    if expected_sha256 and got != expected_sha256:
        raise CheckpointError(f"{path} was modified or damaged (sha256 {got[:12]}..., the run recorded "
                              f"{expected_sha256[:12]}...); {restore_hint(run_dir)}")
    return path


def read(template, run_dir: Path, expected_sha256: str | None):
    """The parameters in the structure of ``template``; refuses a file whose sha256 is not ``expected_sha256``."""
    run_dir = Path(run_dir)
    path = check(run_dir, expected_sha256)
    import jax
    from flax import serialization
    flat = serialization.msgpack_restore(path.read_bytes())
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    names = [jax.tree_util.keystr(p) for p, _ in leaves]
    if set(names) != set(flat):
        raise CheckpointError(f"{path} holds a different model structure than this config builds; "
                              f"{restore_hint(run_dir)}")
    return jax.tree_util.tree_unflatten(treedef, [flat[n] for n in names])
