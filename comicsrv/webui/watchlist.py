"""Series, as Sonarr calls its watchlist: the watched series with their
have/total, adding one from the metadata providers, a series with its
issues and their states, automatic and interactive search with the reasons
behind every decision, the release rules, refresh and delete; and the story
arcs the automation follows, with want-all.
"""
from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import make_response, redirect, render_template, request, url_for
from sqlalchemy import func, select

from .. import services
from ..automation import arcs as arc_service
from ..automation import covers, interactive, rules
from ..automation import watchlist as watch_service
from ..automation.integrations import kinds
from ..automation.releases import FORMATS
from ..automation.search import SEARCH_WANTED_JOB, search_issue
from ..errors import BadRequest, DomainError, NotFound
from ..extensions import db
from ..images import placeholder
from ..library.shelves import first_books
from ..models import Library
from ..models.automation import (
    ARCHIVED, DOWNLOADED, MONITORED, PAUSED, SKIPPED, SNATCHED, WANT_STATES, WANTED, StoryArc,
    StoryArcIssue, WatchedIssue, WatchedSeries,
)
from ..settings_store import get_setting
from . import blp
from .arr import ADMIN, MB, FormReader, done, field_errors, page_args, page_with_errors, pages
from .shell import is_htmx, login_required, principal, safe_next

# The states counted as "have" and those counted in the total (Sonarr counts
# monitored episodes; skipped and ignored issues are not monitored).
HAVE_STATES = (DOWNLOADED, ARCHIVED)
COUNTED_STATES = (WANTED, SNATCHED, DOWNLOADED, ARCHIVED)
MONITOR_CHOICES = {
    # what to watch: (monitor_new, mark_missing_wanted)
    "all": (True, True),
    "future": (True, False),
    "none": (False, False),
}
WATCHLIST_PAGE = 120
SORTS = {"name": "Name", "year": "Year", "publisher": "Publisher", "added": "Added",
         "missing": "Missing"}


def _user_id() -> int:
    return principal().user.id


def cover_url(url: str | None) -> str | None:
    """A provider image through our cover cache (see ``automation.covers``)."""
    if not url:
        return None
    return url_for("web.provider_cover") + "?" + urlencode({"u": url, "s": covers.signature(url)})


def issue_counts(series_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per watched series: have, total (monitored issues), wanted (one query)."""
    counts: dict[int, dict[str, int]] = {sid: {"have": 0, "total": 0, "wanted": 0, "issues": 0}
                                         for sid in series_ids}
    if not series_ids:
        return counts
    rows = db.session.execute(
        select(WatchedIssue.watched_series_id, WatchedIssue.state, func.count())
        .where(WatchedIssue.watched_series_id.in_(series_ids))
        .group_by(WatchedIssue.watched_series_id, WatchedIssue.state)).all()
    for series_id, state, count in rows:
        entry = counts[series_id]
        entry["issues"] += count
        entry["have"] += count if state in HAVE_STATES else 0
        entry["total"] += count if state in COUNTED_STATES else 0
        entry["wanted"] += count if state == WANTED else 0
    return counts


def series_covers(rows: list[WatchedSeries]) -> dict[int, str]:
    """Per watched series, the best cover at hand: a book of the library
    series it lives in (local), else the provider's series or first issue
    image through the cover cache."""
    linked = first_books([s.series_id for s in rows if s.series_id])
    base = request.script_root + "/api/v1/books/"
    found: dict[int, str] = {}
    missing = []
    for series in rows:
        if series.series_id in linked:
            found[series.id] = f"{base}{linked[series.series_id]}/thumbnail?size=360"
        elif series.image_url:
            found[series.id] = cover_url(series.image_url)
        else:
            missing.append(series.id)
    if missing:
        images = db.session.execute(
            select(WatchedIssue.watched_series_id, WatchedIssue.image_url)
            .where(WatchedIssue.watched_series_id.in_(missing), WatchedIssue.image_url.is_not(None))
            .order_by(WatchedIssue.watched_series_id, WatchedIssue.number_sort)).all()
        for series_id, image in images:
            found.setdefault(series_id, cover_url(image))
    return found


def issue_label(issue: WatchedIssue, today: date | None = None) -> str:
    """The state a user reads: an issue not out yet is "future" unless it
    is had or on its way."""
    if issue.state in (WANTED, SKIPPED) and not watch_service.released(issue, today):
        return "future"
    return issue.state


def _watched(series_id: int) -> WatchedSeries:
    return watch_service.get_watched(series_id)


def _issue(issue_id: int) -> WatchedIssue:
    issue = db.session.get(WatchedIssue, issue_id)
    if issue is None:
        raise NotFound(f"There is no watched issue {issue_id}.")
    return issue


def _submit_search(params: dict[str, Any]) -> int:
    runner = services.jobs()
    return runner.submit(SEARCH_WANTED_JOB, params, user_id=_user_id())


# --- the list ----------------------------------------------------------------------------

@blp.get("/watchlist")
@login_required(ADMIN)
def watchlist():
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else "name"
    status = request.args.get("status") if request.args.get("status") in (MONITORED, PAUSED) else None
    view = "table" if request.args.get("view") == "table" else "grid"
    query = select(WatchedSeries)
    if status:
        query = query.where(WatchedSeries.status == status)
    rows = list(db.session.execute(query).scalars())
    counts = issue_counts([s.id for s in rows])
    keys = {
        "name": lambda s: (s.sort_name or "", s.id),
        "year": lambda s: (s.year or 0, s.sort_name or ""),
        "publisher": lambda s: ((s.publisher or "").casefold(), s.sort_name or ""),
        "added": lambda s: (-(s.created_at.timestamp() if s.created_at else 0), s.id),
        "missing": lambda s: (-counts[s.id]["wanted"], s.sort_name or ""),
    }
    rows.sort(key=keys[sort])
    # Counted and sorted whole (one grouped query), rendered a page at a time:
    # the HTML of thousands of cards, not the query, is what takes the time.
    page, size = page_args(WATCHLIST_PAGE)
    total = len(rows)
    rows = rows[(page - 1) * size:page * size]
    return render_template("web/arr/watchlist.html", rows=rows, counts=counts,
                           covers=series_covers(rows), sort=sort, sorts=SORTS, status=status,
                           view=view, page=page, pages=pages(total, size), total=total)



@blp.get("/watchlist/cover")
@login_required(ADMIN)
def provider_cover():
    """A provider's image, fetched once by the server (only URLs it signed)."""
    url, sig = request.args.get("u", ""), request.args.get("s", "")
    if not covers.is_signed(url, sig):
        raise BadRequest("This cover link was not made by this server.")
    data = covers.cached_cover(url)
    response = make_response(data if data is not None else placeholder(360, "No cover"))
    response.mimetype = "image/jpeg" if data is not None else "image/png"
    response.headers["Cache-Control"] = "private, max-age=604800" if data else "no-store"
    return response


# --- adding a series -----------------------------------------------------------------------

def _libraries() -> list[Library]:
    return list(db.session.execute(select(Library).order_by(Library.name)).scalars())


def _providers() -> list[str]:
    return sorted(kinds("metadata"))


@blp.get("/watchlist/add")
@login_required(ADMIN)
def watchlist_add():
    """Search the metadata providers; each result can be added from here."""
    query = (request.args.get("q") or "").strip()
    provider = request.args.get("provider") or get_setting("metadata.default_provider")
    reader = FormReader(request.args)
    year = reader.integer("year", low=1800, high=3000, label="Year")
    results, error, status = [], None, 200
    if reader.errors:
        error, status = reader.errors["year"], 400
    elif query:
        try:
            results = watch_service.search_series(query, year, provider)
        except DomainError as exc:
            error, status = exc.message, exc.status
    watched = {}
    if results:
        watched = dict(db.session.execute(
            select(WatchedSeries.provider_id, WatchedSeries.id).where(
                WatchedSeries.provider == results[0].provider,
                WatchedSeries.provider_id.in_([r.provider_id for r in results]))).all())
    html = render_template(
        "web/arr/watchlist_add.html", query=query, year=year, provider=provider,
        providers=_providers(), results=results, watched=watched, error=error,
        libraries=_libraries(), default_library=get_setting("automation.default_library_id"),
        cover_url=cover_url)
    return html, status


@blp.post("/watchlist/add")
@login_required(ADMIN)
def watchlist_add_post():
    reader = FormReader()
    provider = reader.choice("provider", _providers(), label="Provider")
    provider_id = reader.text("provider_id", required=True, label="The series", max_length=64)
    monitor = reader.choice("monitor", MONITOR_CHOICES, default="all", label="Monitor")
    library_id = reader.integer("library_id", low=1, high=2**31 - 1, label="Library")
    folder = reader.text("folder", label="Folder", max_length=1000)
    if folder and (folder.startswith(("/", "\\")) or ".." in folder.replace("\\", "/").split("/")):
        reader.errors["folder"] = "The folder is relative to the library, without '..'"
    try:
        reader.fail_if_errors()
        monitor_new, mark_missing = MONITOR_CHOICES[monitor]
        options = {"folder": folder} if folder else {}
        watched = watch_service.add_series(provider, provider_id, library_id=library_id,
                                       monitor_new=monitor_new, mark_missing_wanted=mark_missing,
                                       **options)
    except DomainError as exc:
        errors = field_errors(exc)
        done("; ".join(errors.values()) if errors else exc.message, "bad")
        return redirect(url_for("web.watchlist_add", q=request.form.get("q") or "",
                                provider=provider or ""), 303)
    message = f"Watching {watched.name}"
    if reader.flag("search_now"):
        job_id = _submit_search({"watched_series_id": watched.id})
        message += f"; searching its wanted issues (task {job_id})"
    done(message + ".")
    return redirect(url_for("web.watched_series", series_id=watched.id), 303)


# --- one series ---------------------------------------------------------------------------

def _series_context(watched: WatchedSeries) -> dict[str, Any]:
    today = date.today()
    issues = list(watched.issues)
    counts = issue_counts([watched.id])[watched.id]
    library = db.session.get(Library, watched.library_id) if watched.library_id else None
    return {"series": watched, "issues": issues, "counts": counts, "library": library,
            "labels": {i.id: issue_label(i, today) for i in issues},
            "cover": series_covers([watched]).get(watched.id),
            "states": WANT_STATES}


@blp.get("/watchlist/<int:series_id>")
@login_required(ADMIN)
def watched_series(series_id: int):
    return render_template("web/arr/series.html", **_series_context(_watched(series_id)))


@blp.post("/watchlist/<int:series_id>/status")
@login_required(ADMIN)
def watched_status(series_id: int):
    """The monitored toggle: monitored or paused."""
    status = MONITORED if request.form.get("monitored") in ("on", "true", "1") else PAUSED
    watched = watch_service.set_series_status(series_id, status)
    if is_htmx():
        return render_template("web/arr/_monitor_toggle.html", series=watched)
    done(f"{watched.name} is {'monitored' if status == MONITORED else 'paused'}.")
    return redirect(safe_next(request.form.get("next"),
                              url_for("web.watched_series", series_id=series_id)), 303)


@blp.post("/watchlist/<int:series_id>/refresh")
@login_required(ADMIN)
def watched_refresh(series_id: int):
    """Read the series and its issues from the provider again, now."""
    try:
        outcome = watch_service.refresh_series(series_id)
    except DomainError as exc:
        done(f"Refresh failed: {exc.message}", "bad")
    else:
        done(f"Refreshed {outcome['name']}: {outcome['added']} new issue(s), "
             f"{outcome['updated']} updated, {outcome['wanted']} wanted.")
    return redirect(url_for("web.watched_series", series_id=series_id), 303)


@blp.post("/watchlist/<int:series_id>/search")
@login_required(ADMIN)
def watched_search(series_id: int):
    """Search every wanted, released issue of the series (a background task)."""
    watched = _watched(series_id)
    job_id = _submit_search({"watched_series_id": watched.id})
    done(f"Searching the wanted issues of {watched.name} (task {job_id}).")
    return redirect(url_for("web.watched_series", series_id=series_id), 303)


def _rules_form(watched: WatchedSeries) -> dict[str, Any]:
    """The rule's values as the form shows them."""
    def mb(value):
        return "" if value is None else f"{value / MB:g}"

    return {"aliases": "\n".join(watched.aliases or []),
            "include_terms": "\n".join(watched.include_terms or []),
            "exclude_terms": "\n".join(watched.exclude_terms or []),
            "issue_offset": str(watched.issue_offset or 0),
            "formats": ", ".join(watched.formats or []),
            "min_size": mb(watched.min_size), "max_size": mb(watched.max_size),
            "want_annuals": watched.want_annuals, "monitor_new": watched.monitor_new}


def _read_rules() -> dict[str, Any]:
    """The release rules form as ``rules.update_rule`` takes it."""
    from ..api.v1.rules import RuleUpdateSchema

    reader = FormReader()
    formats = [f.lower() for f in reader.lines("formats", max_items=len(FORMATS))]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        reader.errors["formats"] = (f"{unknown[0]!r} is not a comic format; use "
                                    f"{', '.join(FORMATS)}")
    changes = {
        "aliases": reader.lines("aliases") or None,
        "include_terms": reader.lines("include_terms") or None,
        "exclude_terms": reader.lines("exclude_terms") or None,
        "issue_offset": reader.integer("issue_offset", low=-100_000, high=100_000,
                                       label="Issue offset") or 0,
        "formats": formats or None,
        "min_size": reader.megabytes("min_size", "Minimum size"),
        "max_size": reader.megabytes("max_size", "Maximum size"),
        "want_annuals": reader.flag("want_annuals"),
        "monitor_new": reader.flag("monitor_new"),
    }
    if changes["min_size"] is not None and changes["max_size"] is not None \
            and changes["min_size"] > changes["max_size"]:
        reader.errors["max_size"] = "The maximum size is below the minimum size"
    # The API's schema checks the same fields the same way (lengths, ranges).
    schema_errors = RuleUpdateSchema().validate(
        {k: v for k, v in changes.items() if k != "monitor_new"})
    for key, messages in schema_errors.items():
        reader.errors.setdefault(key, "; ".join(
            m if isinstance(m, str) else str(m) for m in (
                messages if isinstance(messages, list) else messages.values())))
    reader.fail_if_errors()
    return changes


@blp.route("/watchlist/<int:series_id>/edit", methods=["GET", "POST"])
@login_required(ADMIN)
def watched_edit(series_id: int):
    """The release rules: aliases, terms, offset, formats, sizes, annuals."""
    watched = _watched(series_id)
    if request.method == "GET":
        return render_template("web/arr/series_edit.html", series=watched,
                               values=_rules_form(watched), errors={}, formats=FORMATS)
    try:
        rules.update_rule(watched.id, _read_rules())
    except DomainError as exc:
        return page_with_errors("web/arr/series_edit.html", exc, series=watched,
                                values=request.form.to_dict(), formats=FORMATS)
    done(f"Saved the release rules of {watched.name}.")
    return redirect(url_for("web.watched_series", series_id=series_id), 303)


@blp.route("/watchlist/<int:series_id>/delete", methods=["GET", "POST"])
@login_required(ADMIN)
def watched_delete(series_id: int):
    """Stop watching; with "delete files" the downloaded issues' files go too
    (the confirmation names the folder and counts them)."""
    watched = _watched(series_id)
    from ..models import Book

    book_ids = [i.book_id for i in watched.issues if i.book_id]
    books = list(db.session.execute(select(Book).where(Book.id.in_(book_ids))).scalars()) \
        if book_ids else []
    folders = sorted({b.path.rsplit("/", 1)[0] for b in books})
    if request.method == "GET":
        return render_template("web/arr/series_delete.html", series=watched, books=books,
                               folders=folders)
    delete_files = request.form.get("delete_files") == "on"
    result = watch_service.remove_series(watched.id, delete_files=delete_files)
    message = f"No longer watching {watched.name}"
    if delete_files:
        message += f"; {result['deleted_files']} file(s) deleted"
    if result["errors"]:
        done(message + ". Not deleted: " + "; ".join(result["errors"]), "bad")
    else:
        done(message + ".")
    return redirect(url_for("web.watchlist"), 303)


# --- issues: state, automatic and interactive search ----------------------------------------

@blp.post("/watchlist/issues/<int:issue_id>/state")
@login_required(ADMIN)
def issue_state(issue_id: int):
    issue = watch_service.set_issue_state(issue_id, request.form.get("state") or "")
    if is_htmx():
        return render_template("web/arr/_issue_row.html", issue=issue, label=issue_label(issue),
                               states=WANT_STATES, series=issue.series)
    done(f"{issue.series.name} #{issue.number} is {issue.state}.")
    return redirect(url_for("web.watched_series", series_id=issue.watched_series_id), 303)


@blp.post("/watchlist/issues/<int:issue_id>/search")
@login_required(ADMIN)
def issue_search(issue_id: int):
    """Automatic search: every indexer, decide, grab the best accepted release."""
    issue = _issue(issue_id)
    result = search_issue(issue.id)
    context = {"issue": issue, "result": result}
    if is_htmx():
        return render_template("web/arr/_search_result.html", **context)
    label = f"{issue.series.name} #{issue.number}"
    if result.get("grabbed"):
        done(f"{label}: grabbed {result.get('title')}.")
    elif result.get("grab_error"):
        done(f"{label}: {result['grab_error']}", "bad")
    else:
        done(f"{label}: {result['releases']} release(s) found, none accepted; "
             "interactive search shows why.", "bad")
    return redirect(url_for("web.watched_series", series_id=issue.watched_series_id), 303)


@blp.get("/watchlist/issues/<int:issue_id>/releases")
@login_required(ADMIN)
def interactive_search(issue_id: int):
    """Interactive search: the releases looked at for this issue with their
    decisions; with ``?search=1`` the page searches every indexer as it opens."""
    issue = _issue(issue_id)
    rows = [interactive.describe(r) for r in interactive.issue_decisions(issue.id)]
    return render_template("web/arr/releases.html", issue=issue, series=issue.series, rows=rows,
                           search_on_load=request.args.get("search") == "1", outcome=None)


@blp.post("/watchlist/issues/<int:issue_id>/releases")
@login_required(ADMIN)
def interactive_search_run(issue_id: int):
    issue = _issue(issue_id)
    outcome = interactive.interactive_search(issue.id)
    rows = [interactive.describe(r) for r in outcome.decisions]
    template = "web/arr/_releases.html" if is_htmx() else "web/arr/releases.html"
    return render_template(template, issue=issue, series=issue.series, rows=rows,
                           outcome=outcome, search_on_load=False)


@blp.post("/watchlist/releases/<int:decision_id>/grab")
@login_required(ADMIN)
def grab_release(decision_id: int):
    """Grab the release of one decision (the interactive search's button)."""
    try:
        download = interactive.grab_decision(decision_id)
    except DomainError as exc:
        if is_htmx():
            return render_template("web/arr/_grab_result.html", ok=False, message=exc.message), \
                exc.status
        done(exc.message, "bad")
        return redirect(safe_next(request.form.get("next"), url_for("web.activity")), 303)
    message = f"Grabbed {download.title}; it is in the queue."
    if is_htmx():
        return render_template("web/arr/_grab_result.html", ok=True, message=message,
                               download=download)
    done(message)
    return redirect(url_for("web.activity"), 303)


# --- story arcs ------------------------------------------------------------------------------

def _arc_counts(arc_ids: list[int]) -> dict[int, dict[str, int]]:
    counts = {aid: {"issues": 0, "have": 0, "wanted": 0, "unwatched": 0} for aid in arc_ids}
    if not arc_ids:
        return counts
    rows = db.session.execute(
        select(StoryArcIssue.arc_id, WatchedIssue.state, func.count())
        .outerjoin(WatchedIssue, WatchedIssue.id == StoryArcIssue.watched_issue_id)
        .where(StoryArcIssue.arc_id.in_(arc_ids))
        .group_by(StoryArcIssue.arc_id, WatchedIssue.state)).all()
    for arc_id, state, count in rows:
        entry = counts[arc_id]
        entry["issues"] += count
        if state is None:
            entry["unwatched"] += count
        elif state in HAVE_STATES:
            entry["have"] += count
        elif state in (WANTED, SNATCHED):
            entry["wanted"] += count
    return counts


@blp.route("/watchlist/arcs", methods=["GET", "POST"])
@login_required(ADMIN)
def watch_arcs():
    """The story arcs the automation follows; add one by its provider id."""
    errors, error, status = {}, None, 200
    if request.method == "POST":
        reader = FormReader()
        provider = reader.choice("provider", _providers(), label="Provider")
        arc_id = reader.text("arc_id", required=True, label="The arc's id", max_length=64)
        try:
            reader.fail_if_errors()
            arc = arc_service.add_arc(provider, arc_id)
        except DomainError as exc:
            errors, error, status = field_errors(exc), exc.message, exc.status
        else:
            done(f"Added the story arc {arc.name} ({len(arc.entries)} issues).")
            return redirect(url_for("web.watch_arc", arc_id=arc.id), 303)
    rows = list(db.session.execute(select(StoryArc).order_by(StoryArc.name)).scalars())
    return render_template("web/arr/arcs.html", arcs=rows, counts=_arc_counts([a.id for a in rows]),
                           providers=_providers(), errors=errors, error=error,
                           values=request.form), status


@blp.get("/watchlist/arcs/<int:arc_id>")
@login_required(ADMIN)
def watch_arc(arc_id: int):
    """An arc in reading order: each issue's series, number and state."""
    arc = db.session.get(StoryArc, arc_id)
    if arc is None:
        raise NotFound(f"There is no story arc {arc_id}.")
    issue_ids = [e.watched_issue_id for e in arc.entries if e.watched_issue_id]
    issues = {i.id: i for i in db.session.execute(
        select(WatchedIssue).where(WatchedIssue.id.in_(issue_ids))).scalars()} if issue_ids else {}
    today = date.today()
    labels = {iid: issue_label(issue, today) for iid, issue in issues.items()}
    return render_template("web/arr/arc.html", arc=arc, issues=issues, labels=labels,
                           counts=_arc_counts([arc.id])[arc.id])


@blp.post("/watchlist/arcs/<int:arc_id>/want")
@login_required(ADMIN)
def watch_arc_want(arc_id: int):
    """Want every issue of the arc (series not watched yet are added, paused
    for their other issues)."""
    try:
        result = arc_service.want_all(arc_id)
    except DomainError as exc:
        done(f"Want all failed: {exc.message}", "bad")
    else:
        message = f"{result['wanted']} issue(s) wanted"
        if result["added_series"]:
            message += f", {len(result['added_series'])} series added to the watchlist"
        if result["unresolved_positions"]:
            message += (f"; the provider names no series for position(s) "
                        f"{', '.join(map(str, result['unresolved_positions']))}")
        done(message + ".")
    return redirect(url_for("web.watch_arc", arc_id=arc_id), 303)


@blp.post("/watchlist/arcs/<int:arc_id>/refresh")
@login_required(ADMIN)
def watch_arc_refresh(arc_id: int):
    try:
        result = arc_service.refresh_arc(arc_id)
    except DomainError as exc:
        done(f"Refresh failed: {exc.message}", "bad")
    else:
        done(f"Refreshed: {result['entries']} issues, {result['added']} new, "
             f"{result['linked']} watched.")
    return redirect(url_for("web.watch_arc", arc_id=arc_id), 303)

