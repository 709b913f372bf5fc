"""Libraries and their scans: start one (normal or deep), watch its progress
live, read its result (added, changed, moved, missing, errored with reasons).

Progress reaches the page over SSE as ready-made HTML (htmx's SSE
extension swaps each event's data into the page), from the same event bus
that feeds ``/api/v1/scans/stream``.
"""
from __future__ import annotations

import time
from typing import Iterator

from flask import Response, current_app, redirect, render_template, request, stream_with_context, url_for
from sqlalchemy import func, select

from .. import services
from ..errors import NotFound
from ..events import KEEPALIVE_SECONDS, format_sse
from ..extensions import db
from ..library.scanner import SCAN_JOB
from ..library.scans import request_scan, scan_target
from ..models import Book, Job, Library
from ..models.jobs import ACTIVE_STATES
from ..api.v1.schemas import library_items
from . import blp
from .shell import is_htmx, login_required, principal
from ..models.library import BOOK_ERROR

ERRORED_SHOWN = 100


def latest_scans(library_ids: list[int]) -> dict[int, Job]:
    """The newest scan job of each library (one query)."""
    if not library_ids:
        return {}
    targets = {scan_target(i): i for i in library_ids}
    newest = (select(Job.target, func.max(Job.id).label("id"))
              .where(Job.type == SCAN_JOB, Job.target.in_(list(targets)))
              .group_by(Job.target).subquery())
    jobs = db.session.execute(select(Job).join(newest, newest.c.id == Job.id)).scalars()
    return {targets[job.target]: job for job in jobs}


def _library(library_id: int) -> Library:
    library = db.session.get(Library, library_id)
    if library is None:
        raise NotFound(f"There is no library {library_id}.")
    return library


def scan_view(library: Library, job: Job | None) -> dict:
    """What the scan panel shows: progress, and once finished the result
    with the books that could not be read and why."""
    view = {"library": library, "job": job, "active": job is not None and job.state in ACTIVE_STATES,
            "percent": _percent(job), "result": None, "errored": [], "errored_total": 0}
    if job is not None and not view["active"]:
        view["result"] = job.result or {}
        query = (select(Book.id, Book.path, Book.error)
                 .where(Book.library_id == library.id, Book.state == BOOK_ERROR))
        view["errored_total"] = db.session.execute(
            select(func.count()).select_from(query.subquery())).scalar_one()
        view["errored"] = db.session.execute(
            query.order_by(Book.path).limit(ERRORED_SHOWN)).all()
    return view


def _percent(job: Job | None) -> int | None:
    """Whole percent done; None while the total is unknown (listing files)."""
    if job is None:
        return None
    if job.state not in ACTIVE_STATES:
        return 100 if job.state == "finished" else None
    if not job.progress_total:
        return None
    return min(100, int(job.progress_current * 100 / job.progress_total))


@blp.get("/libraries")
@login_required("LibrariesWrite")
def libraries():
    rows = db.session.execute(select(Library).order_by(Library.name, Library.id)).scalars().all()
    scans = latest_scans([library.id for library in rows])
    items = [(item, scan_view(library, scans.get(library.id)))
             for item, library in zip(library_items(rows), rows)]
    return render_template("web/libraries.html", items=items)


@blp.get("/libraries/<int:library_id>/scan")
@login_required("LibrariesWrite")
def scan_page(library_id: int):
    """One library's active or latest scan, live while it runs."""
    library = _library(library_id)
    job = latest_scans([library.id]).get(library.id)
    return render_template("web/scan.html", scan=scan_view(library, job),
                           first_run=request.args.get("first_run") == "1")


@blp.post("/libraries/<int:library_id>/scan")
@login_required("TasksWrite")
def scan_now(library_id: int):
    library = _library(library_id)
    mode = "deep" if request.form.get("mode") == "deep" else "normal"
    job_id = request_scan(library, mode, user_id=principal().user.id)
    if is_htmx():
        return render_template("web/_scan_panel.html",
                               scan=scan_view(library, db.session.get(Job, job_id)))
    return redirect(url_for("web.scan_page", library_id=library.id), 303)


@blp.get("/libraries/<int:library_id>/scan/<int:job_id>/events")
@login_required("LibrariesWrite")
def scan_events(library_id: int, job_id: int):
    """SSE for one scan: ``progress`` events carry the progress bar's HTML,
    one ``done`` event the result; then the stream ends."""
    library = _library(library_id)
    job = db.session.get(Job, job_id)
    if job is None or job.type != SCAN_JOB or job.target != scan_target(library.id):
        raise NotFound(f"Scan {job_id} is not a scan of {library.name}.")
    keepalive = float(current_app.config.get("SSE_KEEPALIVE_SECONDS") or KEEPALIVE_SECONDS)
    stream = _scan_stream(library.id, job_id, keepalive)
    return Response(stream_with_context(stream), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _scan_stream(library_id: int, job_id: int, keepalive: float) -> Iterator[str]:
    bus = services.events()
    # Subscribe before reading the job, so nothing between the two is lost.
    sub = bus.subscribe({"scan_progress", "task_progress"})
    try:
        while True:
            library = db.session.get(Library, library_id)
            job = db.session.get(Job, job_id)
            db.session.refresh(job)
            view = scan_view(library, job)
            yield format_sse("progress", render_template("web/_scan_progress.html", scan=view))
            if not view["active"]:
                yield format_sse("done", render_template("web/_scan_result.html", scan=view))
                return
            db.session.rollback()  # no connection held while waiting
            if not _wait_for(sub, job_id, library_id, keepalive):
                yield ": keep-alive\n\n"
    finally:
        sub.close()


def _wait_for(sub, job_id: int, library_id: int, keepalive: float) -> bool:
    """Wait for the next event of this scan; False after ``keepalive``
    seconds without one."""
    deadline = time.monotonic() + keepalive
    while True:
        event = sub.get(timeout=max(0.0, deadline - time.monotonic()))
        if event is None:
            return False
        if event.name == "task_progress" and event.task_id == job_id:
            return True
        if event.name == "scan_progress" and event.job_id == job_id:
            return True
