"""``GET /api/v1/search/stream``: a search across every enabled indexer as a
server-sent event stream, each indexer's results sent as soon as it answers
(AutoBangumi's search, in comic terms). Events: ``skipped``, ``results``,
``error``, then ``done``; the stream ends after ``done``."""
from __future__ import annotations

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...automation.search import stream_search
from ...events import format_sse
from ...hookspecs import SearchQuery
from .rss import SECURITY

blp = Blueprint("v1_search_stream", __name__, url_prefix="/api/v1",
                description="Search every indexer, results streamed as they arrive")


class StreamArgs(Schema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=200),
                      metadata={"description": "free text, e.g. Saga 054"})
    series = fields.String(load_default=None, validate=validate.Length(max=200))
    number = fields.String(load_default=None, validate=validate.Length(max=32))
    year = fields.Integer(load_default=None, validate=validate.Range(min=1800, max=3000))


@blp.route("/search/stream")
class SearchStream(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY, responses={200: {
        "description": "text/event-stream", "content": {"text/event-stream": {}}}})
    @blp.arguments(StreamArgs, location="query")
    def get(self, args):
        """Search every enabled search indexer; one event per indexer answer."""
        query = SearchQuery(text=args["q"], series=args["series"], number=args["number"],
                            year=args["year"])

        def events():
            for name, data in stream_search(query):
                yield format_sse(name, data)

        response = Response(stream_with_context(events()), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"
        return response
