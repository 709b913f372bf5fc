"""``/api/v1/program``: control of the automation (SystemAdmin; AutoBangumi's
program status/start/stop/restart).

The automation is the scheduled RSS checks, searches, download monitoring
and metadata refreshes. Start and stop switch the ``automation.enabled``
setting (so the choice survives a restart of the server) and reinstall the
schedules at once; restart reinstalls them from the current settings. The
web UI stays up throughout.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ... import __version__, services, settings_store
from ...auth import current_principal, require
from ...automation.schedule import SCHEDULES, schedule_automation
from .rss import SECURITY

blp = Blueprint("v1_program", __name__, url_prefix="/api/v1",
                description="Program control: start, stop, restart the automation")

SCHEDULE_PREFIX = "schedule:"


class ScheduleSchema(Schema):
    job_type = fields.String()
    setting = fields.String(metadata={"description": "the setting holding its interval"})
    interval_seconds = fields.Float(allow_none=True)
    next_run = fields.String(allow_none=True, metadata={"description": "ISO 8601, UTC"})
    installed = fields.Boolean()


class StatusSchema(Schema):
    status = fields.String(metadata={"description": "running or stopped"})
    version = fields.String()
    automation_enabled = fields.Boolean()
    scheduler_running = fields.Boolean()
    first_run = fields.Boolean(metadata={"description": "the setup wizard is not complete"})
    schedules = fields.List(fields.Nested(ScheduleSchema))


def status() -> dict[str, Any]:
    app = current_app._get_current_object()
    # In a web process, what the leader (a worker) last recorded.
    overview = services.scheduler(app).overview()
    installed = {s["id"].removeprefix(SCHEDULE_PREFIX): s for s in overview["schedules"]
                 if s["id"].startswith(SCHEDULE_PREFIX)}
    enabled = bool(settings_store.get_setting("automation.enabled"))
    schedules = []
    for job_type, key, unit in SCHEDULES:
        found = installed.get(job_type)
        schedules.append({"job_type": job_type, "setting": key,
                          "interval_seconds": float(settings_store.get_setting(key) * unit)
                          if found else None,
                          "next_run": found["next_run"] if found else None,
                          "installed": found is not None})
    running = enabled and overview["running"] and any(s["installed"] for s in schedules)
    return {"status": "running" if running else "stopped", "version": __version__,
            "automation_enabled": enabled, "scheduler_running": overview["running"],
            "first_run": not settings_store.get_setting("wizard.completed"),
            "schedules": schedules}


def _switch(enabled: bool | None) -> dict[str, Any]:
    if enabled is not None:
        settings_store.set_setting("automation.enabled", enabled, current_principal().user.id)
    app = current_app._get_current_object()
    schedule_automation(app)
    services.scheduler(app).changed("automation switched")
    return status()


@blp.route("/program/status")
class ProgramStatus(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, StatusSchema)
    def get(self):
        """Whether the automation runs, and each schedule with its next run."""
        return status()


def _control_route(action: str, enabled: bool | None, doc: str) -> None:
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, StatusSchema)
    def post(self):
        return _switch(enabled)

    post.__doc__ = doc
    blp.route(f"/program/{action}")(type(f"Program{action.title()}", (MethodView,), {"post": post}))


_control_route("start", True, "Turn the automation on and schedule it at once.")
_control_route("stop", False, "Turn the automation off; running jobs finish, no new ones start.")
_control_route("restart", True, "Stop and start again: the automation on, every schedule "
               "reinstalled from the current settings.")


class ShutdownSchema(Schema):
    message = fields.String()


@blp.route("/program/shutdown")
class ProgramShutdown(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(202, ShutdownSchema)
    def post(self):
        """Stop the whole server cleanly once this answer is sent (409 when
        another WSGI server, not `comicsrv serve`, runs this process)."""
        from ...lifecycle import schedule_stop

        schedule_stop(restart=False)
        return {"message": "Shutting down"}
