"""``/api/v1/libraries``: Codex's library resource.

A caller who may change libraries (LibrariesWrite) sees every library,
disabled ones included, so they can manage them; anyone else sees the
enabled libraries in their scope (``comicsrv.library.access``), and any
other id answers 404. A library's folder must lie inside the library roots
(``filesystem.allowed_roots``): 403 ``path_not_allowed`` otherwise.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ...auth import current_principal, require
from ...errors import NotFound
from ...extensions import db
from ...library.access import visible_library_ids
from ...library.libraries import create_library, delete_library, update_library
from ...models import Book, Library
from ..pagination import PageArgs, envelope, page_query
from ..media import thumbnail_response
from .schemas import (
    SECURITY, LibraryCreateSchema, LibrarySchema, LibraryWriteSchema, ThumbnailArgs,
    library_items, list_schema,
)
from ...models.library import BOOK_OK

blp = Blueprint("v1_libraries", __name__, url_prefix="/api/v1", description="Libraries")


def libraries_query():
    """Every library for a manager, the visible ones for anyone else."""
    principal = current_principal()
    query = select(Library)
    if not principal.can("LibrariesWrite"):
        query = query.where(visible_library_ids(principal.user))
    return query


def library_for_caller(library_id: int) -> Library:
    library = db.session.execute(libraries_query().where(Library.id == library_id)).scalar()
    if library is None:
        raise NotFound(f"Library {library_id} not found")
    return library


@blp.route("/libraries")
class Libraries(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, list_schema(LibrarySchema))
    @require("LibrariesRead")
    def get(self, args):
        """Libraries by name, with book and series counts."""
        query = libraries_query().order_by(Library.name, Library.id)
        rows, total = page_query(query, args)
        return envelope(library_items(rows), total, args["page"], args["page_size"])

    @blp.doc(security=SECURITY)
    @blp.arguments(LibraryCreateSchema)
    @blp.response(201, LibrarySchema)
    @require("LibrariesWrite")
    def post(self, body):
        """Add a library (a readable folder inside the library roots, overlapping
        no other library; 403 `path_not_allowed` outside the roots). Scanning
        settings come flat or as Codex's `scanning_config`; a cron schedule is
        registered at once. Scan it with `POST /libraries/{id}/scan`."""
        name, path = body.pop("name"), body.pop("path")
        library = create_library(name, path, **body, within_roots=True)
        return library_items([library])[0]


@blp.route("/libraries/<int:library_id>")
class LibraryDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LibrarySchema)
    @require("LibrariesRead")
    def get(self, library_id):
        """One library."""
        return library_items([library_for_caller(library_id)])[0]

    @blp.doc(security=SECURITY)
    @blp.arguments(LibraryWriteSchema)
    @blp.response(200, LibrarySchema)
    @require("LibrariesWrite")
    def put(self, body, library_id):
        """Change a library: only the fields sent change. A new cron schedule
        (or disabling the library) re-registers its scheduled scans."""
        library = update_library(library_for_caller(library_id), body, within_roots=True)
        return library_items([library])[0]

    @blp.doc(security=SECURITY)
    @blp.response(204)
    @require("LibrariesDelete")
    def delete(self, library_id):
        """Delete a library with its series, books and reading progress (never
        its files). 409 while it is being scanned."""
        library = db.session.execute(select(Library).where(Library.id == library_id)).scalar()
        if library is None:
            raise NotFound(f"Library {library_id} not found")
        delete_library(library)


@blp.route("/libraries/<int:library_id>/thumbnail")
class LibraryThumbnail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ThumbnailArgs, location="query")
    @blp.response(200, description="JPEG cover", content_type="image/jpeg")
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    @require("LibrariesRead")
    def get(self, args, library_id):
        """The cover of the library's most recently added readable book."""
        library = library_for_caller(library_id)
        book = db.session.execute(
            select(Book).where(Book.library_id == library.id, Book.state == BOOK_OK,
                               Book.page_count > 0)
            .order_by(Book.created_at.desc(), Book.id.desc()).limit(1)).scalar()
        if book is None:
            raise NotFound(f"Library {library_id} has no book with a cover",
                           code="cover_unavailable")
        return thumbnail_response(book, args["size"])
