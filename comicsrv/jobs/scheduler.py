"""APScheduler wiring: periodic triggers that submit jobs to the runner.

The scheduler only decides *when*; what runs is always a job row, so every
scheduled run shows up in the task list with its progress and outcome.
"""
from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

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
        with self.app.app_context():
            runner = self.app.extensions["comicsrv.jobs"]
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
