"""Typed accessors for the per-app services ``create_app`` stores in
``app.extensions``.

``services.jobs()`` reads ``current_app.extensions["comicsrv.jobs"]`` (or
that of the ``app`` given) and tells the type checker it is a ``JobRunner``:
mypy checks the call sites' attribute names, and a misspelt service is
caught by the checker instead of being a KeyError in a request.

The string keys stay what ``create_app`` stores under (tests and third-party
plugins may read them). This module imports only Flask at run time: the
return types are imported for the type checker alone, so any module (the
domain packages, the surfaces) can use it without import cycles.
Lookups that tolerate a missing service (an app still being built) keep
``app.extensions.get(...)``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from .cluster import Cluster
    from .events import EventBus
    from .jobs import JobRunner, Scheduler
    from .library.media import MediaService
    from .plugins import PluginRegistry

JOBS = "comicsrv.jobs"
EVENTS = "comicsrv.events"
SCHEDULER = "comicsrv.scheduler"
MEDIA = "comicsrv.media"
PLUGINS = "comicsrv.plugins"
CLUSTER = "comicsrv.cluster"
METRICS = "comicsrv.metrics"


def _extensions(app: Flask | None) -> dict:
    return (current_app if app is None else app).extensions


def jobs(app: Flask | None = None) -> JobRunner:
    """The job runner of ``app`` (default: the current app)."""
    return _extensions(app)[JOBS]


def events(app: Flask | None = None) -> EventBus:
    """The event bus of ``app`` (default: the current app)."""
    return _extensions(app)[EVENTS]


def scheduler(app: Flask | None = None) -> Scheduler:
    """The scheduler of ``app`` (default: the current app)."""
    return _extensions(app)[SCHEDULER]


def media(app: Flask | None = None) -> MediaService:
    """The page and thumbnail service of ``app`` (default: the current app)."""
    return _extensions(app)[MEDIA]


def plugins(app: Flask | None = None) -> PluginRegistry:
    """The plugin registry of ``app`` (default: the current app)."""
    return _extensions(app)[PLUGINS]


def cluster(app: Flask | None = None) -> Cluster:
    """This process's place in the deployment (default: the current app's)."""
    return _extensions(app)[CLUSTER]


def metrics(app: Flask | None = None) -> CollectorRegistry:
    """The Prometheus registry of ``app`` (set by ``comicsrv.metrics.init_metrics``)."""
    return _extensions(app)[METRICS]
