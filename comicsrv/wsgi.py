"""WSGI entry point for gunicorn and friends::

    gunicorn -k gevent -w 4 'comicsrv.wsgi:app'

Set ``COMICSRV_SCHEDULER_ENABLED=false`` on every process but one: exactly
one process of a deployment runs the scheduler.
"""
from .app import create_app, start_services

app = create_app()
start_services(app)
