"""``comicsrv serve`` as a real process on 127.0.0.1."""
import os
import signal
import subprocess
import sys
import time

import requests


def test_serve_answers_ping_on_an_empty_data_dir_and_stops_cleanly(tmp_path, free_port):
    """Start-up time itself is measured, not asserted (about 1.5 s on a
    quiet 2-core machine; see the issue notes): a timed assertion would
    fail whenever the machine is busy. The bound here only stops a hang."""
    env = {**os.environ, "COMICSRV_DATA_DIR": str(tmp_path / "data")}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "comicsrv", "serve", "--port", str(free_port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        while time.monotonic() - started < 30:
            try:
                body = requests.get(f"http://127.0.0.1:{free_port}/ping", timeout=0.5).json()
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        elapsed = time.monotonic() - started
        assert body == {"status": "OK"}, f"no answer (waited {elapsed:.2f}s)"
        health = requests.get(f"http://127.0.0.1:{free_port}/api/v1/health", timeout=2).json()
        assert health["checks"] == {"database": "ok", "scheduler": "running"}
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "shutting down" in output and "Traceback" not in output
    assert (tmp_path / "data" / "comicsrv.db").exists()


def test_serve_marks_jobs_of_a_dead_process_failed(tmp_path, free_port):
    """Interrupted work is found on the next start and marked with the reason."""
    import sqlite3

    data = tmp_path / "data"
    env = {**os.environ, "COMICSRV_DATA_DIR": str(data)}
    subprocess.run([sys.executable, "-m", "comicsrv", "db", "upgrade"], env=env, check=True,
                   capture_output=True)
    with sqlite3.connect(data / "comicsrv.db") as conn:
        conn.execute("INSERT INTO jobs (type, state, progress_current, progress_total, "
                     "cancel_requested, owner, created_at) VALUES "
                     "('jobs.prune', 'running', 5, 10, 0, ?, '2026-01-01 00:00:00')",
                     (f"{os.uname().nodename}:{2 ** 22 + 4242}",))
    proc = subprocess.Popen([sys.executable, "-m", "comicsrv", "serve", "--port", str(free_port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 10
        state = None
        while time.monotonic() < deadline:
            with sqlite3.connect(data / "comicsrv.db") as conn:
                state, error = conn.execute("SELECT state, error FROM jobs WHERE id = 1").fetchone()
            if state != "running":
                break
            time.sleep(0.1)
        assert state == "failed"
        assert "interrupted" in error
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def test_scan_on_start_under_gevent_uses_worker_processes(tmp_path, free_port):
    """The server scans its libraries when it starts, in a gevent-patched
    process with spawned reader processes, and keeps answering meanwhile."""
    import sqlite3
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    from make_library import make_library

    from comicsrv.library.scanner import PROCESS_POOL_MIN_FILES

    count = PROCESS_POOL_MIN_FILES + 50
    make_library(tmp_path / "comics", count, pages=2, seed=11)
    data = tmp_path / "data"
    env = {**os.environ, "COMICSRV_DATA_DIR": str(data), "COMICSRV_CPU_WORKERS": "2"}
    subprocess.run([sys.executable, "-m", "comicsrv", "library", "add", "Comics",
                    str(tmp_path / "comics")], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "comicsrv", "serve", "--port", str(free_port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        state, pings = None, 0
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{free_port}/ping", timeout=2).ok:
                    pings += 1
            except requests.ConnectionError:
                pass
            with sqlite3.connect(data / "comicsrv.db") as conn:
                row = conn.execute("SELECT state, result FROM jobs WHERE type='library.scan'").fetchone()
            if row and row[0] in ("finished", "failed"):
                state = row[0]
                break
            time.sleep(0.1)
        assert state == "finished", row
        # The new files' archive ids come from the job the scan queued, in
        # the same server's native threads.
        while time.monotonic() < deadline:
            with sqlite3.connect(data / "comicsrv.db") as conn:
                ids_job = conn.execute(
                    "SELECT state FROM jobs WHERE type='library.archive_ids'").fetchone()
            if ids_job and ids_job[0] in ("finished", "failed"):
                break
            time.sleep(0.1)
        assert ids_job == ("finished",)
        with sqlite3.connect(data / "comicsrv.db") as conn:
            books, hashed, koreader = conn.execute(
                "SELECT count(*), count(arcid), count(koreader_hash) FROM books "
                "WHERE state='ok'").fetchone()
        assert books == hashed == koreader == count
        assert pings > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert "Traceback" not in output, output
