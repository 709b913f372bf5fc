"""Running background jobs over the job table.

Every background task is a job type registered with a function
``fn(ctx: JobContext, **params) -> dict | None``. ``submit`` writes the row
and runs it in the background; ``run_now`` runs it in the caller's thread
(the CLI). The function reports progress and checks for cancellation through
its ``JobContext``. A job whose process died is found on the next start:
resumable types are run again (their function must pick up where the row's
``result``/``params`` say it stopped), all others are marked failed with the
reason.

Every job that ends logs one line with its outcome: INFO when it finished
(the function's ``ctx.outcome`` sentence, else the numbers of its result),
WARNING when it failed on purpose (a ``DomainError``, or an exception whose
class says ``expected = True``: a library folder that is gone, an import
refused), ERROR with the traceback for anything else, which is a bug.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from flask import Flask

from ..events import EventBus, TaskProgress
from ..extensions import db
from ..models import Job, utcnow
from ..models.jobs import ACTIVE_STATES, CANCELLED, FAILED, FINISHED, QUEUED, RUNNING
from . import pool

log = logging.getLogger(__name__)

# A job on another host whose heartbeat is older than this is taken as dead.
STALE_AFTER = timedelta(minutes=5)
HEARTBEAT_SECONDS = 60.0
PROGRESS_INTERVAL = 0.25
INTERRUPTED = "interrupted: the server stopped while this job was running"


class JobCancelled(Exception):
    """Raised inside a job by ``JobContext.check_cancelled``."""


class UnknownJobType(KeyError):
    pass


@dataclass
class JobType:
    name: str
    fn: Callable[..., Any]
    resumable: bool = False


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobContext:
    """What a running job sees: progress reporting and cancellation."""

    def __init__(self, runner: JobRunner, job: Job):
        self.runner = runner
        self.job_id = job.id
        self.job_type = job.type
        self.params = dict(job.params or {})
        self.current = job.progress_current
        self.total = job.progress_total
        self.message = job.progress_message or ""
        # A one-line sentence for the log when the job finishes, e.g. "library
        # 'Comics': 8 files, 3 new"; without it the result's numbers are logged.
        self.outcome: str | None = None
        self._last_write = 0.0
        self._last_cancel_check = 0.0

    def progress(self, current: int | None = None, total: int | None = None,
                 message: str | None = None, *, force: bool = False) -> None:
        if current is not None:
            self.current = current
        if total is not None:
            self.total = total
        if message is not None:
            self.message = message[:1000]
        now = time.monotonic()
        if force or now - self._last_write >= PROGRESS_INTERVAL:
            self._last_write = now
            self.runner._write_progress(self)

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled()

    @property
    def cancelled(self) -> bool:
        if self.job_id in self.runner._cancelled:
            return True
        # Another process may have asked (a cancel through a second worker).
        now = time.monotonic()
        if now - self._last_cancel_check >= 1.0:
            self._last_cancel_check = now
            flag = db.session.execute(
                db.select(Job.cancel_requested).where(Job.id == self.job_id)
            ).scalar()
            if flag:
                self.runner._cancelled.add(self.job_id)
                return True
        return False


def _expected(exc: BaseException) -> bool:
    """A failure the job meant to report (see the module docstring)."""
    from ..errors import DomainError

    return isinstance(exc, DomainError) or getattr(exc, "expected", False)


def _numbers(result: Any) -> str:
    """``new 3, changed 1``: the numbers of a job's result, for its log line."""
    if not isinstance(result, dict):
        return "done"
    numbers = [f"{key} {value}" for key, value in result.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)]
    return ", ".join(numbers) or "done"


class JobRunner:
    def __init__(self, app: Flask, bus: EventBus, max_concurrent: int = 4):
        self.app = app
        self.bus = bus
        self.owner = process_owner()
        self.types: dict[str, JobType] = {}
        self._cancelled: set[int] = set()
        self._running: set[int] = set()
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._done: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._heartbeat_started = False

    # -- registration ------------------------------------------------------

    def register(self, name: str, fn: Callable[..., Any], *, resumable: bool = False) -> None:
        self.types[name] = JobType(name, fn, resumable)

    # -- submitting --------------------------------------------------------

    def _create(self, job_type: str, params: dict | None, target: str | None,
                user_id: int | None) -> Job:
        if job_type not in self.types:
            raise UnknownJobType(job_type)
        job = Job(type=job_type, params=params or {}, target=target, user_id=user_id,
                  state=QUEUED, owner=self.owner, heartbeat_at=utcnow())
        db.session.add(job)
        db.session.commit()
        self._publish(job)
        return job

    def submit(self, job_type: str, params: dict | None = None, *, target: str | None = None,
               user_id: int | None = None) -> int:
        """Queue a job and run it in the background; returns its id."""
        job = self._create(job_type, params, target, user_id)
        job_id = job.id
        with self._lock:
            self._done[job_id] = threading.Event()
        pool.spawn(self._run_in_context, job_id, name=f"job-{job_id}")
        return job_id

    def run_now(self, job_type: str, params: dict | None = None, *,
                target: str | None = None, user_id: int | None = None) -> Job:
        """Run a job in this thread (inside an app context) and return its row."""
        job = self._create(job_type, params, target, user_id)
        self._execute(job.id)
        return db.session.get(Job, job.id)

    def wait(self, job_id: int, timeout: float | None = None) -> bool:
        """Block until a job submitted by this process ends."""
        event = self._done.get(job_id)
        return True if event is None else event.wait(timeout)

    def cancel(self, job_id: int) -> bool:
        """Ask a job to stop. A queued job is cancelled at once; a running one
        at its next ``check_cancelled``. False if the job already ended."""
        job = db.session.get(Job, job_id)
        if job is None or job.state not in ACTIVE_STATES:
            return False
        job.cancel_requested = True
        self._cancelled.add(job_id)
        if job.state == QUEUED and job_id not in self._running:
            job.state, job.finished_at = CANCELLED, utcnow()
        db.session.commit()
        self._publish(job)
        return True

    def active_job(self, job_type: str, target: str | None) -> Job | None:
        return db.session.execute(
            db.select(Job).where(Job.type == job_type, Job.target == target,
                                 Job.state.in_(ACTIVE_STATES)).limit(1)
        ).scalar()

    # -- running -----------------------------------------------------------

    def _run_in_context(self, job_id: int) -> None:
        try:
            with self.app.app_context():
                self._execute(job_id)
        finally:
            # Dropped once set: a later wait() on an unknown id returns at
            # once, and the map does not grow with every job of a long uptime.
            with self._lock:
                event = self._done.pop(job_id, None)
            if event is not None:
                event.set()

    def _execute(self, job_id: int) -> None:
        with self._slots:
            job = db.session.get(Job, job_id)
            if job is None or job.state != QUEUED:
                return
            if job.cancel_requested or job_id in self._cancelled:
                self._finish(job, CANCELLED)
                return
            self._running.add(job_id)
            job.state, job.started_at = RUNNING, job.started_at or utcnow()
            job.owner, job.heartbeat_at = self.owner, utcnow()
            db.session.commit()
            self._publish(job)
            ctx = JobContext(self, job)
            spec = self.types[job.type]
            started = time.monotonic()
            try:
                result = spec.fn(ctx, **ctx.params)
            except JobCancelled:
                db.session.rollback()
                self._finish(db.session.get(Job, job_id), CANCELLED, ctx=ctx)
                log.info("job %s %s cancelled after %.1f s", job_id, spec.name,
                         time.monotonic() - started)
            except Exception as exc:
                db.session.rollback()
                if _expected(exc):
                    log.warning("job %s %s failed after %.1f s: %s", job_id, spec.name,
                                time.monotonic() - started, exc)
                else:
                    log.exception("job %s (%s) failed", job_id, spec.name)
                self._finish(db.session.get(Job, job_id), FAILED, ctx=ctx,
                             error=f"{type(exc).__name__}: {exc}")
            else:
                self._finish(db.session.get(Job, job_id), FINISHED, ctx=ctx, result=result)
                log.info("job %s %s finished in %.1f s: %s", job_id, spec.name,
                         time.monotonic() - started, ctx.outcome or _numbers(result))
            finally:
                self._running.discard(job_id)
                self._cancelled.discard(job_id)

    def _finish(self, job: Job, state: str, *, ctx: JobContext | None = None,
                result: Any = None, error: str | None = None) -> None:
        job.state, job.finished_at, job.heartbeat_at = state, utcnow(), utcnow()
        if ctx is not None:
            job.progress_current, job.progress_total = ctx.current, ctx.total
            job.progress_message = ctx.message or None
        if result is not None:
            job.result = result
        if error is not None:
            job.error = error
        db.session.commit()
        self._publish(job)

    def _write_progress(self, ctx: JobContext) -> None:
        db.session.execute(
            db.update(Job).where(Job.id == ctx.job_id).values(
                progress_current=ctx.current, progress_total=ctx.total,
                progress_message=ctx.message or None, heartbeat_at=utcnow())
        )
        db.session.commit()
        self.bus.publish(TaskProgress(
            task_id=ctx.job_id, task_type=ctx.job_type, status=RUNNING,
            progress={"current": ctx.current, "total": ctx.total, "message": ctx.message}))

    def _publish(self, job: Job) -> None:
        self.bus.publish(TaskProgress(
            task_id=job.id, task_type=job.type, status=job.state,
            progress={"current": job.progress_current, "total": job.progress_total,
                      "message": job.progress_message or ""}))

    # -- process life ------------------------------------------------------

    def recover_interrupted(self) -> list[int]:
        """Deal with the jobs a dead process left active. Returns their ids."""
        host = self.owner.split(":")[0]
        now = utcnow()
        recovered = []
        jobs = db.session.execute(db.select(Job).where(Job.state.in_(ACTIVE_STATES))).scalars()
        for job in list(jobs):
            owner_host, _, pid = (job.owner or ":").rpartition(":")
            if owner_host == host and pid.isdigit():
                dead = int(pid) == os.getpid() or not _pid_alive(int(pid))
            else:
                dead = now - (job.heartbeat_at or job.created_at) > STALE_AFTER
            if not dead:
                continue
            recovered.append(job.id)
            spec = self.types.get(job.type)
            if spec is not None and spec.resumable and not job.cancel_requested:
                job.state, job.owner, job.heartbeat_at = QUEUED, self.owner, now
                db.session.commit()
                with self._lock:
                    self._done[job.id] = threading.Event()
                pool.spawn(self._run_in_context, job.id, name=f"job-{job.id}")
                log.warning("job %s (%s) was interrupted; resuming it", job.id, job.type)
            else:
                job.state, job.finished_at, job.error = FAILED, now, INTERRUPTED
                db.session.commit()
                log.warning("job %s (%s) was interrupted; marked failed", job.id, job.type)
            self._publish(job)
        return recovered

    def start_heartbeat(self) -> None:
        """Keep ``heartbeat_at`` fresh for this process's running jobs, so
        another host restarting never mistakes a long quiet step for death."""
        if self._heartbeat_started:
            return
        self._heartbeat_started = True

        def beat() -> None:
            while True:
                time.sleep(HEARTBEAT_SECONDS)
                if not self._running:
                    continue
                try:
                    with self.app.app_context():
                        db.session.execute(
                            db.update(Job).where(Job.id.in_(list(self._running)))
                            .values(heartbeat_at=utcnow()))
                        db.session.commit()
                except Exception:
                    log.exception("job heartbeat failed")

        pool.spawn(beat, name="job-heartbeat")
