"""JAX's persistent compilation cache (repro/compile_cache.py): a second job of the same shapes compiles nothing."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration   # starts training jobs: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]


def job(results: Path, seed: int, cache: str | None = None) -> None:
    env = {**os.environ, "REPRO_RESULTS": str(results), "REPRO_TRACKING": "off"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env.pop("REPRO_JAX_CACHE", None)
    if cache:
        env["REPRO_JAX_CACHE"] = cache
    r = subprocess.run([sys.executable, "-m", "papers.gnn.experiment", "--experiment", "multiset-sum", "--scale",
                        "smoke", "--seeds", str(seed)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_second_job_of_the_same_shapes_loads_its_programs_from_the_cache(tmp_path):
    job(tmp_path, 0)
    cache = tmp_path / ".jax_cache"                      # the default: under the results directory
    first = set(os.listdir(cache))
    assert first                                         # every compilation was stored
    job(tmp_path, 1)                                     # another seed: the same programs
    assert set(os.listdir(cache)) == first               # a miss would have added an entry


def test_the_cache_can_be_turned_off(tmp_path):
    job(tmp_path, 0, cache="off")
    assert not (tmp_path / ".jax_cache").exists()
