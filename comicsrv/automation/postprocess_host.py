"""The host side of post-processing: what a step plugin may ask comicsrv for.

Plugins import only ``comicsrv.hookspecs``; this class is how the built-in
and third-party steps reach the database, settings, the archive readers and
the library indexer (see ``hookspecs.PostProcessHost``). CPU and disk heavy
calls go through the CPU pool so a gevent server never stalls on them.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Any

from flask import current_app
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from .. import naming, services
from ..comicinfo import ComicMetadata, to_comicinfo_xml
from ..events import DownloadFailed
from ..extensions import db
from ..hookspecs import IntegrationError, PostProcessError, PostProcessHost
from ..jobs.pool import run_cpu
from ..models import Library, utcnow
from ..models.automation import (
    DL_IMPORTED, DOWNLOADED, WANTED, BlockedRelease, Download, DownloadClientConfig,
    WatchedIssue, WatchedSeries,
)
from ..settings_store import get_setting
from . import comicfiles, downloads, search, tagging, transfer

log = logging.getLogger(__name__)

# Protocols whose client is done with the files once the download completes
# ("ddl": a direct download comicsrv fetched itself into a blackhole folder).
NOT_SEEDED = frozenset({"usenet", "ddl"})

# Provider credit roles (lower case) -> ComicMetadata list fields.
CREDIT_ROLES = {
    "writer": ("writer",), "script": ("writer",), "story": ("writer",), "plot": ("writer",),
    "artist": ("penciller", "inker"), "penciller": ("penciller",), "penciler": ("penciller",),
    "pencils": ("penciller",), "inker": ("inker",), "inks": ("inker",),
    "colorist": ("colorist",), "colourist": ("colorist",), "colors": ("colorist",),
    "letterer": ("letterer",), "letters": ("letterer",), "cover": ("cover_artist",),
    "cover artist": ("cover_artist",), "editor": ("editor",), "translator": ("translator",),
}


class NoLibrary(PostProcessError):
    pass


def _row_dict(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    values = {}
    for column in sa_inspect(row).mapper.column_attrs:
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if hasattr(value, "isoformat") else value
    return values


class Host(PostProcessHost):
    def __init__(self, download_id: int, job_id: int | None = None) -> None:
        self.download_id = download_id
        self.job_id = job_id
        self.cache_dir = current_app.config["CACHE_DIR"]
        self.archive_cache = os.path.join(self.cache_dir, "archives")

    # -- rows ----------------------------------------------------------------

    def _download(self) -> Download:
        row = db.session.get(Download, self.download_id)
        if row is None:
            raise PostProcessError(f"download {self.download_id} no longer exists")
        return row

    def _issue(self) -> WatchedIssue | None:
        issue_id = self._download().watched_issue_id
        return db.session.get(WatchedIssue, issue_id) if issue_id else None

    def _series(self) -> WatchedSeries | None:
        issue = self._issue()
        return issue.series if issue is not None else None

    @property
    def download(self) -> dict[str, Any]:
        return _row_dict(self._download())

    @property
    def issue(self) -> dict[str, Any] | None:
        return _row_dict(self._issue())

    @property
    def series(self) -> dict[str, Any] | None:
        return _row_dict(self._series())

    def setting(self, key: str) -> Any:
        return get_setting(key)

    # -- files ---------------------------------------------------------------

    def work_dir(self, name: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "_"
        path = os.path.join(self.cache_dir, "postprocess", str(self.download_id), safe)
        os.makedirs(path, exist_ok=True)
        return path

    def _inside_work(self, path: str) -> str:
        base = os.path.realpath(os.path.join(self.cache_dir, "postprocess", str(self.download_id)))
        real = os.path.realpath(path)
        if os.path.commonpath([base, real]) != base:
            raise PostProcessError(f"{path} is outside this download's work folder")
        return real

    def find_comics(self, path: str) -> dict[str, Any]:
        extract_dir = self.work_dir("extracted")
        comicfiles.remove_tree(extract_dir)  # a rerun starts from a clean folder
        os.makedirs(extract_dir, exist_ok=True)
        try:
            found, skipped = run_cpu(comicfiles.find_comics, path, extract_dir, self.archive_cache)
        except comicfiles.ComicFileError as exc:
            raise PostProcessError(exc.reason) from None
        return {"files": [vars(f) for f in found], "skipped": skipped}

    def inspect_comic(self, path: str) -> dict[str, Any]:
        try:
            return run_cpu(comicfiles.inspect, path, self.archive_cache)
        except comicfiles.ComicFileError as exc:
            raise PostProcessError(exc.reason) from None

    def convert_to_cbz(self, path: str, target: str) -> dict[str, Any]:
        target = self._inside_work(target)
        try:
            return tagging.convert_copy(path, target, self.archive_cache)
        except comicfiles.ComicFileError as exc:
            raise PostProcessError(exc.reason) from None

    def embed_comicinfo(self, path: str, target: str, comicinfo: bytes) -> None:
        target = self._inside_work(target)
        try:
            # A copy of a library book is noted as that book (automation.tagging).
            tagging.tag_copy(path, target, comicinfo)
        except comicfiles.ComicFileError as exc:
            raise PostProcessError(exc.reason) from None

    def file_digest(self, path: str) -> str:
        return run_cpu(transfer.file_digest, path)

    def _client_row(self) -> DownloadClientConfig | None:
        download = self._download()
        return db.session.get(DownloadClientConfig, download.client_id) if download.client_id else None

    def is_torrent(self) -> bool:
        """Whether a torrent client may be seeding from the download's files.

        The download's protocol is what grabbed it ("torrent", "usenet",
        "ddl"); one it does not name comes from its client, and with no
        client either it counts as a torrent: copying a file that nobody
        seeds costs disk space, moving a seeding one breaks the torrent.
        """
        protocol = (self._download().protocol or "").lower()
        if protocol == "torrent" or protocol in NOT_SEEDED:
            return protocol == "torrent"
        row = self._client_row()
        return row is None or row.protocol != "usenet"

    def transfer_mode(self) -> str:
        return transfer.mode_for(self.is_torrent(), get_setting("postprocess.transfer_mode"),
                                 get_setting("postprocess.torrent_transfer_mode"))

    def release_from_client(self) -> dict[str, Any]:
        if not self.is_torrent():
            return {"released": False,
                    "message": "skipped: not a torrent, no client seeds from the files"}
        download, row = self._download(), self._client_row()
        if row is None or not download.client_item_id:
            return {"released": False, "message": "skipped: the download is at no client"}
        try:
            # Idempotent: qBittorrent and the blackhole accept an item they
            # no longer hold, so a rerun after a crash passes here again.
            downloads.client_instance(row).remove(download.client_item_id, delete_files=False)
        except Exception as exc:  # a plugin's failure of any kind: nothing may be moved
            reason = str(exc) if isinstance(exc, IntegrationError) else f"{type(exc).__name__}: {exc}"
            raise PostProcessError(f"{row.name} could not remove the torrent, so its files "
                                   f"were not moved (it may still seed from them): {reason}") from None
        log.info("download %s: removed from %s before moving its files", download.id, row.name)
        return {"released": True, "message": f"removed from {row.name}, files kept, to move them"}

    def transfer(self, source: str, destination: str, *, mode: str | None = None,
                 sha256: str | None = None, size: int | None = None) -> dict[str, Any]:
        result = run_cpu(
            transfer.transfer, source, destination, mode or self.transfer_mode(),
            file_mode=transfer.parse_mode(get_setting("postprocess.file_mode"), 0o644),
            folder_mode=transfer.parse_mode(get_setting("postprocess.folder_mode"), 0o755),
            expected_sha256=sha256, expected_size=size)
        return result.to_dict()

    # -- metadata --------------------------------------------------------------

    def metadata(self) -> ComicMetadata | None:
        issue, series = self._issue(), self._series()
        if issue is None or series is None:
            return None
        meta = ComicMetadata(source="ComicInfo")
        meta.series = series.name
        meta.number = issue.number
        meta.volume = series.volume or series.year
        meta.count = series.issue_count
        meta.title = issue.title
        meta.summary = issue.description
        meta.publisher = series.publisher
        date = issue.cover_date or issue.store_date
        if date:
            parts = [int(p) for p in re.findall(r"\d+", date)[:3]]
            meta.year = parts[0] if parts else None
            meta.month = parts[1] if len(parts) > 1 else None
            meta.day = parts[2] if len(parts) > 2 else None
        for role, people in (issue.credits or {}).items():
            for attr in CREDIT_ROLES.get(str(role).strip().lower(), ()):
                names = getattr(meta, attr)
                names.extend(p for p in people if p and p not in names)
        if series.url:
            meta.web = [series.url]
        meta.notes = (f"Tagged by comicsrv from {series.provider} "
                      f"[Issue ID {issue.provider_id}]")
        return meta

    def comicinfo(self) -> bytes | None:
        meta = self.metadata()
        return to_comicinfo_xml(meta) if meta is not None else None

    # -- destination -------------------------------------------------------------

    def _library(self, series: WatchedSeries | None) -> Library:
        candidates = []
        if series is not None and series.library_id:
            candidates.append(db.session.get(Library, series.library_id))
        default_id = get_setting("automation.default_library_id")
        if default_id:
            candidates.append(db.session.get(Library, default_id))
        candidates.append(db.session.execute(
            select(Library).where(Library.enabled.is_(True)).order_by(Library.id).limit(1)
        ).scalar())
        for library in candidates:
            if library is not None and library.enabled:
                return library
        raise NoLibrary("no library to import into: set the series' library, the setting "
                        "automation.default_library_id, or add a library")

    def destination(self, extension: str) -> dict[str, Any]:
        issue, series = self._issue(), self._series()
        library = self._library(series)
        if issue is None:
            # Nothing to name it by: keep the release's own name.
            name = naming.safe_component(os.path.splitext(self._download().title)[0],
                                         reserve=len(extension) + naming.SUFFIX_ROOM)
            relative = f"{name}{extension}"
        else:
            relative = naming.render_path(get_setting("postprocess.rename_template"),
                                          naming.fields_for(series, issue), extension)
        if series is not None and series.folder:
            folder = series.folder
            if os.path.isabs(folder):
                folder = os.path.relpath(folder, library.path)
            parts = [p for p in re.split(r"[/\\]", folder) if p not in ("", ".")]
            if ".." in parts:
                raise PostProcessError(f"the series folder {series.folder!r} is outside "
                                       f"library {library.name}")
            relative = "/".join(parts + [relative.rsplit("/", 1)[-1]])
        return {"library_id": library.id, "root": library.path,
                "path": os.path.join(library.path, *relative.split("/"))}

    # -- library and state ----------------------------------------------------------

    def index_file(self, library_id: int, path: str) -> int:
        from ..library.scanner import index_file

        return index_file(library_id, path).id

    def mark_imported(self, book_id: int, path: str) -> None:
        download = self._download()
        download.state, download.book_id = DL_IMPORTED, book_id
        download.imported_at, download.error = utcnow(), None
        issue = self._issue()
        if issue is not None:
            issue.state, issue.book_id, issue.state_changed_at = DOWNLOADED, book_id, utcnow()
            series = issue.series
            if series.series_id is None:
                from ..models import Book

                book = db.session.get(Book, book_id)
                series.series_id = book.series_id if book is not None else None
        db.session.commit()

    def remove_from_client(self) -> str:
        result = downloads.remove_completed(self._download())
        db.session.commit()
        return str(result) if result is not None else "done"

    def blocklist(self, reason: str) -> None:
        download = self._download()
        same = [
            BlockedRelease.title == download.title,
            BlockedRelease.guid == download.guid if download.guid else BlockedRelease.guid.is_(None),
            BlockedRelease.indexer == download.indexer if download.indexer
            else BlockedRelease.indexer.is_(None),
        ]
        exists = db.session.execute(select(BlockedRelease.id).where(*same).limit(1)).scalar()
        if exists is None:
            db.session.add(BlockedRelease(guid=download.guid, title=download.title,
                                          indexer=download.indexer, reason=reason[:1000],
                                          watched_issue_id=download.watched_issue_id))
            db.session.commit()

    def set_issue_wanted(self) -> None:
        issue = self._issue()
        if issue is not None and issue.state != WANTED:
            issue.state, issue.state_changed_at = WANTED, utcnow()
            db.session.commit()

    def announce_failure(self, reason: str) -> None:
        download = self._download()
        services.events().publish(DownloadFailed(
            download_id=download.id, title=download.title, reason=reason,
            watched_issue_id=download.watched_issue_id))

    def search_next(self) -> str:
        issue = self._issue()
        if issue is None:
            return "skipped: the download belongs to no watched issue"
        result = search.search_issue(issue.id)
        return f"searched: {result}" if result is not None else "searched"
