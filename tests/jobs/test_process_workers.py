"""``ProcessWorkers``: real worker processes, killed when a call runs over.

The functions run are standard-library ones, so a worker imports nothing of
the test suite."""
from __future__ import annotations

import operator
import os
import signal
import time

import pytest

from comicsrv.jobs.pool import ProcessWorkers, WorkerFailed, WorkerTimeout


@pytest.fixture
def workers():
    pool = ProcessWorkers(2, idle_seconds=30)
    yield pool
    pool.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child that was reaped is gone; one not yet reaped is a zombie.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split()[2] != "Z"


def test_a_call_runs_in_another_process_that_is_reused(workers):
    first = workers.call(os.getpid, timeout=30)
    assert first != os.getpid()
    assert workers.call(operator.add, 2, 3, timeout=5) == 5
    assert workers.call(os.getpid, timeout=5) == first
    assert workers.worker_pids() == [first]


def test_the_exception_of_the_work_is_raised_in_the_caller(workers):
    with pytest.raises(ValueError, match="invalid literal"):
        workers.call(int, "not a number", timeout=30)
    assert workers.call(int, "42", timeout=5) == 42  # the worker survived


def test_a_call_past_its_limit_is_stopped_and_its_process_killed(workers):
    pid = workers.call(os.getpid, timeout=30)
    started = time.monotonic()
    with pytest.raises(WorkerTimeout, match="stopped after 0.5 s"):
        workers.call(time.sleep, 30, timeout=0.5)
    assert time.monotonic() - started < 5
    assert not _alive(pid)
    assert workers.call(os.getpid, timeout=30) not in (pid, os.getpid())  # a fresh worker


def test_a_worker_that_dies_is_reported_and_replaced(workers):
    pid = workers.call(os.getpid, timeout=30)
    with pytest.raises(WorkerFailed, match="died"):
        workers.call(os.kill, pid, signal.SIGKILL, timeout=10)
    assert workers.call(os.getpid, timeout=30) != pid


def test_an_idle_worker_exits_by_itself():
    pool = ProcessWorkers(1, idle_seconds=0.5)
    try:
        pid = pool.call(os.getpid, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        assert not _alive(pid)
        assert pool.call(os.getpid, timeout=30) != pid  # not a dead worker's socket
    finally:
        pool.close()


def test_the_memory_limit_makes_a_runaway_allocation_an_error():
    pool = ProcessWorkers(1, memory_limit=1 << 30)
    try:
        with pytest.raises(MemoryError):
            pool.call(bytearray, 2 << 30, timeout=30)
        assert pool.call(operator.mul, 6, 7, timeout=5) == 42
    finally:
        pool.close()


def test_close_stops_the_idle_workers(workers):
    pid = workers.call(os.getpid, timeout=30)
    workers.close()
    assert not _alive(pid)
    with pytest.raises(WorkerFailed):
        workers.call(os.getpid, timeout=5)
