"""Each role is also ``comicsrv.wsgi:app`` under gunicorn with gevent workers.

On PostgreSQL: gunicorn with two ``web`` workers in front, a ``comicsrv serve
--role worker`` behind; a scan started through gunicorn is run by the
worker. On SQLite: one gunicorn worker with the default role, ``all``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import SCAN_JOB
from tests.cluster.conftest import FAST, jobs_of, wait_for_jobs
from tests.serving import live_server  # noqa: F401

pytest.importorskip("gunicorn")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(database_url, tmp_path):
    """``gunicorn(role, workers)``: a running gunicorn serving comicsrv.wsgi:app."""
    started: list[tuple[subprocess.Popen, object]] = []

    def start(role: str, workers: int, secret_key: str) -> str:
        port = _free_port()
        data_dir = tmp_path / f"gunicorn-{role}"
        data_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMICSRV_")}
        env.update({"COMICSRV_DATA_DIR": str(data_dir), "COMICSRV_DATABASE_URL": database_url,
                    "COMICSRV_ROLE": role, "COMICSRV_AUTO_MIGRATE": "false",
                    "COMICSRV_SCAN_ON_START": "false", "COMICSRV_SECRET_KEY": secret_key,
                    **{f"COMICSRV_{k}": str(v) for k, v in FAST.items()}})
        log = (data_dir / "gunicorn.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers),
             "-b", f"127.0.0.1:{port}", "--graceful-timeout", "10", "comicsrv.wsgi:app"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started.append((process, data_dir / "gunicorn.log"))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, (data_dir / "gunicorn.log").read_text()[-4000:]
            try:
                if requests.get(url + "/ping", timeout=1).ok:
                    return url
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError("gunicorn did not answer")

    yield start
    output = []
    for process, log in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        output.append(log.read_text(errors="replace"))
    assert not any("Traceback" in text for text in output), "\n".join(output)[-6000:]


def test_gunicorn_serves_each_role(gunicorn, live_server, database_url, comic_tree,  # noqa: F811
                                   admin_headers):
    library = create_library("Comics", str(comic_tree))
    postgres = database_url.startswith("postgresql")
    secret = "one key for every process"
    if postgres:
        web = gunicorn("web", 2, secret)
        worker = live_server(role="worker", secret_key=secret, **FAST)
        health = requests.get(worker.url + "/api/v1/health", timeout=10).json()
        assert health["process"]["role"] == "worker"
    else:
        web = gunicorn("all", 1, secret)
    health = requests.get(web + "/api/v1/health", timeout=10).json()
    assert health["process"]["role"] == ("web" if postgres else "all")

    started = requests.post(f"{web}/api/v1/libraries/{library.id}/scan",
                            headers=admin_headers, timeout=30)
    assert started.status_code == 202, started.text
    [job] = wait_for_jobs([started.json()["id"]], timeout=90)
    assert job.state == "finished", job.error
    books = requests.get(f"{web}/api/v1/books", headers=admin_headers, timeout=30).json()
    assert books["total"] >= 5
    if postgres:
        assert int(job.owner.split(":")[1]) == worker.pid
    assert [j.id for j in jobs_of(SCAN_JOB)] == [job.id]


def test_gunicorn_runs_a_worker_that_serves_only_health(gunicorn, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a worker process needs PostgreSQL")
    worker = gunicorn("worker", 1, "a key")
    assert requests.get(worker + "/api/v1/health", timeout=10).json()["process"]["role"] == "worker"
    assert requests.get(worker + "/api/v1/books", timeout=10).status_code == 404
