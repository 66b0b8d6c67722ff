"""JAX's persistent compilation cache, on for every run the driver starts (workflow jobs included): a second job of
the same shapes loads its programs from disk instead of compiling them again (a smoke job compiles for seconds and
trains for less than one).

The directory is ``$REPRO_JAX_CACHE``, else ``JAX_COMPILATION_CACHE_DIR`` when already set, else
``<results>/.jax_cache``. JAX writes each entry to a temporary file and renames it, so parallel jobs may share it;
an entry is keyed by the program, the JAX/XLA versions and the backend, so a stale one is never used. Every
compilation is cached (no minimum compile time): on 2 cores most of ours take well under JAX's default 1 s floor.
``REPRO_JAX_CACHE=off`` turns it off.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def directory() -> Path | None:
    setting = os.environ.get("REPRO_JAX_CACHE") or os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if setting == "off":
        return None
    if setting:
        return Path(setting)
    from repro import tracking
    return tracking.results_dir() / ".jax_cache"


def enable() -> Path | None:
    where = directory()
    if where is None:
        return None
    where.mkdir(parents=True, exist_ok=True)
    settings = {"jax_compilation_cache_dir": str(where), "jax_persistent_cache_min_compile_time_secs": 0.0,
                "jax_persistent_cache_min_entry_size_bytes": 0}
    if "jax" in sys.modules:
        import jax
        for name, value in settings.items():
            jax.config.update(name, value)
    else:                    # JAX reads them when it is imported (a run that never imports it pays nothing)
        os.environ.update({name.upper(): str(value) for name, value in settings.items()})
    return where
