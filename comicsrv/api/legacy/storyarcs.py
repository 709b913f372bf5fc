"""Comicarr's ``/api/storyarcs``: story arcs with their issues in reading
order, through ``comicsrv.automation.arcs``. ``arc_id`` is the provider's
arc id. ``POST /api/storyarcs`` (not in seed 000, which adds arcs from the
UI) stores an arc by its provider id so the rest has something to act on."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ...auth import require
from ...automation import arcs
from ...extensions import db
from ...models.automation import DOWNLOADED, StoryArc, StoryArcIssue, WatchedIssue
from ..pagination import LimitOffsetArgs, page_query
from .common import SECURITY, ok, page
from .schemas import (
    PROVIDER_FIELD, Envelope, arc_by_arc_id, clean_id, issue_status, provider_id_field,
)

blp = Blueprint("legacy_storyarcs", __name__, url_prefix="/api",
                description="Comicarr: story arcs")


class AddArcBody(Schema):
    arc_id = provider_id_field("the provider's story arc id", required=True)
    provider = fields.String(**PROVIDER_FIELD)


def _counts(arc_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not arc_ids:
        return {}
    rows = db.session.execute(
        db.select(StoryArcIssue.arc_id, db.func.count(StoryArcIssue.id),
                  db.func.count(WatchedIssue.id))
        .outerjoin(WatchedIssue, db.and_(WatchedIssue.id == StoryArcIssue.watched_issue_id,
                                         WatchedIssue.state == DOWNLOADED))
        .where(StoryArcIssue.arc_id.in_(arc_ids)).group_by(StoryArcIssue.arc_id)).all()
    return {arc_id: (total, have) for arc_id, total, have in rows}


def arc_row(arc: StoryArc, counts: tuple[int, int] | None = None) -> dict:
    total, have = counts or (0, 0)
    return {"StoryArcID": arc.provider_id, "StoryArc": arc.name, "Total": total, "Have": have,
            "percent": round(100 * have / total) if total else 0,
            "Description": arc.description, "ImageURL": arc.image_url,
            "MetadataSource": arc.provider,
            "LastUpdated": arc.last_refreshed_at.isoformat() if arc.last_refreshed_at else None}


def arc_detail(arc: StoryArc) -> dict:
    linked = [e.watched_issue_id for e in arc.entries if e.watched_issue_id]
    states = dict(db.session.execute(db.select(WatchedIssue.id, WatchedIssue.state).where(
        WatchedIssue.id.in_(linked))).all()) if linked else {}
    issues = []
    for entry in sorted(arc.entries, key=lambda e: e.position):
        state = states.get(entry.watched_issue_id)
        issues.append({
            "IssueArcID": f"{arc.provider_id}_{entry.provider_issue_id}",
            "ReadingOrder": entry.position, "IssueID": entry.provider_issue_id,
            "ComicID": entry.provider_series_id, "ComicName": entry.series_name,
            "IssueNumber": entry.number, "IssueName": entry.title, "IssueDate": entry.cover_date,
            "Status": issue_status(state) if state else "Not Watched",
        })
    return {**arc_row(arc, _counts([arc.id]).get(arc.id)), "issues": issues}


@blp.route("/storyarcs")
class StoryArcs(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(LimitOffsetArgs, location="query")
    @blp.response(200, Envelope)
    def get(self, args):
        """Stored story arcs with how many of their issues are had."""
        rows, total = page_query(db.select(StoryArc).order_by(StoryArc.name, StoryArc.id), args)
        counts = _counts([row.id for row in rows])
        return page([arc_row(row, counts.get(row.id)) for row in rows], total, args["limit"],
                    args["offset"])

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(AddArcBody)
    @blp.response(201, Envelope)
    def post(self, body):
        """Store a provider's story arc; 409 when stored already."""
        return ok(arc_detail(arcs.add_arc(body.get("provider"), clean_id(body["arc_id"]))))


@blp.route("/storyarcs/<arc_id>")
class StoryArcItem(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def get(self, arc_id):
        """The arc with its issues in reading order and each one's status."""
        return ok(arc_detail(arc_by_arc_id(arc_id)))

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def delete(self, arc_id):
        """Forget the arc; its watched series and issues stay."""
        arc = arc_by_arc_id(arc_id)
        name = arc.name
        # Not left to ON DELETE CASCADE: SQLite may run without foreign keys.
        db.session.execute(db.delete(StoryArcIssue).where(StoryArcIssue.arc_id == arc.id))
        db.session.delete(arc)
        db.session.commit()
        return ok({"message": f"Removed story arc {name}", "arc_id": arc_id})


@blp.route("/storyarcs/<arc_id>/want-all")
class StoryArcWantAll(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def post(self, arc_id):
        """Want every issue of the arc; series not watched yet are added
        (their other issues skipped)."""
        return ok(arcs.want_all(arc_by_arc_id(arc_id).id))


@blp.route("/storyarcs/<arc_id>/refresh")
class StoryArcRefresh(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def post(self, arc_id):
        """Re-read the arc from its provider: entries, order, links."""
        return ok(arcs.refresh_arc(arc_by_arc_id(arc_id).id))
