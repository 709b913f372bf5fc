"""The job runner over the real job table."""
import os
import threading
import time
from datetime import timedelta

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


def test_a_job_runs_while_a_row_that_points_at_it_is_being_written(app, runner):
    # A request that submits a job then writes downloads.job_id holds
    # FOR KEY SHARE on the job's row (the foreign key check) until it
    # commits; the claim must not skip the job for it (on PostgreSQL it did,
    # and the direct download stayed queued for ever).
    runner.register("test.noop", lambda ctx: {"ran": True})
    job = JobFactory(type="test.noop", state="queued", owner=None)
    with db.engine.connect() as other:
        other.execute(db.select(Job.id).where(Job.id == job.id)
                      .with_for_update(read=True, key_share=True))
        runner._run_soon(job.id)
        assert runner.wait(job.id, timeout=10)
        other.rollback()
    assert (_job(job.id).state, _job(job.id).result) == ("finished", {"ran": True})


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


# --- one queue for many processes ---------------------------------------------------
# Two apps on the session database stand for two processes: each has its own
# runner, owner name, sessions and connections.

FAST = {"JOB_POLL_SECONDS": 0.1, "JOB_HEARTBEAT_SECONDS": 0.2, "JOB_STALE_SECONDS": 1}


@pytest.fixture
def workers(make_app):
    """Two job-running apps whose dispatchers are stopped at the end."""
    started = []

    def start(count=2, **settings):
        apps = [make_app(**{**FAST, **settings}) for _ in range(count)]
        started.extend(app.extensions["comicsrv.jobs"] for app in apps)
        return apps

    yield start
    for runner in started:
        runner.stop()


def _wait_ended(job_ids, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        states = db.session.execute(db.select(Job.state).where(Job.id.in_(job_ids))).scalars()
        if all(state in ("finished", "failed", "cancelled") for state in states):
            return
        time.sleep(0.05)
    raise AssertionError("jobs still active")


def test_a_web_process_queues_and_a_worker_runs(make_app, workers):
    web = make_app(ROLE="web")
    ran = []
    web.extensions["comicsrv.jobs"].register("test.note", lambda ctx, n: ran.append(n))
    with web.app_context():
        job_id = web.extensions["comicsrv.jobs"].submit("test.note", {"n": 1})
        time.sleep(0.3)
        assert _job(job_id).state == "queued" and ran == []  # a web process runs nothing
    [worker] = workers(1)
    runner = worker.extensions["comicsrv.jobs"]
    runner.register("test.note", lambda ctx, n: ran.append(n))
    runner.start()
    with web.app_context():
        # wait() watches the row when another process runs the job.
        assert web.extensions["comicsrv.jobs"].wait(job_id, timeout=30)
        assert _job(job_id).state == "finished" and _job(job_id).owner == runner.owner
    assert ran == [1]


def test_two_workers_claim_every_queued_job_exactly_once(make_app, workers):
    web = make_app(ROLE="web")
    runs = []
    lock = threading.Lock()

    def count(ctx):
        with lock:
            runs.append(ctx.job_id)
        time.sleep(0.01)

    web.extensions["comicsrv.jobs"].register("test.count", count)
    with web.app_context():
        job_ids = [web.extensions["comicsrv.jobs"].submit("test.count") for _ in range(60)]
    runners = [app.extensions["comicsrv.jobs"] for app in workers(2)]
    for runner in runners:
        runner.register("test.count", count)
        runner.start()
    with web.app_context():
        _wait_ended(job_ids)
        owners = {job.owner for job in (_job(i) for i in job_ids)}
        assert {_job(i).state for i in job_ids} == {"finished"}
    assert sorted(runs) == sorted(job_ids)  # each once
    assert owners == {runner.owner for runner in runners}


def test_a_dead_workers_job_is_taken_over_without_a_restart(app, workers):
    """A worker elsewhere stopped heartbeating: a running worker resumes its
    resumable job and fails the other, while it runs, not at its next start."""
    seen = []
    [worker] = workers(1)
    runner = worker.extensions["comicsrv.jobs"]
    runner.register("test.resumable", lambda ctx, step: seen.append(step), resumable=True)
    runner.register("test.plain", lambda ctx: None)
    stale = utcnow() - timedelta(seconds=30)
    resumable = JobFactory(type="test.resumable", state="running", params={"step": 4},
                           owner="elsewhere:77:1-ab", heartbeat_at=stale).id
    plain = JobFactory(type="test.plain", state="running", owner="elsewhere:78:1-cd",
                       heartbeat_at=stale).id
    alive = JobFactory(type="test.plain", state="running", owner="elsewhere:79:1-ef",
                       heartbeat_at=utcnow() + timedelta(hours=1)).id
    runner.start()
    _wait_ended([resumable, plain])
    assert (_job(resumable).state, _job(resumable).owner) == ("finished", runner.owner)
    assert seen == [4]
    assert (_job(plain).state, _job(plain).error) == ("failed", INTERRUPTED)
    assert _job(alive).state == "running"


def test_a_job_taken_over_elsewhere_stops_here_and_drops_its_outcome(app, runner, caplog):
    """A process that only looked dead (a stalled disk, a paused VM) must not
    go on beside the process that took its job over, nor overwrite its row."""
    started, steps = threading.Event(), []

    def slow(ctx):
        started.set()
        for step in range(500):
            steps.append(step)
            ctx.progress(step, 500, force=True)
            ctx.check_cancelled()
            time.sleep(0.01)
        return {"done": True}

    runner.register("test.slow", slow)
    job_id = runner.submit("test.slow")
    assert started.wait(10)
    db.session.execute(db.update(Job).where(Job.id == job_id).values(
        owner="elsewhere:5:1-aa", progress_message="the new run"))
    db.session.commit()
    deadline = time.monotonic() + 10
    while job_id in runner.running_jobs and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job_id not in runner.running_jobs and len(steps) < 500
    job = _job(job_id)
    assert (job.state, job.owner, job.progress_message) == (
        "running", "elsewhere:5:1-aa", "the new run")
    assert "taken over by another process" in caplog.text
