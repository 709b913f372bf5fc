"""The download monitor: what the download clients say about our downloads.

``monitor_downloads_job`` (job type ``automation.monitor_downloads``, run on
the schedule) asks each client once for every active download it holds and
brings the rows up to date: state, progress and the save path as comicsrv
sees it (remote path mappings applied). A finished download is handed to
post-processing; a failed one is blocklisted, its issue wanted again and the
next candidate searched for. Both hand-overs are events
(``DownloadCompleted``, ``IssueWantedAgain``) that ``automation.reactions``
acts on: this module imports neither post-processing nor the search, which
import it. A client that cannot be reached is noted on its
row and its downloads are left as they are, so an outage never fails them.

The service functions at the bottom (``client_items``, ``pause``, ``resume``,
``remove``, ``remove_completed``) are what the API and post-processing call.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from .. import services
from ..errors import BadRequest, Conflict, NotFound, Unavailable
from ..events import DownloadCompleted, DownloadFailed, DownloadUpdated, IssueWantedAgain
from ..extensions import db
from ..hookspecs import DownloadClient, DownloadStatus, IntegrationError
from ..models.automation import (
    DL_COMPLETED, DL_DOWNLOADING, DL_FAILED, DL_IMPORTED, DL_IMPORTING, DL_PAUSED, DL_QUEUED, DL_REMOVED,
    SNATCHED, WANTED, BlockedRelease, Download, DownloadClientConfig, WatchedIssue,
)
from ..models.base import utcnow
from ..redact import mask_text
from .integrations import instance_for
from .paths import map_remote_path

log = logging.getLogger(__name__)

JOB_TYPE = "automation.monitor_downloads"
# States the client decides; "completed" stays polled until it is handed over.
MONITORED_STATES = (DL_QUEUED, DL_DOWNLOADING, DL_PAUSED, DL_COMPLETED)
CLIENT_STATES = {"queued": DL_QUEUED, "downloading": DL_DOWNLOADING, "paused": DL_PAUSED,
                 "completed": DL_COMPLETED, "failed": DL_FAILED}
REMOVED_REASON = "removed from the client"
# A download the client has not listed yet may still be arriving (SABnzbd
# fetching the NZB); only after this long is "not listed" read as removed.
UNSEEN_GRACE = timedelta(minutes=10)


class ClientUnavailable(Unavailable):
    code = "download_client_unavailable"


@dataclass
class MonitorResult:
    clients: int = 0
    checked: int = 0
    updated: int = 0
    handed_over: int = 0
    failed: int = 0
    unreachable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _bus():
    return services.events()


def client_instance(row: DownloadClientConfig) -> DownloadClient:
    return instance_for("download_client", row)  # type: ignore[return-value]


# --- monitoring ---------------------------------------------------------------------

def monitor_downloads_job(ctx, **_params: Any) -> dict[str, Any]:
    """The scheduled job: one pass over every client with active downloads."""
    return monitor_downloads(ctx).to_dict()


def monitor_downloads(ctx=None) -> MonitorResult:
    rows = db.session.execute(
        select(Download).where(Download.state.in_(MONITORED_STATES),
                               Download.client_id.is_not(None),
                               Download.client_item_id.is_not(None))
        .order_by(Download.id)).scalars().all()
    by_client: dict[int, list[Download]] = defaultdict(list)
    for download in rows:
        by_client[download.client_id].append(download)
    result = MonitorResult(clients=len(by_client))
    for index, (client_id, downloads) in enumerate(sorted(by_client.items())):
        if ctx is not None:
            ctx.check_cancelled()
            ctx.progress(index, len(by_client), f"download client {client_id}")
        _monitor_client(client_id, downloads, result)
    if ctx is not None:
        ctx.progress(len(by_client), len(by_client), "done", force=True)
    return result


def _monitor_client(client_id: int, downloads: list[Download], result: MonitorResult) -> None:
    row = db.session.get(DownloadClientConfig, client_id)
    if row is None or not row.enabled:
        return
    try:
        statuses = client_instance(row).status([d.client_item_id for d in downloads])
    except Exception as exc:  # a plugin's failure is the client's problem, not the job's
        reason = str(exc) if isinstance(exc, IntegrationError) else f"{type(exc).__name__}: {exc}"
        log.warning("download client %s cannot be asked: %s", row.name, reason)
        row.last_error = mask_text(reason)[:5000]
        db.session.commit()
        result.unreachable.append(row.name)
        return
    if row.last_error:
        row.last_error = None
        db.session.commit()
    found = {s.id.lower(): s for s in statuses}
    for download in downloads:
        result.checked += 1
        status = found.get(download.client_item_id.lower())
        try:
            _apply(download, status, result)
        except Exception:
            db.session.rollback()
            log.exception("download %s: its status could not be applied", download.id)


def _apply(download: Download, status: DownloadStatus | None, result: MonitorResult) -> None:
    db.session.refresh(download)
    if download.state not in MONITORED_STATES:
        return  # changed meanwhile (removed by a user, imported)
    if status is None:
        created = download.created_at
        if download.state == DL_QUEUED and created and utcnow() - created < UNSEEN_GRACE:
            return
        fail_download(download, REMOVED_REASON)
        result.failed += 1
        return
    state = CLIENT_STATES.get(status.state, DL_DOWNLOADING)
    if state == DL_FAILED:
        fail_download(download, status.error or "the download client reports it failed")
        result.failed += 1
        return
    save_path = (map_remote_path(status.save_path, download.client_id)
                 if status.save_path else download.save_path)
    progress = 1.0 if state == DL_COMPLETED else round(max(0.0, min(1.0, status.progress)), 4)
    changed = (download.state, download.progress, download.save_path) != (state, progress, save_path)
    if changed:
        download.state, download.progress, download.save_path = state, progress, save_path
        if state == DL_COMPLETED and download.completed_at is None:
            download.completed_at = utcnow()
        if status.size and not download.size:
            download.size = status.size
        db.session.commit()
        result.updated += 1
        _bus().publish(DownloadUpdated(download_id=download.id, title=download.title,
                                       state=state, progress=progress))
    if state == DL_COMPLETED:
        if _hand_over(download):
            result.handed_over += 1


def _hand_over(download: Download) -> bool:
    """Ask for a completed download to be post-processed (the reaction in
    ``automation.reactions`` starts it, in this thread); True when
    post-processing has it now."""
    _bus().publish(DownloadCompleted(download_id=download.id), remote=False)
    current = db.session.get(Download, download.id, populate_existing=True)
    return current is not None and current.state in (DL_IMPORTING, DL_IMPORTED)


def fail_download(download: Download, reason: str) -> None:
    """A download failed at its client: fail it, blocklist its release, want
    its issue again, announce it, then look for the next candidate."""
    download.state, download.error = DL_FAILED, reason[:5000]
    _blocklist(download, reason)
    issue = db.session.get(WatchedIssue, download.watched_issue_id) if download.watched_issue_id else None
    if issue is not None and issue.state in (SNATCHED, WANTED):
        issue.state, issue.state_changed_at = WANTED, utcnow()
    db.session.commit()
    bus = _bus()
    bus.publish(DownloadUpdated(download_id=download.id, title=download.title, state=DL_FAILED,
                                progress=download.progress or 0.0, error=reason))
    bus.publish(DownloadFailed(download_id=download.id, title=download.title, reason=reason,
                               watched_issue_id=download.watched_issue_id))
    if issue is not None and issue.state == WANTED:
        _search_next(issue.id)


def _blocklist(download: Download, reason: str) -> None:
    same = select(BlockedRelease.id).where(
        BlockedRelease.title == download.title,
        BlockedRelease.guid == download.guid if download.guid else BlockedRelease.guid.is_(None),
        BlockedRelease.indexer == download.indexer if download.indexer
        else BlockedRelease.indexer.is_(None)).limit(1)
    if db.session.execute(same).scalar() is None:
        db.session.add(BlockedRelease(guid=download.guid, title=download.title,
                                      indexer=download.indexer, reason=reason[:1000],
                                      watched_issue_id=download.watched_issue_id))


def _search_next(issue_id: int) -> None:
    _bus().publish(IssueWantedAgain(watched_issue_id=issue_id), remote=False)


# --- services for the API and post-processing -------------------------------------

def _download(download_id: int) -> Download:
    download = db.session.get(Download, download_id)
    if download is None:
        raise NotFound(f"No download {download_id}")
    return download


def _client_of(download: Download) -> tuple[DownloadClientConfig, DownloadClient]:
    row = db.session.get(DownloadClientConfig, download.client_id) if download.client_id else None
    if row is None or not download.client_item_id:
        raise Conflict(f"download {download.id} is not at any download client",
                       code="no_download_client")
    return row, client_instance(row)


def _call(row: DownloadClientConfig, action: str, fn, *args: Any) -> Any:
    try:
        return fn(*args)
    except NotImplementedError as exc:
        raise BadRequest(str(exc) or f"{row.kind} cannot {action}") from None
    except IntegrationError as exc:
        raise ClientUnavailable(f"{row.name}: {exc}") from None


def client_items(client_id: int) -> list[dict[str, Any]]:
    """Everything the client holds in its category, with local save paths and
    the download row tracking each item (None for items comicsrv did not add)."""
    row = db.session.get(DownloadClientConfig, client_id)
    if row is None:
        raise NotFound(f"No download client {client_id}")
    statuses = _call(row, "list", client_instance(row).status, None)
    ids = {s.id.lower() for s in statuses}
    tracked = {d.client_item_id.lower(): d.id for d in db.session.execute(
        select(Download).where(Download.client_id == client_id,
                               Download.client_item_id.is_not(None))).scalars()
        if d.client_item_id.lower() in ids}
    return [{"id": s.id, "name": s.name, "state": s.state, "progress": s.progress,
             "size": s.size, "category": s.category, "error": s.error,
             "remote_path": s.save_path,
             "save_path": map_remote_path(s.save_path, client_id) if s.save_path else None,
             "download_id": tracked.get(s.id.lower())} for s in statuses]


def pause(download_id: int) -> Download:
    download = _download(download_id)
    row, client = _client_of(download)
    _call(row, "pause", client.pause, download.client_item_id)
    if download.state in (DL_QUEUED, DL_DOWNLOADING):
        _set_state(download, DL_PAUSED)
    return download


def resume(download_id: int) -> Download:
    download = _download(download_id)
    row, client = _client_of(download)
    _call(row, "resume", client.resume, download.client_item_id)
    if download.state == DL_PAUSED:
        _set_state(download, DL_QUEUED)  # the next monitor pass says which
    return download


def remove(download_id: int, delete_files: bool = False) -> Download:
    """Remove a download from its client (and its files when asked). Its
    issue is wanted again unless the download was already imported."""
    download = _download(download_id)
    row, client = _client_of(download)
    _call(row, "remove", client.remove, download.client_item_id, delete_files)
    if download.state != DL_IMPORTED:
        issue = (db.session.get(WatchedIssue, download.watched_issue_id)
                 if download.watched_issue_id else None)
        if issue is not None and issue.state == SNATCHED:
            issue.state, issue.state_changed_at = WANTED, utcnow()
        _set_state(download, DL_REMOVED)
    return download


def _set_state(download: Download, state: str) -> None:
    download.state = state
    db.session.commit()
    _bus().publish(DownloadUpdated(download_id=download.id, title=download.title, state=state,
                                   progress=download.progress or 0.0))


def remove_completed(download: Download) -> str:
    """After an import: drop the item from its client when the client is set
    to remove completed downloads. As Sonarr does, a torrent is removed only
    once it stopped seeding (ratio or time limit reached, or paused); a
    usenet download at once. Never raises: the import is done either way."""
    if download.state != DL_IMPORTED and download.imported_at is None:
        return "kept: the download is not imported"
    row = db.session.get(DownloadClientConfig, download.client_id) if download.client_id else None
    if row is None or not download.client_item_id:
        return "kept: the download is at no client"
    if not row.remove_completed:
        return "kept: the client is not set to remove completed downloads"
    try:
        client = client_instance(row)
        if client.protocol == "torrent":
            seeding_done = getattr(client, "seeding_done", None)
            if seeding_done is None:
                return f"kept: {row.kind} cannot tell whether the torrent still seeds"
            if not seeding_done(download.client_item_id):
                return "kept: still seeding"
        # The import verified its copy, so the client's copy may go too.
        client.remove(download.client_item_id, delete_files=True)
    except Exception as exc:
        log.warning("download %s not removed from %s: %s", download.id, row.name, exc)
        return f"not removed from {row.name}: {exc}"
    return f"removed from {row.name}"


def remove_and_blocklist(download_id: int, delete_files: bool = False,
                         reason: str = "blocklisted by a user") -> Download:
    """Remove a download from its client and never grab its release again
    (Sonarr's "remove and blocklist"); its issue is wanted again."""
    download = remove(download_id, delete_files)
    _blocklist(download, reason)
    db.session.commit()
    return download


def unblock(blocked_id: int) -> None:
    """Take one release off the blocklist: searches may grab it again."""
    row = db.session.get(BlockedRelease, blocked_id)
    if row is None:
        raise NotFound(f"No blocklisted release {blocked_id}")
    db.session.delete(row)
    db.session.commit()


def clear_blocklist() -> int:
    """Empty the blocklist; returns how many releases were on it."""
    count = db.session.execute(db.delete(BlockedRelease)).rowcount
    db.session.commit()
    return count


def client_progress(active: list[Download]) -> dict[int, DownloadStatus]:
    """What each client says right now about these downloads, by download id,
    without changing any row: the queue page's live view between two passes
    of the monitor (which alone moves downloads on). A client that cannot be
    asked is left out."""
    by_client: dict[int, list[Download]] = defaultdict(list)
    for download in active:
        if download.client_id is not None and download.client_item_id:
            by_client[download.client_id].append(download)
    found: dict[int, DownloadStatus] = {}
    for client_id, rows in by_client.items():
        row = db.session.get(DownloadClientConfig, client_id)
        if row is None or not row.enabled:
            continue
        try:
            statuses = client_instance(row).status([d.client_item_id for d in rows])
        except Exception as exc:  # the monitor records the client's problem; a view just skips it
            log.debug("download client %s not asked for progress: %s", row.name, exc)
            continue
        by_item = {s.id.lower(): s for s in statuses}
        for download in rows:
            status = by_item.get(download.client_item_id.lower())
            if status is not None:
                found[download.id] = status
    return found
