"""Several processes on one PostgreSQL: requests/s with 1, 2 and 4 ``web``
processes, and jobs/s with 1 and 2 ``worker`` processes. Prints figures;
never asserts.

    python bench/bench_scaling.py --database-url postgresql://user@127.0.0.1/scratch \\
        [--books 300] [--seconds 8] [--clients 2] [--threads 12] [--jobs 600]

The database is emptied first (``DROP SCHEMA public CASCADE``): give it a
throw-away database. A library of ``--books`` real CBZ files (bench/make_library.py)
is scanned once; then, for each number of web processes, ``comicsrv serve
--role web`` processes are started and loaded by ``--clients`` client
processes of ``--threads`` kept-alive connections each, spread over the web
processes as a round-robin proxy would. Two loads, each for ``--seconds``:

- page: ``GET /api/v1/books/<id>/pages/<n>`` (a stored JPEG of ~30 KB read
  from its zip by offset; no image work), and
- list: ``GET /api/v1/books?page=<k>&page_size=50`` (authentication, the
  count and rows queries, progress and publishers, JSON).

Then ``--jobs`` queued jobs (``jobs.prune``: one small DELETE) are written in
one transaction and the time until every one has finished is taken, with 1
and with 2 worker processes (each runs 4 jobs at a time). The clients run on
the same machine as the servers and PostgreSQL: on a small machine they take
their share of its cores, which the figures include.
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reset(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _prepare(url: str, work: Path, books: int) -> tuple[str, list[tuple[int, int]], int]:
    """Schema, a scanned library and an admin key: (key, [(book id, pages)], books)."""
    from make_library import make_library

    from comicsrv.app import create_app
    from comicsrv.auth.users import create_api_key, create_user
    from comicsrv.extensions import db
    from comicsrv.library.libraries import create_library
    from comicsrv.library.scanner import SCAN_JOB
    from comicsrv.models import Book

    make_library(work / "comics", books, pages=10, page_kb=30)
    app = create_app({"DATA_DIR": str(work / "setup"), "DATABASE_URL": url,
                      "SECRET_KEY": "bench", "SCHEDULER_ENABLED": False})
    with app.app_context():
        create_user("bench", "a long bench password", is_admin=True)
        _, key = create_api_key("bench", "bench")
        library = create_library("Comics", str(work / "comics"))
        job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
        assert job.state == "finished", job.error
        rows = db.session.execute(db.select(Book.id, Book.page_count).where(
            Book.state == "ok", Book.page_count > 0)).all()
        db.engine.dispose()
    return key, [(row.id, row.page_count) for row in rows], len(rows)


class Servers:
    """``comicsrv serve`` processes of one role."""

    def __init__(self, url: str, work: Path, role: str, count: int, **settings):
        self.processes: list[subprocess.Popen] = []
        self.ports: list[int] = []
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMICSRV_")}
        env.update({"COMICSRV_DATABASE_URL": url, "COMICSRV_AUTO_MIGRATE": "false",
                    "COMICSRV_SCAN_ON_START": "false", "COMICSRV_SECRET_KEY": "bench",
                    "COMICSRV_LOG_LEVEL": "WARNING",
                    **{f"COMICSRV_{k}": str(v) for k, v in settings.items()}})
        for index in range(count):
            port = _free_port()
            data_dir = work / f"{role}{index}"
            data_dir.mkdir(exist_ok=True)
            log = (data_dir / "serve.log").open("ab")
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "comicsrv", "--data-dir", str(data_dir), "serve",
                 "--port", str(port), "--role", role],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            self.ports.append(port)
        for port in self.ports:
            deadline = time.monotonic() + 90
            while not _ping(port):
                if time.monotonic() > deadline:
                    raise SystemExit(f"comicsrv serve on {port} did not start")
                time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _ping(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/ping")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def _client(args: tuple) -> tuple[int, int]:
    """One client process: ``threads`` kept-alive connections, each to one
    web process in turn, for ``seconds``. Returns (answered, failed)."""
    import threading

    ports, paths, key, seconds, threads, offset = args
    counts = [[0, 0] for _ in range(threads)]
    deadline = time.monotonic() + seconds

    def run(index: int) -> None:
        port = ports[(offset + index) % len(ports)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = index
        while time.monotonic() < deadline:
            path = paths[i % len(paths)]
            i += threads
            try:
                conn.request("GET", path, headers={"X-API-Key": key})
                response = conn.getresponse()
                response.read()
                counts[index][0 if response.status == 200 else 1] += 1
            except (OSError, http.client.HTTPException):
                counts[index][1] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def _load(ports: list[int], paths: list[str], key: str, seconds: float, clients: int,
          threads: int) -> tuple[float, int]:
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        # A short warm-up (connections, caches), then the measured run.
        pool.map(_client, [(ports, paths, key, 1.0, threads, c * threads) for c in range(clients)])
        started = time.monotonic()
        results = pool.map(_client, [(ports, paths, key, seconds, threads, c * threads)
                                     for c in range(clients)])
        elapsed = time.monotonic() - started
    answered = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    return answered / elapsed, failed


def _jobs(url: str, work: Path, count: int, workers: int) -> float:
    from sqlalchemy import func, insert, select, text

    from comicsrv.app import create_app
    from comicsrv.extensions import db
    from comicsrv.models import Job, utcnow

    servers = Servers(url, work, "worker", workers, JOB_POLL_SECONDS=5)
    app = create_app({"DATA_DIR": str(work / "submit"), "DATABASE_URL": url,
                      "SECRET_KEY": "bench", "ROLE": "web", "AUTO_MIGRATE": False})
    try:
        with app.app_context():
            db.session.execute(text("DELETE FROM jobs"))
            now = utcnow()
            db.session.execute(insert(Job), [
                {"type": "jobs.prune", "state": "queued", "params": {"days": 3650},
                 "created_at": now, "heartbeat_at": now, "progress_current": 0,
                 "progress_total": 0, "cancel_requested": False} for _ in range(count)])
            db.session.execute(select(func.pg_notify("comicsrv_jobs", "bench")))
            db.session.commit()
            started = time.monotonic()
            while True:
                left = db.session.execute(select(func.count()).select_from(Job).where(
                    Job.state.in_(("queued", "running")))).scalar()
                db.session.rollback()
                if not left:
                    break
                time.sleep(0.02)
            elapsed = time.monotonic() - started
            owners = db.session.execute(select(func.count(func.distinct(Job.owner)))).scalar()
            db.session.rollback()
            db.engine.dispose()
    finally:
        servers.stop()
    return count / elapsed, owners


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True,
                        help="a throw-away PostgreSQL database (it is emptied)")
    parser.add_argument("--books", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=12, help="connections per client")
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--web", default="1,2,4", help="numbers of web processes to measure")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgresql://", "postgres://")):
        raise SystemExit("--database-url must be a PostgreSQL URL")

    work = Path(tempfile.mkdtemp(prefix="comicsrv-bench-scaling-"))
    try:
        _reset(args.database_url)
        key, books, total = _prepare(args.database_url, work, args.books)
        pages = [f"/api/v1/books/{book}/pages/{1 + i % count}"
                 for i, (book, count) in enumerate(books * 3)]
        lists = [f"/api/v1/books?page={1 + i % max(1, total // 50)}&page_size=50"
                 for i in range(200)]
        print(f"{os.cpu_count()} cores; {total} books; {args.clients} client processes x "
              f"{args.threads} connections; {args.seconds:g} s per figure")
        print(f"{'web processes':>14} {'pages/s':>10} {'lists/s':>10} {'errors':>8}")
        for count in [int(n) for n in args.web.split(",")]:
            servers = Servers(args.database_url, work, "web", count)
            try:
                page_rate, page_errors = _load(servers.ports, pages, key, args.seconds,
                                               args.clients, args.threads)
                list_rate, list_errors = _load(servers.ports, lists, key, args.seconds,
                                               args.clients, args.threads)
            finally:
                servers.stop()
            print(f"{count:>14} {page_rate:>10.0f} {list_rate:>10.0f} "
                  f"{page_errors + list_errors:>8}")
        print(f"\n{'worker processes':>16} {'jobs/s':>8} (of {args.jobs} queued jobs)")
        for workers in (1, 2):
            rate, owners = _jobs(args.database_url, work, args.jobs, workers)
            print(f"{workers:>16} {rate:>8.0f}   run by {owners} process(es)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
