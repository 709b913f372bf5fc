"""Post-processing a finished download: a resumable job of small steps.

The steps come from plugins (hook ``comicsrv_postprocess_steps``; the
built-ins are ``plugins/postprocessing.py``), one list per outcome: "success"
for a completed download (find, verify, convert, tag, rename, transfer,
index, update state) and "failure" for a failed one (blocklist, want again,
announce, search the next candidate). They run in ascending ``order``.

After every step the step context and the names of the steps done are
written to the job row, in one commit. The job type is resumable, so after a
crash ``JobRunner.recover_interrupted`` runs it again and it starts at the
first step not recorded as done; a step interrupted half way runs again from
its start, which is why every step is idempotent (see ``transfer`` for how
the one that touches the library is).
"""
from __future__ import annotations

import inspect
import json
import logging
from typing import Any

from sqlalchemy import update

from .. import services
from ..errors import BadRequest, Conflict, NotFound
from ..events import DownloadFailed, IssueImported
from ..events import PostProcessStep as StepEvent
from ..extensions import db
from ..fspaths import display
from ..hookspecs import PostProcessError, PostProcessStep
from ..jobs.runner import JobCancelled, JobContext
from ..models import Job
from ..models.automation import DL_FAILED, DL_IMPORTED, DL_IMPORTING, Download
from .postprocess_host import Host

log = logging.getLogger(__name__)

JOB_TYPE = "automation.postprocess"
SUCCESS, FAILURE = "success", "failure"
OUTCOMES = (SUCCESS, FAILURE)


class ImportFailed(Exception):
    """The job's error: which step failed and why. ``expected`` when a step
    refused the download (logged in one line), not when a step broke (logged
    with its traceback: a bug)."""

    def __init__(self, reason: str, *, expected: bool = False) -> None:
        super().__init__(reason)
        self.expected = expected


def job_target(download_id: int) -> str:
    return f"download:{download_id}"


def submit(download_id: int, outcome: str | None = None) -> int:
    """Start post-processing a download; return the job id.

    The outcome defaults to "failure" for a failed download and "success"
    otherwise (which sets the download to "importing"). An import already
    running for the download is returned instead of starting another.
    """
    download = db.session.get(Download, download_id)
    if download is None:
        raise NotFound(f"No download {download_id}")
    runner = services.jobs()
    active = runner.active_job(JOB_TYPE, job_target(download_id))
    if active is not None:
        return active.id
    if outcome is None:
        outcome = FAILURE if download.state == DL_FAILED else SUCCESS
    if outcome not in OUTCOMES:
        raise BadRequest(f"unknown outcome {outcome!r}; use success or failure")
    if outcome == SUCCESS:
        if download.state == DL_IMPORTED:
            raise Conflict(f"download {download_id} is already imported", code="already_imported")
        if not download.save_path:
            raise BadRequest(f"download {download_id} has no save path to import from")
        download.state, download.error = DL_IMPORTING, None
    db.session.commit()
    job_id = runner.submit(JOB_TYPE, {"download_id": download_id, "outcome": outcome},
                           target=job_target(download_id))
    db.session.execute(update(Download).where(Download.id == download_id).values(job_id=job_id))
    db.session.commit()
    return job_id


def steps_for(outcome: str) -> list[PostProcessStep]:
    """Every plugin's steps for ``outcome``, in order (a name once: first wins)."""
    registry = services.plugins()
    found: dict[str, PostProcessStep] = {}
    for plugin, provided in registry.call("comicsrv_postprocess_steps"):
        for step in provided or []:
            if getattr(step, "outcome", SUCCESS) != outcome:
                continue
            if step.name in found:
                log.warning("plugin %s: post-processing step %r already provided; ignored",
                            plugin, step.name)
                continue
            found[step.name] = step
    return sorted(found.values(), key=lambda s: (s.order, s.name))


def _takes_host(step: PostProcessStep) -> bool:
    try:
        params = list(inspect.signature(step.run).parameters.values())
    except (TypeError, ValueError):
        return True
    return len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _save(job_id: int, state: dict[str, Any], message: str, current: int, total: int) -> None:
    try:
        state = json.loads(json.dumps(state))
    except (TypeError, ValueError) as exc:
        raise PostProcessError(f"a step left a value that cannot be saved: {exc}") from None
    db.session.execute(update(Job).where(Job.id == job_id).values(
        result=state, progress_current=current, progress_total=total,
        progress_message=message[:1000]))
    db.session.commit()


def _load(job_id: int) -> dict[str, Any]:
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    return dict(job.result or {}) if job is not None else {}


def run_postprocess(ctx: JobContext, download_id: int, outcome: str = SUCCESS) -> dict[str, Any]:
    """The job: run (or resume) the steps of the download's outcome."""
    state = _load(ctx.job_id)
    state.setdefault("outcome", outcome)
    state.setdefault("context", {"download_id": download_id})
    state.setdefault("completed", [])
    if state["completed"]:
        log.info("post-processing download %s resumes after %s", download_id,
                 ", ".join(state["completed"]))
    db.session.execute(update(Download).where(Download.id == download_id)
                       .values(job_id=ctx.job_id))
    db.session.commit()
    host = Host(download_id, ctx.job_id)
    bus = services.events()
    try:
        _run_steps(ctx, host, state)
    except JobCancelled:
        db.session.rollback()
        _mark_failed(download_id, "the import was cancelled")
        raise
    except PostProcessError as exc:
        db.session.rollback()
        failed_step = state.get("failed_step", "?")
        reason = f"step {failed_step}: {exc.reason}"
        _mark_failed(download_id, reason)
        if exc.blocklist and state["outcome"] == SUCCESS:
            # The download itself is bad: handle it as a failed download.
            state.update(outcome=FAILURE, completed=[],
                         context={**state["context"], "reason": exc.reason})
            _save(ctx.job_id, state, reason, 0, 0)
            _run_failure_steps(ctx, host, state)
        else:
            _announce_failure(bus, download_id, reason)
        raise ImportFailed(reason, expected=True) from None
    except Exception as exc:
        db.session.rollback()
        reason = f"step {state.get('failed_step', '?')}: {type(exc).__name__}: {exc}"
        _mark_failed(download_id, reason)
        _announce_failure(bus, download_id, reason)
        raise ImportFailed(reason) from exc
    context = state["context"]
    download = db.session.get(Download, download_id)
    title = download.title if download else f"download {download_id}"
    if state["outcome"] == SUCCESS and context.get("book_id"):
        ctx.outcome = (f"imported {title!r} (download {download_id}) as book "
                       f"{context['book_id']} at {display(context.get('imported_path', ''))}")
    else:
        ctx.outcome = f"handled the {state['outcome']} of {title!r} (download {download_id})"
    if state["outcome"] == SUCCESS and context.get("book_id"):
        bus.publish(IssueImported(download_id=download_id,
                                  watched_issue_id=download.watched_issue_id if download else None,
                                  book_id=context["book_id"],
                                  path=context.get("imported_path", "")))
    return state


def _run_failure_steps(ctx: JobContext, host: Host, state: dict[str, Any]) -> None:
    try:
        _run_steps(ctx, host, state)
    except Exception:
        db.session.rollback()
        log.exception("failure steps of download %s did not all run", host.download_id)


def _run_steps(ctx: JobContext, host: Host, state: dict[str, Any]) -> None:
    steps = steps_for(state["outcome"])
    bus = services.events()
    context, completed = state["context"], state["completed"]
    total = len(steps)
    for index, step in enumerate(steps):
        if step.name in completed:
            continue
        ctx.check_cancelled()
        state["failed_step"] = step.name
        bus.publish(StepEvent(download_id=host.download_id, job_id=ctx.job_id, step=step.name,
                              status="started"))
        ctx.progress(index, total, step.name, force=True)
        try:
            if _takes_host(step):
                step.run(context, host)
            else:
                step.run(context)
        except Exception as exc:
            message = exc.reason if isinstance(exc, PostProcessError) else f"{type(exc).__name__}: {exc}"
            bus.publish(StepEvent(download_id=host.download_id, job_id=ctx.job_id,
                                  step=step.name, status="failed", message=message[:1000]))
            raise
        completed.append(step.name)
        state.pop("failed_step", None)
        _save(ctx.job_id, state, f"{step.name} done", index + 1, total)
        bus.publish(StepEvent(download_id=host.download_id, job_id=ctx.job_id, step=step.name,
                              status="done", message=str(context.get("messages", {})
                                                         .get(step.name, ""))[:1000]))


def _mark_failed(download_id: int, reason: str) -> None:
    db.session.execute(update(Download).where(Download.id == download_id)
                       .values(state=DL_FAILED, error=reason[:5000]))
    db.session.commit()


def _announce_failure(bus, download_id: int, reason: str) -> None:
    download = db.session.get(Download, download_id)
    if download is not None:
        bus.publish(DownloadFailed(download_id=download_id, title=download.title, reason=reason,
                                   watched_issue_id=download.watched_issue_id))
