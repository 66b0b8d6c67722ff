"""benchmarks/gpu.sh (issue 24 item 4): one line and a non-zero exit without a GPU; with --allow-cpu, the report's
fields for a small experiment."""
import json
import subprocess
from pathlib import Path

import jax
import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "data"


@pytest.mark.skipif(any(d.platform == "gpu" for d in jax.devices()), reason="a GPU is visible: it would run")
def test_refuses_with_one_line_without_a_gpu():
    r = subprocess.run(["bash", "benchmarks/gpu.sh"], cwd=REPO, capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"})
    assert r.returncode == 2, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("benchmarks/gpu.sh: no GPU visible to JAX")


@pytest.mark.integration
def test_reports_step_time_flops_mfu_and_the_scan_against_figure_8(tmp_path, monkeypatch):
    from benchmarks import gpu_bench
    monkeypatch.setenv("REPRO_DATA_MIRROR", str(MIRROR))
    out = tmp_path / "gpu.json"
    assert gpu_bench.main(["--allow-cpu", "--scale", "smoke", "--steps", "2", "--papers", "mamba",
                           "--experiments", "s6-mamba", "--scan-lengths", "32", "--scan-d", "16", "--scan-batch", "1",
                           "--scan-heads", "2", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    (row,) = report["papers"]
    assert row["experiment"] == "s6-mamba" and row["step_s"] > 0 and row["flops_per_step"] > 0
    assert row["mfu"] == pytest.approx(row["flops_per_step"] / row["step_s"] / row["peak_flops"])
    (scan,) = report["scan"]
    assert scan["length"] == 32
    assert scan["standard_over_scan"] == pytest.approx(scan["standard_scan_s"] / scan["scan_s"])
    assert report["figure8"]["standard_scan_ratio"] == [20, 40]
