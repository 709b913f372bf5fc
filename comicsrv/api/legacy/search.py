"""Comicarr's ``/api/search``: search the metadata providers for series,
add a result to the watchlist, force a search of every wanted issue or an
RSS check (background jobs), and list the providers.

Manga: no manga provider plugin exists, so ``/search/manga`` and
``/search/add-manga`` use the same metadata providers as comics (Metron and
ComicVine list manga published in English too); a ``provider`` in the body
picks another one when a plugin adds it.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ... import services
from ...auth import current_principal, require
from ...automation import integrations, watchlist
from ...automation.search import RSS_JOB, SEARCH_WANTED_JOB
from ...errors import BadRequest
from ...extensions import db
from ...models.automation import IndexerConfig
from ...redact import mask_text
from ...settings_store import get_setting
from ..pagination import page_list
from .common import SECURITY, ok, page
from .schemas import ComicIdBody, Envelope, SearchBody, search_result, watched_ids
from .series import add_by_comic_id

blp = Blueprint("legacy_search", __name__, url_prefix="/api",
                description="Comicarr: provider search, adding results, forced searches")


def search_providers(body: dict) -> dict:
    query = body.get("query") or body.get("name")
    if not query:
        raise BadRequest("query is required")
    results = watchlist.search_series(query, body.get("year"), body.get("provider"))
    kinds = {r.provider for r in results}
    have = set().union(*(watched_ids(kind) for kind in kinds)) if kinds else set()
    rows = [search_result(r, have) for r in page_list(results, body)]
    return page(rows, len(results), body["limit"], body["offset"])


def _search_route(path: str, name: str, what: str) -> None:
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(SearchBody)
    @blp.response(200, Envelope)
    def post(self, body):
        return search_providers(body)

    post.__doc__ = (f"Search the metadata providers for {what}: name, comicyear, comicid, "
                    "publisher, issues, haveit/in_library, metadata_source.")
    blp.route(path)(type(name, (MethodView,), {"post": post}))


def _add_route(path: str, name: str) -> None:
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(ComicIdBody)
    @blp.response(201, Envelope)
    def post(self, body):
        return ok(add_by_comic_id(body))

    post.__doc__ = "Watch a search result by its comicid (``id`` or ``comic_id``)."
    blp.route(path)(type(name, (MethodView,), {"post": post}))


_search_route("/search/comics", "SearchComics", "comics")
_search_route("/search/manga", "SearchManga", "manga (the same providers as comics)")
_add_route("/search/add", "SearchAdd")
_add_route("/search/add-manga", "SearchAddManga")


def _submit(job_type: str) -> dict:
    runner = services.jobs()
    job_id = runner.submit(job_type, {}, user_id=current_principal().user.id)
    return ok({"message": f"{job_type} started", "job_id": job_id})


@blp.route("/search/force")
class SearchForce(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(202, Envelope)
    def post(self):
        """Search every wanted issue now (the automation.search_wanted job)."""
        return _submit(SEARCH_WANTED_JOB)


@blp.route("/search/rss/force")
class RssForce(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(202, Envelope)
    def post(self):
        """Check every indexer's RSS feed now (the automation.rss job)."""
        return _submit(RSS_JOB)


@blp.route("/search/providers")
class SearchProviders(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.response(200, Envelope)
    def get(self):
        """Metadata providers (series search) and configured indexers
        (release search); an indexer's last error has its URL's secrets masked."""
        default = (get_setting("metadata.default_provider") or "").strip().lower()
        metadata = [{"name": kind, "type": "metadata", "default": kind == default}
                    for kind in sorted(integrations.kinds("metadata"))]
        indexers = [{"id": row.id, "name": row.name, "type": "indexer", "kind": row.kind,
                     "protocol": row.protocol, "enabled": row.enabled,
                     "enable_search": row.enable_search, "enable_rss": row.enable_rss,
                     "priority": row.priority, "last_error": mask_text(row.last_error)}
                    for row in db.session.scalars(db.select(IndexerConfig).order_by(
                        IndexerConfig.priority, IndexerConfig.id))]
        return ok({"metadata": metadata, "indexers": indexers})
