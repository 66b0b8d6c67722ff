"""The files a run leaves in its directory (DESIGN.md, "A run"): metrics.json, history.csv, config.yaml."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import yaml


def atomic_write(path: Path, content: str | bytes) -> None:
    """Write via a temporary file and a rename, so a killed process never leaves half a file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(content) if isinstance(content, bytes) else tmp.write_text(content)
    os.replace(tmp, path)


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_yaml(path: Path, data: dict) -> None:
    atomic_write(path, yaml.safe_dump(data, sort_keys=True))


def write_history(path: Path, rows: list[dict]) -> None:
    columns = sorted({k for row in rows for k in row}, key=lambda c: (c != "step", c))
    import io
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buf.getvalue())


def read_history(path: Path) -> list[dict]:
    """history.csv back as rows of floats (empty cells, metrics not logged at that step, left out)."""
    with open(path) as fh:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(fh)]


def run_dir(results: Path, paper: str, experiment: str, scale: str, seed: int) -> Path:
    return Path(results) / paper / "runs" / experiment / scale / f"seed{seed}"


SCALES = ("smoke", "cpu", "full")


def verdict_dir(results: Path, paper: str, scale: str) -> Path:
    """Where one scale's verdicts live: ``results/<paper>/<scale>/`` (claims.json, claims.csv, curves/). Kept per
    scale so that a smoke run never touches the committed cpu-scale verdicts."""
    return Path(results) / paper / scale


def verdict_files(results: Path) -> list[Path]:
    """Every ``results/<paper>/<scale>/claims.json`` present, by paper, then scale (smoke, cpu, full)."""
    found = [p for s in SCALES for p in Path(results).glob(f"*/{s}/claims.json")]
    return sorted(found, key=lambda p: (p.parent.parent.name, SCALES.index(p.parent.name)))


def preferred(files: list[Path], scale: str | None = None) -> dict[str, Path]:
    """One verdict file per paper: the given scale's, or the most faithful present (full, then cpu, then smoke)."""
    out = {}
    for p in files:
        paper, s = p.parent.parent.name, p.parent.name
        if scale is None or s == scale:
            out[paper] = p          # files are ordered smoke < cpu < full: the last one wins
    return out
