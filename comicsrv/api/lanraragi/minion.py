"""``/api/minion``: the job table as LANraragi's Minion jobs.

Any reader may follow the archive API's own jobs (thumbnails), as
LANraragi's clients poll them; other jobs (scans, post-processing) are
shown only to the user who started them and to admins, as in ``/api/v1/tasks``.
"""
from __future__ import annotations

import json
import time

from flask.views import MethodView

from ... import services
from ...extensions import db
from ...lrr.tags import epoch
from ...lrr import maintenance, plugins, uploads
from ...lrr.archives import ARCID, find_archive
from ...lrr.thumbnails import PAGE_THUMBNAILS_JOB, THUMBNAIL_JOB
from ...models import Job
from ...models.jobs import CANCELLED, FAILED, FINISHED, QUEUED, RUNNING
from .auth import SECURITY, lrr_principal, lrr_user, reader, writer
from .common import (
    MAX_INT,
    LrrBlueprint,
    current_operation,
    flag,
    json_response,
    operation_error,
    validation_error,
)
from .schemas import (
    LrrMinionDetailSchema,
    LrrMinionJobResponseSchema,
    LrrMinionStatusSchema,
    LrrOperationSchema,
    QueueArgs,
)

blp = LrrBlueprint("lrr_minion", __name__, url_prefix="/api/minion",
                   description="LANraragi archive API: background jobs")

MINION_STATES = {QUEUED: "inactive", RUNNING: "active", FINISHED: "finished",
                 FAILED: "failed", CANCELLED: "failed"}
# LANraragi's task names for the jobs this API queues.
TASK_NAMES = {THUMBNAIL_JOB: "thumbnail_task", PAGE_THUMBNAILS_JOB: "page_thumbnails",
              maintenance.REGEN_THUMBNAILS_JOB: "regen_all_thumbnails",
              maintenance.STAT_HASHES_JOB: "build_stat_hashes",
              maintenance.BACKUP_JOB: "backup_database", maintenance.RESTORE_JOB: "restore_database",
              plugins.PLUGIN_JOB: "run_plugin", uploads.DOWNLOAD_JOB: "download_url"}
PUBLIC_TYPES = frozenset({THUMBNAIL_JOB, PAGE_THUMBNAILS_JOB})


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
    """Progress as Minion notes, every value a string (clients declare
    ``dict[str, str]``); thumbnail jobs use LANraragi's names."""
    if job.type in PUBLIC_TYPES:
        return {"progress": str(job.progress_current or 0), "pages": str(job.progress_total or 0)}
    found = {"progress": str(job.progress_current or 0), "total": str(job.progress_total or 0)}
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
        created = str(epoch(job.created_at))
        return {
            "id": str(job.id), "task": TASK_NAMES.get(job.type, job.type),
            "state": MINION_STATES[job.state], "queue": "default", "priority": "0",
            "args": job_args(job), "attempts": "1", "children": [], "parents": [],
            "created": created, "delayed": created,
            "started": str(epoch(job.started_at)) if job.started_at else None,
            "finished": str(epoch(job.finished_at)) if job.finished_at else None,
            "expires": None, "lax": 0, "notes": notes(job), "result": job_result(job),
            "retried": None, "retries": "0", "time": str(int(time.time())),
            "worker": 1 if job.started_at else None,
        }


def job_args(job: Job) -> list[str]:
    """Minion's positional arguments: the job's parameters, each a string."""
    return [value if isinstance(value, str) else json.dumps(value)
            for value in (job.params or {}).values()]


def job_result(job: Job) -> dict | None:
    """The job's result with LANraragi's ``success`` flag (0/1) added."""
    if job.state not in (FINISHED, FAILED, CANCELLED):
        return None
    result = {key: value for key, value in (job.result or {}).items()
              if not isinstance(value, (dict, list))}
    result = {key: value if isinstance(value, (str, bool)) or value is None else str(value)
              for key, value in result.items()}
    result["success"] = 1 if job.state == FINISHED else 0
    if job.error:
        result["error"] = job.error
    return result


def _queue_params(jobname: str, args: list) -> tuple[str, dict]:
    """Our job type and parameters for a LANraragi task and its arguments
    (an archive id wherever it is among them, then page or force)."""
    if jobname == "build_stat_hashes":
        return maintenance.STAT_HASHES_JOB, {}
    if jobname == "regen_all_thumbnails":
        return maintenance.REGEN_THUMBNAILS_JOB, {"force": flag(args[-1]) if args else False}
    if jobname in ("thumbnail_task", "page_thumbnails"):
        arcid = next((str(a).lower() for a in args if ARCID.match(str(a).lower())), None)
        book = find_archive(lrr_user(), arcid) if arcid else None
        if book is None:
            raise operation_error("queue_minion_job", "The arguments name no archive of this server.")
        after = [a for a in args[args.index(next(a for a in args
                                                  if str(a).lower() == arcid)) + 1:]]
        if jobname == "page_thumbnails":
            return PAGE_THUMBNAILS_JOB, {"book_id": book.id,
                                         "force": flag(after[0]) if after else False}
        try:
            page = int(after[0]) if after else 0
        except (TypeError, ValueError):
            raise operation_error("queue_minion_job", "The page must be a number.") from None
        if not 0 <= page <= (book.page_count or 0):
            raise operation_error("queue_minion_job", "This archive has no such page.")
        return THUMBNAIL_JOB, {"book_id": book.id, "page": page}
    raise operation_error("queue_minion_job", f"Job type {jobname} cannot be queued on this server.")


@blp.route("/<jobname>/queue")
class MinionQueue(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(QueueArgs, location="query")
    @blp.response(200, LrrMinionJobResponseSchema)
    @blp.alt_response(400, schema=LrrOperationSchema, description="Unknown job or bad arguments")
    @writer("queue_minion_job", "TasksWrite")
    def post(self, args, jobname):
        """Queue a job by its LANraragi task name: ``build_stat_hashes``,
        ``regen_all_thumbnails``, ``thumbnail_task`` and ``page_thumbnails``
        (with the archive id among ``args``)."""
        try:
            arguments = json.loads(args["args"])
        except ValueError:
            raise operation_error("queue_minion_job", "args must be a JSON array.") from None
        if not isinstance(arguments, list):
            raise operation_error("queue_minion_job", "args must be a JSON array.")
        job_type, params = _queue_params(jobname, arguments)
        user = lrr_user()
        job_id = services.jobs().submit(
            job_type, params, user_id=user.id if user else None)
        return json_response({"operation": "queue_minion_job", "success": 1, "job": job_id})
