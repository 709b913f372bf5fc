"""OPDS 2 feeds and Readium manifests of a scanned fixture library validate
against the OPDS 2 and Readium Web Publication JSON schemas."""
from __future__ import annotations

from urllib.parse import urlsplit

from .conftest import (
    FEED_SCHEMA, MANIFEST_SCHEMA, SPEC_FEED_SCHEMA, assert_valid_json, basic,
)


def path_of(href: str) -> str:
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def crawl(client, headers, limit=200):
    seen, queue = {}, ["/opds/v2.0/catalog"]
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.data[:300])
        assert response.mimetype == "application/opds+json", path
        seen[path] = document = response.json
        links = document.get("links", []) + document.get("navigation", [])
        links += [link for facet in document.get("facets", []) for link in facet["links"]]
        queue += [path_of(link["href"]) for link in links
                  if link.get("type") == "application/opds+json" and not link.get("templated")]
    return seen


def test_every_feed_validates_and_every_manifest_streams_pages(
        client, scanned_library, opds_reader, opds2_validator):
    headers = basic("opds")
    feeds = crawl(client, headers)
    assert {"/opds/v2.0/catalog", "/opds/v2.0/series", "/opds/v2.0/recent"} <= set(feeds)
    for schema in (FEED_SCHEMA, SPEC_FEED_SCHEMA):
        validator = opds2_validator(schema)
        for path, document in feeds.items():
            try:
                assert_valid_json(validator, document)
            except AssertionError as error:
                raise AssertionError(f"{path}: {error}") from None
    publications = {p["metadata"]["identifier"]: p for doc in feeds.values()
                    for p in doc.get("publications", [])}
    assert publications
    manifest_validator = opds2_validator(MANIFEST_SCHEMA)
    for publication in publications.values():
        rels = {link["rel"]: link for link in publication["links"]}
        assert "http://www.cantook.com/api/progression" in rels
        manifest = client.get(path_of(rels["self"]["href"]), headers=headers)
        assert manifest.mimetype == "application/divina+json"
        assert_valid_json(manifest_validator, manifest.json)
        order = manifest.json["readingOrder"]
        assert len(order) == manifest.json["metadata"]["numberOfPages"]
    first = client.get(path_of(order[0]["href"]), headers=headers)
    assert first.status_code == 200 and first.mimetype == order[0]["type"]


def test_paging_and_facets_of_a_feed(client, opds_reader, opds2_validator):
    from tests.factories import BookFactory, LibraryFactory, SeriesFactory

    library = LibraryFactory()
    series = SeriesFactory(library=library, name="Paged")
    for n in range(1, 6):
        BookFactory(library=library, series=series, series_name="Paged", number=str(n),
                    number_sort=float(n))
    headers = basic("opds")
    page = client.get(f"/opds/v2.0/series/{series.id}?page=2&page_size=2", headers=headers).json
    assert_valid_json(opds2_validator(FEED_SCHEMA), page)
    assert page["metadata"] | {"modified": None} == {
        "title": "Paged", "modified": None, "numberOfItems": 5, "itemsPerPage": 2,
        "currentPage": 2}
    rels = {link["rel"] for link in page["links"]}
    assert {"self", "first", "previous", "next", "last", "search", "start"} <= rels
    assert [p["metadata"]["belongsTo"]["series"][0]["position"] for p in page["publications"]] \
        == [3.0, 4.0]
    active = [(facet["metadata"]["title"], link["title"]) for facet in page["facets"]
              for link in facet["links"] if link.get("rel") == "self"]
    assert active == [("Sort", "Issue number"), ("Read", "All")]
    bad = client.get(f"/opds/v2.0/series/{series.id}?sort=nonsense", headers=headers)
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"


def test_an_empty_shelf_is_still_a_valid_feed(client, opds_reader, opds2_validator):
    document = client.get("/opds/v2.0/keep-reading", headers=basic("opds")).json
    assert_valid_json(opds2_validator(FEED_SCHEMA), document)
    assert "publications" not in document and document["navigation"][0]["rel"] == "start"


def test_search_is_a_templated_link_that_answers(client, scanned_library, opds_reader):
    headers = basic("opds")
    root = client.get("/opds/v2.0/catalog", headers=headers).json
    search = next(link for link in root["links"] if link["rel"] == "search")
    assert search["templated"] is True and search["href"].endswith("{?query}")
    found = client.get(path_of(search["href"].replace("{?query}", "?query=captain")),
                       headers=headers).json
    assert found["publications"]
    assert client.get("/opds/v2.0/search", headers=headers).status_code == 400


def test_the_opds2_routes_are_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json["paths"]
    assert "/opds/v2.0/catalog" in paths
    assert "put" in paths["/opds/v2.0/books/{book_id}/progression"]
    assert not any(path.startswith("/opds/v1.2") for path in paths)
