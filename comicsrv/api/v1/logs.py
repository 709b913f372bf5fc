"""``/api/v1/logs``: this process's recent log records (SystemAdmin), read
with a level filter and cleared, as AutoBangumi's log page does; pages in
the ``/api/v1`` list envelope (``page``, ``page_size``), newest first."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...logbuffer import CAPACITY, EXTENSION, LEVELS, log_buffer
from ..errors_doc import protected_errors
from ..pagination import PageArgs, envelope
from .rss import SECURITY

blp = Blueprint("v1_logs", __name__, url_prefix="/api/v1", description="Recent server logs")


class LogArgs(PageArgs):
    level = fields.String(load_default=None, validate=validate.OneOf(LEVELS),
                          metadata={"description": "only records at this level or above"})


class LogRecordSchema(Schema):
    id = fields.Integer()
    time = fields.String()
    level = fields.String()
    logger = fields.String()
    message = fields.String()


class LogListSchema(Schema):
    items = fields.List(fields.Nested(LogRecordSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class ClearedSchema(Schema):
    cleared = fields.Integer()


def _buffer():
    return current_app.extensions.get(EXTENSION) or log_buffer()


@blp.route("/logs")
class Logs(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LogArgs, location="query")
    @blp.response(200, LogListSchema)
    @protected_errors(blp, 400)
    def get(self, args):
        """The newest records first, at ``level`` or above, one page of them
        (the process keeps the last few thousand)."""
        found = _buffer().records(args["level"], CAPACITY)
        size, page = args["page_size"], args["page"]
        start = (page - 1) * size
        return envelope(found[start:start + size], len(found), page, size)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, ClearedSchema)
    @protected_errors(blp)
    def delete(self):
        """Forget the kept records (the log files of the host are not touched)."""
        return {"cleared": _buffer().clear()}
