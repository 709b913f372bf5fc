"""``/api/downloads``: Comicarr's download history, queue, post-processing,
requeue, direct downloads and cancel, through the pipeline's services.

Rows use Mylar's and Comicarr's field names and status words. The history
is every download (Mylar's ``snatched`` table: ``IssueID, ComicName,
Issue_Number, Size, DateAdded, Status, FolderName, ComicID, Provider, Hash,
crc``; Status Snatched, Downloaded, Post-Processed, Failed or Removed); the
queue every active one (Comicarr's ``ddl_info`` row: ``ID, series, year,
filename, size, issueid, comicid, link, status, ...``; status Queued,
Downloading, Paused, Completed or Post-Processing), with its ``progress``.
Clearing the history never touches an active download.

``POST /downloads/process`` takes what Mylar's post-processing callers
send (ComicRN, autoProcessComics: ``nzb_name``, ``nzb_folder``, ``failed``,
``issueid``, ...), and ``download_id`` for one of ours; ``POST
/downloads/ddl`` Comicarr's ``{id, link, site}``.
"""
from __future__ import annotations

import os
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import delete, select

from ... import services
from ...auth import require
from ...automation import callbacks, ddl
from ...automation import downloads as download_service
from ...automation import postprocess
from ...errors import BadRequest, Conflict, NotFound
from ...extensions import db
from ...models.automation import (
    DL_COMPLETED, DL_DOWNLOADING, DL_FAILED, DL_IMPORTED, DL_IMPORTING, DL_PAUSED, DL_QUEUED,
    DL_REMOVED, SNATCHED, WANTED, Download, WatchedIssue, WatchedSeries,
)
from ...models.base import utcnow
from ...redact import mask_url
from ..errors_doc import LegacyErrorSchema, protected_errors
from ..pagination import LimitOffsetArgs, page_query
from ..validators import plain_text
from .common import SECURITY, ok, page
from .schemas import clean_id, issue_by_issue_id

blp = Blueprint("legacy_downloads", __name__, url_prefix="/api",
                description="Downloads: history, queue, post-processing, requeue, DDL, cancel")

FINISHED_STATES = (DL_IMPORTED, DL_FAILED, DL_REMOVED)
ACTIVE_STATES = (DL_QUEUED, DL_DOWNLOADING, DL_PAUSED, DL_COMPLETED, DL_IMPORTING)
# Mylar's snatched-table status of a download in each of our states.
HISTORY_STATUS = {DL_QUEUED: "Snatched", DL_DOWNLOADING: "Snatched", DL_PAUSED: "Snatched",
                  DL_COMPLETED: "Downloaded", DL_IMPORTING: "Downloaded",
                  DL_IMPORTED: "Post-Processed", DL_FAILED: "Failed", DL_REMOVED: "Removed"}
# Comicarr's ddl_info status of an active download.
QUEUE_STATUS = {DL_QUEUED: "Queued", DL_DOWNLOADING: "Downloading", DL_PAUSED: "Paused",
                DL_COMPLETED: "Completed", DL_IMPORTING: "Post-Processing",
                DL_IMPORTED: "Completed", DL_FAILED: "Failed", DL_REMOVED: "Removed"}
# Mylar's "link_type" of each protocol.
LINK_TYPES = {"usenet": "nzb", "torrent": "torrent", "ddl": "ddl"}


def _iso(moment) -> str | None:
    return moment.isoformat() + "Z" if moment is not None else None


def _issues_of(downloads: list[Download]) -> dict[int, tuple[WatchedIssue, WatchedSeries]]:
    """The watched issue and series of each download of a page, in one query."""
    ids = {d.watched_issue_id for d in downloads if d.watched_issue_id}
    if not ids:
        return {}
    rows = db.session.execute(select(WatchedIssue, WatchedSeries).join(
        WatchedSeries, WatchedSeries.id == WatchedIssue.watched_series_id)
        .where(WatchedIssue.id.in_(ids))).all()
    return {issue.id: (issue, series) for issue, series in rows}


def history_row(download: Download, issue: WatchedIssue | None,
                series: WatchedSeries | None) -> dict[str, Any]:
    """Mylar's snatched row; ``id``, ``progress``, ``error`` and ``BookID``
    are comicsrv's (the id is what requeue and cancel take)."""
    return {
        "IssueID": issue.provider_id if issue else None,
        "ComicName": series.name if series else download.title,
        "Issue_Number": issue.number if issue else None,
        "Size": download.size, "DateAdded": _iso(download.created_at),
        "Status": HISTORY_STATUS.get(download.state, download.state.capitalize()),
        "FolderName": os.path.basename(download.save_path) if download.save_path
        else download.title,
        "ComicID": series.provider_id if series else None,
        "Provider": download.indexer,
        "Hash": download.client_item_id if download.protocol == "torrent" else None,
        "crc": None,
        "id": download.id, "progress": download.progress or 0.0, "error": download.error,
        "BookID": download.book_id,
    }


def queue_row(download: Download, issue: WatchedIssue | None,
              series: WatchedSeries | None) -> dict[str, Any]:
    """Comicarr's ddl_info row, for every active download whatever its
    protocol (``link_type``); ``progress`` (0..1), ``client_item_id`` and
    ``error`` are comicsrv's."""
    return {
        "ID": download.id, "series": series.name if series else None,
        "year": series.year if series else None, "filename": download.title,
        "size": download.size, "issueid": issue.provider_id if issue else None,
        "comicid": series.provider_id if series else None,
        "link": mask_url(download.download_url),
        "status": QUEUE_STATUS.get(download.state, download.state.capitalize()),
        "remote_filesize": download.size, "updated_date": _iso(download.updated_at),
        "mainlink": mask_url(download.guid) if download.guid and "://" in download.guid
        else None,
        "issues": issue.number if issue else None, "site": download.indexer,
        "submit_date": _iso(download.created_at), "pack": False,
        "link_type": LINK_TYPES.get(download.protocol, download.protocol),
        "tmp_filename": None,
        "progress": download.progress or 0.0, "client_item_id": download.client_item_id,
        "error": download.error,
    }


def _rows(downloads: list[Download], serialize) -> list[dict[str, Any]]:
    found = _issues_of(downloads)
    rows = []
    for download in downloads:
        issue, series = found.get(download.watched_issue_id, (None, None))
        rows.append(serialize(download, issue, series))
    return rows


def _page(query, args: dict[str, int], serialize) -> dict[str, Any]:
    downloads, total = page_query(query, args)
    return page(_rows(downloads, serialize), total, args["limit"], args["offset"])


def _download(item_id: int) -> Download:
    download = db.session.get(Download, item_id) if 0 < item_id < 2**31 else None
    if download is None:
        raise NotFound(f"Download {item_id} not found")
    return download


# --- schemas ---------------------------------------------------------------------

def _page_schema(name: str, row: type[Schema]) -> type[Schema]:
    data = type(f"{name}PageSchema", (Schema,), {
        "results": fields.List(fields.Nested(row), required=True),
        "total": fields.Integer(required=True), "limit": fields.Integer(required=True),
        "offset": fields.Integer(required=True), "has_more": fields.Boolean(required=True)})
    return type(f"{name}EnvelopeSchema", (Schema,), {
        "success": fields.Boolean(required=True), "data": fields.Nested(data, required=True)})


def _envelope(name: str, data: type[Schema]) -> type[Schema]:
    return type(f"{name}EnvelopeSchema", (Schema,), {
        "success": fields.Boolean(required=True), "data": fields.Nested(data, required=True)})


class HistoryRowSchema(Schema):
    IssueID = fields.String(allow_none=True)
    ComicName = fields.String()
    Issue_Number = fields.String(allow_none=True)
    Size = fields.Integer(allow_none=True)
    DateAdded = fields.String(allow_none=True)
    Status = fields.String(metadata={
        "description": "Snatched, Downloaded, Post-Processed, Failed or Removed"})
    FolderName = fields.String(allow_none=True)
    ComicID = fields.String(allow_none=True)
    Provider = fields.String(allow_none=True)
    Hash = fields.String(allow_none=True)
    crc = fields.String(allow_none=True)
    id = fields.Integer(metadata={"description": "comicsrv's download id (requeue, cancel)"})
    progress = fields.Float()
    error = fields.String(allow_none=True)
    BookID = fields.Integer(allow_none=True)


class QueueRowSchema(Schema):
    ID = fields.Integer(metadata={"description": "the download id (requeue, cancel)"})
    series = fields.String(allow_none=True)
    year = fields.Integer(allow_none=True)
    filename = fields.String()
    size = fields.Integer(allow_none=True)
    issueid = fields.String(allow_none=True)
    comicid = fields.String(allow_none=True)
    link = fields.String(allow_none=True, metadata={"description": "secrets masked"})
    status = fields.String(metadata={
        "description": "Queued, Downloading, Paused, Completed or Post-Processing"})
    remote_filesize = fields.Integer(allow_none=True)
    updated_date = fields.String(allow_none=True)
    mainlink = fields.String(allow_none=True)
    issues = fields.String(allow_none=True)
    site = fields.String(allow_none=True)
    submit_date = fields.String(allow_none=True)
    pack = fields.Boolean()
    link_type = fields.String(metadata={"description": "nzb, torrent or ddl"})
    tmp_filename = fields.String(allow_none=True)
    progress = fields.Float(metadata={"description": "0 to 1"})
    client_item_id = fields.String(allow_none=True)
    error = fields.String(allow_none=True)


class HistoryDeletedSchema(Schema):
    deleted = fields.Integer()


class ProcessedSchema(Schema):
    job_id = fields.Integer()
    download_id = fields.Integer(allow_none=True)
    outcome = fields.String(allow_none=True, metadata={"description": "success or failure"})
    message = fields.String()


class CancelledSchema(QueueRowSchema):
    pass


class RequeuedSchema(Schema):
    download = fields.Nested(HistoryRowSchema)
    issue_id = fields.String(allow_none=True)
    job_id = fields.Integer(allow_none=True, metadata={"description": "a direct download's fetch"})
    search = fields.Raw(allow_none=True, metadata={"description": "the search for the issue"})


class DdlQueuedSchema(QueueRowSchema):
    job_id = fields.Integer()
    message = fields.String()


HistoryEnvelope = _page_schema("History", HistoryRowSchema)
QueueEnvelope = _page_schema("Queue", QueueRowSchema)
DeletedEnvelope = _envelope("HistoryDeleted", HistoryDeletedSchema)
ProcessedEnvelope = _envelope("Processed", ProcessedSchema)
CancelledEnvelope = _envelope("Cancelled", CancelledSchema)
RequeuedEnvelope = _envelope("Requeued", RequeuedSchema)
DdlEnvelope = _envelope("DdlQueued", DdlQueuedSchema)


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=max_length), plain_text], **kwargs)


class Flag(fields.Boolean):
    """Mylar's callers send booleans as true/false, 1/0 or "True"/"False"."""

    truthy = fields.Boolean.truthy | {"True", "TRUE", "yes", "Yes"}
    falsy = fields.Boolean.falsy | {"False", "FALSE", "no", "No", "None", ""}


class ProcessSchema(Schema):
    """Mylar's forceProcess parameters, as ComicRN and autoProcessComics send
    them, plus ``download_id`` (comicsrv's)."""

    nzb_name = _text(1000, metadata={"description": "the download's name at its client"})
    nzb_folder = _text(4096, metadata={"description": "where the client unpacked it (mapped "
                                                     "through the remote path mappings)"})
    failed = Flag(load_default=False, metadata={"description": "the download failed"})
    issueid = fields.Raw(allow_none=True, metadata={
        "description": "the issue's IssueID, to import a download comicsrv did not grab"})
    comicid = fields.Raw(allow_none=True, metadata={"description": "accepted, not needed"})
    ddl = Flag(load_default=False)
    oneoff = Flag(load_default=False)
    apc_version = fields.Raw(allow_none=True)
    comicrn_version = fields.Raw(allow_none=True)
    download_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1),
                                 metadata={"description": "post-process this download "
                                                          "(comicsrv's id)"})


class HistoryDeleteArgs(Schema):
    status = fields.String(validate=validate.OneOf(("Post-Processed", "Failed", "Removed")),
                           metadata={"description": "only rows with this Status"})


class CancelArgs(Schema):
    delete_files = fields.Boolean(load_default=False)


class DdlSchema(Schema):
    """Comicarr's direct download: the issue, the link and the site it is on."""

    id = fields.Raw(required=True, metadata={
        "description": "the issue's IssueID (a number or a string, 4000- prefix allowed)",
        "anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]})
    link = _text(4000, required=True, metadata={"description": "http(s) URL of the file"})
    site = _text(200, required=True, metadata={
        "description": "where the link is: DDL(GetComics), Mega, MediaFire, Pixeldrain, ..."})
    filename = _text(500, metadata={"description": "the file name; else from the server"})


def _issue_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise BadRequest("id: the issue's IssueID (a number or a string) is required")
    return str(value)


# --- history and queue -----------------------------------------------------------

@blp.route("/downloads/history")
class History(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LimitOffsetArgs, location="query")
    @blp.response(200, HistoryEnvelope)
    @protected_errors(blp, 400, schema=LegacyErrorSchema)
    def get(self, args):
        """Every download, newest first, in Mylar's snatched-row fields."""
        query = select(Download).order_by(Download.created_at.desc(), Download.id.desc())
        return _page(query, args, history_row)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(HistoryDeleteArgs, location="query")
    @blp.response(200, DeletedEnvelope)
    @protected_errors(blp, 400, schema=LegacyErrorSchema)
    def delete(self, args):
        """Forget finished downloads (only those of ``status`` if given);
        active ones stay. The blocklist stays too, so a failed release is
        still never grabbed again."""
        states = FINISHED_STATES
        if args.get("status"):
            states = tuple(s for s in FINISHED_STATES if HISTORY_STATUS[s] == args["status"])
        result = db.session.execute(delete(Download).where(Download.state.in_(states)))
        db.session.commit()
        return ok({"deleted": result.rowcount})


@blp.route("/downloads/queue")
class Queue(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LimitOffsetArgs, location="query")
    @blp.response(200, QueueEnvelope)
    @protected_errors(blp, 400, schema=LegacyErrorSchema)
    def get(self, args):
        """Active downloads of every protocol, oldest first, in Comicarr's
        ddl_info fields with their progress."""
        query = (select(Download).where(Download.state.in_(ACTIVE_STATES))
                 .order_by(Download.id))
        return _page(query, args, queue_row)


# --- actions ---------------------------------------------------------------------

@blp.route("/downloads/process")
class Process(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(ProcessSchema(), required=False)
    @blp.response(202, ProcessedEnvelope)
    @protected_errors(blp, 400, 404, 409, schema=LegacyErrorSchema)
    def post(self, body):
        """Post-process a finished download, as Mylar's callers ask for it:
        the download named ``nzb_name`` (its client's name for it), unpacked
        in ``nzb_folder``; ``failed`` fails it instead (blocklisted, its
        issue wanted and searched again). A download comicsrv did not grab is
        imported for ``issueid``. ``download_id`` post-processes one of
        comicsrv's downloads; an empty body polls the download clients now
        (finished downloads go on to post-processing)."""
        body = body or {}
        if body.get("download_id") is not None:
            download = _download(body["download_id"])
            outcome = "failure" if body.get("failed") else None
            if outcome == "failure" and download.state != DL_FAILED:
                download_service.fail_download(download, "reported failed by its caller")
                db.session.refresh(download)
                return ok({"job_id": download.job_id, "download_id": download.id,
                           "outcome": "failure", "message": f"{download.title} failed"})
            job_id = postprocess.submit(download.id, outcome)
            return ok({"job_id": job_id, "download_id": download.id, "outcome": outcome
                       or ("failure" if download.state == DL_FAILED else "success"),
                       "message": f"Post-processing queued for {download.title}"})
        if body.get("nzb_name") or body.get("nzb_folder"):
            issue_id = body.get("issueid")
            result = callbacks.process(body.get("nzb_name"), body.get("nzb_folder"),
                                       failed=body["failed"],
                                       issue_id=str(issue_id) if issue_id not in (None, "")
                                       else None,
                                       protocol="ddl" if body["ddl"] else "usenet")
            name = body.get("nzb_name") or body.get("nzb_folder")
            return ok({**result, "message": (f"{name} marked failed" if body["failed"] else
                                             f"Post-processing queued for {name}")})
        runner = services.jobs()
        job_id = runner.submit(download_service.JOB_TYPE, {})
        return ok({"job_id": job_id, "download_id": None, "outcome": None,
                   "message": "Checking the download clients for finished downloads"})


@blp.route("/downloads/<int:item_id>/requeue")
class Requeue(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, RequeuedEnvelope)
    @protected_errors(blp, 404, 409, schema=LegacyErrorSchema)
    def post(self, item_id):
        """A failed download again: a direct download fetches its link again
        (Comicarr's DDL requeue); any other keeps its release blocklisted,
        wants its issue again and searches for the next candidate."""
        from ...automation.search import search_issue

        download = _download(item_id)
        if download.state != DL_FAILED:
            raise Conflict(f"Download {item_id} is {download.state}; only a failed download "
                           "can be requeued")
        issue = (db.session.get(WatchedIssue, download.watched_issue_id)
                 if download.watched_issue_id else None)
        if issue is None:
            raise Conflict(f"Download {item_id} belongs to no watched issue to search again")
        if download.protocol == ddl.PROTOCOL and download.download_url:
            job_id = ddl.requeue(download)
            series = issue.series
            return ok({"download": history_row(download, issue, series),
                       "issue_id": issue.provider_id, "job_id": job_id, "search": None})
        if issue.state in (SNATCHED, WANTED):
            issue.state, issue.state_changed_at = WANTED, utcnow()
            db.session.commit()
        result = search_issue(issue.id)
        return ok({"download": history_row(download, issue, issue.series),
                   "issue_id": issue.provider_id, "job_id": None, "search": result})


@blp.route("/downloads/<int:item_id>")
class Cancel(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(CancelArgs, location="query")
    @blp.response(200, CancelledEnvelope)
    @protected_errors(blp, 400, 404, 503, schema=LegacyErrorSchema)
    def delete(self, args, item_id):
        """Cancel a download at its client (``delete_files`` to drop its data);
        its issue is wanted again unless it was imported."""
        _download(item_id)
        download = download_service.remove(item_id, delete_files=args["delete_files"])
        return ok(_rows([download], queue_row)[0])


@blp.route("/downloads/ddl")
class DirectDownload(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(DdlSchema)
    @blp.response(200, DdlEnvelope)
    @protected_errors(blp, 400, 404, 409, schema=LegacyErrorSchema)
    def post(self, body):
        """Queue a direct download for the issue ``id`` (its IssueID): the
        file is fetched into the first enabled blackhole client's completed
        folder (the queue shows its progress), then post-processed for the
        issue. A link that fails fails the download: the issue is wanted and
        searched again."""
        issue = issue_by_issue_id(clean_id(_issue_id(body["id"])))
        download, job_id = ddl.queue(issue, body["link"], body["site"], body.get("filename"))
        row = _rows([download], queue_row)[0]
        return ok({**row, "job_id": job_id,
                   "message": f"DDL download queued: {issue.provider_id}"})
