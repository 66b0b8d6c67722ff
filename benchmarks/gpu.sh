#!/usr/bin/env bash
# The full scale on this machine's GPU: step time, memory and MFU of every paper's training step, and the selective
# scan against the Mamba paper's Figure 8 (benchmarks/gpu_bench.py says how each is measured). Refuses, with one
# line, where JAX sees no GPU.   Usage: benchmarks/gpu.sh [--papers mamba moe] [--steps 200] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" benchmarks/gpu_bench.py "$@"
