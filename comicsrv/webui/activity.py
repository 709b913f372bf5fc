"""Activity: the queue with live progress, the history with reasons and
sources, and the blocklist.

The queue reaches the page over SSE as ready-made rows (htmx's SSE
extension swaps them in), sent again whenever the pipeline moves (grabbed,
download updated, imported, failed) and every few seconds while a download
is active, with the progress the download clients report at that moment.
Asking the clients is read-only: state changes (a finished download handed
to post-processing, a failed one blocklisted) stay the monitor job's, so a
page left open never races the scheduled pass.
"""
from __future__ import annotations

from typing import Any, Iterator

from flask import Response, current_app, redirect, render_template, request, stream_with_context, url_for
from sqlalchemy import func, or_, select

from .. import services
from ..automation import downloads as download_service
from ..errors import DomainError
from ..events import KEEPALIVE_SECONDS, format_sse
from ..extensions import db
from ..models.automation import (
    ACTIVE_DOWNLOAD_STATES, DL_COMPLETED, DL_DOWNLOADING, DL_FAILED, DL_IMPORTED, DL_PAUSED,
    DL_QUEUED, DL_REMOVED, BlockedRelease, Download, DownloadClientConfig, ReleaseDecision,
    WatchedIssue,
)
from . import blp
from .arr import ADMIN, done, page_args, pages
from .shell import is_htmx, login_required, safe_next

QUEUE_EVENTS = frozenset({"release_grabbed", "download_updated", "issue_imported",
                          "download_failed", "postprocess_step"})
# Seconds between two looks at the clients' progress while a page watches.
PROGRESS_SECONDS = 3.0
FINISHED_STATES = (DL_IMPORTED, DL_FAILED, DL_REMOVED)
HISTORY_FILTERS = {"all": "All", "imported": "Imported", "failed": "Failed", "removed": "Removed"}
# States a user may pause from, and resume from.
PAUSABLE = (DL_QUEUED, DL_DOWNLOADING)


def queue_rows() -> list[Download]:
    return list(db.session.execute(
        select(Download).where(Download.state.in_(ACTIVE_DOWNLOAD_STATES))
        .order_by(Download.id)).scalars())


def _labels(downloads: list[Download]) -> dict[str, dict[int, Any]]:
    """Issue labels and client names for a page of downloads (two queries)."""
    issue_ids = {d.watched_issue_id for d in downloads if d.watched_issue_id}
    issues = {i.id: i for i in db.session.execute(
        select(WatchedIssue).where(WatchedIssue.id.in_(issue_ids))).scalars()} if issue_ids else {}
    client_ids = {d.client_id for d in downloads if d.client_id}
    clients = dict(db.session.execute(select(DownloadClientConfig.id, DownloadClientConfig.name)
                                      .where(DownloadClientConfig.id.in_(client_ids))).all()) \
        if client_ids else {}
    return {"issues": issues, "clients": clients}


def queue_view(live: dict[int, Any] | None = None) -> dict[str, Any]:
    """The queue's rows, with the clients' live progress laid over the
    stored one for downloads still at their client."""
    rows = queue_rows()
    progress = {}
    for download in rows:
        status = (live or {}).get(download.id)
        value, state = download.progress or 0.0, download.state
        if status is not None and download.state in (DL_QUEUED, DL_DOWNLOADING, DL_PAUSED):
            value = max(0.0, min(1.0, status.progress or 0.0))
            state = download_service.CLIENT_STATES.get(status.state, download.state)
            if state == DL_COMPLETED:
                value = 1.0
        progress[download.id] = {"percent": int(value * 100), "state": state}
    return {"rows": rows, "progress": progress, **_labels(rows)}


@blp.get("/activity")
@login_required(ADMIN)
def activity():
    """The queue: what the download clients are fetching, live."""
    return render_template("web/arr/queue.html", **queue_view())


@blp.get("/activity/queue/events")
@login_required(ADMIN)
def queue_events():
    """SSE: ``queue`` events carry the queue's rows as HTML."""
    keepalive = float(current_app.config.get("SSE_KEEPALIVE_SECONDS") or KEEPALIVE_SECONDS)
    refresh = float(current_app.config.get("WEB_QUEUE_PROGRESS_SECONDS") or PROGRESS_SECONDS)
    db.session.rollback()
    return Response(stream_with_context(_queue_stream(keepalive, refresh)),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _queue_stream(keepalive: float, refresh: float) -> Iterator[str]:
    bus = services.events()
    sub = bus.subscribe(QUEUE_EVENTS)  # before the first rows: nothing in between is lost
    try:
        while True:
            rows = queue_rows()
            live = download_service.client_progress(rows) if rows else {}
            yield format_sse("queue", render_template("web/arr/_queue_rows.html",
                                                      **queue_view(live)))
            db.session.rollback()  # no connection held while waiting
            # With downloads active, look at the clients again after
            # ``refresh``; with none, only an event brings news.
            while (event := sub.get(timeout=refresh if rows else keepalive)) is None and not rows:
                yield ": keep-alive\n\n"
            # Several events of one step arrive together: one render for all.
            while event is not None:
                event = sub.get(timeout=0.05)
    finally:
        sub.close()


def _download_action(download_id: int, action: str) -> Response:
    try:
        if action == "pause":
            download = download_service.pause(download_id)
            message = f"Paused {download.title}."
        elif action == "resume":
            download = download_service.resume(download_id)
            message = f"Resumed {download.title}."
        else:
            delete_files = request.form.get("delete_files") == "on"
            if request.form.get("blocklist") == "on":
                download = download_service.remove_and_blocklist(download_id, delete_files)
                message = f"Removed {download.title} and blocklisted its release."
            else:
                download = download_service.remove(download_id, delete_files)
                message = f"Removed {download.title}."
    except DomainError as exc:
        if is_htmx():
            raise
        done(exc.message, "bad")
        return redirect(url_for("web.activity"), 303)
    if is_htmx():
        return render_template("web/arr/_queue_rows.html", **queue_view())
    done(message)
    return redirect(safe_next(request.form.get("next"), url_for("web.activity")), 303)


@blp.post("/activity/downloads/<int:download_id>/pause")
@login_required(ADMIN)
def download_pause(download_id: int):
    return _download_action(download_id, "pause")


@blp.post("/activity/downloads/<int:download_id>/resume")
@login_required(ADMIN)
def download_resume(download_id: int):
    return _download_action(download_id, "resume")


@blp.post("/activity/downloads/<int:download_id>/remove")
@login_required(ADMIN)
def download_remove(download_id: int):
    """Remove from the client; ``blocklist`` never grabs the release again,
    ``delete_files`` drops what the client downloaded."""
    return _download_action(download_id, "remove")


# --- history ----------------------------------------------------------------------------------

def _sources(downloads: list[Download]) -> dict[int, str]:
    """How each download was found: search, rss or manual (its grabbed
    decision), in one query."""
    titles = {d.title for d in downloads}
    if not titles:
        return {}
    rows = db.session.execute(
        select(ReleaseDecision.title, ReleaseDecision.guid, ReleaseDecision.source)
        .where(ReleaseDecision.grabbed.is_(True), ReleaseDecision.title.in_(titles))).all()
    by_title = {title: source for title, _guid, source in rows}
    by_guid = {guid: source for _title, guid, source in rows if guid}
    return {d.id: by_guid.get(d.guid) or by_title.get(d.title) or "" for d in downloads}


@blp.get("/activity/history")
@login_required(ADMIN)
def history():
    """Every download that ended (imported, failed, removed) and those on
    their way, newest first, with the indexer, how it was found and why it
    failed."""
    state = request.args.get("state") if request.args.get("state") in HISTORY_FILTERS else "all"
    page, size = page_args()
    query = select(Download)
    if state != "all":
        query = query.where(Download.state == state)
    total = db.session.execute(select(func.count()).select_from(
        query.order_by(None).subquery())).scalar_one()
    rows = list(db.session.execute(query.order_by(Download.updated_at.desc(), Download.id.desc())
                                   .limit(size).offset((page - 1) * size)).scalars())
    return render_template("web/arr/history.html", rows=rows, total=total, page=page,
                           pages=pages(total, size), state=state, filters=HISTORY_FILTERS,
                           sources=_sources(rows), **_labels(rows))


# --- blocklist --------------------------------------------------------------------------------

@blp.get("/activity/blocklist")
@login_required(ADMIN)
def blocklist():
    page, size = page_args()
    q = (request.args.get("q") or "").strip()[:200]
    query = select(BlockedRelease)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(BlockedRelease.title.ilike(like), BlockedRelease.reason.ilike(like)))
    total = db.session.execute(select(func.count()).select_from(
        query.order_by(None).subquery())).scalar_one()
    rows = list(db.session.execute(query.order_by(BlockedRelease.created_at.desc(),
                                                  BlockedRelease.id.desc())
                                   .limit(size).offset((page - 1) * size)).scalars())
    issue_ids = {r.watched_issue_id for r in rows if r.watched_issue_id}
    issues = {i.id: i for i in db.session.execute(
        select(WatchedIssue).where(WatchedIssue.id.in_(issue_ids))).scalars()} if issue_ids else {}
    return render_template("web/arr/blocklist.html", rows=rows, total=total, page=page,
                           pages=pages(total, size), issues=issues, q=q)


@blp.post("/activity/blocklist/<int:blocked_id>/remove")
@login_required(ADMIN)
def blocklist_remove(blocked_id: int):
    download_service.unblock(blocked_id)
    done("Removed from the blocklist: searches may grab this release again.")
    return redirect(url_for("web.blocklist"), 303)


@blp.post("/activity/blocklist/clear")
@login_required(ADMIN)
def blocklist_clear():
    count = download_service.clear_blocklist()
    done(f"The blocklist is empty ({count} release(s) removed).")
    return redirect(url_for("web.blocklist"), 303)
