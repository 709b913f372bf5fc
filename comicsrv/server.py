"""Running the gevent WSGI server with clean start and stop."""
from __future__ import annotations

import logging
import signal
import time

from flask import Flask

from .app import start_services

log = logging.getLogger(__name__)


def serve(app: Flask) -> None:
    """Serve until SIGINT/SIGTERM, then stop accepting, finish in-flight
    requests (up to 10 s) and stop the scheduler."""
    import gevent
    from gevent.pywsgi import WSGIServer

    host, port = app.config["HOST"], int(app.config["PORT"])
    started = time.monotonic()
    server = WSGIServer((host, port), app, log=None, error_log=logging.getLogger("comicsrv.wsgi"))
    # Before accepting: importing the readers starts a process (and so
    # yields to the hub), and no request may run before start_services.
    from .archives import preload

    preload()
    server.start()
    start_services(app)
    log.info("comicsrv listening on http://%s:%s%s (data dir %s) in %.2fs",
             host, port, app.config["URL_BASE"] or "/", app.config["DATA_DIR"],
             time.monotonic() - started)
    app.extensions["comicsrv.server"] = server

    def stop(*_: object) -> None:
        log.info("shutting down")
        app.extensions["comicsrv.scheduler"].shutdown()
        server.stop(timeout=10)

    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    server.serve_forever()
