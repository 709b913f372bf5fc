"""Stopping or restarting the server from an API call, cleanly.

The stop runs after the answer has been sent, through the callable
``app.extensions["comicsrv.shutdown"]`` (``restart: bool``) when an embedder
set one, else, under ``comicsrv serve``, :func:`stop_process`: SIGTERM to this
process, which ``serve`` handles by stopping the scheduler and the gevent
server cleanly; a restart then re-executes the same command line. Under any
other WSGI server the answer is 409: its process manager owns the process.
"""
from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
import threading
from typing import Callable

from flask import Response, after_this_request, current_app

from .errors import Conflict

SHUTDOWN_EXTENSION = "comicsrv.shutdown"
SERVER_EXTENSION = "comicsrv.server"  # set by comicsrv.server.serve
# Long enough for the answer to leave the server before it stops.
SHUTDOWN_DELAY_SECONDS = 0.5


def stop_process(restart: bool) -> None:
    """SIGTERM to this process (``serve`` stops its server and scheduler
    cleanly on it); for a restart, re-execute the command line on exit."""
    if restart:
        # orig_argv keeps "-m comicsrv"; argv[0] would be __main__.py's path.
        argv = [sys.executable, *sys.orig_argv[1:]]
        atexit.register(os.execv, sys.executable, argv)
    os.kill(os.getpid(), signal.SIGTERM)


def schedule_stop(restart: bool) -> None:
    """Stop (or restart) once the current request's answer is sent."""
    app = current_app._get_current_object()
    stop: Callable[[bool], None] | None = app.extensions.get(SHUTDOWN_EXTENSION)
    if stop is None:
        if SERVER_EXTENSION not in app.extensions:
            # Under another WSGI server its process manager owns the process.
            raise Conflict("This process does not run `comicsrv serve`; stop or restart it "
                           "with the server that runs it", code="not_serving")
        stop = stop_process

    @after_this_request
    def later(response: Response) -> Response:
        timer = threading.Timer(SHUTDOWN_DELAY_SECONDS, stop, args=(restart,))
        timer.daemon = True
        timer.start()
        return response




# -- "is a server running on this data directory?" --------------------------------

SERVE_LOCK = ".serve.lock"
_held_lock = None


def hold_serving_lock(data_dir: str) -> None:
    """Mark this process as a server of ``data_dir`` until it exits: a shared
    ``flock`` on ``<data dir>/.serve.lock`` (the kernel drops it when the
    process ends, however it ends). ``server_running`` asks for it."""
    import fcntl

    global _held_lock
    handle = open(os.path.join(data_dir, SERVE_LOCK), "a")
    fcntl.flock(handle, fcntl.LOCK_SH)
    _held_lock = handle


def server_running(data_dir: str) -> bool:
    """True while a ``comicsrv serve`` holds ``data_dir``'s lock."""
    import fcntl

    path = os.path.join(data_dir, SERVE_LOCK)
    if not os.path.exists(path):
        return False
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def freeze_startup_objects() -> None:
    """Move everything start-up made (modules, the app, mappers, compiled
    statements: a quarter of a million objects) out of the garbage
    collector's sight. A full collection walked them all, ~0.4 s on a
    loaded NAS CPU with every greenlet stopped, a few times a minute under
    load: the p99 of everything, and a sixth of a first scan's writing.
    They live as long as the process anyway."""
    gc.collect()
    gc.freeze()
