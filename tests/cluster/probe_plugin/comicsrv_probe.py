"""A third-party plugin for the multi-process tests, installed into the test
servers through ``PYTHONPATH`` and its ``.dist-info`` entry point, as any
plugin would be: two job types whose every step leaves a line in a file, so
a test can count, across processes, how often each job (and each step of a
resumable job) ran, and in which process."""
from __future__ import annotations

import os
import time
from pathlib import Path

from comicsrv.hookspecs import JobType, hookimpl


def _append(path: str, line: str) -> None:
    # One write with O_APPEND: lines of several processes never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def record(ctx, path: str, delay: float = 0.0) -> dict:
    """Write ``<job id> <pid>`` once."""
    _append(path, f"{ctx.job_id} {os.getpid()}")
    if delay:
        time.sleep(delay)
    return {"pid": os.getpid()}


def steps(ctx, path: str, count: int, delay: float, hold_at: int | None = None,
          gate: str | None = None) -> dict:
    """Write ``<job id> <step> <pid>`` for each step, resuming after the last
    step written (a resumable job finds where it stopped in its own records).
    With ``hold_at``, wait before that step until the file ``gate`` exists."""
    lines = Path(path).read_text().split("\n") if Path(path).exists() else []
    done = [int(parts[1]) for parts in (line.split() for line in lines)
            if len(parts) == 3 and parts[0] == str(ctx.job_id)]
    start = max(done) + 1 if done else 0
    for step in range(start, count):
        while step == hold_at and not Path(gate).exists():
            ctx.check_cancelled()
            time.sleep(0.05)
        ctx.check_cancelled()
        _append(path, f"{ctx.job_id} {step} {os.getpid()}")
        ctx.progress(step + 1, count, f"step {step}", force=True)
        time.sleep(delay)
    return {"resumed_at": start, "pid": os.getpid()}


@hookimpl
def comicsrv_job_types():
    return [JobType("probe.record", record), JobType("probe.steps", steps, resumable=True)]
