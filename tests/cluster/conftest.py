"""A deployment of real ``comicsrv serve`` processes on the session database.

On PostgreSQL: two ``web`` processes and two ``worker`` processes, each a
separate OS process. On SQLite (one process is all SQLite allows): one
``--role all`` process plays every part, so the same tests prove that the
single-process default behaves as before.

The servers get the probe plugin (``probe_plugin/``) through PYTHONPATH and
timings short enough for tests: heartbeats every half second, a job taken
for dead after three seconds without one, a leader check every second.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from comicsrv.extensions import db
from comicsrv.models import Job
from tests.serving import LiveServer, live_server  # noqa: F401
from tests.processes import wait_until

PROBE_PATH = Path(__file__).parent / "probe_plugin"
FAST = {"JOB_HEARTBEAT_SECONDS": 0.5, "JOB_STALE_SECONDS": 3, "JOB_POLL_SECONDS": 0.5,
        "LEADER_CHECK_SECONDS": 1, "SSE_KEEPALIVE_SECONDS": 1}


@dataclass
class Deployment:
    postgres: bool
    webs: list[LiveServer]
    workers: list[LiveServer]
    start_worker: object = field(repr=False, default=None)

    @property
    def web_a(self) -> LiveServer:
        return self.webs[0]

    @property
    def web_b(self) -> LiveServer:
        return self.webs[-1]

    def health(self, server: LiveServer) -> dict:
        return requests.get(server.url + "/api/v1/health", timeout=10).json()

    def leader(self, timeout: float = 30) -> LiveServer:
        """The worker that leads the scheduler (waits for one to be elected)."""
        found: list[LiveServer] = []

        def elected() -> bool:
            found[:] = [w for w in self.workers if w.process.poll() is None
                        and self.health(w)["process"]["leader"]]
            return len(found) == 1

        assert wait_until(elected, timeout, interval=0.2), "no single leader was elected"
        return found[0]


@pytest.fixture
def probe():
    """The probe plugin's module, for registering its job types in the
    test's own app (which submits jobs as a web process would)."""
    from tests.cluster.probe_plugin import comicsrv_probe

    return comicsrv_probe


@pytest.fixture
def web_app(make_app, probe):
    """An app in the test process that only submits jobs (``ROLE=web``),
    knowing the probe's job types."""
    app = make_app(ROLE="web")
    runner = app.extensions["comicsrv.jobs"]
    for job_type in probe.comicsrv_job_types():
        runner.register(job_type.name, job_type.run, resumable=job_type.resumable)
    with app.app_context():
        yield app


@pytest.fixture
def deployment(live_server, database_url):  # noqa: F811
    """``deployment(workers=2, config=..., **settings)`` starts the servers."""
    postgres = database_url.startswith("postgresql")

    def start(*, workers: int = 2, webs: int = 2, config: dict | None = None,
              **settings) -> Deployment:
        options = {**FAST, **settings, "config": config,
                   "extra_env": {"PYTHONPATH": str(PROBE_PATH)}, "wait": False}

        def start_worker() -> LiveServer:
            return live_server(role="worker" if postgres else "all", **options)

        if postgres:
            web_servers = [live_server(role="web", **options) for _ in range(webs)]
            worker_servers = [start_worker() for _ in range(workers)]
        else:
            web_servers = worker_servers = [start_worker()]
        for server in {id(s): s for s in web_servers + worker_servers}.values():
            server.ready()
        return Deployment(postgres, web_servers, worker_servers, start_worker)

    return start


def jobs_of(job_type: str) -> list[Job]:
    db.session.rollback()
    db.session.expire_all()
    return list(db.session.execute(db.select(Job).where(Job.type == job_type)
                                   .order_by(Job.id)).scalars())


def wait_for_jobs(job_ids: list[int], timeout: float) -> list[Job]:
    """Wait until every job has ended; their rows."""
    def ended() -> bool:
        db.session.rollback()
        states = db.session.execute(db.select(Job.state).where(Job.id.in_(job_ids))).scalars()
        return all(state not in ("queued", "running") for state in states)

    started = time.monotonic()
    assert wait_until(ended, timeout, interval=0.2), \
        f"jobs still active after {time.monotonic() - started:.0f} s"
    db.session.expire_all()
    return [db.session.get(Job, job_id) for job_id in job_ids]
