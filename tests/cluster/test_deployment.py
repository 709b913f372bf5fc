"""Many processes, one database: real ``comicsrv serve`` processes.

On PostgreSQL two ``web`` and two ``worker`` processes (separate OS
processes); on SQLite one ``--role all`` process in every part (see
conftest). What one process starts, another shows and a third runs.
"""
from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from comicsrv.automation.downloads import JOB_TYPE as MONITOR_JOB
from comicsrv.automation.watchlist import REFRESH_JOB
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Job, utcnow
from comicsrv.settings_store import set_setting
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.cluster.conftest import jobs_of, wait_for_jobs
from tests.factories import PASSWORD, UserFactory, WatchedSeriesFactory
from tests.processes import wait_until

METRON = Path(__file__).parents[1] / "fixtures" / "metadata" / "metron"


def _owner_pid(job: Job) -> int:
    return int(job.owner.split(":")[1])


def _read_sse(response: requests.Response, until, into: list, connected: threading.Event):
    """Collect ``(event, data)`` from an SSE response until ``until(event,
    data)`` holds or the stream ends."""
    name = None
    for raw in response.iter_lines(decode_unicode=True):
        if raw.startswith("event: "):
            name = raw[7:]
        elif raw.startswith("data: ") and name is not None:
            data = json.loads(raw[6:])
            if name == "connected":
                connected.set()
            else:
                into.append((name, data))
                if until(name, data):
                    return
            name = None


def test_a_scan_started_through_one_web_process_shows_live_on_another(
        deployment, comic_tree, admin_headers):
    """SSE on web A sees, in order, the progress of a scan that was started
    through web B and run by a worker."""
    library = create_library("Comics", str(comic_tree))
    cluster = deployment()
    seen: list[tuple[str, dict]] = []
    connected = threading.Event()
    job_ids: list[int] = []

    def finished(name, data):
        return (name == "task_progress" and job_ids and data["task_id"] == job_ids[0]
                and data["status"] in ("finished", "failed"))

    stream = requests.get(cluster.web_a.url + "/api/events/stream", headers=admin_headers,
                          stream=True, timeout=60)
    assert stream.status_code == 200
    reader = threading.Thread(target=_read_sse, args=(stream, finished, seen, connected),
                              daemon=True)
    reader.start()
    assert connected.wait(30)

    started = requests.post(f"{cluster.web_b.url}/api/v1/libraries/{library.id}/scan",
                            headers=admin_headers, timeout=30)
    assert started.status_code == 202, started.text
    job_ids.append(started.json()["id"])
    reader.join(90)
    stream.close()
    assert not reader.is_alive(), f"no end of the scan on web A; saw {seen[-5:]}"

    statuses = [d["status"] for n, d in seen if n == "task_progress" and d["task_id"] == job_ids[0]]
    assert statuses[0] == "queued" and statuses[-1] == "finished", statuses
    assert "running" in statuses and statuses.index("running") < len(statuses) - 1
    progress = [d["current"] for n, d in seen if n == "scan_progress" and d["job_id"] == job_ids[0]]
    assert progress and progress == sorted(progress), progress
    assert any(n == "book_created" for n, _ in seen)
    [job] = jobs_of(SCAN_JOB)
    assert job.state == "finished", job.error
    # Run by a worker, not by either web process.
    assert _owner_pid(job) in {w.pid for w in cluster.workers}
    if cluster.postgres:
        assert _owner_pid(job) not in {w.pid for w in cluster.webs}


def test_200_queued_jobs_each_run_exactly_once_across_the_workers(deployment, web_app, tmp_path):
    cluster = deployment()
    runs = tmp_path / "runs.txt"
    runner = web_app.extensions["comicsrv.jobs"]
    job_ids = [runner.submit("probe.record", {"path": str(runs)}) for _ in range(200)]

    jobs = wait_for_jobs(job_ids, timeout=120)
    assert {job.state for job in jobs} == {"finished"}
    lines = [line.split() for line in runs.read_text().splitlines()]
    ran = Counter(int(job_id) for job_id, _ in lines)
    assert sorted(ran) == sorted(job_ids) and set(ran.values()) == {1}
    # The process that wrote the line is the one the row names.
    pids = {int(job_id): int(pid) for job_id, pid in lines}
    assert all(pids[job.id] == _owner_pid(job) for job in jobs)
    if cluster.postgres:  # both workers took their share, neither web process any
        assert set(pids.values()) == {w.pid for w in cluster.workers}


def test_the_killed_leader_is_replaced_and_its_resumable_job_completes(
        deployment, web_app, tmp_path):
    """kill -9 of the worker that leads and runs a resumable job: the other
    worker fires the next scheduled trigger within 30 s and finishes the job
    from where it stopped, each step run once. (SQLite: the one process is
    killed and started again.)"""
    set_setting("automation.monitor_interval_seconds", 5, None)
    cluster = deployment(workers=1, webs=1)
    first = cluster.leader()
    steps, gate = tmp_path / "steps.txt", tmp_path / "gate"
    # Steps 0-9 run on the first worker, which then holds until the gate opens.
    job_id = web_app.extensions["comicsrv.jobs"].submit(
        "probe.steps", {"path": str(steps), "count": 30, "delay": 0.05, "hold_at": 10,
                        "gate": str(gate)})
    assert wait_until(lambda: steps.exists() and len(steps.read_text().splitlines()) == 10, 60)
    successor = cluster.start_worker().ready() if cluster.postgres else None
    if successor is not None:
        cluster.workers.append(successor)
        assert not cluster.health(successor)["process"]["leader"]

    killed_at = utcnow()
    first.stop(signal.SIGKILL)
    if successor is None:  # SQLite: a new process replaces the one killed
        successor = cluster.start_worker().ready()
        cluster.workers.append(successor)
    assert cluster.leader(timeout=30) is successor

    def fired() -> bool:
        return any(job.created_at > killed_at and job.owner
                   and _owner_pid(job) == successor.pid for job in jobs_of(MONITOR_JOB))

    assert wait_until(fired, 30, interval=0.5), "the new leader fired no trigger within 30 s"

    gate.touch()
    [job] = wait_for_jobs([job_id], timeout=60)
    assert job.state == "finished", job.error
    assert _owner_pid(job) == successor.pid and job.result["resumed_at"] == 10
    done = [line.split() for line in steps.read_text().splitlines()]
    assert sorted(int(step) for _, step, _ in done) == list(range(30))  # none twice
    assert {int(pid) for _, _, pid in done} == {first.pid, successor.pid}


def test_the_sixth_failed_login_spread_over_both_web_processes_gets_429(deployment, app):
    UserFactory(username="alice")
    cluster = deployment(workers=1)
    answers = []
    for attempt in range(6):
        web = cluster.webs[attempt % len(cluster.webs)]
        answers.append(requests.post(web.url + "/api/v1/auth/login", timeout=30,
                                     json={"username": "alice", "password": "wrong guess"}))
    assert [r.status_code for r in answers] == [401] * 5 + [429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    # Locked out everywhere, even with the right password.
    right = requests.post(cluster.webs[0].url + "/api/v1/auth/login", timeout=30,
                          json={"username": "alice", "password": PASSWORD})
    assert right.status_code == 429


def _metron_server(series_ids):
    server = ReplayServer()
    series = json.loads((METRON / "series_1.json").read_text())
    issues = json.loads((METRON / "series_1_issue_list.json").read_text())
    for series_id in series_ids:
        server.add("GET", f"/api/series/{series_id}/", Recorded.json({**series, "id": series_id}))
        server.add("GET", f"/api/series/{series_id}/issue_list/", Recorded.json(issues))
    return server


def test_a_provider_limit_of_5_per_minute_holds_across_the_workers(deployment, web_app):
    """Six metadata refreshes of two requests each, spread over both workers,
    against a Metron quota set to 5 a minute: 5 requests reach Metron in
    all (per-process limiters would let 5 through each worker)."""
    set_setting("metadata.metron_username", "reader", None)
    set_setting("metadata.metron_password", "s3cret", None)
    set_setting("metadata.metron_requests_per_minute", 5, None)
    set_setting("metadata.max_wait_seconds", 1, None)
    watched = [WatchedSeriesFactory(provider="metron", provider_id=str(i)) for i in range(1, 7)]
    with _metron_server(range(1, 7)) as metron:
        cluster = deployment(config={"metadata_urls": {"metron": metron.url + "/api"}},
                             job_workers=1)
        runner = web_app.extensions["comicsrv.jobs"]
        job_ids = [runner.submit(REFRESH_JOB, {"series_id": w.id}) for w in watched]
        jobs = wait_for_jobs(job_ids, timeout=90)
        assert len(metron.requests) == 5
    assert {job.state for job in jobs} == {"finished"}, [job.error for job in jobs]
    stopped = [job.result["stopped"] for job in jobs if job.result["stopped"]]
    assert len(stopped) == 4 and all("quota is spent" in reason for reason in stopped)
    assert sum(job.result["refreshed"] for job in jobs) == 2
    if cluster.postgres:
        assert len({_owner_pid(job) for job in jobs}) == 2


def test_a_job_running_on_a_worker_is_cancelled_through_a_web_process(
        deployment, web_app, tmp_path, admin_headers):
    cluster = deployment(workers=1)
    steps = tmp_path / "steps.txt"
    job_id = web_app.extensions["comicsrv.jobs"].submit(
        "probe.steps", {"path": str(steps), "count": 1000, "delay": 0.05})
    assert wait_until(lambda: steps.exists() and steps.read_text().count("\n") >= 3, 60)
    asked = time.monotonic()
    response = requests.post(f"{cluster.web_b.url}/api/v1/tasks/{job_id}/cancel",
                             headers=admin_headers, timeout=30)
    assert response.status_code == 200, response.text
    [job] = wait_for_jobs([job_id], timeout=30)
    assert job.state == "cancelled"
    # Stopped at its next step, well before it would have ended (50 s).
    assert time.monotonic() - asked < 10
    assert steps.read_text().count("\n") < 1000
