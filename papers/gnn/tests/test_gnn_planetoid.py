"""The Planetoid reader against hand-checked counts (Kipf & Welling's procedure), and its failure messages."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from papers.gnn import planetoid
from repro import data

MIRROR = Path(__file__).resolve().parents[4] / "shared" / "data"
pytestmark = pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")


@pytest.fixture(scope="module")
def cora():
    return planetoid.load("cora", MIRROR)


@pytest.fixture(scope="module")
def citeseer():
    return planetoid.load("citeseer", MIRROR)


def test_cora_counts(cora):
    assert cora.n_nodes == 2708 and cora.features.shape == (2708, 1433) and cora.n_classes == 7
    assert len(cora.senders) == 10556                      # 5278 undirected edges, no self-loops
    assert (cora.train.sum(), cora.val.sum(), cora.test.sum()) == (140, 500, 1000)
    assert np.flatnonzero(cora.train).tolist() == list(range(140))
    assert np.flatnonzero(cora.val).tolist() == list(range(140, 640))
    assert not (cora.train & cora.test).any() and not (cora.val & cora.test).any()


def test_citeseer_counts_and_padding(citeseer):
    assert citeseer.n_nodes == 3327 and citeseer.features.shape == (3327, 3703) and citeseer.n_classes == 6
    assert len(citeseer.senders) == 9104                   # the raw file's 124 self-loops removed
    assert (citeseer.train.sum(), citeseer.val.sum(), citeseer.test.sum()) == (120, 500, 1000)
    padded = citeseer.labels < 0
    assert padded.sum() == 15 and not (padded & (citeseer.train | citeseer.val | citeseer.test)).any()
    assert citeseer.features[np.flatnonzero(padded)].nnz == 0   # zero feature rows
    deg = np.bincount(citeseer.receivers, minlength=citeseer.n_nodes)
    assert (deg == 0).sum() == 48


def test_edges_are_symmetric_without_self_loops_or_duplicates(cora):
    pairs = set(zip(cora.senders.tolist(), cora.receivers.tolist()))
    assert len(pairs) == len(cora.senders)
    assert all((r, s) in pairs for s, r in pairs) and all(s != r for s, r in pairs)


def test_test_index_reordering(cora):
    """Test node test.index[j] carries row j of tx and label ty[j] (before row normalisation)."""
    ids = np.array([int(x) for x in (MIRROR / "planetoid/ind.cora.test.index").read_text().split()])
    tx = planetoid._load("planetoid", "ind.cora.tx", MIRROR)
    ty = planetoid._load("planetoid", "ind.cora.ty", MIRROR)
    j = 7
    expected = planetoid.row_normalise(tx[j]).toarray()
    assert np.allclose(cora.features[ids[j]].toarray(), expected)
    assert cora.labels[ids[j]] == np.argmax(ty[j])
    assert not np.array_equal(ids, np.sort(ids))           # the file really is unsorted


def test_features_are_row_normalised(cora):
    sums = np.asarray(cora.features.sum(1)).ravel()
    assert np.allclose(sums, 1.0, atol=1e-5)


def test_missing_and_corrupt_files_name_the_file_and_the_fetch(tmp_path):
    shutil.copytree(MIRROR / "planetoid", tmp_path / "planetoid")
    (tmp_path / "planetoid" / "ind.cora.graph").unlink()
    with pytest.raises(data.DataError) as err:
        planetoid.load("cora", tmp_path)
    assert "ind.cora.graph" in str(err.value) and "python -m repro.data fetch planetoid" in str(err.value)
    (tmp_path / "planetoid" / "ind.cora.tx").write_bytes(b"garbage")
    with pytest.raises(data.DataError, match="ind.cora.tx is corrupt"):
        planetoid.load("cora", tmp_path)


def test_pubmed_without_recorded_checksums_says_how_to_record(tmp_path):
    with pytest.raises(data.DataError, match="--record"):
        planetoid.load("pubmed", tmp_path)
