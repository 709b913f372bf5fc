"""Comicarr's system endpoints: login and logout (the web UI's session
cookie, as ``/api/v1/auth/login`` sets it), the admin configuration (the
settings of ``comicsrv.settings_store``, secrets masked), version, recent
logs, and a clean shutdown or restart (see ``comicsrv.lifecycle``).
"""
from __future__ import annotations

import platform

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ... import __version__, settings_store
from ...auth import current_principal, require
from ...auth.login import end_session, log_in, password_login
from ...automation.schedule import apply_setting_changes
from ...errors import BadRequest
from ...lifecycle import schedule_stop
from ...logbuffer import EXTENSION as LOGS_EXTENSION
from ...logbuffer import LEVELS, log_buffer
from ...updates import version_info
from ..errors_doc import LegacyErrorSchema, protected_errors
from ..validators import encodable, plain_text
from .common import SECURITY, EnvelopeSchema, ok

blp = Blueprint("legacy_system", __name__, url_prefix="/api",
                description="System: login, logout, configuration, version, logs, shutdown")

PUBLIC: list = []


class LegacyLoginSchema(Schema):
    username = fields.String(required=True, validate=[validate.Length(min=1, max=200), plain_text])
    password = fields.String(required=True, load_only=True,
                             validate=[validate.Length(min=1, max=1024), encodable])


class LegacyConfigSchema(Schema):
    class Meta:
        unknown = "include"


class VersionSchema(Schema):
    current_version = fields.String(required=True)
    current_version_name = fields.String()
    current_release_name = fields.String()
    latest_version = fields.String(required=True)
    commits_behind = fields.Integer(required=True, metadata={
        "description": "releases newer than this one"})
    install_type = fields.String(required=True, metadata={"description": "docker, git or pip"})
    current_branch = fields.String(allow_none=True)
    update_check = fields.String(metadata={"description": "off, ok, or failed: why"})
    version = fields.String()
    app = fields.String()
    python = fields.String()


class VersionEnvelopeSchema(Schema):
    success = fields.Boolean(required=True)
    data = fields.Nested(VersionSchema, required=True)


class LegacyLogArgs(Schema):
    level = fields.String(validate=validate.OneOf(LEVELS + tuple(level.lower() for level in LEVELS)),
                          metadata={"description": "minimum level"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=2000))


# --- auth ------------------------------------------------------------------------

@blp.route("/auth/login")
class Login(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.arguments(LegacyLoginSchema)
    @blp.response(200, EnvelopeSchema)
    def post(self, data):
        """Log in with a password; the session cookie is set (as
        ``/api/v1/auth/login`` does, throttled the same way: 429 with
        Retry-After while locked out)."""
        user = password_login(data["username"], data["password"])
        session = log_in(user)
        return ok({"username": user.username, "is_admin": bool(user.is_admin),
                   "expires_in": session["expires_in"]})


@blp.route("/auth/logout")
class Logout(MethodView):
    @require()
    @blp.doc(security=SECURITY)
    @blp.response(200, EnvelopeSchema)
    def post(self):
        """Clear the session cookie."""
        end_session()
        return ok({"logged_out": True})


# --- configuration ---------------------------------------------------------------

@blp.route("/config")
class Config(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, EnvelopeSchema)
    def get(self):
        """Every admin setting as ``{key: value}``; secrets masked."""
        return ok(settings_store.settings_values())

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LegacyConfigSchema)
    @blp.response(200, EnvelopeSchema)
    def put(self, body):
        """Change settings (``{key: value}``): all valid or none changed (400
        naming each bad key). A secret sent back masked keeps its value."""
        changes = settings_store.without_masked_secrets(body)
        if not body:
            raise BadRequest("No settings given")
        if changes:
            settings_store.set_settings(changes, current_principal().user.id)
            apply_setting_changes(changes)
        return ok(settings_store.settings_values())


# --- version and logs ------------------------------------------------------------

@blp.route("/system/version")
class Version(MethodView):
    @require()
    @blp.doc(security=SECURITY)
    @blp.response(200, VersionEnvelopeSchema)
    @protected_errors(blp, schema=LegacyErrorSchema)
    def get(self):
        """Comicarr's version answer: ``current_version``, ``latest_version``,
        ``commits_behind`` (releases newer than this one), ``install_type``
        (docker, git or pip). The package index is asked only when the admin
        setting ``system.check_updates`` is on; otherwise, or offline, the
        latest version is this one."""
        return ok({**version_info(), "version": __version__, "app": "comicsrv",
                   "python": platform.python_version()})


@blp.route("/system/logs")
class Logs(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LegacyLogArgs, location="query")
    @blp.response(200, EnvelopeSchema)
    def get(self, args):
        """The most recent log records of this process, newest first, at
        ``level`` or above."""
        buffer = current_app.extensions.get(LOGS_EXTENSION) or log_buffer()
        records = buffer.records(args.get("level"), args["limit"])
        return ok({"results": records, "total": len(records), "limit": args["limit"],
                   "offset": 0, "has_more": False})


# --- shutdown and restart --------------------------------------------------------

@blp.route("/system/shutdown")
class Shutdown(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(202, EnvelopeSchema)
    def post(self):
        """Stop the server cleanly once this answer is sent."""
        schedule_stop(restart=False)
        return ok({"message": "Shutting down"})


@blp.route("/system/restart")
class Restart(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(202, EnvelopeSchema)
    def post(self):
        """Stop cleanly once this answer is sent, then start again with the
        same command line."""
        schedule_stop(restart=True)
        return ok({"message": "Restarting"})
