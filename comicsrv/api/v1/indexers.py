"""``/api/v1/indexers``: the configured Newznab, Torznab and RSS indexers
(and any plugin's kind): list, add, change, remove, test, and their
capabilities (SystemAdmin).

Secrets in settings (API keys, ``apikey=`` in URLs) are never shown: they
read as ``********``, and sent back so they keep the stored value. A test
with settings not saved yet (``POST /indexers/test``) lets a form check
before it saves. The views are thin: ``comicsrv.automation.indexers`` holds
the rules.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...automation import indexers
from ...redact import MASK
from ..errors_doc import protected_errors
from ..pagination import PageArgs, page_of
from .auth import plain_text
from .downloader import TestResultSchema
from .rss import SECURITY, MaskedString

blp = Blueprint("v1_indexers", __name__, url_prefix="/api/v1",
                description="Indexers: Newznab, Torznab and RSS feeds searched for releases")


def settings_field(**kwargs) -> fields.Dict:
    return fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)),
                       values=fields.Raw(allow_none=True),
                       metadata={"description": f"the plugin's settings; secrets read as {MASK}, "
                                                f"and {MASK} sent back keeps a stored secret"},
                       **kwargs)


def name_field(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=200), plain_text], **kwargs)


def kind_field(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=64), plain_text], **kwargs)


class IndexerSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "newznab, torznab, rss or a plugin's kind"})
    enabled = fields.Boolean()
    protocol = fields.String(metadata={"description": "usenet or torrent"})
    priority = fields.Integer(metadata={"description": "1 (most preferred) to 50"})
    enable_rss = fields.Boolean()
    enable_search = fields.Boolean()
    settings = fields.Function(indexers.masked, metadata={
        "type": "object", "description": f"secrets shown as {MASK}"})
    failure_count = fields.Integer()
    disabled_until = fields.DateTime(allow_none=True, metadata={
        "description": "backing off after errors until then"})
    last_error = MaskedString(allow_none=True)
    last_rss_at = fields.DateTime(allow_none=True)
    managed_by = fields.String(allow_none=True, metadata={
        "description": "prowlarr when Prowlarr's Mylar sync manages it"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class IndexerListSchema(Schema):
    items = fields.List(fields.Nested(IndexerSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class IndexerListArgs(PageArgs):
    kind = kind_field()
    enabled = fields.Boolean()


class IndexerUpdateSchema(Schema):
    """Every field optional: only those sent change; ``settings`` replace
    the stored ones whole."""

    name = name_field()
    enabled = fields.Boolean()
    priority = fields.Integer(validate=validate.Range(min=1, max=50))
    enable_rss = fields.Boolean()
    enable_search = fields.Boolean()
    settings = settings_field()


class IndexerCreateSchema(IndexerUpdateSchema):
    name = name_field(required=True)
    kind = kind_field(required=True)
    settings = settings_field(required=True)


class SettingsTestSchema(Schema):
    kind = kind_field(required=True)
    settings = settings_field(required=True)


class SubcategorySchema(Schema):
    id = fields.Integer(allow_none=True)
    name = fields.String()


class CategorySchema(SubcategorySchema):
    subcats = fields.List(fields.Nested(SubcategorySchema))


class SearchFunctionSchema(Schema):
    available = fields.Boolean()
    params = fields.List(fields.String())


class LimitsSchema(Schema):
    max = fields.Integer(allow_none=True)
    default = fields.Integer(allow_none=True)


class CapabilitiesSchema(Schema):
    server = fields.Dict(keys=fields.String(), values=fields.String())
    limits = fields.Nested(LimitsSchema)
    searching = fields.Dict(keys=fields.String(), values=fields.Nested(SearchFunctionSchema),
                            metadata={"description": "search, book-search, ... as t=caps lists them"})
    categories = fields.List(fields.Nested(CategorySchema))
    comic_categories = fields.List(fields.Integer(), metadata={
        "description": "the categories searched for comics (7030 and the like)"})


@blp.route("/indexers")
class Indexers(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(IndexerListArgs, location="query")
    @blp.response(200, IndexerListSchema)
    @protected_errors(blp, 400)
    def get(self, args):
        """Indexers by priority, then name; filter by ``kind`` and ``enabled``."""
        return page_of(indexers.indexers_query(args.get("kind"), args.get("enabled")), args)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(IndexerCreateSchema)
    @blp.response(201, IndexerSchema)
    @protected_errors(blp, 400, 409)
    def post(self, data):
        """Add an indexer of a kind a plugin provides; its protocol comes from
        the plugin. 400 for an unknown kind or missing required settings."""
        return indexers.create_indexer(data)


@blp.route("/indexers/test")
class IndexerSettingsTest(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(SettingsTestSchema)
    @blp.response(200, TestResultSchema)
    @protected_errors(blp, 400)
    def post(self, data):
        """Check settings against the indexer before saving them (caps and a
        recent-releases query for Newznab/Torznab, the feed for RSS)."""
        return indexers.test_settings(data["kind"], data["settings"])


@blp.route("/indexers/<int:indexer_id>")
class Indexer(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, IndexerSchema)
    @protected_errors(blp, 404)
    def get(self, indexer_id):
        """One indexer; secrets masked."""
        return indexers.get_indexer(indexer_id)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(IndexerUpdateSchema)
    @blp.response(200, IndexerSchema)
    @protected_errors(blp, 400, 404, 409)
    def patch(self, data, indexer_id):
        """Change an indexer; new settings (or enabling it) end its back-off."""
        return indexers.update_indexer(indexer_id, data)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @protected_errors(blp, 404)
    def delete(self, indexer_id):
        """Remove the indexer; downloads and decisions keep its name."""
        indexers.delete_indexer(indexer_id)


@blp.route("/indexers/<int:indexer_id>/test")
class IndexerTest(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, TestResultSchema)
    @protected_errors(blp, 404)
    def post(self, indexer_id):
        """Check a stored indexer now: a pass ends its back-off, a failure is
        kept as its last error (``ok`` false says why)."""
        return indexers.test_indexer(indexer_id)


@blp.route("/indexers/<int:indexer_id>/caps")
class IndexerCaps(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, CapabilitiesSchema)
    @protected_errors(blp, 404, 503)
    def get(self, indexer_id):
        """The indexer's capabilities as it states them (Newznab ``t=caps``);
        503 when it cannot be asked."""
        return indexers.capabilities(indexer_id)
