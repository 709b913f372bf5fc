"""The job runner over the real job table."""
import os
import threading
import time

import pytest

from comicsrv.extensions import db
from comicsrv.jobs.runner import INTERRUPTED, STALE_AFTER, process_owner
from comicsrv.models import Job, utcnow
from tests.factories import JobFactory


@pytest.fixture
def runner(app):
    return app.extensions["comicsrv.jobs"]


def _job(job_id):
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_submitted_job_runs_in_background_and_records_result(app, runner):
    def add(ctx, a, b):
        ctx.progress(1, 2, "adding", force=True)
        return {"sum": a + b}

    runner.register("test.add", add)
    events = app.extensions["comicsrv.events"].subscribe({"task_progress"})
    job_id = runner.submit("test.add", {"a": 2, "b": 3}, target="math")
    assert runner.wait(job_id, timeout=10)
    job = _job(job_id)
    assert (job.state, job.result, job.target) == ("finished", {"sum": 5}, "math")
    assert (job.progress_current, job.progress_total, job.progress_message) == (1, 2, "adding")
    assert job.started_at <= job.finished_at
    statuses = []
    while (event := events.get(timeout=0.1)) is not None:
        assert event.task_id == job_id
        statuses.append(event.status)
    assert statuses[0] == "queued" and statuses[-1] == "finished" and "running" in statuses


def test_failing_job_is_failed_with_its_reason(runner):
    def explode(ctx):
        raise ValueError("archive is truncated")

    runner.register("test.explode", explode)
    job = runner.run_now("test.explode")
    assert job.state == "failed"
    assert job.error == "ValueError: archive is truncated"


def test_running_job_can_be_cancelled(runner):
    started = threading.Event()

    def long_job(ctx):
        started.set()
        for i in range(1000):
            ctx.check_cancelled()
            ctx.progress(i, 1000)
            time.sleep(0.01)
        return {"done": True}

    runner.register("test.long", long_job)
    job_id = runner.submit("test.long")
    assert started.wait(5)
    assert runner.cancel(job_id) is True
    assert runner.wait(job_id, timeout=10)
    job = _job(job_id)
    assert job.state == "cancelled" and job.result is None
    assert runner.cancel(job_id) is False  # already ended


def test_cancel_requested_in_the_database_reaches_the_job(runner):
    """Another process cancels by setting the flag on the row."""
    started = threading.Event()

    def long_job(ctx):
        started.set()
        while True:
            ctx.check_cancelled()
            time.sleep(0.02)

    runner.register("test.forever", long_job)
    job_id = runner.submit("test.forever")
    assert started.wait(5)
    db.session.execute(db.update(Job).where(Job.id == job_id).values(cancel_requested=True))
    db.session.commit()
    assert runner.wait(job_id, timeout=10)
    assert _job(job_id).state == "cancelled"


def test_unknown_job_type_is_refused(runner):
    with pytest.raises(KeyError):
        runner.submit("no.such.type")


def test_job_of_a_dead_process_is_failed_on_start(runner):
    # A pid that is certainly not alive on this host.
    dead_pid = 2 ** 22 + 12345
    host = process_owner().split(":")[0]
    orphan = JobFactory(type="test.any", state="running", owner=f"{host}:{dead_pid}",
                        started_at=utcnow(), heartbeat_at=utcnow())
    live = JobFactory(type="test.any", state="running", owner=f"{host}:{os.getppid()}",
                      heartbeat_at=utcnow())
    remote_stale = JobFactory(type="test.any", state="running", owner="otherhost:1",
                              heartbeat_at=utcnow() - STALE_AFTER * 2)
    remote_fresh = JobFactory(type="test.any", state="running", owner="otherhost:1",
                              heartbeat_at=utcnow())
    # Queued by a process that died since: it waits for any worker to claim it.
    queued = JobFactory(type="test.any", state="queued", owner=None,
                        heartbeat_at=utcnow() - STALE_AFTER * 2)
    runner.register("test.any", lambda ctx: None)
    recovered = runner.recover_interrupted()
    assert sorted(recovered) == sorted([orphan.id, remote_stale.id])
    assert (_job(orphan.id).state, _job(orphan.id).error) == ("failed", INTERRUPTED)
    assert _job(remote_stale.id).state == "failed"
    assert _job(live.id).state == "running"
    assert _job(remote_fresh.id).state == "running"
    assert _job(queued.id).state == "queued"


def test_resumable_job_is_run_again_after_a_crash(runner):
    seen = []

    def resumable(ctx, step=0):
        seen.append(step)
        return {"resumed_from": step}

    runner.register("test.resumable", resumable, resumable=True)
    orphan = JobFactory(type="test.resumable", state="running", params={"step": 3},
                        owner=f"{process_owner().split(':')[0]}:{2 ** 22 + 999}")
    assert runner.recover_interrupted() == [orphan.id]
    assert runner.wait(orphan.id, timeout=10)
    job = _job(orphan.id)
    assert (job.state, job.result, seen) == ("finished", {"resumed_from": 3}, [3])


def test_prune_removes_only_old_ended_jobs(runner):
    from datetime import timedelta

    old = JobFactory(state="finished", finished_at=utcnow() - timedelta(days=40)).id
    recent = JobFactory(state="failed", finished_at=utcnow() - timedelta(days=1)).id
    active = JobFactory(state="running").id
    job = runner.run_now("jobs.prune")
    assert job.result == {"deleted": 1}
    assert _job(old) is None
    assert _job(recent) is not None and _job(active) is not None
