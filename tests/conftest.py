import os

import pytest

# Tests run with one XLA thread (as the workflow's jobs do) and without MLflow unless a test turns it on.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("REPRO_TRACKING", "off")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One persistent compilation cache for the whole suite, its workers and the workflow jobs it starts
# (repro/compile_cache.py): a program compiled by one test is loaded by the next that builds it.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), ".pytest-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working copy of the repository for one workflow test file (its tests share it, in order)."""
    from repo_copy import copy_repo
    return copy_repo(tmp_path_factory.mktemp("repo"))


def pytest_collection_modifyitems(config, items):
    """The longest tests first: a paper's whole smoke workflow (tests/test_workflow*.py, one to two minutes each),
    then the other tests that run Snakemake, DVC or a server (marker ``workflow``), then the unit tests; so with one
    worker per core (``--dist loadfile``) the short tests fill the gaps at the end instead of one worker finishing a
    two-minute workflow alone. A stable sort: a file's tests keep their order."""
    def rank(item):
        if item.path.name.startswith("test_workflow"):
            return 0
        return 1 if item.get_closest_marker("workflow") else 2
    items.sort(key=rank)
