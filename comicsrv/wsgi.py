"""WSGI entry point for gunicorn and friends::

    COMICSRV_ROLE=web    gunicorn -k gevent -w 4 -b 0.0.0.0:8090 'comicsrv.wsgi:app'
    COMICSRV_ROLE=worker gunicorn -k gevent -w 1 -b 0.0.0.0:8091 'comicsrv.wsgi:app'

``COMICSRV_ROLE`` (``all`` by default) says what each process does, as
``comicsrv serve --role`` does: with PostgreSQL every worker of every
gunicorn may run the same role, even ``all``: they share one job queue and
elect one of them to fire the schedules (see docs/scaling.md). With SQLite,
run one process.
"""
import atexit

from .app import create_app, start_services, stop_services

app = create_app()
start_services(app)
atexit.register(stop_services, app)
