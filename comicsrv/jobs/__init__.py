"""Background work: the job runner, the scheduler and the CPU pool."""
from .pool import run_cpu, spawn
from .runner import JobCancelled, JobContext, JobRunner
from .scheduler import Scheduler

__all__ = ["JobCancelled", "JobContext", "JobRunner", "Scheduler", "run_cpu", "spawn"]
