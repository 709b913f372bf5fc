"""``/api/v1/calendar``: upcoming issues of the watched series by store
date, and a refresh from the metadata providers (AutoBangumi's broadcast
calendar, in comic terms; SystemAdmin like the rest of the automation)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...auth import require
from ...automation import posters
from ..errors_doc import protected_errors
from ..pagination import PageArgs, page_of
from .rss import SECURITY
from .rule_posters import JobStartedSchema

blp = Blueprint("v1_calendar", __name__, url_prefix="/api/v1",
                description="Calendar of upcoming issues")


class CalendarArgs(PageArgs):
    days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=366),
                          metadata={"description": "how many days ahead"})
    past_days = fields.Integer(load_default=0, validate=validate.Range(min=0, max=366),
                               metadata={"description": "and how many days back"})
    monitored = fields.Boolean(load_default=False,
                               metadata={"description": "only series not paused"})


class CalendarItemSchema(Schema):
    id = fields.Integer(metadata={"description": "the watched issue"})
    rule_id = fields.Integer(metadata={"description": "its watched series (rule)"})
    series = fields.String()
    year = fields.Integer(allow_none=True)
    number = fields.String()
    title = fields.String(allow_none=True)
    store_date = fields.String(allow_none=True)
    cover_date = fields.String(allow_none=True)
    weekday = fields.Integer(allow_none=True, metadata={"description": "1 Monday .. 7 Sunday"})
    state = fields.String(metadata={"description": "wanted, snatched, downloaded, skipped, ..."})
    image_url = fields.String(allow_none=True)


class CalendarSchema(Schema):
    items = fields.List(fields.Nested(CalendarItemSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()
    start = fields.Date()
    end = fields.Date()


@blp.route("/calendar")
class Calendar(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(CalendarArgs, location="query")
    @blp.response(200, CalendarSchema)
    @protected_errors(blp, 400)
    def get(self, args):
        """Issues of watched series on sale from ``past_days`` ago to ``days``
        ahead, soonest first."""
        start, end = posters.default_window(args["days"], args["past_days"])
        found = page_of(posters.calendar_query(start, end, args["monitored"]), args)
        found["items"] = [posters.calendar_item(issue) for issue in found["items"]]
        return {**found, "start": start, "end": end}


@blp.route("/calendar/refresh")
class CalendarRefresh(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(202, JobStartedSchema)
    @protected_errors(blp)
    def post(self):
        """Refresh every watched series from its provider in a job (newly
        announced issues appear, wanted when their series monitors new
        ones); a refresh under way is returned instead of a second one."""
        return {"job_id": posters.refresh_calendar()}
