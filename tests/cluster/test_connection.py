"""Leadership, the event relay and job notices over a real PostgreSQL.

Each app stands for a process: its own ``Cluster`` with its own listening
connection, relay and row in ``cluster_nodes``. PostgreSQL only: on SQLite a
deployment is one process (tests/cluster/test_deployment.py covers both).
"""
import os
import threading
import time

import pytest

from comicsrv.config import ConfigError
from comicsrv.events import ScanProgress
from comicsrv.extensions import db
from comicsrv.models import ClusterNode, EventPayload, Job
from tests.processes import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("COMICSRV_TEST_DATABASE_URL", "").startswith(
        "postgresql"), reason="needs PostgreSQL (COMICSRV_TEST_DATABASE_URL)"),
]
SETTINGS = {"SECRET_KEY": "one key for the deployment", "LEADER_CHECK_SECONDS": 0.2,
            "JOB_POLL_SECONDS": 60, "SCHEDULER_ENABLED": True}


@pytest.fixture
def processes(make_app):
    """``processes(role, count)``: apps whose cluster part runs, stopped at the end."""
    started = []

    def start(role="worker", count=2, **settings):
        apps = [make_app(ROLE=role, **{**SETTINGS, **settings}) for _ in range(count)]
        for app in apps:
            app.extensions["comicsrv.cluster"].start()
            started.append(app)
        return apps

    yield start
    for app in reversed(started):
        app.extensions["comicsrv.jobs"].stop()
        app.extensions["comicsrv.cluster"].stop()


def _cluster(app):
    return app.extensions["comicsrv.cluster"]


def test_one_worker_leads_and_another_takes_over_when_it_stops(processes):
    events = []
    apps = processes("worker", 2)
    for index, app in enumerate(apps):
        _cluster(app).on_leadership(lambda i=index: events.append(("elected", i)),
                                    lambda i=index: events.append(("deposed", i)))
    assert wait_until(lambda: sum(_cluster(a).is_leader for a in apps) == 1, 10)
    time.sleep(0.6)  # several leader checks later: still one
    assert sum(_cluster(a).is_leader for a in apps) == 1
    leader = next(i for i, a in enumerate(apps) if _cluster(a).is_leader)
    other = 1 - leader
    with apps[other].app_context():
        assert wait_until(lambda: _cluster(apps[other]).leader_node() is not None
                          and _cluster(apps[other]).leader_node().owner
                          == _cluster(apps[leader]).owner, 10)
        db.session.rollback()
    _cluster(apps[leader]).stop()
    assert wait_until(lambda: _cluster(apps[other]).is_leader, 10)
    assert events == [("elected", leader), ("deposed", leader), ("elected", other)]


def test_web_processes_never_stand_for_leader(processes):
    apps = processes("web", 1)
    time.sleep(0.6)
    assert not _cluster(apps[0]).is_leader
    with apps[0].app_context():
        [node] = db.session.execute(db.select(ClusterNode)).scalars().all()
        assert (node.role, node.leader, node.owner) == ("web", False, _cluster(apps[0]).owner)


def test_events_reach_the_other_process_in_order_big_ones_included(processes):
    sender, receiver = processes("web", 2)
    bus_out, bus_in = (app.extensions["comicsrv.events"] for app in (sender, receiver))
    heard = bus_in.subscribe()
    own = bus_out.subscribe()
    dropped = []
    bus_in.on_invalidate("principals", dropped.append)
    assert wait_until(lambda: all(_cluster(a).connection.connected.is_set()
                                  for a in (sender, receiver)), 10)
    sent = [ScanProgress(library_id=1, job_id=2, current=i, total=300,
                         message="x" * (9000 if i == 150 else 10)) for i in range(300)]
    for event in sent:
        bus_out.publish(event)
    bus_out.invalidate("principals", 42)
    received = []
    deadline = time.monotonic() + 30
    while len(received) < 300 and time.monotonic() < deadline:
        event = heard.get(timeout=1)
        if event is not None:
            received.append(event)
    assert [e.current for e in received] == list(range(300))
    assert received[150].message == "x" * 9000  # sent by reference through a row
    assert wait_until(lambda: dropped == [[42]], 10)
    # The sender's own subscribers got each event once, not again by the relay.
    mine = []
    while (event := own.get(timeout=0.3)) is not None:
        mine.append(event.current)
    assert mine == list(range(300))
    with sender.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(EventPayload)).scalar() == 1
        db.session.rollback()


def test_a_process_with_another_secret_key_is_refused(processes, make_app):
    processes("web", 1)
    stranger = make_app(ROLE="web", **{**SETTINGS, "SECRET_KEY": "another key"})
    with pytest.raises(ConfigError, match="SECRET_KEY differs"):
        _cluster(stranger).start()


def test_a_row_left_by_a_dead_process_of_this_host_refuses_no_one(make_app):
    """A process killed on this host (OOM, kill -9) leaves its row fresh for a
    while; a replacement with another SECRET_KEY starts all the same, while
    a living process with another key still refuses it."""
    import subprocess

    from comicsrv.cluster.identity import process_owner

    gone = subprocess.Popen(["true"])  # a pid that is surely gone once waited for
    gone.wait()
    host, _, rest = process_owner().split(":", 2)
    namespace = rest.split("-")[0]
    app = make_app(ROLE="web", **{**SETTINGS, "SECRET_KEY": "the new key"})
    with app.app_context():
        for owner, pid in ((f"{host}:{gone.pid}:{namespace}-dead", gone.pid),
                           (f"{host}:{os.getpid()}:{namespace}-alive", os.getpid())):
            db.session.add(ClusterNode(owner=owner, role="all", hostname=host, pid=pid,
                                       version="1", key_id="another key", leader=False))
        db.session.commit()
        with pytest.raises(ConfigError, match=r"-alive \(all\)") as refused:
            _cluster(app).start()
        assert "-dead" not in str(refused.value)
        db.session.execute(db.delete(ClusterNode).where(ClusterNode.owner.like("%-alive")))
        db.session.commit()
    _cluster(app).start()
    try:
        assert _cluster(app).started
    finally:
        _cluster(app).stop()


def test_a_queued_job_wakes_an_idle_worker_at_once(processes, make_app):
    """The NOTIFY sent with the row wakes a worker that would otherwise look
    only every JOB_POLL_SECONDS (a minute here)."""
    ran = threading.Event()
    [worker] = processes("worker", 1)
    runner = worker.extensions["comicsrv.jobs"]
    runner.register("test.ping", lambda ctx: ran.set())
    worker.extensions["comicsrv.cluster"].on_notice("comicsrv_jobs", runner.notice)
    runner.start()
    assert wait_until(lambda: _cluster(worker).connection.connected.is_set(), 10)
    time.sleep(0.5)  # the dispatcher's first look is over: now it sleeps for a minute
    web = make_app(ROLE="web", **SETTINGS)
    web.extensions["comicsrv.jobs"].register("test.ping", lambda ctx: None)
    with web.app_context():
        job_id = web.extensions["comicsrv.jobs"].submit("test.ping")
        assert ran.wait(10)
        assert web.extensions["comicsrv.jobs"].wait(job_id, 10)
        assert db.session.get(Job, job_id).owner == runner.owner
