"""``/api/v1/notification-targets``: where pipeline events are sent
(Apprise URLs, webhooks, any plugin's notifier): list, add, change,
remove, and send a test (SystemAdmin).

A target subscribes to some of the events grabbed, downloaded, failed and
new_issue (``events``; null: all of them). Each delivery, tests included,
is recorded on it (``last_sent_at``, or ``last_error`` and when). Secrets
(Apprise URLs carry tokens) read as ``********``.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...automation import notification_targets as targets
from ...automation.notify import NOTIFICATION_EVENTS
from ...redact import MASK
from ..errors_doc import protected_errors
from ..pagination import PageArgs, page_of
from .downloader import TestResultSchema
from .indexers import SettingsTestSchema, kind_field, name_field, settings_field
from .rss import SECURITY, MaskedString

blp = Blueprint("v1_notification_targets", __name__, url_prefix="/api/v1",
                description="Notification targets: where grabs, imports and failures are sent")


def events_field(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=validate.OneOf(NOTIFICATION_EVENTS)),
                       allow_none=True, validate=validate.Length(max=len(NOTIFICATION_EVENTS)),
                       metadata={"description": "events sent to it; null: all of "
                                                + ", ".join(NOTIFICATION_EVENTS)}, **kwargs)


class TargetSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "apprise, webhook or a plugin's kind"})
    enabled = fields.Boolean()
    events = fields.List(fields.String(), allow_none=True)
    settings = fields.Function(targets.masked, metadata={
        "type": "object", "description": f"secrets shown as {MASK}"})
    last_sent_at = fields.DateTime(allow_none=True)
    last_error = MaskedString(allow_none=True)
    last_error_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class TargetListSchema(Schema):
    items = fields.List(fields.Nested(TargetSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class TargetListArgs(PageArgs):
    enabled = fields.Boolean()


class TargetUpdateSchema(Schema):
    name = name_field()
    enabled = fields.Boolean()
    events = events_field()
    settings = settings_field()


class TargetCreateSchema(TargetUpdateSchema):
    name = name_field(required=True)
    kind = kind_field(required=True)
    settings = settings_field(required=True)
    events = events_field(load_default=None)


@blp.route("/notification-targets")
class Targets(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(TargetListArgs, location="query")
    @blp.response(200, TargetListSchema)
    @protected_errors(blp, 400)
    def get(self, args):
        """Notification targets by name; secrets masked."""
        return page_of(targets.targets_query(args.get("enabled")), args)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(TargetCreateSchema)
    @blp.response(201, TargetSchema)
    @protected_errors(blp, 400, 409)
    def post(self, data):
        """Add a target of a kind a plugin provides (400 for an unknown kind
        or missing required settings)."""
        return targets.create_target(data)


@blp.route("/notification-targets/test")
class TargetSettingsTest(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(SettingsTestSchema)
    @blp.response(200, TestResultSchema)
    @protected_errors(blp, 400)
    def post(self, data):
        """Send a test notification with settings before saving them."""
        return targets.test_settings(data["kind"], data["settings"])


@blp.route("/notification-targets/<int:target_id>")
class Target(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, TargetSchema)
    @protected_errors(blp, 404)
    def get(self, target_id):
        """One target; secrets masked."""
        return targets.get_target(target_id)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(TargetUpdateSchema)
    @blp.response(200, TargetSchema)
    @protected_errors(blp, 400, 404, 409)
    def patch(self, data, target_id):
        """Change a target; new settings clear its last error."""
        return targets.update_target(target_id, data)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @protected_errors(blp, 404)
    def delete(self, target_id):
        """Remove the target."""
        targets.delete_target(target_id)


@blp.route("/notification-targets/<int:target_id>/test")
class TargetTest(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, TestResultSchema)
    @protected_errors(blp, 404)
    def post(self, target_id):
        """Send a test notification through the target now; the outcome is
        recorded on it like any delivery."""
        return targets.test_target(target_id)
