"""What the workflow tests share: a working copy of the repository per test file (repo_copy.py) and the literal
`snakemake` command run in it. Each paper's smoke workflow has its own test file, so that pytest-xdist (one file per
worker) spreads them over the cores."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "data"
# a paper's smoke workflow from the offline data mirror, without MLflow (tracking costs 1-3 s per job; the Mamba
# workflow test and tests/test_tracking.py, test_shared_tracking.py check it)
OFFLINE = {"REPRO_DATA_MIRROR": str(MIRROR), "REPRO_TRACKING": "off"}


def snakemake(workdir, *args, env=None):
    bindir = str(Path(sys.executable).parent)
    e = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "REPRO_TRACKING": "on", **(env or {})}
    for var in ("REPRO_RESULTS", "MLFLOW_TRACKING_URI", "TFDS_DATA_DIR"):
        e.pop(var, None)
    e.pop("XLA_FLAGS", None)
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, env=e, capture_output=True,
                          text=True, timeout=900)
