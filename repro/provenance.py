"""Where and with what a number was computed: the machine, the accelerators and the package versions.

Training runs write this into metrics.json (``machine``, ``devices``, ``packages``); verification gathers the runs'
values and adds its own date, so a claims table says which machines and which library versions stand behind it.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "mlflow", "snakemake")


def machine() -> str:
    """Cores, CPU model and OS, e.g. ``2 cores, Intel(R) Xeon(R) ..., Linux 6.1``."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}"


def devices() -> str:
    """The JAX devices a run sees, e.g. ``1 x cpu`` or ``4 x NVIDIA H100 80GB HBM3`` (only if JAX is loaded: a
    provenance call must not be what initialises a backend)."""
    if "jax" not in sys.modules:
        return ""
    import jax
    kinds = {}
    for d in jax.devices():
        kinds[d.device_kind] = kinds.get(d.device_kind, 0) + 1
    return ", ".join(f"{n} x {k}" for k, n in kinds.items())


def packages() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def of_run() -> dict:
    """What a training run records beside its metrics."""
    return {"machine": machine(), "devices": devices(), "packages": packages()}
