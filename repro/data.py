"""Fetching data sets from their canonical URLs (or a mirror directory) with checksums verified.

    python -m repro.data fetch planetoid [--mirror ../shared/data]
    python -m repro.data verify planetoid
    python -m repro.data fetch planetoid-pubmed --record   # first fetch of a data set whose md5s are unrecorded

The registry is ``data/registry.yaml``. A file is written under a temporary name and renamed only after its md5
matches, so an interrupted fetch leaves nothing a later run would trust; a file whose checksum does not match is
refused with its name and the command that restores it.
"""
from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import os
import re
import shutil
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "data" / "registry.yaml"


class DataError(RuntimeError):
    """A data file that is missing, corrupt or cannot be fetched; the message names it and the fix."""


def registry() -> dict:
    return copy.deepcopy(_parsed(REGISTRY.read_text()))


@functools.lru_cache(maxsize=4)
def _parsed(text: str) -> dict:
    """The registry parsed once per content (the workflow asks for it once per experiment)."""
    from repro.config import safe_load
    return safe_load(text)


def entry(name: str) -> dict:
    reg = registry()
    if name not in reg:
        raise DataError(f"unknown data set {name!r}; registered in {REGISTRY}: {', '.join(reg)}")
    return reg[name]


def data_root() -> Path:
    return Path(os.environ.get("REPRO_DATA", REPO / "data"))


def md5(path: Path) -> str:
    return digest(path, "md5")


def digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in blocks (bounded memory)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_command(name: str) -> str:
    return f"python -m repro.data fetch {name} (offline: add --mirror DIR)"


def path(name: str, filename: str, root: Path | None = None) -> Path:
    """The verified local path of one registered file."""
    files = entry(name)["files"]
    if filename not in files:
        raise DataError(f"{filename} is not a file of data set {name!r} in {REGISTRY}")
    expected = files[filename]
    if not expected:
        raise DataError(missing_reason(name))
    p = Path(root or data_root()) / name / filename
    if not p.exists():
        raise DataError(f"{p} is missing: fetch it with `{fetch_command(name)}`")
    got = md5(p)
    if got != expected:
        raise DataError(f"{p} is corrupt (md5 {got}, expected {expected}): delete it and run `{fetch_command(name)}`")
    return p


def via_tfds(name: str) -> bool:
    """A data set read through TensorFlow Datasets (repro/tfds_data.py), which fetches and verifies it itself."""
    return entry(name).get("via") == "tfds"


def missing_reason(name: str, root: Path | None = None) -> str | None:
    """None when every file of ``name`` can be used or fetched with a recorded checksum; otherwise why not. (A data
    set read through TensorFlow Datasets: repro/availability.py asks repro/tfds_data.py instead.)"""
    ent = entry(name)
    if via_tfds(name):
        raise DataError(f"{name} is read through TensorFlow Datasets: repro.availability.missing_reason says whether "
                        "it is prepared")
    if all(ent["files"].values()):
        return None
    return (f"data set {name!r} has no recorded checksums in {REGISTRY.name} and is not in the mirror: where "
            f"{ent['base_url']} is reachable run `python -m repro.data fetch {name} --record`")


def _record(name: str, sums: dict) -> None:
    """Write newly recorded md5s into the registry in place (comments kept)."""
    text = REGISTRY.read_text()
    head, sep, rest = text.partition(f"\n{name}:\n")
    block_end = re.search(r"\n\S", rest)
    block, tail = (rest[:block_end.start()], rest[block_end.start():]) if block_end else (rest, "")
    for filename, digest in sums.items():
        block = re.sub(rf"(\n\s+{re.escape(filename)}:)\s*null", rf"\1 {digest}", block)
    REGISTRY.write_text(head + sep + block + tail)


def url(ent: dict, filename: str) -> str:
    """A file's canonical URL: ``base_url`` + ``url_path`` (default ``{file}``; ``{stem}`` is the name without its
    extension, for sources that keep each file in a folder of its own name)."""
    return ent["base_url"] + ent.get("url_path", "{file}").format(file=filename, stem=Path(filename).stem)


def fetch(name: str, root: Path | None = None, mirror: Path | None = None, record: bool = False) -> list[Path]:
    """Fetch every file of ``name``; a file with no recorded md5 is refused unless ``record`` (trust on first use:
    its md5 is then written into the registry)."""
    ent = entry(name)
    if via_tfds(name):
        raise DataError(f"{name} is read through TensorFlow Datasets: prepare it with "
                        f"`python -m repro.tfds_data prepare {name}`")
    unrecorded = [f for f, m in ent["files"].items() if not m]
    if unrecorded and not record:
        raise DataError(f"{name}: no recorded checksum for {', '.join(unrecorded)}: run "
                        f"`python -m repro.data fetch {name} --record` to fetch and record them")
    recorded = {}
    dest = Path(root or data_root()) / name
    dest.mkdir(parents=True, exist_ok=True)
    mirror = mirror or (Path(os.environ["REPRO_DATA_MIRROR"]) if os.environ.get("REPRO_DATA_MIRROR") else None)
    out = []
    for filename, expected in ent["files"].items():
        target = dest / filename
        if target.exists() and md5(target) == expected:
            out.append(target)
            continue
        source = (Path(mirror) / name / filename) if mirror else url(ent, filename)
        tmp = target.with_name(f".{filename}.part{os.getpid()}")
        try:
            if mirror:
                if not Path(source).exists():
                    raise DataError(f"{source} not found in the mirror {mirror}; drop --mirror to use "
                                    f"{ent['base_url']}")
                shutil.copyfile(source, tmp)
            else:
                with urllib.request.urlopen(source, timeout=60) as resp, open(tmp, "wb") as fh:
                    shutil.copyfileobj(resp, fh)
            got = md5(tmp)
            if not expected:
                recorded[filename] = expected = got
            if got != expected:
                raise DataError(
                    f"{source} has md5 {got}, expected {expected}: refused (the source changed or the "
                    "download was damaged)"
                )
            os.replace(tmp, target)
        except OSError as e:
            raise DataError(f"could not fetch {source} ({e}); retry, or point --mirror at a copy") from e
        finally:
            tmp.unlink(missing_ok=True)
        out.append(target)
    (dest / ".fetched").write_text("".join(f"{md5(p)}  {p.name}\n" for p in out))
    if recorded:
        _record(name, recorded)
        print(f"{name}: recorded md5s in {REGISTRY} for {', '.join(recorded)}: commit it")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Fetch or verify registered data sets")
    p.add_argument("action", choices=["fetch", "verify"])
    p.add_argument("names", nargs="*", help="data sets (default: all registered)")
    p.add_argument("--mirror", type=Path, help="a directory with NAME/FILE copies, used instead of the URLs")
    p.add_argument("--root", type=Path, help="where data sets live (default: data/)")
    p.add_argument(
        "--record",
        action="store_true",
        help="accept files whose md5 is not yet recorded and write their md5s into the registry",
    )
    args = p.parse_args(argv)
    try:
        default = [n for n in registry() if not via_tfds(n) and (args.record or not missing_reason(n))]
        for name in args.names or default:
            if args.action == "fetch":
                files = fetch(name, args.root, args.mirror, record=args.record)
            else:
                files = [path(name, f, args.root) for f in entry(name)["files"]]
            print(f"{name}: {len(files)} files verified in {(args.root or data_root()) / name}")
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
