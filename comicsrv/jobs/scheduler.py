"""APScheduler wiring: periodic triggers that submit jobs to the runner.

The scheduler only decides *when*; what runs is always a job row, so every
scheduled run shows up in the task list with its progress and outcome.

Every process that runs jobs runs this scheduler, but a trigger submits its
job only in the leader (``comicsrv.cluster``: the holder of a PostgreSQL
advisory lock; on SQLite, the one process). The others keep their triggers
ticking, so a worker that takes over after the leader died fires the very
next due trigger. Schedules come from *sources* (library scans, automation
intervals, upkeep), each a function that (re)installs its own; when another
process changes what a schedule depends on (a library's cron, an automation
setting) it publishes ``SchedulesChanged`` and every scheduling process
rebuilds them from the database.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from .. import services
from ..events import Event, SchedulesChanged
from . import pool

log = logging.getLogger(__name__)


def make_scheduler() -> BaseScheduler:
    if pool.gevent_active():
        from apscheduler.schedulers.gevent import GeventScheduler

        return GeventScheduler(timezone="UTC")
    from apscheduler.schedulers.background import BackgroundScheduler

    return BackgroundScheduler(timezone="UTC")


class Scheduler:
    """Submits a job type on an interval or a cron schedule."""

    def __init__(self, app: Flask):
        self.app = app
        self._scheduler: BaseScheduler | None = None
        self._sources: list[Callable[[Flask], Any]] = []
        self._listening = False

    def add_source(self, install: Callable[[Flask], Any]) -> None:
        """``install(app)`` puts a set of schedules in place; it is called now
        and again whenever the schedules are rebuilt, so it must replace (not
        add to) what it installed before."""
        self._sources.append(install)
        install(self.app)

    def resync(self) -> None:
        """Rebuild every schedule from the database (another process changed
        what they depend on)."""
        for install in self._sources:
            try:
                install(self.app)
            except Exception:
                log.exception("rebuilding the schedules of %r failed", install)

    def changed(self, reason: str) -> None:
        """Tell the scheduling processes elsewhere that ``reason`` changed what
        a schedule depends on. (This process changed its own schedules already.)"""
        services.events(self.app).publish(
            SchedulesChanged(reason=reason, origin=services.jobs(self.app).owner))

    def follow_changes(self) -> None:
        """Rebuild the schedules when another process says they changed."""
        if self._listening:
            return
        self._listening = True
        me = services.jobs(self.app).owner

        def on_event(event: Event) -> None:
            if isinstance(event, SchedulesChanged) and event.origin != me and self.running:
                pool.spawn(self._resync_in_context, name="schedules-resync")

        services.events(self.app).add_listener(on_event, everywhere=True)

    def _resync_in_context(self) -> None:
        with self.app.app_context():
            self.resync()
        cluster = self.app.extensions.get("comicsrv.cluster")
        if cluster is not None and cluster.is_leader:
            cluster.refresh_node()  # status pages of other processes show the change

    def overview(self) -> dict[str, Any]:
        """Whether the deployment's scheduler runs, and its schedules: this
        process's own when it fires them (or has no cluster part), else those
        the leader last recorded in ``cluster_nodes``."""
        cluster = self.app.extensions.get("comicsrv.cluster")
        if cluster is None or not cluster.started or not cluster.postgres or cluster.is_leader:
            return {"running": self.running and self.fires(), "schedules": self.schedules()}
        leader = cluster.leader_node()
        if leader is None:
            return {"running": False, "schedules": []}
        return {"running": True, "schedules": list(leader.schedules or [])}

    def fires(self) -> bool:
        """Whether triggers submit their jobs here: in the leader, or in a
        process that has no cluster part (tests, embedding)."""
        cluster = self.app.extensions.get("comicsrv.cluster")
        return cluster is None or not cluster.started or cluster.is_leader

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    def start(self) -> None:
        if self.running:
            return
        self._scheduler = self._scheduler or make_scheduler()
        self._scheduler.start()
        log.info("scheduler started")

    def shutdown(self) -> None:
        if self.running:
            self._scheduler.shutdown(wait=False)

    def _ensure(self) -> BaseScheduler:
        if self._scheduler is None:
            self._scheduler = make_scheduler()
        return self._scheduler

    def _submit(self, job_type: str, params: dict[str, Any] | None, target: str | None) -> None:
        if not self.fires():
            return  # another process leads and fires this trigger
        with self.app.app_context():
            runner = services.jobs(self.app)
            if target is not None and runner.active_job(job_type, target) is not None:
                log.info("%s for %s still running; skipping this run", job_type, target)
                return
            runner.submit(job_type, params, target=target)

    def every(self, schedule_id: str, seconds: float, job_type: str,
              params: dict[str, Any] | None = None, target: str | None = None) -> None:
        self.remove(schedule_id)
        self._ensure().add_job(self._submit, IntervalTrigger(seconds=seconds), id=schedule_id,
                               args=(job_type, params, target), replace_existing=True,
                               coalesce=True, max_instances=1)

    def cron(self, schedule_id: str, expression: str, job_type: str,
             params: dict[str, Any] | None = None, target: str | None = None) -> None:
        """Five-field crontab expression, e.g. ``0 3 * * *``."""
        trigger = CronTrigger.from_crontab(expression, timezone="UTC")
        self.remove(schedule_id)
        self._ensure().add_job(self._submit, trigger, id=schedule_id,
                               args=(job_type, params, target), replace_existing=True,
                               coalesce=True, max_instances=1)

    def remove(self, schedule_id: str) -> None:
        # Before start, APScheduler keeps a replaced job twice in its pending
        # list and removes one per call.
        while self._scheduler is not None and self._scheduler.get_job(schedule_id):
            self._scheduler.remove_job(schedule_id)

    def ids(self) -> set[str]:
        return {job.id for job in self._scheduler.get_jobs()} if self._scheduler else set()

    def schedules(self) -> list[dict[str, Any]]:
        if self._scheduler is None:
            return []
        schedules = []
        for job in self._scheduler.get_jobs():
            # A job added before the scheduler starts has no next run time yet.
            next_run = getattr(job, "next_run_time", None)
            schedules.append({"id": job.id, "next_run": next_run.isoformat() if next_run else None,
                              "trigger": str(job.trigger)})
        return schedules
