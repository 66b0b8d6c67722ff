"""Data sets read through TensorFlow Datasets (an experiment's ``data: {tfds: NAME}``), without TensorFlow.

    python -m repro.tfds_data prepare mnist      # download from TFDS's canonical source and prepare (ArrayRecord)

Runs read prepared data with ``tfds.data_source`` (random access, no TensorFlow). Preparing a data set of images
encodes them with TensorFlow, so the prepare step alone needs it (``pip install tensorflow-cpu``); the error says so.
Prepared data lives in ``TFDS_DATA_DIR`` (default data/tfds). Tests use ``tfds.testing.mock_data``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from repro.data import DataError

REPO = Path(__file__).resolve().parents[1]
FILE_FORMAT = "array_record"   # what tfds.data_source reads


def data_dir() -> Path:
    return Path(os.environ.get("TFDS_DATA_DIR", REPO / "data" / "tfds"))


def prepare_command(name: str) -> str:
    return f"python -m repro.tfds_data prepare {name}"


def _builder(name: str):
    import tensorflow_datasets as tfds
    return tfds.builder(name, data_dir=str(data_dir()), file_format=FILE_FORMAT)


def missing_reason(name: str) -> str | None:
    """None when ``name`` is prepared in ``data_dir()``; otherwise why not and the command that prepares it."""
    try:
        if _builder(name).is_prepared():
            return None
    except ImportError:
        return "tensorflow-datasets is not installed: `pip install -r requirements.lock`"
    where = data_dir()
    where = where.relative_to(REPO) if where.is_relative_to(REPO) else where   # no machine paths in shared verdicts
    return (f"TFDS data set {name!r} is not prepared in {where} (TFDS_DATA_DIR); where the network is "
            f"reachable run `{prepare_command(name)}`")


def source(name: str, split: str):
    """Random-access records of one split (``tfds.data_source``); a clear error when the data is not prepared."""
    import tensorflow_datasets as tfds
    try:
        return tfds.data_source(name, split=split, data_dir=str(data_dir()), download=False)
    except Exception as e:  # TFDS raises several types for "not prepared" (AssertionError, FileNotFoundError, ...)
        raise DataError(f"{missing_reason(name) or e}") from e


def prepare(name: str) -> Path:
    builder = _builder(name)
    try:
        builder.download_and_prepare()
    except ModuleNotFoundError as e:
        raise SystemExit(f"error: preparing {name!r} needs TensorFlow to encode its images ({e}); run "
                         f"`pip install tensorflow-cpu` once, then `{prepare_command(name)}` (reading the prepared "
                         "data does not need it)") from e
    return Path(builder.data_dir)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Prepare TensorFlow Datasets data sets for the workflows")
    p.add_argument("action", choices=["prepare", "check"])
    p.add_argument("names", nargs="+")
    args = p.parse_args(argv)
    for name in args.names:
        if args.action == "prepare":
            print(f"{name}: prepared in {prepare(name)}")
        else:
            why = missing_reason(name)
            print(f"{name}: {why or 'prepared in ' + str(data_dir())}")
            if why:
                return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
