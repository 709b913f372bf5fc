"""``comicsrv serve`` as a real process on 127.0.0.1."""
import os
import signal
import subprocess
import sys
import time

import requests


def test_serve_answers_ping_within_3_seconds_and_stops_cleanly(tmp_path, free_port):
    env = {**os.environ, "COMICSRV_DATA_DIR": str(tmp_path / "data")}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "comicsrv", "serve", "--port", str(free_port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        while time.monotonic() - started < 3:
            try:
                body = requests.get(f"http://127.0.0.1:{free_port}/ping", timeout=0.5).json()
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        elapsed = time.monotonic() - started
        assert body == {"status": "OK"}, f"no answer within 3 s (waited {elapsed:.2f}s)"
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
