"""The scanner's reader processes end with the server, however it dies.

A big scan reads archives in a pool of "spawn" processes. When the OOM
killer (or ``kill -9``) takes the server alone, those processes and
multiprocessing's resource tracker used to keep running, reparented to init,
for as long as the machine stayed up: each restart added a set. Now every
reader process arms a parent-death signal, so nothing of the server's process
group outlives it, and the next start scans again from a clean slate.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from sqlalchemy import func, select

from comicsrv.extensions import db
from comicsrv.library.archive_ids import ARCHIVE_IDS_JOB
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import PROCESS_POOL_MIN_FILES, SCAN_JOB
from comicsrv.models import Book, Job
from tests.processes import children, cmdline, group_members, wait_until
from tests.serving import live_server  # noqa: F401

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from make_library import make_library  # noqa: E402

# Enough files that the scan is still reading when the test strikes.
LIBRARY_FILES = PROCESS_POOL_MIN_FILES * 4
# Generous: the kernel kills the readers as the server dies; the resource
# tracker follows once the last of them has closed its pipe.
ORPHAN_GRACE_SECONDS = 5
SCAN_TIMEOUT = 120


def _reader_processes(server_pid: int) -> list[int]:
    return [pid for pid in children(server_pid) if "spawn_main" in cmdline(pid)]


def _archive_ids_jobs_active() -> bool:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(Job).where(
        Job.type == ARCHIVE_IDS_JOB, Job.state.in_(("queued", "running")))).scalar() > 0


def _scans() -> list[Job]:
    db.session.expire_all()
    return list(db.session.execute(select(Job).where(Job.type == SCAN_JOB)
                                   .order_by(Job.id)).scalars())


def test_killing_the_server_mid_scan_leaves_no_reader_process_and_a_restart_rescans(
        live_server, app, tmp_path):
    paths = make_library(tmp_path / "comics", LIBRARY_FILES, pages=2, seed=7)
    create_library("Comics", str(tmp_path / "comics"))

    server = live_server(scan_on_start="true", cpu_workers=2)
    pid = server.process.pid
    assert wait_until(lambda: _reader_processes(pid), 60), (
        "the scan never started its reader processes", server.output()[-3000:],
        [(s.state, s.error, s.progress_message) for s in _scans()],
        [(c, cmdline(c)) for c in children(pid)])
    scans = _scans()
    assert [scan.state for scan in scans] == ["running"]
    assert group_members(pid)  # the process group is the server's (start_new_session)

    os.kill(pid, signal.SIGKILL)  # the server alone, as the OOM killer does
    server.process.wait(10)
    assert wait_until(lambda: not group_members(pid), ORPHAN_GRACE_SECONDS), [
        (leftover, cmdline(leftover)) for leftover in group_members(pid)]

    server.start()  # a new process on the same database and data dir
    assert wait_until(lambda: any(scan.state in ("finished", "failed") for scan in _scans()[1:]),
                      SCAN_TIMEOUT), "the restarted server did not finish its scan"
    first, *again = _scans()
    assert first.state == "failed" and "interrupted" in first.error
    assert [scan.state for scan in again] == ["finished"], [scan.error for scan in again]
    # The ids of a big scan's new files come from the job it queues, after it.
    assert wait_until(lambda: not _archive_ids_jobs_active(), SCAN_TIMEOUT)
    books = db.session.execute(select(func.count(), func.count(func.distinct(Book.path)),
                                      func.count(Book.arcid))
                               .where(Book.state == "ok")).one()
    assert tuple(books) == (len(paths), len(paths), len(paths))
    assert db.session.execute(select(func.count()).select_from(Book)).scalar() == len(paths)
