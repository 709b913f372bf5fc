"""OPDS 1.2 navigation feeds: the root catalogue, series, publishers,
libraries, story arcs and favourites; and the OpenSearch description.

The root (``/opds/v1.2/catalog``, also answered at ``/opds/v1.2`` and
``/opds``) is the URL a person types into a reader app.
"""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import require
from ..errors import NotFound
from ..models import utcnow
from . import catalog
from .acquisition import atom, choice, user
from .atom import REL_THUMBNAIL, Entry, Feed, Link, opensearch_description
from .common import (
    ATOM_ACQUISITION, ATOM_NAVIGATION, OPDS_JSON, OPENSEARCH, V1_PREFIX, V2_PREFIX,
    check_enabled, iso, link, page_links, paging,
)

blp = Blueprint("opds_v1_navigation", __name__, url_prefix=V1_PREFIX)
blp.url_value_preprocessor(check_enabled)

# (id, title, path, kind, rel, what it holds) of the root's entries.
SECTIONS = (
    ("keep-reading", "Keep reading", "/keep-reading", ATOM_ACQUISITION, "subsection",
     "Books you started and have not finished"),
    ("on-deck", "On deck", "/on-deck", ATOM_ACQUISITION, "subsection",
     "The next book of each series you are reading"),
    ("recent", "Recently added", "/recent", ATOM_ACQUISITION, "http://opds-spec.org/sort/new",
     "The newest books"),
    ("series", "Series", "/series", ATOM_NAVIGATION, "subsection", "Every series"),
    ("publishers", "Publishers", "/publishers", ATOM_NAVIGATION, "subsection",
     "Series by publisher"),
    ("arcs", "Story arcs", "/arcs", ATOM_NAVIGATION, "subsection",
     "Story arcs across series, in publication order"),
    ("libraries", "Libraries", "/libraries", ATOM_NAVIGATION, "subsection",
     "Series by library"),
    ("favorites", "Favourites", "/favorites", ATOM_NAVIGATION, "subsection",
     "Your favourite books, series and publishers"),
    ("to-read", "Want to read", "/to-read", ATOM_ACQUISITION, "subsection",
     "Your want-to-read list"),
)


def navigation_feed(feed_id: str, title: str, path: str, entries: list[Entry], *,
                    query: dict | None = None, total: int | None = None,
                    at=None, extra_links: list[Link] | None = None) -> Response:
    query = dict(query or {})
    links = [
        Link("self", link(V1_PREFIX, path, {**query, "page": at.page if at and at.page > 1
                                                    else None}), ATOM_NAVIGATION),
        Link("start", link(V1_PREFIX, "/catalog"), ATOM_NAVIGATION),
        Link("search", link(V1_PREFIX, "/opensearch.xml"), OPENSEARCH),
    ]
    if path != "/catalog":
        links.append(Link("up", link(V1_PREFIX, "/catalog"), ATOM_NAVIGATION))
    if at is not None and total is not None:
        pages = page_links(V1_PREFIX, path, query, at, total)
        links += [Link("first", pages.first, ATOM_NAVIGATION),
                  Link("last", pages.last, ATOM_NAVIGATION)]
        if pages.previous:
            links.append(Link("previous", pages.previous, ATOM_NAVIGATION))
        if pages.next:
            links.append(Link("next", pages.next, ATOM_NAVIGATION))
    links.extend(extra_links or [])
    return atom(Feed(id=f"urn:comicsrv:{feed_id}", title=title, updated=iso(utcnow()),
                     links=links, entries=entries), ATOM_NAVIGATION)


def group_entry(kind: str, group: catalog.Group, path: str, feed_type: str,
                unit: str = "book") -> Entry:
    links = [Link("subsection", link(V1_PREFIX, path), feed_type,
                  extra={"{http://purl.org/syndication/thread/1.0}count": str(group.count)})]
    if group.cover_book_id is not None:
        links.append(Link(REL_THUMBNAIL, link(V1_PREFIX, f"/books/{group.cover_book_id}/thumbnail"),
                          "image/jpeg"))
    plural = unit if group.count == 1 else unit + "s"
    return Entry(id=f"urn:comicsrv:{kind}:{group.id}", title=group.title,
                 updated=iso(group.updated), links=links, summary=group.summary,
                 content=f"{group.count} {plural}")


def series_entries(groups: list[catalog.Group]) -> list[Entry]:
    return [group_entry("series", g, f"/series/{g.id}", ATOM_ACQUISITION) for g in groups]


@blp.route("/catalog")
@blp.route("/")
class Root(MethodView):
    @require("BooksRead")
    def get(self):
        """The root navigation feed: the shelves and the ways to browse."""
        now = iso(utcnow())
        entries = [Entry(id=f"urn:comicsrv:{section_id}", title=title, updated=now,
                         content=what, links=[Link(rel, link(V1_PREFIX, path), kind)])
                   for section_id, title, path, kind, rel, what in SECTIONS]
        alternate = Link("alternate", link(V2_PREFIX, "/catalog"), OPDS_JSON,
                         "OPDS 2 catalogue")
        return navigation_feed("root", "comicsrv", "/catalog", entries,
                               extra_links=[alternate])


@blp.route("/opensearch.xml")
class OpenSearch(MethodView):
    @require("BooksRead")
    def get(self):
        template = link(V1_PREFIX, "/search") + "?q={searchTerms}"
        return Response(opensearch_description(template, "comicsrv",
                                               "Search series, titles, creators and tags"),
                        content_type=f"{OPENSEARCH};charset=utf-8")


@blp.route("/series")
class SeriesList(MethodView):
    @require("BooksRead")
    def get(self):
        """Every series (``name=`` narrows to one name), by name or newest first."""
        at = paging()
        sort = choice("sort", catalog.SERIES_SORTS, "name")
        name = (request.args.get("name") or "").strip() or None
        groups, total = catalog.series_list(user(), at, name=name, sort=sort)
        query = {"name": name, "sort": sort if sort != "name" else None}
        facets = []
        for value, label in (("name", "Name"), ("added", "Recently added")):
            extra = {"{http://opds-spec.org/2010/catalog}facetGroup": "Sort"}
            if value == sort:
                extra["{http://opds-spec.org/2010/catalog}activeFacet"] = "true"
            facets.append(Link("http://opds-spec.org/facet",
                               link(V1_PREFIX, "/series", {**query, "sort": value}),
                               ATOM_NAVIGATION, label, extra))
        return navigation_feed("series", name or "Series", "/series", series_entries(groups),
                               query=query, total=total, at=at, extra_links=facets)


@blp.route("/publishers")
class Publishers(MethodView):
    @require("BooksRead")
    def get(self):
        at = paging()
        groups, total = catalog.publishers(user(), at)
        entries = [group_entry("publisher", g, f"/publishers/{g.id}", ATOM_NAVIGATION)
                   for g in groups]
        return navigation_feed("publishers", "Publishers", "/publishers", entries,
                               total=total, at=at)


@blp.route("/publishers/<int:publisher_id>")
class PublisherSeries(MethodView):
    @require("BooksRead")
    def get(self, publisher_id: int):
        publisher = catalog.one_publisher(user(), publisher_id)
        if publisher is None:
            raise NotFound(f"Publisher {publisher_id} not found")
        at = paging()
        groups, total = catalog.series_list(user(), at, publisher_id=publisher.id)
        return navigation_feed(f"publisher:{publisher.id}", publisher.name,
                               f"/publishers/{publisher.id}", series_entries(groups),
                               total=total, at=at)


@blp.route("/libraries")
class Libraries(MethodView):
    @require("BooksRead")
    def get(self):
        at = paging()
        groups, total = catalog.libraries(user(), at)
        entries = [group_entry("library", g, f"/libraries/{g.id}", ATOM_NAVIGATION)
                   for g in groups]
        return navigation_feed("libraries", "Libraries", "/libraries", entries,
                               total=total, at=at)


@blp.route("/libraries/<int:library_id>")
class LibrarySeries(MethodView):
    @require("BooksRead")
    def get(self, library_id: int):
        library = catalog.one_library(user(), library_id)
        if library is None:
            raise NotFound(f"Library {library_id} not found")
        at = paging()
        groups, total = catalog.series_list(user(), at, library_id=library.id)
        return navigation_feed(f"library:{library.id}", library.name,
                               f"/libraries/{library.id}", series_entries(groups),
                               total=total, at=at)


@blp.route("/arcs")
class Arcs(MethodView):
    @require("BooksRead")
    def get(self):
        at = paging()
        groups, total = catalog.arcs(user(), at)
        entries = [group_entry("arc", g, f"/arcs/{g.id}", ATOM_ACQUISITION) for g in groups]
        return navigation_feed("arcs", "Story arcs", "/arcs", entries, total=total, at=at)


@blp.route("/favorites")
class Favorites(MethodView):
    @require("BooksRead")
    def get(self):
        """Favourite books (one entry leading to them), publishers and series."""
        found = catalog.favorites(user())
        now = iso(utcnow())
        entries = [Entry(id="urn:comicsrv:favorites:books", title="Favourite books",
                         updated=now, content=f"{found.books} books",
                         links=[Link("subsection", link(V1_PREFIX, "/favorites/books"),
                                     ATOM_ACQUISITION)])]
        entries += [group_entry("publisher", g, f"/publishers/{g.id}", ATOM_NAVIGATION, "series")
                    for g in found.publishers]
        for name, ids in found.series:
            path, kind = ((f"/series/{ids[0]}", ATOM_ACQUISITION) if len(ids) == 1
                          else ("/series?name=" + _quote(name), ATOM_NAVIGATION))
            entries.append(Entry(id=f"urn:comicsrv:favorite-series:{ids[0]}", title=name,
                                 updated=now, links=[Link("subsection", link(V1_PREFIX, "")
                                                          + path, kind)]))
        return navigation_feed("favorites", "Favourites", "/favorites", entries)


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
