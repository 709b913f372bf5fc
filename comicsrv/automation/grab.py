"""Hand a release to a download client and remember it.

``grab`` picks the enabled download client of the release's protocol with the
lowest priority number (trying the next one if a client fails), records a
``Download``, marks the issue snatched and the decision grabbed, and
publishes ``ReleaseGrabbed``. Nothing is recorded as snatched unless a client
took the release; the same release (guid or title) is never grabbed twice.
"""
from __future__ import annotations

import logging

from sqlalchemy import or_

from .. import services
from ..errors import BadRequest, Conflict, Unavailable
from ..events import ReleaseGrabbed
from ..extensions import db
from ..hookspecs import Release
from ..models.automation import (
    DL_QUEUED, SNATCHED, Download, DownloadClientConfig, ReleaseDecision, WatchedIssue,
)
from ..models.base import utcnow
from ..redact import mask_text
from . import integrations

log = logging.getLogger(__name__)


class NoDownloadClient(BadRequest):
    code = "no_download_client"


class AlreadyGrabbed(Conflict):
    code = "already_grabbed"


class GrabFailed(Unavailable):
    code = "grab_failed"


def clients_for(protocol: str) -> list[DownloadClientConfig]:
    return list(db.session.execute(
        db.select(DownloadClientConfig)
        .where(DownloadClientConfig.enabled.is_(True), DownloadClientConfig.protocol == protocol)
        .order_by(DownloadClientConfig.priority, DownloadClientConfig.id)).scalars())


def _decision_row(decision) -> ReleaseDecision | None:
    if isinstance(decision, ReleaseDecision):
        return decision
    return getattr(decision, "row", None)


def grab(release: Release, issue: WatchedIssue | None, *, decision=None,
         source: str = "search") -> Download:
    """Send ``release`` to a download client; returns the new Download row."""
    clients = clients_for(release.protocol)
    if not clients:
        raise NoDownloadClient(f"no enabled download client for {release.protocol} releases; "
                               f"add one to grab {release.title!r}")
    earlier = db.session.execute(
        db.select(Download.id).where(or_(
            Download.title == release.title,
            Download.guid == release.guid if release.guid else False)).limit(1)).scalar()
    if earlier is not None:
        raise AlreadyGrabbed(f"{release.title!r} was grabbed before (download {earlier}); "
                             f"a release is never grabbed twice")
    row = _decision_row(decision)
    errors = []
    for client in clients:
        try:
            plugin = integrations.instance_for("download_client", client)
            item_id = plugin.add(release, category=client.category)
        except Exception as exc:  # a plugin's failure of any kind is this client's error
            message = mask_text(str(exc)) or type(exc).__name__
            log.warning("download client %s refused %r: %s", client.name, release.title, message)
            client.last_error = message[:2000]
            errors.append(f"{client.name}: {message}")
            continue
        client.last_error = None
        download = Download(
            watched_issue_id=issue.id if issue is not None else None,
            title=release.title[:1000], guid=release.guid, download_url=release.download_url,
            indexer=release.indexer, protocol=release.protocol, size=release.size,
            client_id=client.id, client_item_id=str(item_id)[:200] if item_id else None,
            state=DL_QUEUED, score=getattr(decision, "score", None))
        db.session.add(download)
        if issue is not None:
            issue.state, issue.state_changed_at = SNATCHED, utcnow()
        if row is not None:
            row.grabbed = True
        db.session.commit()
        log.info("grabbed %r from %s with %s (download %s%s)", release.title,
                 release.indexer or "an unnamed indexer", client.name, download.id,
                 f", issue {issue.id}" if issue is not None else "")
        services.events().publish(ReleaseGrabbed(
            download_id=download.id, title=download.title, indexer=release.indexer,
            client=client.name, watched_issue_id=download.watched_issue_id))
        return download
    # Every client failed: the issue stays as it was (wanted), the error is kept.
    if row is not None:
        row.reasons = [*(row.reasons or []), *(f"grab failed: {e}" for e in errors)]
    db.session.commit()
    raise GrabFailed(f"no download client took {release.title!r}: " + "; ".join(errors))
