"""``/api/v1/duplicates``: groups of books that look like copies of each other.

Groups come from the duplicates job (``comicsrv.library.duplicates``). This
is a library-keeping tool: it lists files by their paths for whoever decides
which copy goes, so listing, scanning and dismissing all need LibrariesWrite
(an admin's, or granted by one). A caller sees a group only when at least two
of its books are in libraries they can see, and only those books.
"""
from __future__ import annotations

from collections import defaultdict

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from ... import services
from ...auth import current_principal, require
from ...errors import NotFound
from ...extensions import db
from ...library.access import visible_books
from ...library.duplicates import DUPLICATES_JOB
from ...models import Book, DuplicateGroup, DuplicateMember, Job
from ..pagination import PageArgs, envelope, page_query
from .tasks import TaskSchema, task_dict
from .security import SECURITY
from ...models.library import BOOK_OK

blp = Blueprint("v1_duplicates", __name__, url_prefix="/api/v1",
                description="Duplicate book groups")

KINDS = ("content", "metadata")
BOOK_COLUMNS = (Book.id, Book.path, Book.size, Book.series_name, Book.number, Book.year,
                Book.page_count)


class DuplicateBookSchema(Schema):
    id = fields.Integer()
    path = fields.String()
    size = fields.Integer()
    series_name = fields.String(allow_none=True)
    number = fields.String(allow_none=True)
    year = fields.Integer(allow_none=True)
    page_count = fields.Integer()


class DuplicateGroupSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(KINDS),
                                   "description": "content: the same file twice; metadata: "
                                                  "the same issue (series, number, year) twice"})
    key = fields.String()
    dismissed = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    books = fields.List(fields.Nested(DuplicateBookSchema))


class DuplicateListSchema(Schema):
    items = fields.List(fields.Nested(DuplicateGroupSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    total_pages = fields.Integer()
    has_more = fields.Boolean()


class DuplicateListArgs(PageArgs):
    include_dismissed = fields.Boolean(load_default=False,
                                       metadata={"description": "list dismissed groups too"})
    kind = fields.String(validate=validate.OneOf(KINDS))


@blp.route("/duplicates")
class Duplicates(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(DuplicateListArgs, location="query")
    @blp.response(200, DuplicateListSchema)
    @require("LibrariesWrite")
    def get(self, args):
        """Duplicate groups, newest first, each with its books."""
        visible = visible_books(current_principal().user)
        # Groups with two or more visible books: one grouped subquery, paged in SQL.
        shown = (select(DuplicateMember.group_id)
                 .join(Book, Book.id == DuplicateMember.book_id)
                 .where(visible, Book.state == BOOK_OK)
                 .group_by(DuplicateMember.group_id)
                 .having(func.count() >= 2))
        query = select(DuplicateGroup).where(DuplicateGroup.id.in_(shown))
        if not args["include_dismissed"]:
            query = query.where(DuplicateGroup.dismissed.is_(False))
        if "kind" in args:
            query = query.where(DuplicateGroup.kind == args["kind"])
        query = query.order_by(DuplicateGroup.updated_at.desc(), DuplicateGroup.id.desc())
        groups, total = page_query(query, args)

        books: dict[int, list[dict]] = defaultdict(list)
        if groups:
            # Members first (primary key), then their books by id: joined in one
            # statement, SQLite would walk every book with state "ok" instead.
            members = db.session.execute(
                select(DuplicateMember.group_id, DuplicateMember.book_id)
                .where(DuplicateMember.group_id.in_([g.id for g in groups]))).all()
            by_id = {book.id: book for book in db.session.execute(
                select(*BOOK_COLUMNS).where(Book.id.in_({m.book_id for m in members}), visible,
                                            Book.state == BOOK_OK))}
            for group_id, book_id in sorted(members, key=lambda m: m.book_id):
                if book_id in by_id:
                    books[group_id].append(by_id[book_id]._asdict())
        items = [{"id": g.id, "kind": g.kind, "key": g.key, "dismissed": g.dismissed,
                  "created_at": g.created_at, "updated_at": g.updated_at,
                  "books": books[g.id]} for g in groups]
        return envelope(items, total, args["page"], args["page_size"])


@blp.route("/duplicates/scan")
class DuplicateScan(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(202, TaskSchema)
    @require("LibrariesWrite")
    def post(self):
        """Look for duplicates in the background; answers the task (the running
        one if a search is already under way)."""
        runner = services.jobs()
        job = runner.active_job(DUPLICATES_JOB, None)
        if job is None:
            job_id = runner.submit(DUPLICATES_JOB, user_id=current_principal().user.id)
            job = db.session.get(Job, job_id)
        return task_dict(job)


@blp.route("/duplicates/<int:group_id>")
class DuplicateDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @require("LibrariesWrite")
    def delete(self, group_id):
        """Dismiss a group: it stays hidden across rescans while the same books
        stay duplicates (list it with `include_dismissed=true`)."""
        group = db.session.get(DuplicateGroup, group_id)
        if group is None:
            raise NotFound(f"Duplicate group {group_id} not found")
        group.dismissed = True
        db.session.commit()
