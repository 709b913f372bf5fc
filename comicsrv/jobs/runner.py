"""Running background jobs over the job table: one queue for every process.

Every background task is a job type registered with a function
``fn(ctx: JobContext, **params) -> dict | None``. The function reports
progress and checks for cancellation through its ``JobContext``.

``submit`` writes a queued row (and, on PostgreSQL, a NOTIFY on
``comicsrv_jobs`` in the same transaction, so workers hear of it the moment
it exists and never of a row that was rolled back). Which process runs it:

- A process that runs jobs (role ``all`` or ``worker``) and dispatches
  (``start``) claims queued rows, oldest first, whenever it has a free slot:
  woken by a submit here, a NOTIFY from elsewhere, a job ending, or every
  ``JOB_POLL_SECONDS``. A claim is one ``UPDATE ... WHERE id = (SELECT ...
  FOR UPDATE SKIP LOCKED)``: two workers never take the same row, and
  neither waits for the other's lock.
- A ``web`` process never runs jobs: the row waits for a worker.
- A process that runs jobs but does not dispatch (tests, an embedding
  application) runs what it submits itself, as before the queue was shared.
- ``run_now`` runs a job in the caller's thread (the CLI).

While a job runs, its process refreshes the row's ``heartbeat_at`` every
``JOB_HEARTBEAT_SECONDS``. A dispatching process also looks for running
rows whose heartbeat is older than ``JOB_STALE_SECONDS`` (or whose owner is
a process on this host that no longer exists): their process died. Such a
job is taken over at once, not at the next restart: a resumable type goes
back to the queue and runs again (its function must pick up where the row's
``result``/``params`` or its own records say it stopped), any other is
marked failed with the reason. The takeover is a conditional update on the
old owner, so only one process makes it.

A job is never run twice at once: every write of a running job (progress,
heartbeat, the outcome) is conditional on the row still naming this process
as its owner. A process that was merely slow (a stalled disk, a paused VM)
and finds its job taken over stops it at the next check and drops its
outcome instead of overwriting the new run's.

Cancelling works from any process: it sets ``cancel_requested`` (a queued
job is cancelled at once) and, on PostgreSQL, notifies the owner, which
stops the job at its next ``check_cancelled``.

Every job that ends logs one line with its outcome: INFO when it finished
(the function's ``ctx.outcome`` sentence, else the numbers of its result),
WARNING when it failed on purpose (a ``DomainError``, or an exception whose
class says ``expected = True``: a library folder that is gone, an import
refused), ERROR with the traceback for anything else, which is a bug.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from flask import Flask
from sqlalchemy import func, select, update

from ..cluster import JOBS_CHANNEL, db_now
from ..cluster.identity import new_owner, parse_owner, process_owner
from ..events import EventBus, TaskProgress
from ..extensions import db
from ..models import Job, utcnow
from ..models.jobs import ACTIVE_STATES, CANCELLED, FAILED, FINISHED, QUEUED, RUNNING
from . import pool

__all__ = ["JobCancelled", "JobContext", "JobRunner", "JobType", "UnknownJobType",
           "INTERRUPTED", "STALE_AFTER", "process_owner"]

log = logging.getLogger(__name__)

# Defaults of JOB_HEARTBEAT_SECONDS and JOB_STALE_SECONDS.
HEARTBEAT_SECONDS = 10.0
STALE_AFTER = timedelta(seconds=60)
PROGRESS_INTERVAL = 0.25
INTERRUPTED = "interrupted: the process running this job stopped"
TAKEN_OVER = "taken over by another process"


class JobCancelled(Exception):
    """Raised inside a job by ``JobContext.check_cancelled``."""


class UnknownJobType(KeyError):
    pass


@dataclass
class JobType:
    name: str
    fn: Callable[..., Any]
    resumable: bool = False


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
        # Another process may have asked and its notice not arrived (SQLite,
        # a dropped connection): the flag on the row is the truth.
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
    def __init__(self, app: Flask, bus: EventBus, max_concurrent: int | None = None, *,
                 owner: str | None = None):
        self.app = app
        self.bus = bus
        # The name written on the rows of the jobs this runner runs: the
        # app's (``comicsrv.cluster``), unique to this process.
        self.owner = owner or new_owner()
        self.types: dict[str, JobType] = {}
        config = app.config
        self.executes = config.get("ROLE", "all") != "web"
        self.heartbeat_seconds = float(config.get("JOB_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS))
        self.stale_after = timedelta(seconds=float(config.get(
            "JOB_STALE_SECONDS", STALE_AFTER.total_seconds())))
        self.poll_seconds = float(config.get("JOB_POLL_SECONDS", 5.0))
        self.postgres = config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
        self._cancelled: set[int] = set()
        self._running: set[int] = set()
        # Jobs of this process whose row another process took over.
        self._lost: set[int] = set()
        self._slots = threading.BoundedSemaphore(
            int(max_concurrent or config.get("JOB_WORKERS", 4)))
        self._done: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._dispatcher_done = threading.Event()
        self._dispatching = False
        self._stopping = False
        self._beating = False

    # -- registration ------------------------------------------------------

    def register(self, name: str, fn: Callable[..., Any], *, resumable: bool = False) -> None:
        self.types[name] = JobType(name, fn, resumable)

    # -- submitting --------------------------------------------------------

    def _create(self, job_type: str, params: dict | None, target: str | None,
                user_id: int | None, *, running: bool = False) -> Job:
        if job_type not in self.types:
            raise UnknownJobType(job_type)
        now = utcnow()
        job = Job(type=job_type, params=params or {}, target=target, user_id=user_id,
                  state=RUNNING if running else QUEUED, owner=self.owner if running else None,
                  heartbeat_at=now, started_at=now if running else None)
        db.session.add(job)
        db.session.flush()
        event = self._event(job)
        relay = self.bus.relay
        if relay is not None:  # other processes hear "queued" before the run's events
            relay.send_within(db.session, [event])
        if self.postgres and not running:
            db.session.execute(select(func.pg_notify(JOBS_CHANNEL, str(job.id))))
        db.session.commit()
        self.bus.publish(event, remote=relay is None)
        return job

    def submit(self, job_type: str, params: dict | None = None, *, target: str | None = None,
               user_id: int | None = None) -> int:
        """Queue a job; returns its id. It runs in whichever process claims it."""
        job_id = self._create(job_type, params, target, user_id).id
        self._run_soon(job_id)
        return job_id

    def _run_soon(self, job_id: int) -> None:
        if not self.executes:
            return
        if self._dispatching:
            self.wake()
            return
        with self._lock:
            self._done[job_id] = threading.Event()
        pool.spawn(self._run_in_context, job_id, name=f"job-{job_id}")

    def run_now(self, job_type: str, params: dict | None = None, *,
                target: str | None = None, user_id: int | None = None) -> Job:
        """Run a job in this thread (inside an app context) and return its row.
        The row is written already running and owned by this process, so no
        worker claims it meanwhile."""
        job = self._create(job_type, params, target, user_id, running=True)
        self._execute(job.id)
        return db.session.get(Job, job.id, populate_existing=True)

    def wait(self, job_id: int, timeout: float | None = None) -> bool:
        """Block until the job ends, whichever process runs it; False when
        ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            event = self._done.get(job_id)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if event is not None and not event.wait(remaining):  # running here
                return False
            with self.app.app_context():
                state = db.session.execute(select(Job.state).where(Job.id == job_id)).scalar()
            if state is None or state not in ACTIVE_STATES:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1 if remaining is None else min(0.1, remaining))

    def cancel(self, job_id: int) -> bool:
        """Ask a job to stop, from any process. A queued job is cancelled at
        once; a running one at its next ``check_cancelled``. False if the job
        already ended."""
        asked = db.session.execute(
            update(Job).where(Job.id == job_id, Job.state.in_(ACTIVE_STATES))
            .values(cancel_requested=True).execution_options(synchronize_session=False))
        if not asked.rowcount:
            db.session.rollback()
            return False
        db.session.execute(
            update(Job).where(Job.id == job_id, Job.state == QUEUED)
            .values(state=CANCELLED, finished_at=utcnow())
            .execution_options(synchronize_session=False))
        if self.postgres:
            db.session.execute(select(func.pg_notify(JOBS_CHANNEL, f"cancel:{job_id}")))
        db.session.commit()
        self._cancelled.add(job_id)
        job = db.session.get(Job, job_id, populate_existing=True)
        self._publish(job)
        return True

    @property
    def running_jobs(self) -> list[int]:
        """Ids of the jobs running in this process now."""
        return list(self._running)

    def active_job(self, job_type: str, target: str | None) -> Job | None:
        return db.session.execute(
            db.select(Job).where(Job.type == job_type, Job.target == target,
                                 Job.state.in_(ACTIVE_STATES)).limit(1)
        ).scalar()

    def notice(self, payload: str) -> None:
        """A NOTIFY on ``comicsrv_jobs``: a job was queued (its id) or a
        cancel asked (``cancel:<id>``). Called by the cluster connection."""
        if payload.startswith("cancel:"):
            try:
                job_id = int(payload.removeprefix("cancel:"))
            except ValueError:
                return
            if job_id in self._running:
                self._cancelled.add(job_id)
        elif self._dispatching:
            self.wake()

    # -- dispatching -------------------------------------------------------

    def start(self) -> None:
        """Claim queued jobs from now on (every process that runs jobs, under
        ``comicsrv serve`` and the WSGI entry point)."""
        if self._dispatching or not self.executes:
            return
        self._dispatching = True
        self._stopping = False
        self._dispatcher_done.clear()
        pool.spawn(self._dispatch_loop, name="job-dispatcher")

    def stop(self, timeout: float = 5.0) -> None:
        """Claim nothing more (waits for the dispatcher to finish its round).
        Jobs already running go on until the process exits; their rows are
        then taken over by another worker."""
        if not self._dispatching:
            return
        self._stopping = True
        self.wake()
        self._dispatcher_done.wait(timeout)
        self._dispatching = False

    def wake(self) -> None:
        self._wake.set()

    def _dispatch_loop(self) -> None:
        try:
            self._dispatch()
        finally:
            self._dispatcher_done.set()

    def _dispatch(self) -> None:
        next_reap = 0.0
        while not self._stopping:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stopping:
                break
            try:
                with self.app.app_context():
                    if time.monotonic() >= next_reap:
                        next_reap = time.monotonic() + self.heartbeat_seconds
                        self.recover_interrupted()
                    self._claim_while_free()
            except Exception as exc:  # the database is unreachable: try again later
                log.warning("job dispatcher: %s: %s", type(exc).__name__, exc)

    def _claim_while_free(self) -> None:
        while not self._stopping and self._slots.acquire(blocking=False):
            try:
                job_id = self._claim()
            except BaseException:
                self._slots.release()
                raise
            if job_id is None:
                self._slots.release()
                return
            with self._lock:
                self._done.setdefault(job_id, threading.Event())
            pool.spawn(self._run_claimed, job_id, name=f"job-{job_id}")

    def _claim(self, job_id: int | None = None) -> int | None:
        """Take a queued job (``job_id``, or the oldest of a type this process
        knows) for this process; None when there is none to take."""
        if not self.types:
            return None
        pick = select(Job.id).where(Job.state == QUEUED, Job.type.in_(list(self.types)))
        if job_id is not None:
            pick = pick.where(Job.id == job_id)
        else:
            pick = pick.order_by(Job.created_at, Job.id).limit(1)
        # FOR NO KEY UPDATE, not FOR UPDATE: a row that points at the job
        # (downloads.job_id, written just after submit) holds FOR KEY SHARE on
        # it, which FOR UPDATE SKIP LOCKED would skip, leaving the job queued.
        pick = pick.with_for_update(skip_locked=True, key_share=True).scalar_subquery()
        now = utcnow()
        claimed = db.session.execute(
            update(Job).where(Job.id == pick, Job.state == QUEUED)
            .values(state=RUNNING, owner=self.owner, heartbeat_at=self._now(),
                    started_at=func.coalesce(Job.started_at, now))
            .returning(Job.id).execution_options(synchronize_session=False)).scalar()
        db.session.commit()
        return claimed

    # -- running -----------------------------------------------------------

    def _run_in_context(self, job_id: int) -> None:
        """A job this process submitted without dispatching: wait for a slot,
        claim it (unless cancelled or taken meanwhile) and run it."""
        try:
            with self._slots, self.app.app_context():
                if self._claim(job_id) is not None:
                    self._execute(job_id)
        finally:
            self._job_ended(job_id)

    def _run_claimed(self, job_id: int) -> None:
        try:
            with self.app.app_context():
                self._execute(job_id)
        finally:
            self._slots.release()
            self._job_ended(job_id)
            self.wake()  # a slot is free

    def _job_ended(self, job_id: int) -> None:
        # Dropped once set: a later wait() reads the row, and the map does
        # not grow with every job of a long uptime.
        with self._lock:
            event = self._done.pop(job_id, None)
        if event is not None:
            event.set()

    def _execute(self, job_id: int) -> None:
        """Run a job this process owns (claimed, or made by ``run_now``)."""
        job = db.session.get(Job, job_id, populate_existing=True)
        if job is None or job.state != RUNNING or job.owner != self.owner:
            return
        self._running.add(job_id)
        self._ensure_heartbeat()
        try:
            if job.cancel_requested or job_id in self._cancelled:
                self._finish(job, CANCELLED)
                return
            self._publish(job)
            ctx = JobContext(self, job)
            spec = self.types[job.type]
            started = time.monotonic()
            try:
                result = spec.fn(ctx, **ctx.params)
            except JobCancelled:
                db.session.rollback()
                self._finish(job, CANCELLED, ctx=ctx)
                log.info("job %s %s cancelled after %.1f s", job_id, spec.name,
                         time.monotonic() - started)
            except Exception as exc:
                db.session.rollback()
                if job_id in self._lost:
                    log.warning("job %s (%s) stopped after another process took it over",
                                job_id, spec.name)
                elif _expected(exc):
                    log.warning("job %s %s failed after %.1f s: %s", job_id, spec.name,
                                time.monotonic() - started, exc)
                else:
                    log.exception("job %s (%s) failed", job_id, spec.name)
                self._finish(job, FAILED, ctx=ctx, error=f"{type(exc).__name__}: {exc}")
            else:
                self._finish(job, FINISHED, ctx=ctx, result=result)
                log.info("job %s %s finished in %.1f s: %s", job_id, spec.name,
                         time.monotonic() - started, ctx.outcome or _numbers(result))
        finally:
            self._running.discard(job_id)
            self._cancelled.discard(job_id)
            self._lost.discard(job_id)

    def _finish(self, job: Job, state: str, *, ctx: JobContext | None = None,
                result: Any = None, error: str | None = None) -> None:
        job_id, job_type = job.id, job.type
        values: dict[str, Any] = {"state": state, "finished_at": utcnow(),
                                  "heartbeat_at": self._now()}
        if ctx is not None:
            values.update(progress_current=ctx.current, progress_total=ctx.total,
                          progress_message=ctx.message or None)
        if result is not None:
            values["result"] = result
        if error is not None:
            values["error"] = error
        written = db.session.execute(
            update(Job).where(Job.id == job_id, Job.owner == self.owner, Job.state == RUNNING)
            .values(**values).execution_options(synchronize_session=False))
        db.session.commit()
        if not written.rowcount:
            log.warning("job %s (%s) was %s; this run's outcome (%s) is dropped",
                        job_id, job_type, TAKEN_OVER, state)
            return
        job = db.session.get(Job, job_id, populate_existing=True)
        self._publish(job)

    def _write_progress(self, ctx: JobContext) -> None:
        written = db.session.execute(
            update(Job).where(Job.id == ctx.job_id, Job.owner == self.owner,
                              Job.state == RUNNING)
            .values(progress_current=ctx.current, progress_total=ctx.total,
                    progress_message=ctx.message or None, heartbeat_at=self._now())
            .execution_options(synchronize_session=False))
        db.session.commit()
        if not written.rowcount:
            self._taken_over([ctx.job_id])
            return
        self.bus.publish(TaskProgress(
            task_id=ctx.job_id, task_type=ctx.job_type, status=RUNNING,
            progress={"current": ctx.current, "total": ctx.total, "message": ctx.message}))

    def _taken_over(self, job_ids: list[int]) -> None:
        """Rows of jobs running here no longer name this process: stop them."""
        for job_id in job_ids:
            if job_id in self._running and job_id not in self._lost:
                log.warning("job %s was %s (this process looked dead); stopping it here",
                            job_id, TAKEN_OVER)
                self._lost.add(job_id)
                self._cancelled.add(job_id)

    def _publish(self, job: Job) -> None:
        self.bus.publish(self._event(job))

    @staticmethod
    def _event(job: Job) -> TaskProgress:
        return TaskProgress(
            task_id=job.id, task_type=job.type, status=job.state,
            progress={"current": job.progress_current or 0, "total": job.progress_total or 0,
                      "message": job.progress_message or ""})

    def _now(self):
        """Now for ``heartbeat_at``: the database's clock on PostgreSQL, so hosts
        whose clocks disagree still agree on whose heartbeat is stale."""
        return db_now() if self.postgres else utcnow()

    # -- heartbeats and takeovers ------------------------------------------

    def _ensure_heartbeat(self) -> None:
        with self._lock:
            if self._beating:
                return
            self._beating = True
        pool.spawn(self._beat, name="job-heartbeat")

    def _beat(self) -> None:
        """Refresh the heartbeat of this process's running jobs until none is
        left; notice any that another process took over."""
        try:
            while True:
                time.sleep(self.heartbeat_seconds)
                with self._lock:
                    if not self._running:
                        self._beating = False
                        return
                running = list(self._running)
                try:
                    with self.app.app_context():
                        kept = set(db.session.execute(
                            update(Job).where(Job.id.in_(running), Job.owner == self.owner,
                                              Job.state == RUNNING)
                            .values(heartbeat_at=self._now()).returning(Job.id)
                            .execution_options(synchronize_session=False)).scalars())
                        db.session.commit()
                    # A job that ended between the two reads is not lost.
                    self._taken_over([i for i in running if i not in kept
                                      and i in self._running])
                except Exception as exc:
                    log.warning("job heartbeat failed: %s: %s", type(exc).__name__, exc)
        except BaseException:
            with self._lock:
                self._beating = False
            raise

    def _is_dead(self, job: Job, stale: bool) -> bool:
        if job.owner == self.owner:
            return False  # ours: alive by definition
        alive = parse_owner(job.owner).alive()
        return stale if alive is None else not alive

    def recover_interrupted(self) -> list[int]:
        """Take over the running jobs whose process died. Returns their ids.

        Called on start and then every heartbeat by each dispatching process.
        """
        cutoff = (db_now() if self.postgres else utcnow()) - self.stale_after
        stale_flag = (Job.heartbeat_at.is_(None)) | (Job.heartbeat_at < cutoff)
        rows = db.session.execute(
            select(Job, stale_flag.label("stale")).where(Job.state == RUNNING)).all()
        db.session.commit()
        recovered = []
        for job, stale in rows:
            if not self._is_dead(job, bool(stale)):
                continue
            spec = self.types.get(job.type)
            resume = spec is not None and spec.resumable and not job.cancel_requested
            values = ({"state": QUEUED, "owner": None, "heartbeat_at": self._now()} if resume
                      else {"state": FAILED, "finished_at": utcnow(), "error": INTERRUPTED,
                            "heartbeat_at": self._now()})
            taken = db.session.execute(
                update(Job).where(Job.id == job.id, Job.state == RUNNING,
                                  Job.owner == job.owner)
                .values(**values).execution_options(synchronize_session=False))
            if resume and taken.rowcount and self.postgres:
                db.session.execute(select(func.pg_notify(JOBS_CHANNEL, str(job.id))))
            db.session.commit()
            if not taken.rowcount:
                continue  # another process took it first
            recovered.append(job.id)
            gone = job.owner or "a process that stopped"
            job = db.session.get(Job, job.id, populate_existing=True)
            if resume:
                log.warning("job %s (%s) of %s was interrupted; running it again",
                            job.id, job.type, gone)
                self._run_soon(job.id)
            else:
                log.warning("job %s (%s) of %s was interrupted; marked failed",
                            job.id, job.type, gone)
            self._publish(job)
        return recovered
