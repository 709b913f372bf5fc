"""The automation schedules follow the admin's settings."""
from comicsrv.automation.schedule import SCHEDULES, schedule_automation
from comicsrv.settings_store import set_setting


def _register_all(app):
    runner = app.extensions["comicsrv.jobs"]
    for job_type, _, _ in SCHEDULES:
        if job_type not in runner.types:
            runner.register(job_type, lambda ctx: None)


def _installed(app):
    return {s["id"]: s["trigger"] for s in app.extensions["comicsrv.scheduler"].schedules()}


def test_every_automation_job_runs_at_its_configured_interval(app):
    _register_all(app)
    installed = schedule_automation(app)
    assert installed == {"automation.rss": 15 * 60, "automation.search_wanted": 360 * 60,
                         "automation.monitor_downloads": 60,
                         "automation.refresh_metadata": 24 * 3600}
    assert _installed(app)["schedule:automation.rss"] == "interval[0:15:00]"


def test_a_changed_interval_applies_and_disabling_removes_every_schedule(app, admin):
    _register_all(app)
    schedule_automation(app)
    set_setting("automation.rss_interval_minutes", 30, admin.id)
    assert schedule_automation(app)["automation.rss"] == 1800
    assert _installed(app)["schedule:automation.rss"] == "interval[0:30:00]"
    set_setting("automation.enabled", False, admin.id)
    assert schedule_automation(app) == {}
    assert not [i for i in _installed(app) if i.startswith("schedule:automation.")]


def test_the_settings_api_reschedules_a_running_scheduler(app, client, admin_headers):
    _register_all(app)
    scheduler = app.extensions["comicsrv.scheduler"]
    schedule_automation(app)
    scheduler.start()
    try:
        response = client.put("/api/v1/admin/settings/automation.monitor_interval_seconds",
                              json={"value": 120}, headers=admin_headers)
        assert response.status_code == 200
        assert _installed(app)["schedule:automation.monitor_downloads"] == "interval[0:02:00]"
    finally:
        scheduler.shutdown()
