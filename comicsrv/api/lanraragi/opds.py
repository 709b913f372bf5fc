"""``/api/opds``: LANraragi's own OPDS catalog and its page streaming
(``comicsrv.lrr.opds``). Public like the archive list; under No-Fun Mode a
reader passes ``?key=``, which the archive API accepts everywhere."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from sqlalchemy import select

from ... import services
from ...extensions import db
from ...library.media import MediaUnavailable
from ...lrr import categories as category_service
from ...lrr import opds as service
from ...lrr.archives import archive_objects
from ...lrr.search import SearchQuery, archive_scope, filtered_ids
from ...models import Book
from .archives import PAGE_MAX_AGE, _media_response
from .auth import SECURITY, archive_or_error, lrr_user, reader
from .common import LrrBlueprint, operation_error, script_root, validation_error
from .schemas import OpdsArgs, PseArgs

blp = LrrBlueprint("lrr_opds", __name__, url_prefix="/api/opds",
                   description="LANraragi archive API: OPDS")


def _xml(text: str) -> Response:
    return Response(text, mimetype="application/xml", content_type="application/xml; charset=utf-8")


@blp.route("")
class OpdsCatalog(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(OpdsArgs, location="query")
    @blp.response(200, content_type="application/xml", description="OPDS 1.2 catalog")
    @reader("opds_catalog")
    def get(self, args):
        """Every archive (or a category's) as an OPDS acquisition feed."""
        user = lrr_user()
        found = category_service.list_categories(user)
        members = category_service.archives_of(found, user)
        active = args.get("category") or None
        query = select(Book).where(archive_scope(user)).order_by(Book.id)
        if active:
            if category_service.find_category(active, user) is None:
                raise validation_error("The given category does not exist.", "/category")
            # Static or dynamic, as the search filters by a category.
            query = query.where(Book.id.in_(
                filtered_ids(SearchQuery(category_id=active), user).order_by(None)))
        books = list(db.session.execute(query).scalars())
        items = archive_objects(books, user)
        counts = [(category, len(members.get(category.id, []))) for category in found]
        return _xml(service.catalog_xml(books, items, counts, active, script_root()))


@blp.route("/<arcid>")
class OpdsItem(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, content_type="application/xml", description="One OPDS entry")
    @reader("opds_item")
    def get(self, arcid):
        """One archive as an OPDS entry."""
        book = archive_or_error(arcid)
        return _xml(service.item_xml(book, archive_objects([book], lrr_user())[0], script_root()))


@blp.route("/<arcid>/pse")
class OpdsPage(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PseArgs, location="query")
    @blp.response(200, content_type="image/jpeg", description="The page image")
    @reader("opds_page")
    def get(self, args, arcid):
        """Page ``page`` for OPDS Page Streaming (0-based, as PSE's
        ``{pageNumber}``; absent: the first)."""
        book = archive_or_error(arcid)
        number = args["page"] + 1
        if not 1 <= number <= (book.page_count or 0):
            raise operation_error("opds_page", "This archive has no such page.")
        try:
            media = services.media().page(book, number)
        except MediaUnavailable as exc:
            raise operation_error("opds_page", str(exc)) from None
        return _media_response(media, PAGE_MAX_AGE)
