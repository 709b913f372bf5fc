"""``/api/search``: LANraragi's search, its random pick and its cache."""
from __future__ import annotations

from flask.views import MethodView

from ...lrr import archives as service
from ...lrr import settings, stats
from ...lrr.search import SearchQuery, random_ids, search
from .auth import SECURITY, lrr_user, reader, writer
from .common import LrrBlueprint, operation_body
from .schemas import (
    LrrOperationSchema,
    LrrRandomResultSchema,
    LrrSearchIdsSchema,
    LrrSearchResultSchema,
    RandomArgs,
    SearchArgs,
)

blp = LrrBlueprint("lrr_search", __name__, url_prefix="/api/search",
                   description="LANraragi archive API: search")


def _query(args: dict, *, sortby: str = "title", order: str = "asc") -> SearchQuery:
    return SearchQuery(filter=args["filter"], category_id=args["category"].strip(),
                       sortby=args.get("sortby", sortby), order=args.get("order", order),
                       newonly=args["newonly"], untaggedonly=args["untaggedonly"],
                       hidecompleted=args["hidecompleted"])


def _run(args: dict) -> tuple[int, int, list[int]]:
    start = args["start"]
    page_size = None if start == -1 else settings.archives_per_page()
    return search(_query(args), lrr_user(), start, page_size)


@blp.route("")
class Search(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(SearchArgs, location="query")
    @blp.response(200, LrrSearchResultSchema)
    @reader("search")
    def get(self, args):
        """Search archives; one page of ``archives_per_page`` from ``start``
        (``start=-1``: every match)."""
        total, matching, ids = _run(args)
        return {"data": service.archives_by_ids(ids, lrr_user()), "draw": 0,
                "recordsFiltered": matching, "recordsTotal": total}


@blp.route("/ids")
class SearchIds(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(SearchArgs, location="query")
    @blp.response(200, LrrSearchIdsSchema)
    @reader("search")
    def get(self, args):
        """The same search, answering archive ids only."""
        total, matching, ids = _run(args)
        return {"data": service.arcids_by_ids(ids), "draw": 0, "recordsFiltered": matching, "recordsTotal": total}


@blp.route("/random")
class RandomSearch(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(RandomArgs, location="query")
    @blp.response(200, LrrRandomResultSchema)
    @reader("random")
    def get(self, args):
        """``count`` random archives among the matches (default 5)."""
        count = args["count"] if args["count"] > 0 else 5
        data = service.archives_by_ids(random_ids(_query(args), lrr_user(), count), lrr_user())
        return {"data": data, "recordsTotal": len(data)}


@blp.route("/cache")
class SearchCache(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @writer("clear_cache", "BooksWrite")
    def delete(self):
        """Clear the search cache: searches are not cached here, so this
        only moves ``cache_last_cleared`` to make clients reload."""
        stats.clear_search_cache()
        return operation_body("clear_cache")
