"""``/api/v1/program``: start, stop and restart the automation on the app's
real APScheduler; the choice is the ``automation.enabled`` setting."""
from __future__ import annotations

from datetime import datetime

import pytest

from comicsrv.automation.schedule import SCHEDULES
from comicsrv.settings_store import get_setting, set_setting
from tests.factories import UserFactory, api_key_for

URL = "/api/v1/program"


@pytest.fixture
def scheduler(app):
    runner = app.extensions["comicsrv.jobs"]
    for job_type, _, _ in SCHEDULES:
        if job_type not in runner.types:
            runner.register(job_type, lambda ctx: None)
    scheduler = app.extensions["comicsrv.scheduler"]
    scheduler.start()
    yield scheduler
    scheduler.shutdown()


def _installed(scheduler) -> set[str]:
    return {s["id"] for s in scheduler.schedules() if s["id"].startswith("schedule:automation.")}


def test_status_before_anything_is_scheduled(client, admin_headers):
    body = client.get(f"{URL}/status", headers=admin_headers).json
    assert body["status"] == "stopped" and body["automation_enabled"] is True
    assert body["first_run"] is True and body["version"]
    assert [s["job_type"] for s in body["schedules"]] == [j for j, _, _ in SCHEDULES]
    assert not any(s["installed"] for s in body["schedules"])


def test_stop_start_restart(client, admin_headers, scheduler, admin):
    started = client.post(f"{URL}/start", headers=admin_headers).json
    assert started["status"] == "running" and started["scheduler_running"] is True
    by_type = {s["job_type"]: s for s in started["schedules"]}
    assert by_type["automation.rss"]["interval_seconds"] == 15 * 60
    assert datetime.fromisoformat(by_type["automation.monitor_downloads"]["next_run"])
    assert len(_installed(scheduler)) == len(SCHEDULES)

    stopped = client.post(f"{URL}/stop", headers=admin_headers).json
    assert stopped["status"] == "stopped" and stopped["automation_enabled"] is False
    assert get_setting("automation.enabled") is False
    assert _installed(scheduler) == set()
    assert all(s["next_run"] is None for s in stopped["schedules"])
    # Stopped stays stopped: the status says so without changing anything.
    assert client.get(f"{URL}/status", headers=admin_headers).json["status"] == "stopped"

    # Restart takes the current settings: a changed interval applies.
    set_setting("automation.rss_interval_minutes", 30, admin.id)
    restarted = client.post(f"{URL}/restart", headers=admin_headers).json
    assert restarted["status"] == "running" and get_setting("automation.enabled") is True
    rss = next(s for s in restarted["schedules"] if s["job_type"] == "automation.rss")
    assert rss["interval_seconds"] == 1800 and rss["installed"] is True


def test_only_a_system_admin_controls_the_program(client):
    headers = {"X-API-Key": api_key_for(UserFactory(), ["BooksRead"])}
    assert client.get(f"{URL}/status", headers=headers).status_code == 403
    assert client.post(f"{URL}/stop", headers=headers).status_code == 403
    assert get_setting("automation.enabled") is True
