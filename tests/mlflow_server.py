"""A real `mlflow server` on loopback for tests (the project's documented command), stopped afterwards."""
from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(store_uri: str, artifacts: Path, port: int) -> list[str]:
    mlflow = Path(sys.executable).with_name("mlflow")
    return [str(mlflow), "server", "--backend-store-uri", store_uri, "--default-artifact-root",
            Path(artifacts).as_uri(), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


@contextlib.contextmanager
def running(store_uri: str, artifacts: Path, log: Path, timeout: float = 120):
    """Yields the server's URL once /health answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as fh:
        proc = subprocess.Popen(command(store_uri, artifacts, port), stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server did not start: {Path(log).read_text()[-2000:]}") from None
                time.sleep(0.5)
        yield url
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    import os
    import signal
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def api(url: str, path: str, body: dict | None = None) -> dict:
    """GET (no body) or POST (body) on MLflow's REST API."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + "/api/2.0/mlflow/" + path, data=data,
                                 headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())
