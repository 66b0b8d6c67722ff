"""The data registry: fetch from a mirror with checksums, refuse corrupt files, name the fix."""
from pathlib import Path

import pytest

from repro import data

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_mirror = pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")


def test_registry_entries_have_urls_checksums_and_licences():
    for name, ent in data.registry().items():
        assert ent["base_url"].startswith("https://") and ent["licence"]
        assert all(len(m) == 32 for m in ent["files"].values())


@needs_mirror
def test_fetch_from_mirror_verifies_and_is_idempotent(tmp_path):
    files = data.fetch("tinyshakespeare", root=tmp_path, mirror=MIRROR)
    assert files == [tmp_path / "tinyshakespeare" / "input.txt"]
    assert data.path("tinyshakespeare", "input.txt", root=tmp_path) == files[0]
    assert data.fetch("tinyshakespeare", root=tmp_path, mirror=MIRROR) == files
    assert not list((tmp_path / "tinyshakespeare").glob(".*part*"))


@needs_mirror
def test_corrupt_file_is_refused_with_name_and_command(tmp_path):
    data.fetch("tinyshakespeare", root=tmp_path, mirror=MIRROR)
    f = tmp_path / "tinyshakespeare" / "input.txt"
    f.write_text("tampered")
    with pytest.raises(data.DataError) as err:
        data.path("tinyshakespeare", "input.txt", root=tmp_path)
    assert str(f) in str(err.value) and "corrupt" in str(err.value)
    assert "python -m repro.data fetch tinyshakespeare" in str(err.value)
    data.fetch("tinyshakespeare", root=tmp_path, mirror=MIRROR)  # the named fix restores it
    assert data.path("tinyshakespeare", "input.txt", root=tmp_path) == f


def test_missing_file_and_bad_source_checksum(tmp_path):
    with pytest.raises(data.DataError, match="missing: fetch it with `python -m repro.data fetch planetoid"):
        data.path("planetoid", "ind.cora.x", root=tmp_path)
    fake = tmp_path / "mirror" / "tinyshakespeare"
    fake.mkdir(parents=True)
    (fake / "input.txt").write_text("not shakespeare")
    with pytest.raises(data.DataError, match="refused"):
        data.fetch("tinyshakespeare", root=tmp_path / "data", mirror=tmp_path / "mirror")
    assert not (tmp_path / "data" / "tinyshakespeare" / "input.txt").exists()
    assert not list((tmp_path / "data" / "tinyshakespeare").iterdir())  # nothing half-written left behind
    with pytest.raises(data.DataError, match="unknown data set 'imagenet'"):
        data.fetch("imagenet", root=tmp_path)
