"""``/api/v1/wizard``: the first-run setup wizard (SystemAdmin; AutoBangumi's
setup endpoints).

Before completion the wizard checks a download client, an RSS feed and a
notifier with settings that are not saved anywhere yet, then ``complete``
stores the chosen settings and the ``wizard.completed`` setting. From then
on every wizard endpoint but ``status`` answers 403: the regular resources
(``/downloader``, ``/rss``, ``/admin/settings``) take over.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ... import settings_store
from ...auth import current_principal, require
from ...automation import feeds
from ...automation.schedule import apply_setting_changes
from ...errors import Forbidden
from .downloader import TestResultSchema, run_test
from .rss import SECURITY, AnalysisArgs

blp = Blueprint("v1_wizard", __name__, url_prefix="/api/v1",
                description="First-run setup wizard: test, then complete")

COMPLETED = "wizard.completed"
SAMPLE_TITLES = 10


class WizardStatusSchema(Schema):
    completed = fields.Boolean()


class IntegrationTestSchema(Schema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=64),
                         metadata={"description": "a plugin kind: qbittorrent, webhook ..."})
    settings = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)),
                           values=fields.Raw(allow_none=True), load_default=dict)


class RssTestSchema(TestResultSchema):
    items = fields.Integer(metadata={"description": "items in the feed"})
    titles = fields.List(fields.String(), metadata={"description": "the first few titles"})


class CompleteSchema(Schema):
    settings = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True),
                           load_default=dict,
                           metadata={"description": "admin settings to store, {key: value}; "
                                                    "all valid or nothing is stored"})


def _open() -> None:
    if settings_store.get_setting(COMPLETED):
        raise Forbidden("The setup wizard was completed", code="wizard_completed")


@blp.route("/wizard/status")
class WizardStatus(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, WizardStatusSchema)
    def get(self):
        """Whether the first-run wizard was completed."""
        return {"completed": bool(settings_store.get_setting(COMPLETED))}


@blp.route("/wizard/test-downloader")
class WizardTestDownloader(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(IntegrationTestSchema)
    @blp.response(200, TestResultSchema)
    @blp.alt_response(403, description="The wizard was completed")
    def post(self, body):
        """Check a download client's settings (nothing is saved)."""
        _open()
        return run_test("download_client", body["kind"], body["settings"], "wizard")


@blp.route("/wizard/test-rss")
class WizardTestRss(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(AnalysisArgs)
    @blp.response(200, RssTestSchema)
    @blp.alt_response(403, description="The wizard was completed")
    def post(self, body):
        """Check that a feed URL answers a readable RSS/Atom feed."""
        _open()
        try:
            releases = feeds.read(body["url"], body["protocol"])
        except feeds.FeedUnreadable as exc:
            return {"ok": False, "message": exc.message, "items": 0, "titles": []}
        return {"ok": True, "message": f"{len(releases)} items in the feed",
                "items": len(releases), "titles": [r.title for r in releases[:SAMPLE_TITLES]]}


@blp.route("/wizard/test-notification")
class WizardTestNotification(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(IntegrationTestSchema)
    @blp.response(200, TestResultSchema)
    @blp.alt_response(403, description="The wizard was completed")
    def post(self, body):
        """Send a test notification with these settings (nothing is saved)."""
        _open()
        return run_test("notifier", body["kind"], body["settings"], "wizard")


@blp.route("/wizard/complete")
class WizardComplete(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(CompleteSchema)
    @blp.response(200, WizardStatusSchema)
    @blp.alt_response(403, description="The wizard was completed")
    def post(self, body):
        """Store the chosen settings and mark the wizard complete."""
        _open()
        values = {**body["settings"], COMPLETED: True}
        settings_store.set_settings(values, current_principal().user.id)
        apply_setting_changes(values)
        return {"completed": True}
