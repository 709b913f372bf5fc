"""LANraragi's server operations: ``/api/database/*`` (backup, restore,
clean, drop), ``/api/shinobu*`` (the file watcher: ours, plus library scans),
``/api/regen_thumbs`` and ``/api/tempfolder`` (``comicsrv.lrr.maintenance``);
``/api/plugins*`` over our metadata providers (``comicsrv.lrr.plugins``);
``/api/download_url`` into the upload library (``comicsrv.lrr.uploads``).

All need a key: backups of the caller's view with LibrariesRead, the rest
as an admin (SystemAdmin) or a library writer (LibrariesWrite).
"""
from __future__ import annotations

import json
import os

from flask import Response, current_app, request
from flask.views import MethodView
from sqlalchemy import select

from ... import services
from ...library.scanner import SCAN_JOB
from ...library.watcher import EXTENSION as WATCHER, start_watcher, stop_watcher
from ...errors import DomainError
from ...lrr import maintenance as service
from ...lrr import categories, plugins, uploads
from ...models import Library
from .auth import SECURITY, archive_or_error, lrr_principal, lrr_user, writer
from .common import (
    LrrBlueprint,
    json_response,
    operation_body,
    operation_error,
    parse_arcid,
    validation_error,
)
from .schemas import (
    BackupFormatArgs,
    DownloadUrlArgs,
    ForceArgs,
    LrrOperationSchema,
    PluginArgs,
)

blp = LrrBlueprint("lrr_admin", __name__, url_prefix="/api",
                   description="LANraragi archive API: server maintenance")

ADMIN = "SystemAdmin"


def _submit(job_type: str, params: dict | None = None, target: str | None = None) -> int:
    user = lrr_user()
    return services.jobs().submit(
        job_type, params or {}, target=target, user_id=user.id if user else None)


@blp.route("/database/backup")
class DatabaseBackup(MethodView):
    @blp.doc(security=SECURITY)
    @writer("backup", "LibrariesRead")
    def get(self):
        """The backup JSON of what the caller sees: archives' metadata,
        categories, tankoubons."""
        return json_response(service.backup(lrr_user()))

    @blp.doc(security=SECURITY)
    @writer("queue_backup", "LibrariesRead")
    def post(self):
        """Make the backup in a job; fetch it at ``/database/backup/{job}``."""
        return json_response({"operation": "queue_backup", "success": 1,
                              "job": _submit(service.BACKUP_JOB)})


@blp.route("/database/backup/<jobid>")
class DatabaseBackupDownload(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(BackupFormatArgs, location="query")
    @blp.alt_response(400, schema=LrrOperationSchema, description="No such finished job")
    @writer("download_backup", "LibrariesRead")
    def get(self, args, jobid):
        """The backup a finished job made: a file, or JSON with ``format=json``."""
        try:
            job_id = int(jobid)
        except ValueError:
            raise validation_error("Expected integer - got string.", "/jobid") from None
        body = service.finished_backup(job_id)
        if args["format"] == "json":
            return json_response(body)
        response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
        response.headers["Content-Disposition"] = 'attachment; filename="backup.json"'
        return response


@blp.route("/database/restore")
class DatabaseRestore(MethodView):
    @blp.doc(security=SECURITY)
    @blp.alt_response(400, schema=LrrOperationSchema, description="No backup file")
    @writer("queue_restore", ADMIN)
    def post(self):
        """Restore a backup JSON (multipart ``file``) in a job."""
        upload = request.files.get("file")
        if upload is None:
            raise operation_error("queue_restore", "No file attached")
        body = service.parse_backup(upload.read(service.MAX_BACKUP_BYTES + 1))
        return json_response({"operation": "queue_restore", "success": 1,
                              "job": _submit(service.RESTORE_JOB, {"backup": body})})


@blp.route("/database/clean")
class DatabaseClean(MethodView):
    @blp.doc(security=SECURITY)
    @writer("clean_database", "LibrariesWrite")
    def post(self):
        """Unlink books whose file is gone; delete those unlinked before."""
        return json_response({"operation": "clean_database", "success": 1,
                              **service.clean_database()})


@blp.route("/database/drop")
class DatabaseDrop(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @writer("drop_database", ADMIN)
    def post(self):
        """Remove the LANraragi API's own data (categories, tankoubons,
        tables of contents, client-set titles); the library stays."""
        service.drop_lanraragi_data()
        return operation_body("drop_database", success_message="Dropped LANraragi data.")


@blp.route("/tempfolder")
class TempFolder(MethodView):
    @blp.doc(security=SECURITY)
    @writer("cleantemp", ADMIN)
    def delete(self):
        """Empty the page-thumbnail cache (made again on demand)."""
        size, error = service.clean_temp_folder()
        return json_response({"operation": "cleantemp", "success": 0 if error else 1,
                              "error": error, "newsize": size})


@blp.route("/regen_thumbs")
class RegenThumbnails(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ForceArgs, location="query")
    @writer("regen_thumbnails", "LibrariesWrite")
    def post(self, args):
        """Make every missing cover thumbnail (all of them with ``force``) in a job."""
        return json_response({"operation": "regen_thumbnails", "success": 1,
                              "job": _submit(service.REGEN_THUMBNAILS_JOB,
                                             {"force": args["force"]})})


def _watcher_alive() -> bool:
    return current_app.extensions.get(WATCHER) is not None


@blp.route("/shinobu")
class ShinobuStatus(MethodView):
    @blp.doc(security=SECURITY)
    @writer("shinobu_status", "LibrariesRead")
    def get(self):
        """Whether this process watches the libraries for changes."""
        return json_response({"operation": "shinobu_status", "success": 1,
                              "is_alive": 1 if _watcher_alive() else 0, "pid": os.getpid()})


@blp.route("/shinobu/stop")
class ShinobuStop(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @writer("shinobu_stop", ADMIN)
    def post(self):
        """Stop watching the libraries (restart to watch again)."""
        stop_watcher(current_app._get_current_object())
        return operation_body("shinobu_stop")


def _restart_watcher() -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop_watcher(app)
    start_watcher(app)


@blp.route("/shinobu/restart")
class ShinobuRestart(MethodView):
    @blp.doc(security=SECURITY)
    @writer("shinobu_restart", ADMIN)
    def post(self):
        """Watch the libraries again."""
        _restart_watcher()
        return json_response({"operation": "shinobu_restart", "success": 1,
                              "new_pid": os.getpid()})


@blp.route("/shinobu/rescan")
class ShinobuRescan(MethodView):
    @blp.doc(security=SECURITY)
    @writer("shinobu_rescan", ADMIN)
    def post(self):
        """Watch the libraries again and scan every one of them."""
        from ...extensions import db

        _restart_watcher()
        runner = services.jobs()
        for library_id in db.session.execute(select(Library.id).order_by(Library.id)).scalars():
            target = f"library:{library_id}"  # as the scheduler and /api/v1 name a scan
            if runner.active_job(SCAN_JOB, target) is None:
                _submit(SCAN_JOB, {"library_id": library_id, "deep": False}, target)
        return json_response({"operation": "shinobu_rescan", "success": 1,
                              "new_pid": os.getpid()})


# -- plugins: our metadata providers -----------------------------------------------


def _plugin_failure(operation: str, message: str):
    """LANraragi answers a plugin that could not run with 200 and ``success: 0``."""
    body = {"operation": operation, "success": 0, "error": message}
    if operation == "use_plugin":
        body.update(type="metadata", data={})
    return json_response(body)


def _plugin_book(args: dict):
    """The archive a metadata plugin runs on, or the message why there is none."""
    arcid = (args.get("id") or "").strip().lower()
    if not arcid:
        return None, "A metadata plugin needs an archive id."
    return archive_or_error(parse_arcid(arcid)), None


@blp.route("/plugins/<kind>")
class PluginList(MethodView):
    @blp.doc(security=SECURITY)
    @writer("list_plugins", "LibrariesRead")
    def get(self, kind):
        """The plugins of a type: metadata plugins are our metadata providers."""
        try:
            return json_response(plugins.plugin_infos(kind))
        except DomainError as exc:
            raise validation_error(str(exc), "/type") from None


@blp.route("/plugins/use")
class PluginUse(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PluginArgs, location="query")
    @writer("use_plugin", "MetadataWrite")
    def post(self, args):
        """Ask a metadata provider about an archive; nothing is changed."""
        book, problem = _plugin_book(args)
        if problem:
            return _plugin_failure("use_plugin", problem)
        try:
            data = plugins.lookup(args.get("plugin") or "", book, args.get("arg"))
        except DomainError as exc:
            return _plugin_failure("use_plugin", str(exc))
        return json_response({"operation": "use_plugin", "success": 1, "error": None,
                              "type": "metadata", "data": data})


@blp.route("/plugins/queue")
class PluginQueue(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PluginArgs, location="query")
    @writer("queue_plugin_exec", "MetadataWrite")
    def post(self, args):
        """Run a metadata provider on an archive in a job, writing its answer."""
        book, problem = _plugin_book(args)
        name = args.get("plugin") or ""
        if not problem and name not in plugins.integrations.kinds("metadata"):
            problem = f"No metadata plugin named {name!r}."
        if problem:
            return _plugin_failure("queue_plugin_exec", problem)
        return json_response({"operation": "queue_plugin_exec", "success": 1, "job": _submit(
            plugins.PLUGIN_JOB, {"plugin": name, "book_id": book.id, "arg": args.get("arg")})})


@blp.route("/download_url")
class DownloadUrl(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(DownloadUrlArgs, location="query")
    @blp.alt_response(400, schema=LrrOperationSchema, description="Not an http(s) URL")
    @writer("download_url", "LibrariesWrite")
    def post(self, args):
        """Fetch a comic archive from a URL into the upload library, in a job
        (checked as a direct download is; then added as an upload)."""
        try:
            url = uploads.check_download_url(args.get("url"))
        except DomainError as exc:
            raise operation_error("download_url", str(exc)) from None
        catid = args.get("catid") or None
        curator = lrr_principal().can("MetadataWrite")
        if catid:
            try:
                categories.changeable_category(catid, lrr_user(), curator)
            except DomainError as exc:
                raise operation_error("download_url", str(exc)) from None
        user = lrr_user()
        job = _submit(uploads.DOWNLOAD_JOB, {"url": url, "category_id": catid,
                                             "user_id": user.id if user else None,
                                             "curator": curator})
        return json_response({"operation": "download_url", "url": url, "category": catid,
                              "success": 1, "job": job})
