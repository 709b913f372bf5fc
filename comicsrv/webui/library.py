"""Browsing the library: home, the series grid, a series, a book,
publishers, folders, story arcs, the reading lists, and the read marks and
favourites that change from these pages.
"""
from __future__ import annotations

import json
import math
import os

from flask import Response, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from ..errors import BadRequest, NotFound
from ..extensions import db
from ..library import browse, reading, shelves
from ..library.access import book_for_user, visible_books
from ..models import Book, Favorite, Series, ToReadEntry
from ..api.v1.schemas import book_detail, book_items, series_items
from . import blp
from .shell import is_htmx, login_required, principal, safe_next
from ..models.library import BOOK_MISSING

ROW = 20  # covers per home-page row
GRID_PAGE = 60  # covers per page of the series grid
CREDIT_ORDER = ("writer", "penciller", "inker", "colorist", "letterer", "cover", "editor",
                "translator")


def _user():
    return principal().user


def _books_by_id(user, ids: list[int]) -> list[Book]:
    """The visible books with these ids, in the order given (one query)."""
    if not ids:
        return []
    found = {b.id: b for b in db.session.execute(select(Book).where(
        Book.id.in_(ids), visible_books(user), Book.state != BOOK_MISSING)).scalars()}
    return [found[i] for i in ids if i in found]


# --- home ------------------------------------------------------------------------------

@blp.get("/")
@login_required("SeriesRead")
def index():
    """Continue reading, on deck, recently added, recently read."""
    user = _user()
    started = shelves.in_progress(user, ROW)
    continuing = book_items([book for book, _ in started], user.id)
    rows = [
        ("continue", "Continue reading", continuing),
        ("on-deck", "On deck", book_items(shelves.on_deck(user, ROW), user.id)),
        ("recently-added", "Recently added", book_items(shelves.recently_added(user, ROW), user.id)),
        ("recently-read", "Recently read", book_items(shelves.recently_read(user, ROW), user.id)),
    ]
    return render_template("web/home.html", rows=rows)


# --- the series grid -------------------------------------------------------------------

def _int_arg(name: str, low: int = 1, high: int = 10**9) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw[:40]!r}.") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}.")
    return value


def _grid_filter() -> shelves.SeriesFilter:
    condition = request.args.get("condition", "").strip() or None
    if condition is not None:
        try:
            condition = json.loads(condition)
        except ValueError:
            raise BadRequest("condition must be a JSON condition tree "
                             '(such as {"genre": {"operator": "is", "value": "Horror"}}).') from None
    sort = request.args.get("sort") or "name"
    return shelves.SeriesFilter(
        q=(request.args.get("q") or "").strip() or None,
        publisher=(request.args.get("publisher") or "").strip() or None,
        year=_int_arg("year", 1, 9999),
        read=request.args.get("read") or None,
        format=request.args.get("format") or None,
        library_id=_int_arg("library_id"),
        condition=condition, sort=sort, descending=request.args.get("order") == "desc")


@blp.get("/series")
@login_required("SeriesRead")
def series_grid():
    """Series covers with search, filters and sort, a page at a time; with
    htmx the next page arrives as the last row scrolls into view."""
    user = _user()
    grid = _grid_filter()
    page = _int_arg("page", 1, 1_000_000) or 1
    rows, total = shelves.series_page(user, grid, page, GRID_PAGE)
    items = shelves.series_cards(user, rows)
    covers = {item["id"]: item["cover_id"] for item in items}
    pages = max(1, math.ceil(total / GRID_PAGE))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    context = {"items": items, "covers": covers, "total": total, "page": page, "pages": pages,
               "args": args, "grid": grid}
    if is_htmx() and request.headers.get("HX-Target") != "grid-results":
        return render_template("web/_series_cards.html", **context)
    if is_htmx():
        return render_template("web/_series_results.html", **context)
    return render_template("web/series_grid.html", sorts=shelves.SERIES_SORTS,
                           formats=shelves.FORMATS, **context)


# --- one series, one book ---------------------------------------------------------------

def _favorite(user_id: int, kind: str, value: str) -> bool:
    return db.session.execute(select(Favorite.id).where(
        Favorite.user_id == user_id, Favorite.kind == kind, Favorite.value == value)).first() \
        is not None


def _series_context(series_id: int) -> dict:
    user = _user()
    series = shelves.series_for(user, series_id)
    books = book_items(shelves.series_books(user, series), user.id)
    item = series_items([series], user.id)[0]
    resume = next((b for b in books if b["progress"] and not b["progress"]["is_completed"]
                   and b["progress"]["current_page"] > 0), None)
    resume = resume or next((b for b in books if not b["progress"] and b["state"] == "ok"), None)
    return {"series": item, "books": books, "resume": resume,
            "favorite": _favorite(user.id, "series", series.name),
            "summary": series.summary or next((b.summary for b in series.books if b.summary), None)}


@blp.get("/series/<int:series_id>")
@login_required("SeriesRead")
def series_page(series_id: int):
    return render_template("web/series.html", **_series_context(series_id))


@blp.get("/books/<int:book_id>")
@login_required("BooksRead")
def book_page(book_id: int):
    """A book's metadata, credits, file facts, and the read or continue button;
    an errored book shows why it could not be read."""
    user = _user()
    book = book_for_user(user, book_id)
    detail = book_detail(book, user.id)
    tags = detail["tags"]
    credits = [(role, tags[role]) for role in CREDIT_ORDER if role in tags]
    other = [(ns, names) for ns, names in tags.items() if ns not in CREDIT_ORDER]
    to_read = db.session.execute(select(ToReadEntry.id).where(
        ToReadEntry.user_id == user.id, ToReadEntry.path == book.path)).first() is not None
    return render_template("web/book.html", book=detail, credits=credits, other_tags=other,
                           to_read=to_read, next_book=shelves.next_in_series(user, book))


@blp.get("/books/<int:book_id>/download")
@login_required("BooksRead")
def download(book_id: int):
    """The comic file as an attachment (byte ranges answered)."""
    book = book_for_user(_user(), book_id)
    if not os.path.isfile(book.path):
        raise NotFound("The file of this book is missing from the disk.")
    return send_file(book.path, as_attachment=True, download_name=book.filename,
                     conditional=True, max_age=0)


# --- read marks ------------------------------------------------------------------------

def _back(default: str) -> Response:
    return redirect(safe_next(request.form.get("next"), default), 303)


@blp.post("/books/<int:book_id>/read")
@login_required("BooksWrite")
def mark_book(book_id: int):
    """Mark one book read (``state=read``) or unread (``state=unread``)."""
    user = _user()
    book = book_for_user(user, book_id)
    if request.form.get("state") == "unread":
        reading.mark_unread(user.id, book)
    else:
        reading.mark_read(user.id, book)
    if is_htmx():
        item = book_items([book], user.id)[0]
        return render_template("web/_book_row.html", book=item)
    return _back(url_for("web.book_page", book_id=book.id))


@blp.post("/series/<int:series_id>/read")
@login_required("BooksWrite")
def mark_series(series_id: int):
    """Mark every book of a series read or unread."""
    user = _user()
    series = shelves.series_for(user, series_id)
    unread = request.form.get("state") == "unread"
    for book in shelves.series_books(user, series):
        if unread:
            reading.mark_unread(user.id, book)
        else:
            progress = reading.get_progress(user.id, book.id)
            if progress is None or not progress.completed:
                reading.mark_read(user.id, book)
    if is_htmx():
        return render_template("web/_series_main.html", **_series_context(series_id))
    return _back(url_for("web.series_page", series_id=series.id))


# --- favourites and the want-to-read list ---------------------------------------------

@blp.post("/series/<int:series_id>/favorite")
@login_required("SeriesRead")
def favorite_series(series_id: int):
    user = _user()
    series = shelves.series_for(user, series_id)
    if request.form.get("state") == "off":
        browse.remove_favorite(user, "series", path=None, value=series.name)
    else:
        path = series.path if series.path and os.path.isdir(series.path) else None
        browse.add_favorite(user, "series", path=path, value=series.name)
    if is_htmx():
        return render_template("web/_favorite_button.html", series_id=series.id,
                               favorite=_favorite(user.id, "series", series.name))
    return _back(url_for("web.series_page", series_id=series.id))


@blp.post("/books/<int:book_id>/to-read")
@login_required("BooksRead")
def to_read(book_id: int):
    user = _user()
    book = book_for_user(user, book_id)
    if request.form.get("state") == "off":
        browse.remove_to_read(user, book.path)
    else:
        browse.add_to_read(user, book.path)
    if is_htmx():
        return render_template("web/_to_read_button.html", book_id=book.id,
                               to_read=request.form.get("state") != "off")
    return _back(url_for("web.book_page", book_id=book.id))


@blp.get("/reading", endpoint="reading")
@login_required("BooksRead")
def reading_list():
    """Everything in progress, the want-to-read list, favourite series, and
    the reading history."""
    user = _user()
    started = shelves.in_progress(user, 200)
    entries, _ = browse.to_read_entries(user, page=1, page_size=200)
    listed_ids = [book_id for _, book_id in entries if book_id is not None]
    listed = {b["id"]: b for b in book_items(_books_by_id(user, listed_ids), user.id)}
    favorites = db.session.execute(select(Favorite).where(
        Favorite.user_id == user.id, Favorite.kind == "series")
        .order_by(Favorite.created_at.desc())).scalars().all()
    names = [f.value for f in favorites]
    favorite_series = db.session.execute(shelves.visible_series(user).where(
        Series.name.in_(names)).order_by(Series.sort_name)).scalars().all() \
        if names else []
    return render_template(
        "web/reading.html",
        in_progress=book_items([b for b, _ in started], user.id),
        to_read=[(entry, listed.get(book_id)) for entry, book_id in entries],
        favorites=series_items(favorite_series, user.id),
        covers=shelves.first_books([s.id for s in favorite_series]),
        history=book_items(shelves.recently_read(user, 60), user.id))


# --- publishers, folders, story arcs ---------------------------------------------------

@blp.get("/publishers")
@login_required("SeriesRead")
def publishers():
    page = _int_arg("page", 1, 1_000_000) or 1
    rows, total = shelves.publishers(_user(), page, GRID_PAGE)
    return render_template("web/publishers.html", rows=rows, page=page,
                           pages=max(1, math.ceil(total / GRID_PAGE)), total=total)


@blp.get("/folders")
@login_required("SeriesRead")
def folders():
    """The library folders as they are on disk (CLU's filesystem mode)."""
    user = _user()
    path = (request.args.get("path") or "").strip()
    roots = browse.visible_roots(user)
    if not path:
        directories, parent = roots, None
    else:
        directories = browse.resolve_folders(user, [path])
        if not directories:
            raise NotFound("There is no such folder in your libraries.")
        parent = os.path.dirname(directories[0])
        parent = parent if any(browse._inside(parent, r) for r in roots) else ""
    entries = browse.list_folders(user, directories, sort=request.args.get("sort") or "alpha")
    issues = browse.folder_issues(user, directories) if path else []
    return render_template("web/folders.html", path=path, parent=parent, entries=entries,
                           issues=book_items(_books_by_id(user, [r.id for r in issues]), user.id))


@blp.get("/arcs")
@login_required("SeriesRead")
def arcs():
    return render_template("web/arcs.html", arcs=shelves.story_arcs(_user()))


@blp.get("/arcs/<path:name>")
@login_required("SeriesRead")
def arc_page(name: str):
    user = _user()
    return render_template("web/arc.html", name=name,
                           books=book_items(shelves.arc_books(user, name), user.id))
