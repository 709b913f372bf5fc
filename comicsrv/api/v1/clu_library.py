"""CLU's client endpoints for browsing: ``/auth/ping`` and ``/library/*``.

Exactly CLU's paths, parameters and item fields (seed 001), so its offline
reader apps work unchanged. ``/library/publishers``, ``/series`` and
``/issues`` browse in the saved mode (the ``api_browse_mode`` preference) or
the ``?mode=`` given; the item fields differ per mode as CLU's do. An unknown
``sort`` falls back to ``alpha``, as in CLU.

Beyond CLU's read side: ``POST``/``DELETE`` on ``/library/favorites`` and
``/library/to-read`` maintain the lists those endpoints show.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ... import __version__
from ...fspaths import display
from ...library import browse
from ...models import Favorite, ToReadEntry, User
from ...settings_store import get_setting
from ..pagination import CluPageArgs, envelope, page_list
from .clu_common import (
    SECURITY, CluSchema, PageSchema, PathField, clean_text, clu_blueprint, clu_time, current_user,
    missing, resolve_mode, saved_browse_mode,
)

blp = clu_blueprint("v1_clu_library", "CLU client API: browse the library (reader apps)")

RECENT_DAYS_SETTING = "library.recent_days"


# --- schemas ---------------------------------------------------------------------------

class CluPingSchema(Schema):
    ok = fields.Boolean()
    version = fields.String()
    browse_mode = fields.String(metadata={"enum": ["metadata", "filesystem"]})


class CluBrowseArgs(CluSchema, CluPageArgs):
    mode = fields.String(validate=clean_text, metadata={
        "description": "metadata | filesystem; default: the saved browse mode"})
    sort = fields.String(validate=clean_text, metadata={"description": "see each endpoint"})

    def clu_error(self, messages: dict[str, Any], data: Any) -> str | None:
        if "mode" in messages:
            return "invalid_mode"
        return "invalid_path" if set(messages) & {"publisher", "series", "volume"} else None


class CluPublisherArgs(CluBrowseArgs):
    sort = fields.String(validate=clean_text, metadata={"description": "alpha | count"})


class CluSeriesArgs(CluBrowseArgs):
    publisher = PathField(metadata={"description": "required in filesystem mode: a publisher "
                                                   "name or an absolute folder path"})
    q = fields.String(validate=clean_text, metadata={"description": "series name contains"})
    search = fields.String(validate=clean_text, metadata={"description": "same as q"})
    sort = fields.String(validate=clean_text,
                         metadata={"description": "alpha | count | year | recent"})


class CluIssueArgs(CluBrowseArgs):
    series = PathField(metadata={"description": "required: a series name, or in filesystem "
                                                "mode a folder name or absolute path"})
    publisher = PathField(metadata={"description": "required in filesystem mode"})
    volume = PathField(metadata={"description": "volume subfolder (filesystem mode), e.g. v1985"})
    sort = fields.String(validate=clean_text, metadata={"description": "alpha | year | recent"})


class CluPublisherItem(Schema):
    value = fields.String(metadata={"description": "echo back as ?publisher="})
    name = fields.String()
    path = fields.String(metadata={"description": "filesystem mode: absolute folder path"})
    has_thumbnail = fields.Boolean(metadata={"description": "filesystem mode"})
    count = fields.Integer(metadata={"description": "books below, recursively"})
    cover_path = fields.String(metadata={"description": "metadata mode: a book of the group"})


class CluSeriesItem(CluPublisherItem):
    value = fields.String(metadata={"description": "echo back as ?series="})
    volumes = fields.List(fields.String(), metadata={
        "description": "filesystem mode, only for a folder with no comics of its own but "
                       "subfolders with comics"})
    publisher = fields.String(allow_none=True, metadata={"description": "metadata mode"})
    year = fields.String(allow_none=True, metadata={"description": "metadata mode: first year"})


class CluIssueItem(Schema):
    id = fields.Integer()
    name = fields.String()
    path = fields.String()
    size = fields.Integer()
    title = fields.String(allow_none=True, metadata={"description": "metadata mode"})
    series = fields.String(allow_none=True, metadata={"description": "metadata mode"})
    number = fields.String(allow_none=True, metadata={"description": "metadata mode"})
    year = fields.String(allow_none=True, metadata={"description": "metadata mode"})
    publisher = fields.String(allow_none=True, metadata={"description": "metadata mode"})
    has_comicinfo = fields.Boolean()
    has_progress = fields.Boolean()
    last_page = fields.Integer(allow_none=True)


class CluPublisherPage(PageSchema):
    items = fields.List(fields.Nested(CluPublisherItem))
    mode = fields.String()


class CluSeriesPage(PageSchema):
    items = fields.List(fields.Nested(CluSeriesItem))
    mode = fields.String()


class CluIssuePage(PageSchema):
    items = fields.List(fields.Nested(CluIssueItem))
    mode = fields.String()


class CluFavoriteItem(Schema):
    value = fields.String()
    name = fields.String()
    path = fields.String(allow_none=True)
    type = fields.String()
    created_at = fields.String(metadata={"example": "2026-04-25 10:00:00"})


class CluFavoritePage(PageSchema):
    items = fields.List(fields.Nested(CluFavoriteItem))
    scope = fields.String(metadata={"example": "favorites"})


class CluFavoriteBody(CluSchema):
    path = PathField(metadata={"description": "absolute folder (or book) path"})
    value = fields.String(validate=clean_text,
                          metadata={"description": "a publisher or series name"})
    type = fields.String(load_default="publisher", validate=validate.OneOf(browse.FAVORITE_KINDS))

    def clu_error(self, messages: dict[str, Any], data: Any) -> str | None:
        return "invalid_path" if "path" in messages else None


class CluToReadItem(Schema):
    value = fields.String()
    name = fields.String()
    path = fields.String()
    type = fields.String(metadata={"enum": ["file", "folder"]})
    created_at = fields.String()
    id = fields.Integer(allow_none=True, metadata={"description": "files"})
    has_progress = fields.Boolean(metadata={"description": "files"})
    last_page = fields.Integer(allow_none=True, metadata={"description": "files"})
    volumes = fields.List(fields.String(),
                          metadata={"description": "folders of multi-volume series"})
    series = fields.String(metadata={"description": "volume folders: the series folder's name"})
    volume = fields.String(metadata={"description": "volume folders: their own name"})


class CluToReadPage(PageSchema):
    items = fields.List(fields.Nested(CluToReadItem))
    scope = fields.String(metadata={"example": "to_read"})


class CluToReadBody(CluSchema):
    path = PathField(required=True,
                     metadata={"description": "a book's or a folder's absolute path"})

    def clu_error(self, messages: dict[str, Any], data: Any) -> str | None:
        return "Missing 'path'" if not data.get("path") else "invalid_path"


class CluRecentItem(Schema):
    id = fields.Integer()
    value = fields.String()
    name = fields.String()
    path = fields.String()
    size = fields.Integer()
    added_at = fields.String(metadata={"example": "2026-04-20 09:33:11"})
    type = fields.String(metadata={"example": "file"})
    has_progress = fields.Boolean()
    last_page = fields.Integer(allow_none=True)


class CluRecentPage(PageSchema):
    items = fields.List(fields.Nested(CluRecentItem))
    scope = fields.String(metadata={"example": "recent"})


# --- helpers ---------------------------------------------------------------------------

def pick_sort(requested: str | None, allowed: Sequence[str]) -> str:
    return requested if requested in allowed else "alpha"


def _year(value: int | None) -> str | None:
    return str(value) if value is not None else None


def folder_items(entries: list[browse.FolderEntry], *, with_volumes: bool) -> list[dict]:
    thumbnails = browse.thumbnails([e.path for e in entries])
    items = []
    for entry in entries:
        item = {"value": entry.name, "name": entry.name, "path": entry.path,
                "has_thumbnail": thumbnails[entry.path], "count": entry.count}
        if with_volumes and entry.volumes:
            item["volumes"] = entry.volumes
        items.append(item)
    return items


def issue_items(user: User, rows: list, *, metadata: bool) -> list[dict]:
    pages = browse.last_pages(user.id, (row.id for row in rows))
    items = []
    for row in rows:
        item: dict[str, Any] = {"id": row.id, "name": row.filename, "path": display(row.path),
                                "size": row.size}
        if metadata:
            item.update(title=row.title, series=row.series_name, number=row.number,
                        year=_year(row.year), publisher=row.publisher)
        item.update(has_comicinfo=bool(row.has_comicinfo), has_progress=row.id in pages,
                    last_page=pages.get(row.id))
        items.append(item)
    return items


def to_read_items(user: User, rows: list[tuple[ToReadEntry, int | None]]) -> list[dict]:
    """CLU's want-to-read rows: files with their id and position, folders with
    ``volumes`` (multi-volume series) or ``series`` + ``volume`` (a volume)."""
    folders = [entry.path for entry, _ in rows if entry.kind == "folder"]
    volumes = browse.volumes_of(user, folders + [os.path.dirname(p) for p in folders])
    pages = browse.last_pages(user.id, (book_id for _, book_id in rows))
    items = []
    for entry, book_id in rows:
        base = os.path.basename(entry.path.rstrip(os.sep))
        item: dict[str, Any] = {"value": base, "name": base, "path": entry.path,
                                "type": entry.kind, "created_at": clu_time(entry.created_at)}
        if entry.kind == "file":
            stem = os.path.splitext(base)[0]
            item.update(value=stem, name=stem, id=book_id, has_progress=book_id in pages,
                        last_page=pages.get(book_id))
        else:
            parent = os.path.dirname(entry.path.rstrip(os.sep))
            if entry.path in volumes:
                item["volumes"] = volumes[entry.path]
            if base in volumes.get(parent, ()):
                series = os.path.basename(parent)
                item.update(value=f"{series} {base}", name=f"{series} {base}", series=series,
                            volume=base)
        items.append(item)
    return items


def favorite_item(favorite: Favorite) -> dict:
    return {"value": display(favorite.value), "name": display(favorite.value),
            "path": display(favorite.path),
            "type": favorite.kind, "created_at": clu_time(favorite.created_at)}


# --- routes ----------------------------------------------------------------------------

@blp.route("/auth/ping")
class Ping(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, CluPingSchema)
    def get(self):
        """Check the token; the server version and the caller's saved browse mode."""
        return {"ok": True, "version": __version__,
                "browse_mode": saved_browse_mode(current_user())}


@blp.route("/library/publishers")
class Publishers(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CluPublisherArgs, location="query")
    @blp.response(200, CluPublisherPage)
    def get(self, args):
        """Publishers: top-level folders of the libraries (filesystem mode) or the
        ComicInfo publishers (metadata mode). ``sort``: alpha | count."""
        user = current_user()
        mode = resolve_mode(args.get("mode"), user)
        sort = pick_sort(args.get("sort"), ("alpha", "count"))
        page, size = args["page"], args["page_size"]
        if mode == "filesystem":
            entries = browse.list_folders(user, browse.visible_roots(user), sort=sort)
            items = folder_items(page_list(entries, args), with_volumes=False)
            return envelope(items, len(entries), page, size, mode=mode)
        rows, total = browse.publisher_facets(user, sort=sort, page=page, page_size=size)
        items = [{"value": row.name, "name": row.name, "count": row.count,
                  "cover_path": row.cover_path} for row in rows]
        return envelope(items, total, page, size, mode=mode)


@blp.route("/library/series")
class SeriesList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CluSeriesArgs, location="query")
    @blp.response(200, CluSeriesPage)
    def get(self, args):
        """Series of a publisher: its subfolders (filesystem mode; ``volumes``
        for multi-volume series, ``count`` recursive) or the ComicInfo series
        (metadata mode; ``publisher`` optional, ``q`` searches the names).
        ``sort``: alpha | count | year (oldest first) | recent."""
        user = current_user()
        mode = resolve_mode(args.get("mode"), user)
        sort = pick_sort(args.get("sort"), browse.FOLDER_SORTS)
        search = args.get("q") or args.get("search")
        page, size = args["page"], args["page_size"]
        publisher = args.get("publisher")
        if mode == "filesystem":
            if not publisher:
                raise missing("'publisher' parameter")
            folders = browse.resolve_folders(user, [publisher])
            entries = browse.list_folders(user, folders, sort=sort, search=search)
            items = folder_items(page_list(entries, args), with_volumes=True)
            return envelope(items, len(entries), page, size, mode=mode)
        rows, total = browse.series_facets(user, publisher=publisher, search=search, sort=sort,
                                           page=page, page_size=size)
        items = [{"value": row.name, "name": row.name, "publisher": row.publisher,
                  "count": row.count, "year": _year(row.year), "cover_path": row.cover_path}
                 for row in rows]
        return envelope(items, total, page, size, mode=mode)


@blp.route("/library/issues")
class Issues(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CluIssueArgs, location="query")
    @blp.response(200, CluIssuePage)
    def get(self, args):
        """Issues of a series with the caller's reading position. Filesystem mode:
        the comics directly in the series folder (or its ``volume`` subfolder).
        Metadata mode: the books of that series name. ``sort``: alpha (file name;
        issue number in metadata mode) | year | recent."""
        user = current_user()
        mode = resolve_mode(args.get("mode"), user)
        sort = pick_sort(args.get("sort"), browse.ISSUE_SORTS)
        page, size = args["page"], args["page_size"]
        series, publisher = args.get("series"), args.get("publisher")
        if mode == "filesystem":
            if not publisher or not series:
                raise missing("'publisher' or 'series' parameter")
            parts = [publisher, series] + ([args["volume"]] if args.get("volume") else [])
            rows = browse.folder_issues(user, browse.resolve_folders(user, parts), sort=sort)
            items = issue_items(user, page_list(rows, args), metadata=False)
            return envelope(items, len(rows), page, size, mode=mode)
        if not series:
            raise missing("'series' parameter")
        rows, total = browse.series_issues(user, series=series, publisher=publisher, sort=sort,
                                           page=page, page_size=size)
        return envelope(issue_items(user, rows, metadata=True), total, page, size, mode=mode)


@blp.route("/library/favorites")
class Favorites(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CluPageArgs, location="query")
    @blp.response(200, CluFavoritePage)
    def get(self, args):
        """Favourite publishers, newest first; ``value`` echoes back as ``?publisher=``."""
        rows, total = browse.favorite_publishers(current_user().id, page=args["page"],
                                                 page_size=args["page_size"])
        return envelope([favorite_item(f) for f in rows], total, args["page"],
                        args["page_size"], scope="favorites")

    @blp.doc(security=SECURITY)
    @blp.arguments(CluFavoriteBody)
    @blp.response(201, CluFavoriteItem)
    def post(self, body):
        """Favourite a publisher (by ``value`` name or folder ``path``), a series,
        a folder or a book (``type``). Adding it again changes nothing."""
        favorite = browse.add_favorite(current_user(), body["type"], path=body.get("path"),
                                       value=body.get("value"))
        return favorite_item(favorite)

    @blp.doc(security=SECURITY)
    @blp.arguments(CluFavoriteBody)
    @blp.response(204)
    def delete(self, body):
        """Remove a favourite by the ``value`` or ``path`` it was added with (204
        also when it was not a favourite)."""
        browse.remove_favorite(current_user(), body["type"], path=body.get("path"),
                               value=body.get("value"))


@blp.route("/library/to-read")
class ToRead(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CluPageArgs, location="query")
    @blp.response(200, CluToReadPage)
    def get(self, args):
        """The caller's want-to-read list, newest first: files with their id and
        reading position, folders with ``volumes`` or ``series`` + ``volume``."""
        user = current_user()
        rows, total = browse.to_read_entries(user, page=args["page"], page_size=args["page_size"])
        return envelope(to_read_items(user, rows), total, args["page"], args["page_size"],
                        scope="to_read")

    @blp.doc(security=SECURITY)
    @blp.arguments(CluToReadBody)
    @blp.response(201, CluToReadItem)
    def post(self, body):
        """Add a book or a library folder by absolute path; adding it again
        changes nothing. 404 for a path that is neither."""
        user = current_user()
        entry = browse.add_to_read(user, body["path"])
        return to_read_items(user, [(entry, entry.book_id)])[0]

    @blp.doc(security=SECURITY)
    @blp.arguments(CluToReadBody)
    @blp.response(204)
    def delete(self, body):
        """Remove a path from the list (204 also when it was not on it)."""
        browse.remove_to_read(current_user(), body["path"])


@blp.route("/library/recent")
class Recent(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CluPageArgs, location="query")
    @blp.response(200, CluRecentPage)
    def get(self, args):
        """CBZ and CBR files first indexed in the last 30 days (the
        ``library.recent_days`` setting), newest first."""
        user = current_user()
        rows, total = browse.recent_books(user, days=get_setting(RECENT_DAYS_SETTING),
                                          page=args["page"], page_size=args["page_size"])
        pages = browse.last_pages(user.id, (row.id for row in rows))
        items = [{"id": row.id, "value": row.filename, "name": row.filename, "path": display(row.path),
                  "size": row.size, "added_at": clu_time(row.created_at), "type": "file",
                  "has_progress": row.id in pages, "last_page": pages.get(row.id)}
                 for row in rows]
        return envelope(items, total, args["page"], args["page_size"], scope="recent")
