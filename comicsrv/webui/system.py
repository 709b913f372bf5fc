"""System: status (version, database, folders with their free space,
plugins), scheduled tasks with their last and next run and "run now", the
running jobs with live progress and cancel, the logs with a level filter
that follow live, and the first-run automation wizard.

Backups are not here yet: the backup service belongs to the operability
work and its panel comes with it.
"""
from __future__ import annotations

import platform
import shutil
import time
from typing import Any, Iterator

from flask import Response, current_app, redirect, render_template, request, stream_with_context, url_for
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from .. import __version__, services, settings_store
from ..automation.schedule import SCHEDULES
from ..errors import BadRequest, Conflict, DomainError
from ..events import KEEPALIVE_SECONDS, format_sse
from ..extensions import db
from ..logbuffer import EXTENSION as LOGS_EXTENSION
from ..logbuffer import LEVELS, log_buffer
from ..models import Job
from ..models.jobs import ACTIVE_STATES
from . import blp
from .arr import ADMIN, done, field_errors
from .settings_pages import CLIENTS, INDEXERS, NOTIFICATIONS, IntegrationSection, _read, form_specs
from .shell import login_required, principal

TASK_LABELS = {
    "automation.rss": "RSS check",
    "automation.search_wanted": "Search wanted issues",
    "automation.monitor_downloads": "Check download clients",
    "automation.refresh_metadata": "Refresh metadata",
    "automation.postprocess": "Import a download",
    "library.scan": "Library scan",
    "library.archive_ids": "Compute archive ids",
    "library.duplicates": "Find duplicates",
    "jobs.prune": "Clean up old tasks",
}
# What "run now" may start: the scheduled jobs that need no parameters.
RUNNABLE = tuple(job_type for job_type, _key, _unit in SCHEDULES) + ("jobs.prune",)
RECENT_JOBS = 25
LOG_LIMIT = 300
WIZARD_STEPS = (("client", "Download client", CLIENTS), ("indexer", "Indexer", INDEXERS),
                ("notification", "Notification", NOTIFICATIONS))
WIZARD_COMPLETED = "wizard.completed"


def task_label(job_type: str) -> str:
    return TASK_LABELS.get(job_type, job_type)


# --- status ------------------------------------------------------------------------------------

def _folder(path: str) -> dict[str, Any]:
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return {"path": path, "error": exc.strerror or str(exc)}
    return {"path": path, "free": usage.free, "total": usage.total,
            "percent_free": int(usage.free * 100 / usage.total) if usage.total else 0}


@blp.get("/system")
@login_required(ADMIN)
def system():
    registry = services.plugins()
    url = make_url(current_app.config["DATABASE_URL"])
    started = current_app.extensions.get("comicsrv.started", time.monotonic())
    folders = [("Data folder", _folder(current_app.config["DATA_DIR"])),
               ("Cache folder", _folder(current_app.config["CACHE_DIR"]))]
    from ..models import Library

    for library in db.session.execute(select(Library).order_by(Library.name)).scalars():
        folders.append((f"Library {library.name}", _folder(library.path)))
    return render_template(
        "web/arr/system_status.html", version=__version__, python=platform.python_version(),
        platform=platform.platform(terse=True),
        database={"dialect": url.get_backend_name(),
                  "url": url.render_as_string(hide_password=True)},
        folders=folders, plugins=registry.describe(), failures=registry.failures,
        scheduler=services.scheduler().running,
        uptime=int(time.monotonic() - started))


# --- tasks and jobs ------------------------------------------------------------------------------

def _last_runs(types: list[str]) -> dict[str, Job]:
    newest = (select(Job.type, func.max(Job.id).label("id")).where(Job.type.in_(types))
              .group_by(Job.type).subquery())
    return {job.type: job for job in db.session.execute(
        select(Job).join(newest, newest.c.id == Job.id)).scalars()}


def scheduled_tasks() -> list[dict[str, Any]]:
    """Every schedule this process runs, with its interval, next run (from
    the scheduler) and last run (from the job table)."""
    schedules = {s["id"]: s for s in services.scheduler().schedules()}
    intervals = {job_type: float(settings_store.get_setting(key) * unit)
                 for job_type, key, unit in SCHEDULES}
    intervals["jobs.prune"] = 24 * 3600.0
    runs = _last_runs(list(RUNNABLE))
    tasks = []
    for job_type in RUNNABLE:
        schedule = schedules.get(f"schedule:{job_type}") or schedules.get(job_type)
        tasks.append({"type": job_type, "label": task_label(job_type),
                      "interval": intervals.get(job_type), "last": runs.get(job_type),
                      "next": schedule["next_run"] if schedule else None,
                      "scheduled": schedule is not None})
    return tasks


def jobs_view() -> dict[str, Any]:
    active = list(db.session.execute(select(Job).where(Job.state.in_(ACTIVE_STATES))
                                     .order_by(Job.id)).scalars())
    recent = list(db.session.execute(select(Job).where(Job.state.not_in(ACTIVE_STATES))
                                     .order_by(Job.id.desc()).limit(RECENT_JOBS)).scalars())
    return {"active": active, "recent": recent, "label": task_label}


@blp.get("/system/tasks")
@login_required(ADMIN)
def system_tasks():
    return render_template("web/arr/system_tasks.html", tasks=scheduled_tasks(),
                           scheduler=services.scheduler().running,
                           **jobs_view())


@blp.post("/system/tasks/run")
@login_required(ADMIN)
def system_task_run():
    """Run a scheduled task now (unless it is running already)."""
    job_type = request.form.get("type") or ""
    if job_type not in RUNNABLE:
        raise BadRequest(f"{job_type[:64]!r} is not a task that can be run from here.")
    runner = services.jobs()
    running = runner.active_job(job_type, job_type)
    if running is not None:
        done(f"{task_label(job_type)} is running already (task {running.id}).", "bad")
    else:
        job_id = runner.submit(job_type, {}, target=job_type, user_id=principal().user.id)
        done(f"{task_label(job_type)} started (task {job_id}).")
    return redirect(url_for("web.system_tasks"), 303)


@blp.post("/system/tasks/<int:job_id>/cancel")
@login_required(ADMIN)
def system_task_cancel(job_id: int):
    job = db.session.get(Job, job_id)
    if job is None or not services.jobs().cancel(job.id):
        raise Conflict(f"Task {job_id} is not running.")
    done(f"Asked task {job_id} ({task_label(job.type)}) to stop.")
    return redirect(url_for("web.system_tasks"), 303)


@blp.get("/system/tasks/events")
@login_required(ADMIN)
def system_task_events():
    """SSE: ``jobs`` events carry the running and recent jobs as HTML."""
    keepalive = float(current_app.config.get("SSE_KEEPALIVE_SECONDS") or KEEPALIVE_SECONDS)
    db.session.rollback()
    return Response(stream_with_context(_jobs_stream(keepalive)), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _jobs_stream(keepalive: float) -> Iterator[str]:
    bus = services.events()
    sub = bus.subscribe({"task_progress"})
    try:
        while True:
            yield format_sse("jobs", render_template("web/arr/_jobs.html", **jobs_view()))
            db.session.rollback()
            while (event := sub.get(timeout=keepalive)) is None:
                yield ": keep-alive\n\n"
            # Progress comes in bursts: at most a few renders a second.
            deadline = time.monotonic() + 0.3
            while event is not None and time.monotonic() < deadline:
                event = sub.get(timeout=max(0.0, deadline - time.monotonic()))
    finally:
        sub.close()


# --- logs ---------------------------------------------------------------------------------------

def _log_records(level: str | None) -> list[dict[str, Any]]:
    buffer = current_app.extensions.get(LOGS_EXTENSION) or log_buffer()
    return buffer.records(level, LOG_LIMIT)


@blp.get("/system/logs")
@login_required(ADMIN)
def system_logs():
    level = request.args.get("level") if request.args.get("level") in LEVELS else "INFO"
    template = "web/arr/_log_rows.html" if request.args.get("rows") == "1" \
        else "web/arr/system_logs.html"
    return render_template(template, records=_log_records(level), level=level, levels=LEVELS,
                           follow=request.args.get("follow") == "1")


# --- the first-run automation wizard -------------------------------------------------------------

def _step(name: str) -> tuple[str, str, IntegrationSection]:
    for step in WIZARD_STEPS:
        if step[0] == name:
            return step
    raise BadRequest(f"The wizard's steps are {', '.join(s[0] for s in WIZARD_STEPS)}.")


def _wizard_page(status: int = 200, **current: Any):
    """The wizard: where each step stands, and the form of one step at a
    time (``?step=``, else the first one not done yet)."""
    from ..automation import integrations

    configured = {name: spec.listing() for name, _label, spec in WIZARD_STEPS}
    step = current.get("step") or request.args.get("step")
    if step not in configured:
        step = next((name for name, _l, _s in WIZARD_STEPS if not configured[name]),
                    WIZARD_STEPS[0][0])
    name, label, spec = _step(step)
    kind = current.get("kind") or request.args.get("kind")
    if kind not in spec.kinds():
        kind = next(iter(spec.kinds()), "")
    html = render_template(
        "web/arr/wizard.html", steps=WIZARD_STEPS, configured=configured, step=name,
        step_label=label, spec=spec, kind=kind, specs=form_specs(spec, kind),
        secrets=integrations.secret_fields(spec.category, kind),
        completed=settings_store.get_setting(WIZARD_COMPLETED),
        values=current.get("values") or {}, errors=current.get("errors") or {},
        error=current.get("error"), test=current.get("test"), next_step=_next_step(name))
    return html, status


def _next_step(name: str) -> str | None:
    names = [n for n, _label, _spec in WIZARD_STEPS]
    index = names.index(name)
    return names[index + 1] if index + 1 < len(names) else None


@blp.get("/system/wizard")
@login_required(ADMIN)
def wizard():
    return _wizard_page()


@blp.post("/system/wizard/<step>")
@login_required(ADMIN)
def wizard_step(step: str):
    """Test the step's values; save them only when the test passes."""
    name, label, spec = _step(step)
    kind = request.form.get("kind") or ""
    if kind not in spec.kinds():
        raise BadRequest(f"Choose the kind of {spec.noun}.")
    data, reader = _read(spec, kind)
    values = {k: v for k, v in request.form.items()
              if not k.startswith("settings.") or k[9:] not in _secret_names(spec, kind)}
    try:
        reader.fail_if_errors()
        result = spec.test_unsaved(kind, data["settings"], None)
    except DomainError as exc:
        return _wizard_page(exc.status, step=name, kind=kind, errors=field_errors(exc),
                            error=exc.message, values=values)
    if not result.ok:
        return _wizard_page(400, step=name, kind=kind, test=result, values=values,
                            error=f"The test failed, so nothing was saved: {result.message}")
    try:
        row = spec.create({**data, "kind": kind})
    except DomainError as exc:
        return _wizard_page(exc.status, step=name, kind=kind, errors=field_errors(exc),
                            error=exc.message, values=values, test=result)
    done(f"{label}: {row.name} passed its test ({result.message}) and is saved.")
    return redirect(url_for("web.wizard", step=_next_step(name) or name), 303)


def _secret_names(spec: IntegrationSection, kind: str) -> set[str]:
    from ..automation import integrations

    return integrations.secret_fields(spec.category, kind)


@blp.post("/system/wizard/finish")
@login_required(ADMIN)
def wizard_finish():
    settings_store.set_setting(WIZARD_COMPLETED, True, principal().user.id)
    done("The automation is set up. Add a series to watch under Series.")
    return redirect(url_for("web.watchlist"), 303)

