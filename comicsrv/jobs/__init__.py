"""Background work: the job runner, the scheduler and the CPU pool.

The names are loaded on first use (PEP 562), so a worker process started by
:class:`comicsrv.jobs.pool.ProcessWorkers` imports ``comicsrv.jobs.pool``
without SQLAlchemy and Flask coming along with the runner (1.5 s and 60 MB).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pool import run_cpu, spawn
    from .runner import JobCancelled, JobContext, JobRunner
    from .scheduler import Scheduler

__all__ = ["JobCancelled", "JobContext", "JobRunner", "Scheduler", "run_cpu", "spawn"]

_HOMES = {"run_cpu": "pool", "spawn": "pool", "JobCancelled": "runner", "JobContext": "runner",
          "JobRunner": "runner", "Scheduler": "scheduler"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
