"""The data registry: fetch from a mirror with checksums, refuse corrupt files, name the fix."""
from pathlib import Path

import pytest

from repro import data

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_mirror = pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")


def test_registry_entries_have_urls_checksums_and_licences():
    for name, ent in data.registry().items():
        assert ent["base_url"].startswith("https://") and ent["licence"]
        if data.via_tfds(name):   # fetched and verified by TensorFlow Datasets against these sha256
            assert ent["sha256"] and all(len(h) == 64 for h in ent["sha256"].values())
            with pytest.raises(data.DataError, match="repro.tfds_data prepare"):
                data.fetch(name)
            continue
        for m in ent["files"].values():
            assert m is None or len(m) == 32
        assert (data.missing_reason(name) is None) == all(ent["files"].values())


def test_unrecorded_checksums_are_refused_unless_recorded(tmp_path):
    with pytest.raises(data.DataError, match="fetch planetoid-pubmed --record"):
        data.fetch("planetoid-pubmed", root=tmp_path)
    with pytest.raises(data.DataError, match="--record"):
        data.path("planetoid-pubmed", "ind.pubmed.x", root=tmp_path)
    assert "--record" in data.missing_reason("planetoid-pubmed")


def test_record_writes_md5s_into_the_registry_keeping_comments(tmp_path, monkeypatch):
    reg = tmp_path / "registry.yaml"
    reg.write_text("# a comment\nfoo:\n  base_url: https://x/\n  licence: MIT\n  files:\n    a.txt: null\n"
                   "bar:\n  base_url: https://y/\n  licence: MIT\n  files:\n    a.txt: null\n")
    mirror = tmp_path / "mirror"
    (mirror / "foo").mkdir(parents=True)
    (mirror / "foo" / "a.txt").write_text("hello")
    monkeypatch.setattr(data, "REGISTRY", reg)
    data.fetch("foo", root=tmp_path / "data", mirror=mirror, record=True)
    text = reg.read_text()
    assert text.startswith("# a comment") and "a.txt: 5d41402abc4b2a76b9719d911017c592" in text
    assert data.registry()["bar"]["files"]["a.txt"] is None      # only the fetched data set is recorded
    assert (tmp_path / "data" / "foo" / ".fetched").exists()


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
