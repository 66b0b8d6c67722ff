"""Progress of a workflow job on the terminal, one line per event.

Snakemake sends a job's output to its log file, so a training bar there is invisible. The workflow hands each job
its own terminal as file descriptor 3 (``3>&2`` before the redirection, workflows/paper.smk) and says so in
``REPRO_PROGRESS_FD``; this module writes short lines there: what runs, the step, the loss, and the time left from
the job's own rate. Lines are rate-limited (every ``REPRO_PROGRESS_EVERY`` seconds, default 15, plus the first and
the last), so parallel jobs interleave readable lines rather than bars. Outside a workflow nothing is written.
"""
from __future__ import annotations

import os
import time


def _stream():
    fd = os.environ.get("REPRO_PROGRESS_FD")
    if not fd:
        return None
    try:
        return os.fdopen(int(fd), "w", buffering=1, closefd=False)
    except (OSError, ValueError):
        return None


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """``Progress("gnn gcn-cora cpu", total=20, unit="seed")``; ``.update(done, loss=...)``; ``.close()``."""

    def __init__(self, label: str, total: int, unit: str = "step", start: int = 0, every: float | None = None):
        self.label, self.total, self.unit, self.start = label, total, unit, start
        self.every = float(os.environ.get("REPRO_PROGRESS_EVERY", 15)) if every is None else every
        self.out = _stream()
        self.t0 = time.perf_counter()
        self.last = None

    def line(self, done: int, **fields) -> str:
        elapsed = time.perf_counter() - self.t0
        rate = (done - self.start) / elapsed if elapsed > 0 and done > self.start else None
        left = (self.total - done) / rate if rate else None
        shown = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
        when = "done in " + duration(elapsed) if done >= self.total else (
            f"{duration(left)} left" if left is not None else "starting")
        return f"  [{self.label}] {self.unit} {done}/{self.total} {shown}{' · ' if shown else ''}{when}"

    def update(self, done: int, **fields) -> None:
        if self.out is None:
            return
        now = time.perf_counter()
        if self.last is None or done >= self.total or now - self.last >= self.every:
            self.last = now
            print(self.line(done, **fields), file=self.out)

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
