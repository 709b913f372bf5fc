"""Wanted: the missing issues (released, wanted, not had), paged and
sortable, searched a selection or all at once; and the upcoming issues by
store date, a week at a time, as Sonarr's calendar lists them.
"""
from __future__ import annotations

from datetime import date, timedelta
from itertools import groupby

from flask import redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from .. import services
from ..automation.search import SEARCH_WANTED_JOB, released_condition
from ..extensions import db
from ..models.automation import MONITORED, WANTED, WatchedIssue, WatchedSeries
from . import blp
from .arr import ADMIN, done, page_args, pages
from .shell import login_required, principal

SORTS = {
    "series": (WatchedSeries.sort_name, WatchedIssue.number_sort),
    "number": (WatchedIssue.number_sort, WatchedSeries.sort_name),
    "date": (func.coalesce(WatchedIssue.store_date, WatchedIssue.cover_date),
             WatchedSeries.sort_name),
    "searched": (WatchedIssue.last_searched_at, WatchedSeries.sort_name),
}
SORT_LABELS = {"series": "Series", "number": "Issue", "date": "Store date",
               "searched": "Last searched"}
UPCOMING_WEEKS = 8
MAX_SELECTED = 500


def missing_query(sort: str = "date", descending: bool = True):
    """Wanted, released issues of every watched series (paused ones too: a
    paused series is still missing them; its issues are just not searched
    on schedule)."""
    columns = SORTS.get(sort, SORTS["date"])
    order = [c.desc() if descending else c.asc() for c in columns]
    return (select(WatchedIssue).join(WatchedSeries)
            .where(WatchedIssue.state == WANTED, released_condition())
            .order_by(*order, WatchedIssue.id))


@blp.get("/wanted")
@login_required(ADMIN)
def wanted():
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else "date"
    descending = request.args.get("order", "desc") != "asc"
    page, size = page_args()
    query = missing_query(sort, descending)
    total = db.session.execute(select(func.count()).select_from(
        query.order_by(None).subquery())).scalar_one()
    rows = list(db.session.execute(query.limit(size).offset((page - 1) * size)).scalars())
    return render_template("web/arr/wanted.html", rows=rows, total=total, page=page,
                           pages=pages(total, size), sort=sort, descending=descending,
                           sorts=SORT_LABELS, monitored=MONITORED)


@blp.post("/wanted/search")
@login_required(ADMIN)
def wanted_search():
    """Search the selected issues, or every missing one (a background task
    that spaces the searches as the scheduled one does)."""
    runner = services.jobs()
    if request.form.get("all") == "1":
        params, what = {}, "every missing issue"
    else:
        ids = sorted({int(v) for v in request.form.getlist("issue_id") if v.isdigit()
                      and 0 < int(v) <= 2**31 - 1})[:MAX_SELECTED]
        if not ids:
            done("Select the issues to search first.", "bad")
            return redirect(url_for("web.wanted"), 303)
        params, what = {"issue_ids": ids}, f"{len(ids)} selected issue(s)"
    job_id = runner.submit(SEARCH_WANTED_JOB, params, user_id=principal().user.id)
    done(f"Searching {what} (task {job_id}); grabs appear in Activity.")
    return redirect(url_for("web.wanted", **{k: v for k, v in request.args.items()}), 303)


@blp.get("/wanted/upcoming")
@login_required(ADMIN)
def upcoming():
    """Issues coming out in the next weeks, by store date (the cover date
    when the provider gives no store date), grouped by week."""
    today = date.today()
    end = today + timedelta(weeks=UPCOMING_WEEKS)
    when = func.coalesce(WatchedIssue.store_date, WatchedIssue.cover_date)
    rows = list(db.session.execute(
        select(WatchedIssue).join(WatchedSeries)
        .where(when > today.isoformat(), when <= end.isoformat(),
               or_(WatchedIssue.store_date.is_not(None), WatchedIssue.cover_date.is_not(None)))
        .order_by(when, WatchedSeries.sort_name, WatchedIssue.number_sort)).scalars())

    def week_of(issue: WatchedIssue) -> date:
        day = _day(issue.store_date or issue.cover_date)
        return day - timedelta(days=day.weekday())

    weeks = [(start, list(items)) for start, items in groupby(rows, key=week_of)]
    return render_template("web/arr/upcoming.html", weeks=weeks, today=today,
                           weeks_ahead=UPCOMING_WEEKS, day=_day)


def _day(text: str) -> date:
    """An ISO date as providers give them ("2026-12-09", or "2026-12")."""
    parts = [int(p) for p in text[:10].split("-") if p.isdigit()]
    year, month, day = (parts + [1, 1])[:3]
    return date(year, max(1, month), max(1, day))
