"""A working copy of the repository's code for workflow tests: what Snakemake reads and runs, and the data registry;
no results, no data, no Snakemake state (a fresh clone, as far as the workflow can tell)."""
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = ["Snakefile", "profiles", "workflows", "papers", "repro", "analysis", "pyproject.toml"]


def copy_repo(dst: Path, names=CODE) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst / name)
    (dst / "data").mkdir(exist_ok=True)
    shutil.copy(REPO / "data" / "registry.yaml", dst / "data" / "registry.yaml")
    return dst
