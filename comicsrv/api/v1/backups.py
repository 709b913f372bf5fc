"""``/api/v1/system/backups``: backups of the database and configuration
(SystemAdmin), made, listed, downloaded, deleted and restored through
``comicsrv.backup``.

A restore replaces the database under the running server, so it is done
only under ``comicsrv serve`` (which can restart itself) and while no job
runs: the scheduler and the library watcher stop, the backup is restored
and migrated, and the server restarts once the answer is sent, so nothing
kept in memory outlives the database it was read from.
"""
from __future__ import annotations

from flask import current_app, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from ... import services
from ...auth import require
from ...backup import create_backup, delete_backup, find_backup, list_backups, restore_backup
from ...errors import Conflict
from ...extensions import db
from ...lifecycle import SERVER_EXTENSION, SHUTDOWN_EXTENSION, schedule_stop
from ...models import Job
from ...models.jobs import ACTIVE_STATES
from .security import SECURITY

blp = Blueprint("v1_backups", __name__, url_prefix="/api/v1",
                description="Backups of the database and configuration")


class BackupSchema(Schema):
    name = fields.String()
    size = fields.Integer(metadata={"description": "bytes"})
    created_at = fields.DateTime(metadata={"description": "UTC"})
    kind = fields.String(metadata={"description": "scheduled, manual or pre-restore"})
    comicsrv_version = fields.String(allow_none=True)
    schema_revision = fields.String(allow_none=True)
    database = fields.String(allow_none=True, metadata={"description": "sqlite or postgresql"})
    method = fields.String(allow_none=True, metadata={"description": "sqlite, pg_dump or logical"})
    books = fields.Integer(allow_none=True)
    users = fields.Integer(allow_none=True)


class BackupListSchema(Schema):
    items = fields.List(fields.Nested(BackupSchema))
    total = fields.Integer()


class RestoreSchema(Schema):
    restored = fields.String()
    from_revision = fields.String()
    to_revision = fields.String()
    method = fields.String()
    safety_backup = fields.String(allow_none=True, metadata={
        "description": "the backup of the database as it was before the restore"})
    config_files = fields.List(fields.String())
    restarting = fields.Boolean()


@blp.route("/system/backups")
class Backups(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, BackupListSchema)
    def get(self):
        """Backups, newest first."""
        items = [info.as_dict() for info in list_backups()]
        return {"items": items, "total": len(items)}

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(201, BackupSchema)
    def post(self):
        """Back up the database and configuration now."""
        return create_backup("manual").as_dict()


@blp.route("/system/backups/<string:name>")
class BackupFile(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, description="The backup (a zip file)", content_type="application/zip")
    def get(self, name):
        """Download a backup, to keep a copy elsewhere."""
        info = find_backup(name)
        return send_file(info.path, mimetype="application/zip", as_attachment=True,
                         download_name=info.name, max_age=0)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(204)
    def delete(self, name):
        """Delete a backup."""
        delete_backup(name)


@blp.route("/system/backups/<string:name>/restore")
class BackupRestore(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, RestoreSchema)
    def post(self, name):
        """Restore a backup and restart the server once this answer is sent.
        409 `not_serving` under another WSGI server than `comicsrv serve`
        (stop it and use `comicsrv backup restore`), 409 `jobs_running` while
        jobs run, 409 `backup_too_new` for a backup of a newer comicsrv."""
        app = current_app._get_current_object()
        info = find_backup(name)
        if SERVER_EXTENSION not in app.extensions and SHUTDOWN_EXTENSION not in app.extensions:
            raise Conflict("This process does not run `comicsrv serve` and cannot restart "
                           "itself: stop the server and run `comicsrv backup restore "
                           f"{info.name}`", code="not_serving")
        running = db.session.execute(select(Job.id, Job.type).where(
            Job.state.in_(ACTIVE_STATES))).all()
        if running:
            listed = ", ".join(f"{job_type} (job {job_id})" for job_id, job_type in running[:5])
            raise Conflict(f"Jobs are running: {listed}; wait for them or cancel them, then "
                           "restore", code="jobs_running")
        # Restart whatever happens below: the scheduler and watcher stop now.
        schedule_stop(restart=True)
        from ...library.watcher import stop_watcher

        stop_watcher(app)
        services.scheduler(app).shutdown()
        result = restore_backup(info.path)
        return {**result.as_dict(), "restarting": True}
