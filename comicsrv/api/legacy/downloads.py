"""``/api/downloads``: Comicarr's download history, queue, post-processing,
requeue, direct downloads and cancel, through the pipeline's services.

History is every finished download (imported, failed, removed); the queue
is every active one with its progress. Clearing the history never touches
an active download.
"""
from __future__ import annotations

import os
import re
import tempfile
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import delete, select

from ...auth import require
from ...automation import downloads as download_service
from ...automation import postprocess
from ...errors import BadRequest, Conflict, NotFound, Unavailable
from ...events import DownloadUpdated
from ...extensions import db
from ...models.automation import (
    DL_COMPLETED, DL_DOWNLOADING, DL_FAILED, DL_IMPORTED, DL_IMPORTING, DL_PAUSED, DL_QUEUED,
    DL_REMOVED, SNATCHED, WANTED, Download, DownloadClientConfig, WatchedIssue,
)
from ...models.base import utcnow
from ..pagination import LimitOffsetArgs
from .common import SECURITY, EnvelopeSchema, ok, page_of_query

blp = Blueprint("legacy_downloads", __name__, url_prefix="/api",
                description="Downloads: history, queue, post-processing, requeue, DDL, cancel")

FINISHED_STATES = (DL_IMPORTED, DL_FAILED, DL_REMOVED)
ACTIVE_STATES = (DL_QUEUED, DL_DOWNLOADING, DL_PAUSED, DL_COMPLETED, DL_IMPORTING)
# What a direct download may be: a comic archive or a PDF, never anything else.
DDL_EXTENSIONS = (".cbz", ".cbr", ".cb7", ".cbt", ".zip", ".rar", ".7z", ".pdf", ".epub")
DDL_MAX_BYTES = 4 * 1024**3
DDL_TIMEOUT = (10, 60)
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def serialize(download: Download) -> dict[str, Any]:
    return {"id": download.id, "title": download.title, "state": download.state,
            "progress": download.progress or 0.0, "size": download.size,
            "indexer": download.indexer, "protocol": download.protocol,
            "client_id": download.client_id, "client_item_id": download.client_item_id,
            "issue_id": download.watched_issue_id, "save_path": download.save_path,
            "error": download.error, "book_id": download.book_id, "job_id": download.job_id,
            "created_at": _iso(download.created_at), "updated_at": _iso(download.updated_at),
            "completed_at": _iso(download.completed_at),
            "imported_at": _iso(download.imported_at)}


def _iso(moment) -> str | None:
    return moment.isoformat() + "Z" if moment is not None else None


def _download(item_id: int) -> Download:
    download = db.session.get(Download, item_id)
    if download is None:
        raise NotFound(f"Download {item_id} not found")
    return download


# --- schemas ---------------------------------------------------------------------

class ProcessSchema(Schema):
    download_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1),
                                 metadata={"description": "post-process only this download"})


class CancelArgs(Schema):
    delete_files = fields.Boolean(load_default=False)


class DdlSchema(Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, validate=validate.Length(max=4000))
    issue_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    title = fields.String(validate=validate.Length(min=1, max=500),
                          metadata={"description": "the file name; from the URL when absent"})


# --- history and queue -----------------------------------------------------------

@blp.route("/downloads/history")
class History(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LimitOffsetArgs, location="query")
    @blp.response(200, EnvelopeSchema)
    def get(self, args):
        """Finished downloads (imported, failed, removed), newest first."""
        query = (select(Download).where(Download.state.in_(FINISHED_STATES))
                 .order_by(Download.updated_at.desc(), Download.id.desc()))
        return page_of_query(query, args, serialize)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, EnvelopeSchema)
    def delete(self):
        """Forget every finished download; active ones stay. The blocklist stays
        too, so a failed release is still never grabbed again."""
        result = db.session.execute(delete(Download).where(Download.state.in_(FINISHED_STATES)))
        db.session.commit()
        return ok({"deleted": result.rowcount})


@blp.route("/downloads/queue")
class Queue(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LimitOffsetArgs, location="query")
    @blp.response(200, EnvelopeSchema)
    def get(self, args):
        """Active downloads with their progress (0..1), oldest first."""
        query = (select(Download).where(Download.state.in_(ACTIVE_STATES))
                 .order_by(Download.id))
        return page_of_query(query, args, serialize)


# --- actions ---------------------------------------------------------------------

@blp.route("/downloads/process")
class Process(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(ProcessSchema(), required=False)
    @blp.response(202, EnvelopeSchema)
    def post(self, body):
        """Run the download monitor now (finished downloads go on to
        post-processing), or post-process one download (``download_id``)."""
        body = body or {}
        if body.get("download_id") is not None:
            _download(body["download_id"])
            job_id = postprocess.submit(body["download_id"])
            return ok({"job_id": job_id, "download_id": body["download_id"]})
        runner = current_app.extensions["comicsrv.jobs"]
        job_id = runner.submit(download_service.JOB_TYPE, {})
        return ok({"job_id": job_id})


@blp.route("/downloads/<int:item_id>/requeue")
class Requeue(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, EnvelopeSchema)
    def post(self, item_id):
        """A failed download: its release stays blocklisted, its issue is wanted
        again and searched for the next candidate."""
        from ...automation.search import search_issue

        download = _download(item_id)
        if download.state != DL_FAILED:
            raise Conflict(f"Download {item_id} is {download.state}; only a failed download "
                           "can be requeued")
        issue = (db.session.get(WatchedIssue, download.watched_issue_id)
                 if download.watched_issue_id else None)
        if issue is None:
            raise Conflict(f"Download {item_id} belongs to no watched issue to search again")
        if issue.state in (SNATCHED, WANTED):
            issue.state, issue.state_changed_at = WANTED, utcnow()
            db.session.commit()
        result = search_issue(issue.id)
        return ok({"download": serialize(download), "issue_id": issue.id, "search": result})


@blp.route("/downloads/<int:item_id>")
class Cancel(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(CancelArgs, location="query")
    @blp.response(200, EnvelopeSchema)
    def delete(self, args, item_id):
        """Cancel a download at its client (``delete_files`` to drop its data);
        its issue is wanted again unless it was imported."""
        download = download_service.remove(item_id, delete_files=args["delete_files"])
        return ok(serialize(download))


@blp.route("/downloads/ddl")
class DirectDownload(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(DdlSchema)
    @blp.response(201, EnvelopeSchema)
    def post(self, body):
        """Download a comic file from a direct link into the first enabled
        blackhole client's completed folder, then post-process it for the
        issue as any finished download."""
        issue = db.session.get(WatchedIssue, body["issue_id"])
        if issue is None:
            raise NotFound(f"Issue {body['issue_id']} not found")
        client = _blackhole()
        folder = client.settings.get("completed_folder") or ""
        if not os.path.isdir(folder):
            raise Conflict(f"The completed folder of {client.name} ({folder}) does not exist")
        path, size = _fetch_into(body["url"], folder, body.get("title"))
        stem = os.path.splitext(os.path.basename(path))[0]
        download = Download(watched_issue_id=issue.id, title=os.path.basename(path),
                            download_url=body["url"], indexer="ddl", protocol="ddl", size=size,
                            client_id=client.id, client_item_id=stem, state=DL_COMPLETED,
                            progress=1.0, save_path=path, completed_at=utcnow())
        db.session.add(download)
        issue.state, issue.state_changed_at = SNATCHED, utcnow()
        db.session.commit()
        current_app.extensions["comicsrv.events"].publish(DownloadUpdated(
            download_id=download.id, title=download.title, state=DL_COMPLETED, progress=1.0))
        job_id = postprocess.submit(download.id)
        db.session.refresh(download)
        return ok({**serialize(download), "job_id": job_id})


def _blackhole() -> DownloadClientConfig:
    row = db.session.execute(
        select(DownloadClientConfig).where(DownloadClientConfig.kind == "blackhole",
                                           DownloadClientConfig.enabled.is_(True))
        .order_by(DownloadClientConfig.priority, DownloadClientConfig.id).limit(1)).scalar()
    if row is None:
        raise BadRequest("Direct downloads need an enabled blackhole download client: "
                         "its completed folder receives the file")
    return row


def _file_name(url: str, response: requests.Response, title: str | None) -> str:
    disposition = response.headers.get("Content-Disposition", "")
    match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition)
    name = title or (unquote(match.group(1)) if match else "") or \
        unquote(os.path.basename(urlsplit(url).path))
    name = " ".join(_UNSAFE.sub(" ", name).split()).strip(" .")[:180]
    if not name.lower().endswith(DDL_EXTENSIONS):
        raise BadRequest(f"{name or url!r} is not a comic file ({', '.join(DDL_EXTENSIONS)})")
    return name


def _fetch_into(url: str, folder: str, title: str | None) -> tuple[str, int]:
    """Stream ``url`` into a hidden temporary file in ``folder`` (the client's
    status ignores dot files), then link it to its name, never overwriting."""
    try:
        response = requests.get(url, stream=True, timeout=DDL_TIMEOUT,
                                headers={"User-Agent": "comicsrv"})
    except requests.RequestException as exc:
        raise Unavailable(f"Cannot fetch {url}: {type(exc).__name__}") from None
    with response:
        if response.status_code >= 400:
            raise Unavailable(f"{url} answered HTTP {response.status_code}")
        name = _file_name(url, response, title)
        fd, temp = tempfile.mkstemp(prefix=".comicsrv-ddl-", suffix=".part", dir=folder)
        try:
            size = 0
            with os.fdopen(fd, "wb") as handle:
                for chunk in response.iter_content(1 << 16):
                    size += len(chunk)
                    if size > DDL_MAX_BYTES:
                        raise BadRequest(f"{url} is larger than {DDL_MAX_BYTES >> 30} GiB")
                    handle.write(chunk)
            if size == 0:
                raise Unavailable(f"{url} answered an empty file")
            stem, extension = os.path.splitext(name)
            for attempt in range(1000):
                target = os.path.join(folder, (stem if attempt == 0 else f"{stem} ({attempt})")
                                      + extension)
                try:
                    os.link(temp, target)
                except FileExistsError:
                    continue
                return target, size
            raise Conflict(f"Too many files named {name!r} in {folder}")
        except requests.RequestException as exc:
            raise Unavailable(f"Downloading {url} failed: {type(exc).__name__}") from None
        finally:
            os.unlink(temp)
