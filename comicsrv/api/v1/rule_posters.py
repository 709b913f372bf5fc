"""``/api/v1/rules`` additions from AutoBangumi (SystemAdmin): refresh the
poster of one rule (its watched series) or of all, serve the kept poster,
and reset all rules.

AutoBangumi's "reset all" deletes every rule; here that stops watching
every series, and needs ``confirm: true`` in the body so no stray request
empties the watchlist. Files stay unless ``delete_files``.
"""
from __future__ import annotations

from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ...auth import require
from ...automation import posters, rules
from ...errors import BadRequest
from ..errors_doc import protected_errors
from .rss import SECURITY
from .rules import RemovedListSchema

blp = Blueprint("v1_rule_posters", __name__, url_prefix="/api/v1",
                description="Release rules: posters and reset")


class PosterSchema(Schema):
    id = fields.Integer(metadata={"description": "the rule (watched series) id"})
    name = fields.String()
    image_url = fields.String(allow_none=True, metadata={"description": "at the provider"})
    poster = fields.String(allow_none=True, metadata={"description": "the kept poster's path"})
    poster_updated_at = fields.DateTime(allow_none=True)


class JobStartedSchema(Schema):
    job_id = fields.Integer(metadata={"description": "follow it at /api/v1/tasks/{id}"})


class ResetAllSchema(Schema):
    confirm = fields.Boolean(required=True, metadata={
        "description": "must be true: every rule is removed"})
    delete_files = fields.Boolean(load_default=False)


@blp.route("/rules/<int:rule_id>/poster/refresh")
class RulePosterRefresh(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, PosterSchema)
    @protected_errors(blp, 400, 404, 503)
    def post(self, rule_id):
        """Fetch the series' image from its metadata provider again and keep
        it as the poster (404 when the provider lists none)."""
        return posters.refresh_poster(rule_id)


@blp.route("/rules/<int:rule_id>/poster")
class RulePoster(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, description="The poster, a JPEG", content_type="image/jpeg")
    @protected_errors(blp, 404)
    def get(self, rule_id):
        """The kept poster (refresh it first)."""
        return send_file(posters.kept_poster(rule_id), mimetype="image/jpeg", max_age=3600)


@blp.route("/rules/posters/refresh")
class RulePostersRefresh(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(202, JobStartedSchema)
    @protected_errors(blp)
    def post(self):
        """Refresh every rule's poster in a job; one failing is reported in
        the job's result and the others go on."""
        return {"job_id": posters.submit_all()}


@blp.route("/rules/reset-all")
class RulesResetAll(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(ResetAllSchema)
    @blp.response(200, RemovedListSchema)
    @protected_errors(blp, 400)
    def post(self, body):
        """Remove every rule (AutoBangumi's reset all): stop watching every
        series; files stay unless ``delete_files``."""
        if body["confirm"] is not True:
            raise BadRequest("confirm must be true: every rule would be removed",
                             code="confirmation_required")
        return {"removed": rules.delete_all(body["delete_files"])}
