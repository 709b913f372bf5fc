"""``/api/v1/rss``: RSS feeds as AutoBangumi manages them (SystemAdmin).

A feed is an indexer of kind ``rss`` (an indexer with RSS enabled is listed
too). Add, list, update, enable/disable and delete one or many, refresh one
or all, the items a feed held with the decision taken on each, analyse a URL
without subscribing, subscribe (add and check at once), and collect every
missing issue a feed offers. The schemas for id batches live here and are
shared by the other AutoBangumi resources.

Feed URLs carry their tracker's or indexer's secret (``apikey=``,
``passkey=``, ``user:password@``): every URL and error shown here has it
masked (``comicsrv.redact``), and a URL sent back with the mask in place
keeps the stored secret.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...automation import feeds
from ...errors import BadRequest
from ...redact import MaskedSecretMissing, mask_text, mask_url, unmask_url
from ..pagination import PageArgs, page_of
from .auth import MAX_ID, id_field, plain_text
from .security import SECURITY

blp = Blueprint("v1_rss", __name__, url_prefix="/api/v1",
                description="RSS feeds: subscribe, refresh, analyse, collect")

MAX_BATCH = 500


class MaskedString(fields.String):
    """A string shown with its secrets masked."""

    def _serialize(self, value, attr, obj, **kwargs):
        return mask_text(super()._serialize(value, attr, obj, **kwargs))


def _feed_url(row) -> str | None:
    return mask_url((row.settings or {}).get("url")) if row.kind == "rss" else None


def _unmasked(url: str, stored: str | None = None) -> str:
    try:
        return unmask_url(url, stored)
    except MaskedSecretMissing as exc:
        raise BadRequest(f"url: {exc}", code="masked_secret") from None


class IdsSchema(Schema):
    ids = fields.List(id_field(strict=True), required=True,
                      validate=validate.Length(min=1, max=MAX_BATCH))


class DeletedSchema(Schema):
    deleted = fields.List(fields.Integer())


def _url_field(**kwargs) -> fields.String:
    # A string, not fields.Url: the feed module checks the scheme and says why.
    return fields.String(validate=[validate.Length(min=1, max=2000), plain_text],
                         metadata={"description": "http(s) URL of the RSS/Atom feed"}, **kwargs)


def _protocol_field(**kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf(feeds.PROTOCOLS), **kwargs)


class FeedSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "rss, or the indexer kind reading its RSS"})
    url = fields.Function(_feed_url, allow_none=True,
                          metadata={"description": "secrets in it shown as ********"})
    protocol = fields.String()
    enabled = fields.Boolean()
    priority = fields.Integer()
    last_rss_at = fields.DateTime(allow_none=True)
    last_error = MaskedString(allow_none=True)
    failure_count = fields.Integer()
    disabled_until = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class FeedListSchema(Schema):
    items = fields.List(fields.Nested(FeedSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class FeedCreateSchema(Schema):
    url = _url_field(required=True)
    name = fields.String(validate=[validate.Length(min=1, max=200), plain_text])
    protocol = _protocol_field(load_default="torrent")
    enabled = fields.Boolean(load_default=True)
    priority = fields.Integer(load_default=25, validate=validate.Range(min=1, max=50))


class FeedUpdateSchema(Schema):
    """Every field optional: only those sent change."""

    url = _url_field()
    name = fields.String(validate=[validate.Length(min=1, max=200), plain_text])
    protocol = _protocol_field()
    enabled = fields.Boolean()
    priority = fields.Integer(validate=validate.Range(min=1, max=50))


class RefreshSchema(Schema):
    indexers = fields.List(fields.String(), metadata={"description": "feeds read"})
    errors = fields.Dict(keys=fields.String(), values=MaskedString())
    skipped = fields.List(fields.String(), metadata={"description": "backing off"})
    new = fields.Integer(metadata={"description": "items not seen before"})
    matched = fields.Integer()
    grabbed = fields.List(fields.Integer(), metadata={"description": "download ids"})
    grab_errors = fields.Dict(keys=fields.String(), values=MaskedString())


class SubscribedSchema(Schema):
    feed = fields.Nested(FeedSchema)
    refresh = fields.Nested(RefreshSchema)


class DecisionSchema(Schema):
    accepted = fields.Boolean()
    grabbed = fields.Boolean()
    score = fields.Integer(allow_none=True)
    reasons = fields.List(fields.String())


class FeedItemSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    guid = fields.String()
    download_url = MaskedString(allow_none=True)
    size = fields.Integer(allow_none=True)
    published = fields.DateTime(allow_none=True)
    seen_at = fields.DateTime()
    parsed = fields.Dict(metadata={"description": "series, number, year, format, tags ..."})
    watched_issue_id = fields.Integer(allow_none=True)
    decision = fields.Nested(DecisionSchema, allow_none=True)


class FeedItemListSchema(FeedListSchema):
    items = fields.List(fields.Nested(FeedItemSchema))


class AnalysisArgs(Schema):
    url = _url_field(required=True)
    protocol = _protocol_field(load_default="torrent")


class AnalysedItemSchema(Schema):
    title = fields.String()
    download_url = MaskedString()
    guid = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    published = fields.DateTime(allow_none=True)
    parsed = fields.Dict()
    watched_series_id = fields.Integer(allow_none=True)
    watched_series = fields.String(allow_none=True)


class AnalysisSchema(Schema):
    url = MaskedString()
    protocol = fields.String()
    total = fields.Integer()
    items = fields.List(fields.Nested(AnalysedItemSchema))
    series = fields.List(fields.String(), metadata={"description": "series the feed names"})


class CollectArgs(Schema):
    watched_series_id = fields.Integer(strict=True, allow_none=True, load_default=None,
                                       validate=validate.Range(min=1, max=MAX_ID))


class CollectSchema(Schema):
    feed_id = fields.Integer()
    releases = fields.Integer()
    candidates = fields.Integer(metadata={"description": "missing issues considered"})
    matched = fields.Integer()
    grabbed = fields.List(fields.Integer())
    grab_errors = fields.Dict(keys=fields.String(), values=MaskedString())


@blp.route("/rss")
class Feeds(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, FeedListSchema)
    def get(self, args):
        """Every RSS feed (and indexer read by RSS), by priority."""
        return page_of(feeds.feeds_query(), args)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedCreateSchema)
    @blp.response(201, FeedSchema)
    @blp.alt_response(409, description="A feed with this URL or name exists")
    def post(self, data):
        """Add a feed; the next RSS check reads it."""
        return feeds.add_feed(_unmasked(data.pop("url")), **data)


def _update(feed_id: int, data: dict):
    if "url" in data:
        stored = (feeds.get_feed(feed_id).settings or {}).get("url")
        data["url"] = _unmasked(data["url"], stored)
    return feeds.update_feed(feed_id, data)


@blp.route("/rss/<int:feed_id>")
class FeedItemView(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, FeedSchema)
    def get(self, feed_id):
        """One feed."""
        return feeds.get_feed(feed_id)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedUpdateSchema)
    @blp.response(200, FeedSchema)
    def patch(self, data, feed_id):
        """Change a feed's URL, name, protocol, priority or enabled state; a URL
        sent back with its secrets masked keeps the stored ones."""
        return _update(feed_id, data)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedUpdateSchema)
    @blp.response(200, FeedSchema)
    def put(self, data, feed_id):
        """Same as PATCH: only the fields sent change."""
        return _update(feed_id, data)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(204)
    def delete(self, feed_id):
        """Delete a feed and the items it held."""
        feeds.delete_feeds([feed_id])


def _toggle_route(path: str, enabled: bool, many: bool):
    verb = "Enable" if enabled else "Disable"

    if many:
        @require("SystemAdmin")
        @blp.doc(security=SECURITY)
        @blp.arguments(IdsSchema)
        @blp.response(200, FeedListSchema)
        def post(self, body):
            rows = feeds.set_enabled(body["ids"], enabled)
            return {"items": rows, "total": len(rows), "page": 1,
                    "page_size": max(1, len(rows)), "total_pages": 1, "has_more": False}
        post.__doc__ = f"{verb} several feeds (all must exist, or none changes)."
    else:
        @require("SystemAdmin")
        @blp.doc(security=SECURITY)
        @blp.response(200, FeedSchema)
        def post(self, feed_id):
            return feeds.set_enabled([feed_id], enabled)[0]
        post.__doc__ = f"{verb} one feed."
    view = type(f"Feed{verb}{'Many' if many else ''}", (MethodView,), {"post": post})
    blp.route(path)(view)


_toggle_route("/rss/enable-many", True, True)
_toggle_route("/rss/disable-many", False, True)
_toggle_route("/rss/<int:feed_id>/enable", True, False)
_toggle_route("/rss/<int:feed_id>/disable", False, False)


@blp.route("/rss/delete-many")
class FeedsDeleteMany(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(IdsSchema)
    @blp.response(200, DeletedSchema)
    def post(self, body):
        """Delete several feeds (all must exist, or none is deleted)."""
        return {"deleted": feeds.delete_feeds(body["ids"])}


@blp.route("/rss/refresh")
class FeedsRefresh(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, RefreshSchema)
    def post(self):
        """Check every enabled feed now: new items matched to wanted issues, the
        best release per issue grabbed (the scheduled RSS check, run at once)."""
        return feeds.refresh()


@blp.route("/rss/<int:feed_id>/refresh")
class FeedRefresh(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, RefreshSchema)
    def post(self, feed_id):
        """Check one feed now, even a disabled one."""
        return feeds.refresh([feed_id])


@blp.route("/rss/<int:feed_id>/items")
class FeedItems(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, FeedItemListSchema)
    def get(self, args, feed_id):
        """Items the feed held, newest first: the parsed release and the
        decision taken (accepted for which issue, or why not)."""
        feed = feeds.get_feed(feed_id)
        body = page_of(feeds.items_query(feed_id), args)
        body["items"] = feeds.describe_items(feed, body["items"])
        return body


@blp.route("/rss/analysis")
class FeedAnalysis(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(AnalysisArgs)
    @blp.response(200, AnalysisSchema)
    @blp.alt_response(400, description="Not an http(s) URL, or not a readable feed")
    def post(self, body):
        """Read a feed without subscribing: every item with its parsed series,
        number, year and format, and the watched series it names."""
        return feeds.analyse(body["url"], body["protocol"])


@blp.route("/rss/subscribe")
class FeedSubscribe(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(FeedCreateSchema)
    @blp.response(201, SubscribedSchema)
    def post(self, data):
        """Add a feed and check it at once."""
        row, result = feeds.subscribe(_unmasked(data.pop("url")), **data)
        return {"feed": row, "refresh": result}


@blp.route("/rss/<int:feed_id>/collect")
class FeedCollect(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(CollectArgs)
    @blp.response(200, CollectSchema)
    def post(self, body, feed_id):
        """Grab every missing (wanted or skipped) issue the whole feed offers,
        as for a completed series; only of one watched series when named."""
        return feeds.collect(feed_id, body["watched_series_id"])
