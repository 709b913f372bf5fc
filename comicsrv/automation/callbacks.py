"""Post-processing asked for by a download's own script, as Mylar's callers
send it: ComicRN and autoProcessComics run by SABnzbd or NZBGet when a job
finishes, with the job's name (``nzb_name``), the folder it was unpacked
into (``nzb_folder``) and whether it failed.

The download is found by the name its client gave it (the client's id for
it, or its title), newest first; a job comicsrv did not grab can still be
imported when the caller names the issue (Mylar's ``issueid``). The folder
is reported as the download client sees it, so it goes through the remote
path mappings of the download's client.
"""
from __future__ import annotations

import os
from typing import Any

from sqlalchemy import func, or_

from ..errors import BadRequest, NotFound
from ..extensions import db
from ..models.automation import (
    DL_COMPLETED, DL_IMPORTED, DL_REMOVED, SNATCHED, Download, WatchedIssue,
)
from ..models.base import utcnow
from . import postprocess
from .downloads import fail_download
from .paths import map_remote_path

MANUAL = "manual"
JOB_EXTENSIONS = (".nzb", ".torrent")


def find_download(nzb_name: str | None, nzb_folder: str | None) -> Download | None:
    """The newest download not yet imported whose client id or title is the
    job's name (or, without one, the folder's name); names compare without
    case, as SABnzbd and NZBGet change neither but users type them."""
    names = {n.strip().lower() for n in (nzb_name, nzb_folder and os.path.basename(
        nzb_folder.rstrip("/\\"))) if n and n.strip()}
    if not names:
        return None
    # ComicRN drops a job's ".nzb"; a client or a blackhole may keep it.
    stems = {n[:-len(ext)] for n in names for ext in JOB_EXTENSIONS if n.endswith(ext)} | names
    stems |= {stem + ext for stem in stems for ext in JOB_EXTENSIONS}
    return db.session.execute(
        db.select(Download).where(
            Download.state.not_in((DL_IMPORTED, DL_REMOVED)),
            or_(func.lower(Download.client_item_id).in_(stems),
                func.lower(Download.title).in_(stems)))
        .order_by(Download.id.desc()).limit(1)).scalar()


def _issue(issue_id: str | None) -> WatchedIssue | None:
    """A watched issue by its provider id (ComicVine's "4000-" prefix dropped)."""
    raw = str(issue_id or "").strip()
    if not raw or len(raw) > 64:
        return None
    raw = raw.split("-", 1)[1] if raw.startswith("4000-") else raw
    return db.session.execute(db.select(WatchedIssue).where(
        WatchedIssue.provider_id == raw).order_by(WatchedIssue.id).limit(1)).scalar()


def process(nzb_name: str | None, nzb_folder: str | None, *, failed: bool = False,
            issue_id: str | None = None, protocol: str = "usenet") -> dict[str, Any]:
    """Post-process (or fail) the download the script reports; returns
    ``{"download_id", "job_id", "outcome"}``."""
    download = find_download(nzb_name, nzb_folder)
    if download is None:
        issue = None if failed else _issue(issue_id)
        if issue is None:
            raise NotFound(f"No download named {nzb_name or nzb_folder!r}"
                           + ("" if failed or issue_id else
                              "; send issueid to import it for an issue")
                           + (f", and no watched issue {issue_id}" if issue_id and not failed
                              else ""))
        download = Download(watched_issue_id=issue.id, title=(nzb_name or os.path.basename(
            (nzb_folder or "").rstrip("/\\")))[:1000], indexer=MANUAL, protocol=protocol,
            state=DL_COMPLETED, client_item_id=nzb_name)
        db.session.add(download)
        issue.state, issue.state_changed_at = SNATCHED, utcnow()
        db.session.flush()
    if failed:
        fail_download(download, f"the download's script reported {nzb_name or 'it'} failed")
        db.session.refresh(download)
        return {"download_id": download.id, "job_id": download.job_id, "outcome": "failure"}
    if not nzb_folder:
        raise BadRequest("nzb_folder: where the download was unpacked is required")
    folder = map_remote_path(nzb_folder, download.client_id)
    if not os.path.exists(folder):
        db.session.rollback()
        raise BadRequest(f"nzb_folder: {folder} does not exist here"
                         + ("" if folder != nzb_folder else
                            " (a download client in another container needs a remote path "
                            "mapping)"), code="folder_not_found")
    download.save_path, download.state, download.progress = folder, DL_COMPLETED, 1.0
    download.completed_at = download.completed_at or utcnow()
    db.session.commit()
    return {"download_id": download.id, "job_id": postprocess.submit(download.id),
            "outcome": "success"}
