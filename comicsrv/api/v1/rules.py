"""``/api/v1/rules``: release rules, AutoBangumi's "bangumi" in comic terms
(SystemAdmin).

A rule is a watched series' matching settings: aliases the releases use,
words a release must or must not contain, the issue-number offset, preferred
formats, size limits, annuals, and whether it is monitored. Disable/enable
pause and resume the series; reset puts the matching settings back to their
defaults; delete stops watching the series (files stay unless asked).
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...automation import rules
from ...automation.releases import FORMATS
from ...extensions import db
from ...models.automation import SERIES_STATUSES, WatchedSeries
from ..pagination import PageArgs, page_of
from .auth import plain_text
from .rss import SECURITY, IdsSchema

blp = Blueprint("v1_rules", __name__, url_prefix="/api/v1",
                description="Release rules: how releases are matched to watched series")

MAX_TERMS = 100
MAX_BYTES = 2**53  # JSON-safe, and far past any comic


def _terms_field(description: str) -> fields.List:
    return fields.List(fields.String(validate=[validate.Length(max=200), plain_text]),
                       allow_none=True, validate=validate.Length(max=MAX_TERMS),
                       metadata={"description": description})


class RuleSchema(Schema):
    id = fields.Integer(metadata={"description": "the watched series' id"})
    name = fields.String()
    year = fields.Integer(allow_none=True)
    volume = fields.Integer(allow_none=True)
    publisher = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "monitored (enabled) or paused (disabled)"})
    enabled = fields.Function(lambda row: row.status == "monitored")
    monitor_new = fields.Boolean()
    aliases = fields.List(fields.String(), allow_none=True)
    include_terms = fields.List(fields.String(), allow_none=True)
    exclude_terms = fields.List(fields.String(), allow_none=True)
    issue_offset = fields.Integer()
    formats = fields.List(fields.String(), allow_none=True)
    min_size = fields.Integer(allow_none=True)
    max_size = fields.Integer(allow_none=True)
    want_annuals = fields.Boolean()
    last_searched_at = fields.DateTime(allow_none=True)


class RuleListSchema(Schema):
    items = fields.List(fields.Nested(RuleSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class RuleUpdateSchema(Schema):
    """Every field optional: only those sent change."""

    aliases = _terms_field("other names releases use for the series")
    include_terms = _terms_field("words a release title must contain")
    exclude_terms = _terms_field("words a release title must not contain")
    issue_offset = fields.Integer(validate=validate.Range(min=-100_000, max=100_000),
                                  metadata={"description": "added to provider issue numbers"})
    formats = fields.List(fields.String(validate=validate.OneOf(FORMATS)), allow_none=True,
                          validate=validate.Length(max=len(FORMATS)),
                          metadata={"description": "preferred formats, best first"})
    min_size = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=MAX_BYTES))
    max_size = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=MAX_BYTES))
    want_annuals = fields.Boolean()
    monitor_new = fields.Boolean()
    status = fields.String(validate=validate.OneOf(SERIES_STATUSES))


class RuleListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(SERIES_STATUSES))


class DeleteArgs(Schema):
    delete_files = fields.Boolean(load_default=False,
                                  metadata={"description": "also delete the series' files"})


class DeleteManySchema(IdsSchema):
    delete_files = fields.Boolean(load_default=False)


class RemovedSchema(Schema):
    removed = fields.Integer()
    deleted_files = fields.Integer()
    errors = fields.List(fields.String())


class RemovedListSchema(Schema):
    removed = fields.List(fields.Nested(RemovedSchema))


@blp.route("/rules")
class Rules(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(RuleListArgs, location="query")
    @blp.response(200, RuleListSchema)
    def get(self, args):
        """Every release rule (watched series), by name."""
        query = db.select(WatchedSeries).order_by(WatchedSeries.sort_name, WatchedSeries.id)
        if "status" in args:
            query = query.where(WatchedSeries.status == args["status"])
        return page_of(query, args)


@blp.route("/rules/<int:rule_id>")
class Rule(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, RuleSchema)
    def get(self, rule_id):
        """One release rule."""
        return rules.get_rule(rule_id)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(RuleUpdateSchema)
    @blp.response(200, RuleSchema)
    def patch(self, data, rule_id):
        """Change matching settings; terms are trimmed and deduplicated."""
        return rules.update_rule(rule_id, data)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(DeleteArgs, location="query")
    @blp.response(200, RemovedSchema)
    def delete(self, args, rule_id):
        """Stop watching the series; its files stay unless delete_files=true."""
        return rules.delete_rules([rule_id], args["delete_files"])[0]


@blp.route("/rules/delete-many")
class RulesDeleteMany(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(DeleteManySchema)
    @blp.response(200, RemovedListSchema)
    def post(self, body):
        """Delete several rules (all must exist, or none is deleted)."""
        return {"removed": rules.delete_rules(body["ids"], body["delete_files"])}


@blp.route("/rules/<int:rule_id>/disable")
class RuleDisable(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, RuleSchema)
    def post(self, rule_id):
        """Pause the series: nothing is searched or grabbed for it; files stay."""
        return rules.set_status([rule_id], False)[0]


@blp.route("/rules/<int:rule_id>/enable")
class RuleEnable(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, RuleSchema)
    def post(self, rule_id):
        """Monitor the series again."""
        return rules.set_status([rule_id], True)[0]


@blp.route("/rules/<int:rule_id>/reset")
class RuleReset(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, RuleSchema)
    def post(self, rule_id):
        """Matching settings back to their defaults (the status stays)."""
        return rules.reset(rule_id)


def _status_many_route(enabled: bool) -> None:
    verb = "enable" if enabled else "disable"

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(IdsSchema)
    @blp.response(200, RuleListSchema)
    def post(self, body):
        rows = rules.set_status(body["ids"], enabled)
        return {"items": rows, "total": len(rows), "page": 1, "page_size": max(1, len(rows)),
                "total_pages": 1, "has_more": False}

    what = "monitor" if enabled else "pause"
    post.__doc__ = f"{verb.title()} several rules ({what} their series); all must exist, or none changes."
    blp.route(f"/rules/{verb}-many")(type(f"Rules{verb.title()}Many", (MethodView,), {"post": post}))


_status_many_route(True)
_status_many_route(False)
