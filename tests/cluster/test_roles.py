"""What each role does inside one process: a worker serves only its health
checks, triggers fire only in the leader, schedules follow changes made by
other processes, plugins add job types."""
import time

from comicsrv.events import SchedulesChanged
from comicsrv.extensions import db
from comicsrv.library.libraries import create_library, delete_library
from comicsrv.library.schedule import schedule_library_scans
from comicsrv.models import Job
from comicsrv.plugins import PluginRegistry
from tests.processes import wait_until


def test_a_worker_answers_only_its_health_checks(make_app):
    client = make_app(ROLE="worker").test_client()
    assert client.get("/ping").json == {"status": "OK"}
    health = client.get("/api/v1/health")
    assert health.status_code == 200
    assert health.json["process"] == {"role": "worker", "leader": False, "jobs_running": 0}
    for method, path in (("GET", "/api/v1/books"), ("GET", "/"), ("POST", "/api/v1/auth/login"),
                         ("GET", "/api/v1/health/../books")):
        response = client.open(path, method=method)
        assert response.status_code == 404, path
        assert response.json["error"] == "not_found"
        assert "worker process" in response.json["message"]


def test_the_health_check_names_the_role_of_the_process_that_answered(make_app):
    body = make_app(ROLE="web").test_client().get("/api/v1/health").json
    assert body["process"]["role"] == "web" and body["checks"]["scheduler"] == "stopped"


def test_triggers_fire_only_while_this_process_leads(make_app):
    app = make_app(SCHEDULER_ENABLED=True, LEADER_CHECK_SECONDS=0.2)
    scheduler = app.extensions["comicsrv.scheduler"]
    cluster = app.extensions["comicsrv.cluster"]
    cluster.start()  # SQLite: the one process leads at once; PostgreSQL: takes the lock
    scheduler.every("test.prune", 0.2, "jobs.prune")
    scheduler.start()
    ctx = app.app_context()
    ctx.push()
    try:
        assert wait_until(lambda: cluster.is_leader, 10)
        assert wait_until(lambda: _count("jobs.prune") >= 1, 10)
        cluster._depose()  # as when the connection holding the lock breaks
        time.sleep(0.3)
        before = _count("jobs.prune")
        time.sleep(1.0)  # five trigger times
        assert _count("jobs.prune") == before
        cluster._elect()
        assert wait_until(lambda: _count("jobs.prune") > before, 10)
    finally:
        scheduler.shutdown()
        cluster.stop()
        ctx.pop()


def _count(job_type: str) -> int:
    db.session.rollback()
    return db.session.execute(db.select(db.func.count()).select_from(Job).where(
        Job.type == job_type)).scalar()


def test_schedules_follow_changes_another_process_made(app, make_app, tmp_path):
    """A library's cron schedule set or dropped through a web process reaches
    the scheduling process (here: its SchedulesChanged, as the relay delivers it)."""
    worker = make_app()
    scheduler = worker.extensions["comicsrv.scheduler"]
    scheduler.add_source(lambda a: schedule_library_scans(a, on_start=False))
    scheduler.follow_changes()
    scheduler.start()
    bus = worker.extensions["comicsrv.events"]
    try:
        (tmp_path / "comics").mkdir()
        library = create_library("Comics", str(tmp_path / "comics"), scan_cron="0 3 * * *")
        assert "scan:%d" % library.id not in scheduler.ids()
        bus.receive(SchedulesChanged(reason="library schedule", origin="a web process"))
        assert wait_until(lambda: f"scan:{library.id}" in scheduler.ids(), 10)
        delete_library(library)
        bus.receive(SchedulesChanged(reason="library deleted", origin="a web process"))
        assert wait_until(lambda: f"scan:{library.id}" not in scheduler.ids(), 10)
    finally:
        scheduler.shutdown()


def test_plugins_add_job_types_through_their_hook(make_app, probe):
    registry = PluginRegistry()
    registry.register(probe, "probe")
    runner = make_app(PLUGINS=registry).extensions["comicsrv.jobs"]
    assert runner.types["probe.record"].resumable is False
    assert runner.types["probe.steps"].resumable is True
