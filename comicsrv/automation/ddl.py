"""Direct downloads (Comicarr's DDL queue): a comic file fetched from a link
(GetComics, Mega, MediaFire, Pixeldrain, any http(s) URL) into the first
enabled blackhole client's completed folder, then post-processed for its
issue like any finished download.

``queue`` checks what can be checked at once (the issue, a client to receive
the file, the URL) and records a queued ``Download`` of protocol "ddl"; the
job "automation.ddl" fetches it, showing its progress in the queue, and
hands it over. A link that fails (an error page, not a comic, too large)
fails the download like one failing at a client: the release is
blocklisted, the issue wanted again and searched. The file grows under a
hidden name that the blackhole's status ignores, and is linked to its name
only once complete, never over an existing file.
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .. import services
from ..errors import BadRequest, Conflict
from ..events import DownloadUpdated
from ..extensions import db
from ..models.automation import (
    DL_COMPLETED, DL_DOWNLOADING, DL_QUEUED, SNATCHED, Download, DownloadClientConfig,
    WatchedIssue,
)
from ..models.base import utcnow
from ..redact import mask_text

if TYPE_CHECKING:
    import requests

JOB_TYPE = "automation.ddl"
PROTOCOL = "ddl"
# What a direct download may be: a comic archive or a PDF, never anything else.
EXTENSIONS = (".cbz", ".cbr", ".cb7", ".cbt", ".zip", ".rar", ".7z", ".pdf", ".epub")
MAX_BYTES = 4 * 1024**3
TIMEOUT = (10, 60)
CHUNK = 1 << 16
# How often the queue's progress of a running fetch is written.
PROGRESS_SECONDS = 1.0
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


class DdlFailed(Exception):
    """The link did not give a comic file; the message says why."""


def receiving_client() -> DownloadClientConfig:
    """The first enabled blackhole client: its completed folder receives the file."""
    row = db.session.execute(
        db.select(DownloadClientConfig).where(DownloadClientConfig.kind == "blackhole",
                                              DownloadClientConfig.enabled.is_(True))
        .order_by(DownloadClientConfig.priority, DownloadClientConfig.id).limit(1)).scalar()
    if row is None:
        raise BadRequest("Direct downloads need an enabled blackhole download client: "
                         "its completed folder receives the file")
    folder = (row.settings or {}).get("completed_folder") or ""
    if not os.path.isdir(folder):
        raise Conflict(f"The completed folder of {row.name} ({folder}) does not exist")
    return row


def queue(issue: WatchedIssue, link: str, site: str, filename: str | None = None) -> tuple[Download, int]:
    """Record a queued direct download of ``link`` for ``issue`` and start
    fetching it; returns the download and its job id."""
    scheme = urlsplit(link).scheme.lower()
    if scheme not in ("http", "https") or not urlsplit(link).netloc:
        raise BadRequest(f"link: {mask_text(link)!r} is not an http(s) URL")
    client = receiving_client()
    title = filename or unquote(os.path.basename(urlsplit(link).path)) or link
    download = Download(watched_issue_id=issue.id, title=title[:1000], download_url=link,
                        indexer=site, protocol=PROTOCOL, client_id=client.id,
                        state=DL_QUEUED, progress=0.0)
    db.session.add(download)
    issue.state, issue.state_changed_at = SNATCHED, utcnow()
    db.session.commit()
    params = {"download_id": download.id, "filename": filename}
    job_id = services.jobs().submit(
        JOB_TYPE, params, target=f"download:{download.id}")
    download.job_id = job_id
    db.session.commit()
    return download, job_id


def requeue(download: Download) -> int:
    """Fetch a failed direct download's link again (a site that was down);
    returns the job id."""
    download.state, download.error, download.progress = DL_QUEUED, None, 0.0
    issue = db.session.get(WatchedIssue, download.watched_issue_id) \
        if download.watched_issue_id else None
    if issue is not None:
        issue.state, issue.state_changed_at = SNATCHED, utcnow()
    db.session.commit()
    job_id = services.jobs().submit(
        JOB_TYPE, {"download_id": download.id}, target=f"download:{download.id}")
    download.job_id = job_id
    db.session.commit()
    return job_id


def file_name(url: str, response: requests.Response, wanted: str | None) -> str:
    """The name to save under: the one asked for, the server's
    Content-Disposition, or the URL's last segment; a comic's extension."""
    disposition = response.headers.get("Content-Disposition", "")
    match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition)
    name = wanted or (unquote(match.group(1)) if match else "") or \
        unquote(os.path.basename(urlsplit(url).path))
    name = " ".join(_UNSAFE.sub(" ", name).split()).strip(" .")[:180]
    if not name.lower().endswith(EXTENSIONS):
        raise DdlFailed(f"{name or mask_text(url)!r} is not a comic file "
                        f"({', '.join(EXTENSIONS)})")
    return name


def _publish(download: Download) -> None:
    services.events().publish(DownloadUpdated(
        download_id=download.id, title=download.title, state=download.state,
        progress=download.progress or 0.0, error=download.error))


def fetch(download: Download, folder: str, wanted: str | None, ctx=None) -> tuple[str, int]:
    """Stream the download's link into a hidden file in ``folder``, then link
    it to its name (never overwriting); returns the path and size."""
    import requests

    url = download.download_url
    try:
        response = requests.get(url, stream=True, timeout=TIMEOUT,
                                headers={"User-Agent": "comicsrv"})
    except requests.RequestException as exc:
        raise DdlFailed(f"cannot fetch {mask_text(url)}: {type(exc).__name__}") from None
    with response:
        if response.status_code >= 400:
            raise DdlFailed(f"{mask_text(url)} answered HTTP {response.status_code}")
        name = file_name(url, response, wanted)
        expected = int(response.headers.get("Content-Length") or 0) or None
        if expected and expected > MAX_BYTES:
            raise DdlFailed(f"{name} is larger than {MAX_BYTES >> 30} GiB")
        download.title, download.size = name, expected
        db.session.commit()
        fd, temp = tempfile.mkstemp(prefix=".comicsrv-ddl-", suffix=".part", dir=folder)
        try:
            size, shown = 0, time.monotonic()
            with os.fdopen(fd, "wb") as handle:
                for chunk in response.iter_content(CHUNK):
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise DdlFailed(f"{name} is larger than {MAX_BYTES >> 30} GiB")
                    handle.write(chunk)
                    if ctx is not None:
                        ctx.check_cancelled()
                        ctx.progress(size, expected, name)
                    if expected and time.monotonic() - shown >= PROGRESS_SECONDS:
                        shown = time.monotonic()
                        download.progress = round(min(1.0, size / expected), 4)
                        db.session.commit()
            if size == 0:
                raise DdlFailed(f"{mask_text(url)} answered an empty file")
            stem, extension = os.path.splitext(name)
            for attempt in range(1000):
                target = os.path.join(folder, (stem if attempt == 0 else f"{stem} ({attempt})")
                                      + extension)
                try:
                    os.link(temp, target)
                except FileExistsError:
                    continue
                return target, size
            raise DdlFailed(f"too many files named {name!r} in {folder}")
        except requests.RequestException as exc:
            raise DdlFailed(f"downloading {mask_text(url)} failed: {type(exc).__name__}") from None
        finally:
            os.unlink(temp)


def ddl_job(ctx, download_id: int, filename: str | None = None, **_: Any) -> dict[str, Any]:
    """Job "automation.ddl": fetch one direct download and hand it to
    post-processing; a failed link fails the download (and searches on).
    Resumable: after a restart a fetch not finished starts again."""
    from . import postprocess
    from .downloads import fail_download

    download = db.session.get(Download, download_id)
    if download is None:
        return {"download_id": download_id, "error": "the download no longer exists"}
    if download.state != DL_QUEUED and download.state != DL_DOWNLOADING:
        # Run again after a restart: the file was fetched already (or the
        # download was cancelled meanwhile); never fetch it a second time.
        if download.state == DL_COMPLETED and download.save_path:
            return {"download_id": download_id, "path": download.save_path,
                    "postprocess_job_id": postprocess.submit(download.id)}
        return {"download_id": download_id, "skipped": download.state}
    client = db.session.get(DownloadClientConfig, download.client_id) if download.client_id else None
    folder = ((client.settings or {}).get("completed_folder") if client else None) or ""
    download.state = DL_DOWNLOADING
    db.session.commit()
    _publish(download)
    try:
        if not os.path.isdir(folder):
            raise DdlFailed(f"the completed folder {folder!r} of the receiving client is gone")
        path, size = fetch(download, folder, filename, ctx)
    except DdlFailed as exc:
        db.session.rollback()
        download = db.session.get(Download, download_id)
        fail_download(download, str(exc))
        return {"download_id": download_id, "error": str(exc)}
    download.save_path, download.size, download.progress = path, size, 1.0
    download.state, download.completed_at = DL_COMPLETED, utcnow()
    download.client_item_id = os.path.splitext(os.path.basename(path))[0]
    db.session.commit()
    _publish(download)
    job_id = postprocess.submit(download.id)
    return {"download_id": download_id, "path": path, "size": size, "postprocess_job_id": job_id}
