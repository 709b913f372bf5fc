"""``/api/v1`` system routes: health, metrics, plugins."""
from __future__ import annotations

import time

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from ... import __version__, services
from ...auth import require
from ...extensions import db

blp = Blueprint("v1_system", __name__, url_prefix="/api/v1", description="Health, metrics and plugins")


class HealthProcessSchema(Schema):
    role = fields.String(metadata={"description": "all, web or worker (`serve --role`)"})
    leader = fields.Boolean(metadata={"description": "this process fires the schedules"})
    jobs_running = fields.Integer(metadata={"description": "jobs this process runs now"})


class HealthSchema(Schema):
    status = fields.String(metadata={"description": "ok, or degraded when a check fails"})
    version = fields.String()
    uptime_seconds = fields.Float()
    checks = fields.Dict(keys=fields.String(), values=fields.String())
    process = fields.Nested(HealthProcessSchema, metadata={"description": "the process that answered"})


class PluginSchema(Schema):
    name = fields.String()
    source = fields.String()
    hooks = fields.List(fields.String())
    provides = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class PluginFailureSchema(Schema):
    plugin = fields.String()
    stage = fields.String()
    error = fields.String()


class PluginsSchema(Schema):
    items = fields.List(fields.Nested(PluginSchema))
    failures = fields.List(fields.Nested(PluginFailureSchema))


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A check failed")
    def get(self):
        """Health check (public): database reachable, scheduler state."""
        checks = {}
        try:
            db.session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # report, never raise: this is the health check
            db.session.rollback()
            checks["database"] = f"error: {type(exc).__name__}"
        try:  # in a web process: whether a worker leads the scheduler
            running = services.scheduler().overview()["running"]
        except Exception as exc:
            db.session.rollback()
            running = False
            checks["database"] = checks["database"] if checks["database"] != "ok" \
                else f"error: {type(exc).__name__}"
        checks["scheduler"] = "running" if running else "stopped"
        ok = checks["database"] == "ok"
        cluster = services.cluster()
        body = {"status": "ok" if ok else "degraded", "version": __version__,
                "uptime_seconds": round(time.monotonic() - current_app.extensions["comicsrv.started"], 3),
                "checks": checks,
                "process": {"role": cluster.role, "leader": cluster.is_leader,
                            "jobs_running": len(services.jobs().running_jobs)}}
        return body, 200 if ok else 503


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(security=[{"ApiKeyHeader": []}, {"Bearer": []}, {"Basic": []}])
    @blp.response(200, description="Prometheus text exposition format",
                  content_type=CONTENT_TYPE_LATEST)
    @require("SystemHealth")
    def get(self):
        """Prometheus metrics (needs SystemHealth: a scraper gets a key of its own)."""
        registry = services.metrics()
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@blp.route("/plugins")
class Plugins(MethodView):
    @blp.doc(security=[{"ApiKeyHeader": []}, {"Bearer": []}, {"Basic": []}])
    @blp.response(200, PluginsSchema)
    @require("SystemAdmin")
    def get(self):
        """Loaded plugins, the integrations each provides, and load failures (admin)."""
        registry = services.plugins()
        return {"items": registry.describe(),
                "failures": [vars(f) for f in registry.failures]}
