"""When the automation runs: RSS checks, searches for wanted issues,
download monitoring and metadata refreshes, at the intervals the admin set.

Each run is a job row (see ``comicsrv.jobs``) whose target is its own type,
so a run still going when the next is due makes the next one skip instead of
piling up. ``schedule_automation`` is called on start and again whenever an
``automation.*`` setting changes, so a new interval applies at once.
"""
from __future__ import annotations

import logging
from typing import Iterable

from flask import Flask, current_app

from .. import services
from ..settings_store import get_setting

log = logging.getLogger(__name__)

# (job type, setting holding its interval, seconds per unit of that setting)
SCHEDULES: tuple[tuple[str, str, int], ...] = (
    ("automation.rss", "automation.rss_interval_minutes", 60),
    ("automation.search_wanted", "automation.search_interval_minutes", 60),
    ("automation.monitor_downloads", "automation.monitor_interval_seconds", 1),
    ("automation.refresh_metadata", "automation.metadata_refresh_hours", 3600),
)


def schedule_automation(app: Flask) -> dict[str, float]:
    """(Re)install the automation schedules; returns {job type: seconds} of
    those installed. Job types no plugin or module registered are skipped."""
    scheduler = services.scheduler(app)
    runner = services.jobs(app)
    installed: dict[str, float] = {}
    with app.app_context():
        enabled = get_setting("automation.enabled")
        for job_type, key, unit in SCHEDULES:
            schedule_id = f"schedule:{job_type}"
            if not enabled or job_type not in runner.types:
                scheduler.remove(schedule_id)
                continue
            seconds = float(get_setting(key) * unit)
            scheduler.every(schedule_id, seconds, job_type, target=job_type)
            installed[job_type] = seconds
    log.info("automation schedules: %s", installed or "off")
    return installed


def apply_setting_changes(keys: Iterable[str]) -> None:
    """After an admin changed ``keys``: reschedule at once when any is an
    ``automation.*`` or ``backup.*`` setting, here when the scheduler runs
    here and in every other scheduling process (every settings endpoint of
    every surface calls this)."""
    changed = [key for key in keys if key.startswith(("automation.", "backup."))]
    if changed:
        app = current_app._get_current_object()
        scheduler = services.scheduler(app)
        if scheduler.running:
            if any(key.startswith("automation.") for key in changed):
                schedule_automation(app)
            if any(key.startswith("backup.") for key in changed):
                from ..backup import schedule_backups

                schedule_backups(app)
        scheduler.changed("settings " + ", ".join(changed))
