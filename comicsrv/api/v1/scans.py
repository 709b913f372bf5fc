"""``/api/v1/libraries/{id}/scan`` and ``/api/v1/scans``: starting, watching
and cancelling library scans (the ``library.scan`` job).

One scan per library at a time: asking for another while one is queued or
running answers 409 with that task. Scans of libraries a caller cannot see
are neither listed nor streamed to them.
"""
from __future__ import annotations

import time

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from ... import services
from ...auth import current_principal, require
from ...errors import Conflict
from ...events import Event, sse_response
from ...extensions import db
from ...library.libraries import SCAN_MODES
from ...library.scanner import SCAN_JOB
from ...library.scans import TARGET_PREFIX, active_scan, request_scan, scan_target
from ...models import Job, Library
from ...models.jobs import ACTIVE_STATES
from ..pagination import PageArgs, page_of_list
from .events import SSE_DOC, BoundedCache, FilteredBus, keepalive_seconds
from .libraries import libraries_query, library_for_caller
from .schemas import SECURITY, list_schema
from .tasks import TaskSchema, task_dict

blp = Blueprint("v1_scans", __name__, url_prefix="/api/v1", description="Library scans")


def library_of_target(target: str | None) -> int | None:
    if target and target.startswith(TARGET_PREFIX) and target[len(TARGET_PREFIX):].isdigit():
        return int(target[len(TARGET_PREFIX):])
    return None


class ScanArgs(Schema):
    mode = fields.String(validate=validate.OneOf(SCAN_MODES), metadata={
        "description": "normal: new and changed files; deep: every file again. "
                       "Default: the library's default_scan_mode"})


class ScanStatusSchema(Schema):
    library_id = fields.Integer()
    library_name = fields.String()
    scanning = fields.Boolean(metadata={"description": "a scan is queued or running"})
    last_scan_at = fields.DateTime(allow_none=True)
    task = fields.Nested(TaskSchema, allow_none=True,
                         metadata={"description": "the active scan, else the latest one"})


def scan_status(library: Library, job: Job | None) -> dict:
    return {"library_id": library.id, "library_name": library.name,
            "scanning": job is not None and job.state in ACTIVE_STATES,
            "last_scan_at": library.last_scan_at, "task": task_dict(job) if job else None}


def latest_scan(library_id: int) -> Job | None:
    return db.session.execute(
        select(Job).where(Job.type == SCAN_JOB, Job.target == scan_target(library_id))
        .order_by(Job.created_at.desc(), Job.id.desc()).limit(1)).scalar()


@blp.route("/libraries/<int:library_id>/scan")
class LibraryScan(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ScanArgs, location="query")
    @blp.response(202, TaskSchema)
    @blp.alt_response(409, description="A scan of this library is already queued or running; "
                                       "`details` is that task")
    @require("TasksWrite")
    def post(self, args, library_id):
        """Start a scan (`mode=normal|deep`); answers the queued task."""
        library = library_for_caller(library_id)
        running = active_scan(library.id)
        if running is not None:
            raise Conflict(f"Library {library.name!r} is already being scanned",
                           code="scan_running", details=TaskSchema().dump(task_dict(running)))
        job_id = request_scan(library, args.get("mode"), user_id=current_principal().user.id)
        return task_dict(db.session.get(Job, job_id))


@blp.route("/libraries/<int:library_id>/scan-status")
class LibraryScanStatus(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, ScanStatusSchema)
    @require("LibrariesRead")
    def get(self, library_id):
        """Whether the library is being scanned, with the active (else latest) scan."""
        library = library_for_caller(library_id)
        return scan_status(library, latest_scan(library.id))


@blp.route("/libraries/<int:library_id>/scan/cancel")
class LibraryScanCancel(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, TaskSchema)
    @blp.alt_response(409, description="No scan of this library is queued or running")
    @require("TasksWrite")
    def post(self, library_id):
        """Cancel the library's scan: a queued one at once, a running one at its
        next batch (the answer shows `cancel_requested`)."""
        library = library_for_caller(library_id)
        runner = services.jobs()
        job = active_scan(library.id)
        if job is None or not runner.cancel(job.id):
            raise Conflict(f"Library {library.name!r} is not being scanned", code="no_active_scan")
        db.session.refresh(job)
        return task_dict(job)


@blp.route("/scans/active")
class ActiveScans(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(ScanStatusSchema))
    @require("LibrariesRead")
    def get(self, args):
        """Scans queued or running, oldest first, in the libraries the caller sees.

        There is at most one per library, so they are matched to libraries here
        rather than by joining on the job's target string."""
        jobs = db.session.execute(
            select(Job).where(Job.type == SCAN_JOB, Job.state.in_(ACTIVE_STATES))
            .order_by(Job.created_at, Job.id)).scalars().all()
        wanted = {library_of_target(job.target) for job in jobs} - {None}
        libraries = {library.id: library for library in db.session.execute(
            libraries_query().where(Library.id.in_(wanted))).scalars()} if wanted else {}
        items = [scan_status(libraries[library_of_target(job.target)], job) for job in jobs
                 if library_of_target(job.target) in libraries]
        return page_of_list(items, args)


class ScanScope:
    """Lets through the scan events of libraries a user may see.

    ``scan_progress`` names its library; a ``task_progress`` event names only
    its job, whose target (the library) never changes, so each job costs one
    look-up per stream. The visible libraries are re-read once a minute.
    """

    REFRESH_SECONDS = 60.0

    def __init__(self, is_manager: bool):
        self.is_manager = is_manager
        self._visible: frozenset[int] = frozenset()
        self._loaded_at: float | None = None
        self._targets = BoundedCache()

    def accept(self, event: Event) -> bool:
        queried = False
        library_id = getattr(event, "library_id", None)
        if event.name == "task_progress":
            if event.task_type != SCAN_JOB:
                return False
            if event.task_id not in self._targets:
                target = db.session.execute(
                    select(Job.target).where(Job.id == event.task_id)).scalar()
                self._targets.remember(event.task_id, library_of_target(target))
                queried = True
            library_id = self._targets[event.task_id]
        if self.is_manager:
            allowed = True
        else:
            if self._loaded_at is None or time.monotonic() - self._loaded_at > self.REFRESH_SECONDS:
                self._visible = frozenset(db.session.execute(
                    libraries_query().with_only_columns(Library.id)).scalars())
                self._loaded_at = time.monotonic()
                queried = True
            allowed = library_id in self._visible
        if queried:
            db.session.rollback()  # hand the connection back while the stream idles
        return allowed


@blp.route("/scans/stream")
class ScanStream(MethodView):
    @blp.doc(security=SECURITY, responses=SSE_DOC)
    @require("LibrariesRead")
    def get(self):
        """SSE of scans: `scan_progress` (`{"library_id","job_id","current","total",
        "message"}`) per indexed batch, and `task_progress` whenever a scan task
        starts, moves or ends; `: keep-alive` every 15 s."""
        principal = current_principal()
        bus = FilteredBus(services.events(),
                          ScanScope(principal.can("LibrariesWrite")).accept)
        db.session.rollback()  # no connection held open for the stream's life
        return sse_response(bus, {"scan_progress", "task_progress"},
                            keepalive=keepalive_seconds())
