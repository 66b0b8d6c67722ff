"""The stable export of a run's final parameters: same weights, same bytes; a modified file is refused."""
import jax
import numpy as np
import pytest
from flax import nnx

from papers.mamba.model import SequenceModel
from repro import export
from repro.checkpoint import CheckpointError

CFG = {"vocab_size": 8, "d_model": 8, "layers": 1, "kind": "mamba", "layer": "s6", "expand": 2, "d_conv": 4,
       "d_state": 4, "s4_state": 4, "s4_init": "lin", "scan_method": "sequential"}


def params(seed=0):
    return nnx.state(SequenceModel(CFG, rngs=nnx.Rngs(seed)), nnx.Param)


def test_same_weights_give_the_same_bytes_and_read_back_exactly(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    sha_a, sha_b = export.write(params(), tmp_path / "a"), export.write(params(), tmp_path / "b")
    assert sha_a == sha_b == export.sha256(tmp_path / "a" / export.FILENAME)
    assert (tmp_path / "a" / export.FILENAME).read_bytes() == (tmp_path / "b" / export.FILENAME).read_bytes()
    assert export.write(params(seed=1), tmp_path / "b") != sha_a
    back = export.read(params(seed=5), tmp_path / "a", sha_a)
    for x, y in zip(jax.tree.leaves(back), jax.tree.leaves(params())):
        np.testing.assert_array_equal(x, y)
    assert not list(tmp_path.rglob("*.part*"))          # written atomically, nothing half-written left


def test_a_modified_missing_or_foreign_file_is_refused_with_the_fix(tmp_path):
    sha = export.write(params(), tmp_path)
    path = tmp_path / export.FILENAME
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="modified or damaged.*dvc pull.*delete"):
        export.read(params(), tmp_path, sha)
    path.unlink()
    with pytest.raises(CheckpointError, match="missing"):
        export.read(params(), tmp_path, sha)
    sha = export.write(params(), tmp_path)
    bigger = nnx.state(SequenceModel({**CFG, "layers": 2}, rngs=nnx.Rngs(0)), nnx.Param)
    with pytest.raises(CheckpointError, match="different model structure"):
        export.read(bigger, tmp_path, sha)
