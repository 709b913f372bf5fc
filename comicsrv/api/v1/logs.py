"""``/api/v1/logs``: this process's recent log records (SystemAdmin), read
with a level filter and cleared, as AutoBangumi's log page does."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...logbuffer import EXTENSION, LEVELS, log_buffer
from .rss import SECURITY

blp = Blueprint("v1_logs", __name__, url_prefix="/api/v1", description="Recent server logs")


class LogArgs(Schema):
    level = fields.String(load_default=None, validate=validate.OneOf(LEVELS),
                          metadata={"description": "only records at this level or above"})
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=2000))


class LogRecordSchema(Schema):
    id = fields.Integer()
    time = fields.String()
    level = fields.String()
    logger = fields.String()
    message = fields.String()


class LogListSchema(Schema):
    items = fields.List(fields.Nested(LogRecordSchema))
    total = fields.Integer()


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
    def get(self, args):
        """The newest records first, at ``level`` or above."""
        items = _buffer().records(args["level"], args["limit"])
        return {"items": items, "total": len(items)}

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, ClearedSchema)
    def delete(self):
        """Forget the kept records (the log files of the host are not touched)."""
        return {"cleared": _buffer().clear()}
