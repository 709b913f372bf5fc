"""Comicarr's ``/api/series``: the watched series (list, detail, add by
provider id, remove, pause, resume, refresh) and queueing one issue.

Everything goes through ``comicsrv.automation.watchlist``; queueing an issue
wants it and searches for it at once (``search.search_issue``), as Comicarr
does; unqueueing skips it.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ...auth import require
from ...automation import search, watchlist
from ...errors import BadRequest
from ...extensions import db
from ...models.automation import MONITORED, PAUSED, SKIPPED, WANTED, WatchedSeries
from ..pagination import LimitOffsetArgs
from .common import SECURITY, ok
from .schemas import (
    ComicIdBody, Envelope, clean_id, issue_by_issue_id, issue_counts, issue_detail, series_by_comic_id,
    series_page, series_row,
)

blp = Blueprint("legacy_series", __name__, url_prefix="/api",
                description="Comicarr: watched series")


MAX_REFRESH = 100  # Comicarr's bulk limit


class RemoveArgs(Schema):
    directory = fields.Boolean(load_default=False,
                               metadata={"description": "also delete the series' files"})


def _row(watched: WatchedSeries) -> dict:
    return series_row(watched, issue_counts([watched.id]).get(watched.id))


def series_detail(watched: WatchedSeries) -> dict:
    ordered = sorted(watched.issues, key=lambda i: (i.number_sort is None, i.number_sort or 0, i.id))
    return {"comic": [_row(watched)],
            "issues": [issue_detail(i) for i in ordered if not i.annual],
            "annuals": [issue_detail(i) for i in ordered if i.annual]}


def add_by_comic_id(body: dict) -> dict:
    comic_id = body.get("comic_id") or body.get("id")
    if not comic_id:
        raise BadRequest("comic_id is required")
    watched = watchlist.add_series(body.get("provider"), clean_id(comic_id))
    return series_detail(watched)


@blp.route("/series")
class SeriesCollection(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LimitOffsetArgs, location="query")
    @blp.response(200, Envelope)
    def get(self, args):
        """Every watched series: ComicID, ComicName, Status, Total, Have, ..."""
        return series_page(args, series_row)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(ComicIdBody)
    @blp.response(201, Envelope)
    def post(self, body):
        """Watch a series by its provider id: its issues are fetched, books
        already in the library linked, missing ones wanted. 409 if watched."""
        return ok(add_by_comic_id(body))


@blp.route("/series/<comic_id>")
class SeriesItem(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def get(self, comic_id):
        """``{comic: [row], issues: [...], annuals: [...]}``."""
        return ok(series_detail(series_by_comic_id(comic_id)))

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(RemoveArgs, location="query")
    @blp.response(200, Envelope)
    def delete(self, args, comic_id):
        """Stop watching; the files stay unless ``directory=true``."""
        watched = series_by_comic_id(comic_id)
        outcome = watchlist.remove_series(watched.id, delete_files=args["directory"])
        return ok({"message": f"Removed {watched.name}", "comic_id": comic_id,
                   "deleted_files": outcome["deleted_files"], "errors": outcome["errors"]})


def _status_route(action: str, status: str) -> None:
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def put(self, comic_id):
        watched = watchlist.set_series_status(series_by_comic_id(comic_id).id, status)
        return ok(_row(watched))

    put.__doc__ = f"Set the series {'Paused' if status == PAUSED else 'Active'}."
    blp.route(f"/series/<comic_id>/{action}")(
        type(f"Series{action.title()}", (MethodView,), {"put": put}))


_status_route("pause", PAUSED)
_status_route("resume", MONITORED)


@blp.route("/series/<comic_id>/refresh")
class SeriesRefresh(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def post(self, comic_id):
        """Re-read the series and its issues from its provider; new issues
        are wanted when the series monitors new ones. Several comma-separated
        ids are refreshed in turn (as Comicarr accepts); every id must exist."""
        ids = [part for part in comic_id.split(",") if part.strip()][:MAX_REFRESH]
        watched = [series_by_comic_id(part) for part in ids]
        if not watched:
            raise BadRequest("name a comic_id to refresh")
        outcomes = [watchlist.refresh_series(series.id) for series in watched]
        return ok(outcomes[0] if len(outcomes) == 1 else {"results": outcomes})


@blp.route("/series/issues/<issue_id>/queue")
class IssueQueue(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def put(self, issue_id):
        """Want the issue and search the indexers for it now (the best
        accepted release is grabbed)."""
        issue = watchlist.set_issue_state(issue_by_issue_id(issue_id).id, WANTED)
        outcome = search.search_issue(issue.id)
        db.session.refresh(issue)
        return ok({**issue_detail(issue), "search": outcome})


@blp.route("/series/issues/<issue_id>/unqueue")
class IssueUnqueue(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def put(self, issue_id):
        """Skip the issue: searches leave it alone."""
        return ok(issue_detail(watchlist.set_issue_state(issue_by_issue_id(issue_id).id, SKIPPED)))
