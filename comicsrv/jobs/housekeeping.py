"""Periodic upkeep of the job table."""
from __future__ import annotations

from datetime import timedelta

from ..extensions import db
from ..models import Job, utcnow
from ..models.jobs import ACTIVE_STATES
from .runner import JobContext


def prune_jobs(ctx: JobContext, days: int = 30) -> dict:
    """Delete ended jobs older than ``days``; keeps the table small for years."""
    cutoff = utcnow() - timedelta(days=days)
    result = db.session.execute(
        db.delete(Job).where(Job.state.not_in(ACTIVE_STATES), Job.finished_at < cutoff,
                             Job.id != ctx.job_id)
    )
    db.session.commit()
    return {"deleted": result.rowcount}
