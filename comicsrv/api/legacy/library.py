"""Comicarr's read-only browsing: ``/api/wanted``, ``/api/watchlist``,
``/api/comics``, ``/api/comic/{comic_id}`` and its issues, all from the
watchlist tables (the admin's *arr state: SystemAdmin)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.orm import selectinload

from ...auth import require
from ...extensions import db
from ...models.automation import WANTED, WatchedIssue
from ..pagination import LimitOffsetArgs
from .common import SECURITY, ok, page_of_query
from .schemas import (
    Envelope, comic_row, issue_counts, issue_row, series_by_comic_id, series_page, watchlist_row,
)

blp = Blueprint("legacy_library", __name__, url_prefix="/api",
                description="Comicarr: wanted issues, watchlist and browsing")


@blp.route("/wanted")
class Wanted(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LimitOffsetArgs, location="query")
    @blp.response(200, Envelope)
    def get(self, args):
        """Wanted issues, by release date (oldest first): ComicName,
        Issue_Number, IssueName, ReleaseDate, Status, ComicID, IssueID, ..."""
        query = (db.select(WatchedIssue).options(selectinload(WatchedIssue.series))
                 .where(WatchedIssue.state == WANTED)
                 .order_by(db.func.coalesce(WatchedIssue.store_date, WatchedIssue.cover_date),
                           WatchedIssue.id))
        return page_of_query(query, args, issue_row)


@blp.route("/watchlist")
class Watchlist(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LimitOffsetArgs, location="query")
    @blp.response(200, Envelope)
    def get(self, args):
        """Watched series with their progress: totalissues, haveissues, percent."""
        return series_page(args, watchlist_row)


@blp.route("/comics")
class Comics(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LimitOffsetArgs, location="query")
    @blp.response(200, Envelope)
    def get(self, args):
        """Every watched series with every column."""
        return series_page(args, comic_row)


@blp.route("/comic/<comic_id>")
class Comic(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def get(self, comic_id):
        """One watched series, every column."""
        watched = series_by_comic_id(comic_id)
        return ok(comic_row(watched, issue_counts([watched.id]).get(watched.id)))


@blp.route("/comic/<comic_id>/issues")
class ComicIssues(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LimitOffsetArgs, location="query")
    @blp.response(200, Envelope)
    def get(self, args, comic_id):
        """The series' issues in number order."""
        watched = series_by_comic_id(comic_id)
        query = (db.select(WatchedIssue).where(WatchedIssue.watched_series_id == watched.id)
                 .order_by(WatchedIssue.number_sort.is_(None), WatchedIssue.number_sort,
                           WatchedIssue.id))
        return page_of_query(query, args, issue_row)
