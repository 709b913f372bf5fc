"""``/api/v1/tasks``: the job table in Codex's task shape, with its SSE stream.

An admin sees every job; anyone else only the jobs they started
(``Job.user_id``): a job of another user answers 404, as if it did not exist.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from ... import services
from ...auth import Principal, current_principal, require
from ...errors import Conflict, NotFound
from ...events import Event, sse_response
from ...extensions import db
from ...models import Job
from ...models.jobs import QUEUED, RUNNING, STATES
from ..pagination import PageArgs, envelope, page_query
from .events import SSE_DOC, BoundedCache, FilteredBus, keepalive_seconds
from .security import SECURITY

blp = Blueprint("v1_tasks", __name__, url_prefix="/api/v1", description="Background tasks")


class ProgressSchema(Schema):
    current = fields.Integer()
    total = fields.Integer()
    message = fields.String()


class TaskSchema(Schema):
    id = fields.Integer()
    task_type = fields.String()
    status = fields.String(metadata={"enum": list(STATES)})
    progress = fields.Nested(ProgressSchema)
    result = fields.Raw(allow_none=True)
    error = fields.String(allow_none=True)
    cancel_requested = fields.Boolean()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class TaskListSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class TaskListArgs(PageArgs):
    state = fields.String(validate=validate.OneOf(STATES),
                          metadata={"description": "only tasks in this state"})
    type = fields.String(validate=validate.Length(min=1, max=64),
                         metadata={"description": "only tasks of this type, e.g. library.scan"})


class TaskStatsSchema(Schema):
    total = fields.Integer()
    running = fields.Integer()
    queued = fields.Integer()
    by_state = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_type = fields.Dict(keys=fields.String(), values=fields.Integer())


def task_dict(job: Job) -> dict:
    """A job row in Codex's task shape."""
    return {"id": job.id, "task_type": job.type, "status": job.state,
            "progress": {"current": job.progress_current or 0, "total": job.progress_total or 0,
                         "message": job.progress_message or ""},
            "result": job.result, "error": job.error,
            "cancel_requested": bool(job.cancel_requested), "created_at": job.created_at,
            "started_at": job.started_at, "finished_at": job.finished_at}


def _scoped(query, principal: Principal):
    return query if principal.is_admin else query.where(Job.user_id == principal.user.id)


def _job_for(principal: Principal, task_id: int) -> Job:
    job = db.session.execute(_scoped(select(Job).where(Job.id == task_id), principal)).scalar()
    if job is None:
        raise NotFound(f"Task {task_id} not found")
    return job


class TaskOwnerFilter:
    """Lets through the progress of the user's own jobs only. A job's owner
    never changes, so each job costs one look-up per stream."""

    def __init__(self, user_id: int):
        self.user_id = user_id
        self._owners = BoundedCache()

    def accept(self, event: Event) -> bool:
        task_id = event.task_id
        if task_id not in self._owners:
            owner = db.session.execute(select(Job.user_id).where(Job.id == task_id)).scalar()
            self._owners.remember(task_id, owner)
            db.session.rollback()  # hand the connection back while the stream idles
        return self._owners[task_id] == self.user_id


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(TaskListArgs, location="query")
    @blp.response(200, TaskListSchema)
    @require("TasksRead")
    def get(self, args):
        """Background tasks, newest first (filters: state, type)."""
        query = _scoped(select(Job), current_principal())
        if "state" in args:
            query = query.where(Job.state == args["state"])
        if "type" in args:
            query = query.where(Job.type == args["type"])
        query = query.order_by(Job.created_at.desc(), Job.id.desc())
        jobs, total = page_query(query, args)
        return envelope([task_dict(j) for j in jobs], total, args["page"], args["page_size"])


@blp.route("/tasks/stats")
class TaskStats(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, TaskStatsSchema)
    @require("TasksRead")
    def get(self):
        """Task counts by state and by type (one aggregate query)."""
        query = _scoped(select(Job.state, Job.type, func.count()), current_principal())
        by_state = dict.fromkeys(STATES, 0)
        by_type: dict[str, int] = {}
        total = 0
        for state, job_type, count in db.session.execute(query.group_by(Job.state, Job.type)):
            by_state[state] = by_state.get(state, 0) + count
            by_type[job_type] = by_type.get(job_type, 0) + count
            total += count
        return {"total": total, "running": by_state[RUNNING], "queued": by_state[QUEUED],
                "by_state": by_state, "by_type": dict(sorted(by_type.items()))}


@blp.route("/tasks/stream")
class TaskStream(MethodView):
    @blp.doc(security=SECURITY, responses=SSE_DOC)
    @require("TasksRead")
    def get(self):
        """SSE `task_progress` events: `{"task_id","task_type","status","progress":
        {"current","total","message"}}` whenever a task starts, moves or ends."""
        principal = current_principal()
        bus = services.events()
        if not principal.is_admin:
            bus = FilteredBus(bus, TaskOwnerFilter(principal.user.id).accept)
        db.session.rollback()  # no connection held open for the stream's life
        return sse_response(bus, {"task_progress"}, keepalive=keepalive_seconds())


@blp.route("/tasks/<int:task_id>")
class TaskDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, TaskSchema)
    @require("TasksRead")
    def get(self, task_id):
        """One task."""
        return task_dict(_job_for(current_principal(), task_id))


@blp.route("/tasks/<int:task_id>/cancel")
class TaskCancel(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, TaskSchema)
    @require("TasksWrite")
    def post(self, task_id):
        """Cancel a task: a queued one at once, a running one at its next check
        (the answer then shows `cancel_requested`). 409 once it has ended."""
        job = _job_for(current_principal(), task_id)
        if not services.jobs().cancel(job.id):
            raise Conflict(f"Task {task_id} already ended ({job.state})", code="task_ended")
        db.session.refresh(job)
        return task_dict(job)
