"""Prometheus metrics: request counts and latency, library and job gauges,
and the process's own CPU and memory. One registry per app, so tests and
embedded apps never share counters."""
from __future__ import annotations

import time
from typing import Any

from flask import Flask, g, request
from prometheus_client import (
    CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily

from .extensions import db


class LibraryCollector:
    """Counts read from the database at scrape time (cheap indexed counts)."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        from .models import Book, Job, Library, Series

        with self.app.app_context():
            books = GaugeMetricFamily("comicsrv_books", "Books by state", labels=["state"])
            for state, count in db.session.execute(
                    db.select(Book.state, db.func.count()).group_by(Book.state)):
                books.add_metric([state], count)
            yield books
            yield GaugeMetricFamily("comicsrv_series", "Series",
                                    value=db.session.scalar(db.select(db.func.count(Series.id))))
            yield GaugeMetricFamily("comicsrv_libraries", "Libraries",
                                    value=db.session.scalar(db.select(db.func.count(Library.id))))
            jobs = GaugeMetricFamily("comicsrv_jobs", "Jobs by state", labels=["state"])
            for state, count in db.session.execute(
                    db.select(Job.state, db.func.count()).group_by(Job.state)):
                jobs.add_metric([state], count)
            yield jobs


def init_metrics(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    registry.register(LibraryCollector(app))
    requests_total = Counter("comicsrv_http_requests", "HTTP requests",
                             ["method", "endpoint", "status"], registry=registry)
    latency = Histogram("comicsrv_http_request_duration_seconds", "HTTP request latency",
                        ["endpoint"], registry=registry,
                        buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))

    @app.before_request
    def _start_timer() -> None:
        g._request_started = time.perf_counter()

    # The labelled children, looked up once per (method, endpoint, status):
    # prometheus_client's ``labels`` checks and joins its arguments under a
    # lock on every call, a few per cent of a page request. As many keys as
    # the metrics themselves hold.
    children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(method: str, endpoint: str, status: int, seconds: float) -> None:
        pair = children.get((method, endpoint, status))
        if pair is None:
            pair = children[(method, endpoint, status)] = (
                latency.labels(endpoint), requests_total.labels(method, endpoint, str(status)))
        pair[0].observe(seconds)
        pair[1].inc()

    @app.after_request
    def _observe(response):
        started = g.pop("_request_started", None)
        if started is not None and response.mimetype != "text/event-stream":
            observe(request.method, request.endpoint or "unmatched", response.status_code,
                    time.perf_counter() - started)
        return response

    app.extensions["comicsrv.metrics"] = registry
    # For requests answered before Flask (``comicsrv.api.hotpath``).
    app.extensions["comicsrv.metrics.observe"] = observe
    return registry
