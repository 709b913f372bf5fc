"""``/api/minion``: the job table as LANraragi's Minion jobs.

Any reader may follow the archive API's own jobs (thumbnails), as
LANraragi's clients poll them; other jobs (scans, post-processing) are
shown only to the user who started them and to admins, as in ``/api/v1/tasks``.
"""
from __future__ import annotations

import time

from flask.views import MethodView

from ...extensions import db
from ...lrr.tags import epoch
from ...lrr.thumbnails import PAGE_THUMBNAILS_JOB, THUMBNAIL_JOB
from ...models import Job
from ...models.jobs import CANCELLED, FAILED, FINISHED, QUEUED, RUNNING
from .auth import SECURITY, lrr_principal, reader, writer
from .common import (
    MAX_INT,
    LrrBlueprint,
    current_operation,
    operation_error,
    validation_error,
)
from .schemas import LrrMinionDetailSchema, LrrMinionStatusSchema, LrrOperationSchema

blp = LrrBlueprint("lrr_minion", __name__, url_prefix="/api/minion",
                   description="LANraragi archive API: background jobs")

MINION_STATES = {QUEUED: "inactive", RUNNING: "active", FINISHED: "finished",
                 FAILED: "failed", CANCELLED: "failed"}
# LANraragi's task names for the jobs this API queues.
TASK_NAMES = {THUMBNAIL_JOB: "thumbnail_task", PAGE_THUMBNAILS_JOB: "page_thumbnails"}
PUBLIC_TYPES = frozenset(TASK_NAMES)


def _job(jobid: str) -> Job:
    try:
        job_id = int(jobid)
    except ValueError:
        raise validation_error("Expected integer - got string.", "/jobid") from None
    job = db.session.get(Job, job_id) if 0 < job_id <= MAX_INT else None
    principal = lrr_principal()
    visible = job is not None and (
        job.type in PUBLIC_TYPES
        or principal is not None and (principal.is_admin or job.user_id == principal.user.id))
    if not visible:
        raise operation_error(current_operation() or "minion_job_status", "No job with this ID.")
    return job


def notes(job: Job) -> dict:
    """Progress as Minion notes; thumbnail jobs use LANraragi's names."""
    if job.type in PUBLIC_TYPES:
        return {"progress": job.progress_current or 0, "pages": job.progress_total or 0}
    found = {"progress": job.progress_current or 0, "total": job.progress_total or 0}
    if job.progress_message:
        found["message"] = job.progress_message
    return found


def _error(job: Job) -> str:
    if job.state == CANCELLED:
        return job.error or "cancelled"
    return job.error or ""


@blp.route("/<jobid>")
class MinionJob(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrMinionStatusSchema)
    @blp.alt_response(400, schema=LrrOperationSchema, description="No job with this id")
    @reader("minion_job_status")
    def get(self, jobid):
        """A job's state: inactive, active, finished or failed."""
        job = _job(jobid)
        return {"task": TASK_NAMES.get(job.type, job.type), "state": MINION_STATES[job.state],
                "notes": notes(job), "error": _error(job)}


@blp.route("/<jobid>/detail")
class MinionJobDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrMinionDetailSchema)
    @blp.alt_response(400, schema=LrrOperationSchema, description="No job with this id")
    @writer("minion_job_detail", "TasksRead")
    def get(self, jobid):
        """Everything Minion would say about a job."""
        job = _job(jobid)
        created = epoch(job.created_at)
        return {
            "id": job.id, "task": TASK_NAMES.get(job.type, job.type),
            "state": MINION_STATES[job.state], "queue": "default", "priority": 0,
            "args": [job.params or {}], "attempts": 1, "children": [], "parents": [],
            "created": created, "delayed": created,
            "started": epoch(job.started_at) if job.started_at else None,
            "finished": epoch(job.finished_at) if job.finished_at else None,
            "expires": None, "lax": 0, "notes": notes(job), "result": job.result,
            "retried": None, "retries": 0, "time": int(time.time()),
            "worker": 1 if job.state == RUNNING else None,
        }
