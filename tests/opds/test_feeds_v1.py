"""OPDS 1.2 feeds of a scanned fixture library: every feed reachable from the
root validates against OPDS 1.2 (+ PSE), and carries what reader apps use."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from lxml import etree

from tests.factories import BookFactory, LibraryFactory, SeriesFactory

from .conftest import assert_valid_v1, basic

NS = {"a": "http://www.w3.org/2005/Atom", "pse": "http://vaemendis.net/opds-pse/ns",
      "opds": "http://opds-spec.org/2010/catalog",
      "os": "http://a9.com/-/spec/opensearch/1.1/"}
PSE_STREAM = "http://vaemendis.net/opds-pse/stream"


def path_of(href: str) -> str:
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def crawl(client, headers, schema, start="/opds/v1.2/catalog", limit=200):
    """Every Atom feed reachable from ``start``: {path: parsed document}."""
    seen, queue = {}, [start]
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.data[:300])
        assert response.mimetype == "application/atom+xml", path
        seen[path] = document = assert_valid_v1(schema, response.data)
        for link in document.iterfind(".//a:link", NS):
            if "atom+xml" in (link.get("type") or "") and link.get("rel") != "search":
                queue.append(path_of(link.get("href")))
    return seen


def test_every_feed_of_the_library_is_valid_opds_with_page_streaming(
        client, scanned_library, opds_reader, opds_v1_schema):
    feeds = crawl(client, basic("opds"), opds_v1_schema)
    assert {"/opds/v1.2/catalog", "/opds/v1.2/series", "/opds/v1.2/publishers",
            "/opds/v1.2/recent", "/opds/v1.2/libraries", "/opds/v1.2/arcs"} <= set(feeds)
    streams = [link for doc in feeds.values()
               for link in doc.iterfind(f".//a:entry/a:link[@rel='{PSE_STREAM}']", NS)]
    assert streams, "no entry offers page streaming"
    for link in streams:
        assert "{pageNumber}" in link.get("href") and "{maxWidth}" in link.get("href")
        assert int(link.get(f"{{{NS['pse']}}}count")) > 0
        assert link.get("type") in ("image/jpeg", "image/png", "image/gif")


def test_an_entry_links_cover_thumbnail_file_and_stream_that_answer(
        client, scanned_library, opds_reader):
    headers = basic("opds")
    feed = etree.fromstring(client.get("/opds/v1.2/recent", headers=headers).data)
    entry = next(e for e in feed.iterfind("a:entry", NS)
                 if e.find(f"a:link[@rel='{PSE_STREAM}']", NS) is not None
                 and e.find("a:link[@rel='http://opds-spec.org/acquisition']", NS) is not None)
    links = {link.get("rel"): link for link in entry.iterfind("a:link", NS)}
    cover = client.get(path_of(links["http://opds-spec.org/image"].get("href")), headers=headers)
    assert cover.status_code == 200 and cover.data[:2] == b"\xff\xd8"
    thumb = client.get(path_of(links["http://opds-spec.org/image/thumbnail"].get("href")),
                       headers=headers)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    acquisition = links["http://opds-spec.org/acquisition"]
    download = client.get(path_of(acquisition.get("href")), headers=headers)
    assert download.status_code == 200
    assert download.mimetype == acquisition.get("type")
    assert len(download.data) == int(acquisition.get("length"))
    stream = links[PSE_STREAM]
    first = client.get(path_of(stream.get("href").replace("{pageNumber}", "0")
                               .replace("{maxWidth}", "300")), headers=headers)
    assert first.status_code == 200 and first.mimetype == stream.get("type")
    count = int(stream.get(f"{{{NS['pse']}}}count"))
    past = client.get(path_of(stream.get("href").replace("{pageNumber}", str(count))),
                      headers=headers)
    assert past.status_code == 404 and past.mimetype == "text/plain"


def test_an_unfilled_max_width_is_ignored_not_refused(client, scanned_library, opds_reader):
    headers = basic("opds")
    feed = etree.fromstring(client.get("/opds/v1.2/recent", headers=headers).data)
    href = feed.find(f".//a:link[@rel='{PSE_STREAM}']", NS).get("href")
    response = client.get(path_of(href.replace("{pageNumber}", "0")), headers=headers)
    assert response.status_code == 200


def _series_with_books(count: int, **book):
    library = LibraryFactory()
    series = SeriesFactory(library=library, name="Paged")
    books = [BookFactory(library=library, series=series, series_name="Paged",
                         number=str(n), number_sort=float(n), **book)
             for n in range(1, count + 1)]
    return series, books


def test_paging_links_walk_a_long_series(client, opds_reader, opds_v1_schema):
    series, books = _series_with_books(7)
    headers = basic("opds")
    seen, path = [], f"/opds/v1.2/series/{series.id}?page_size=3"
    doc = assert_valid_v1(opds_v1_schema, client.get(path, headers=headers).data)
    links = {link.get("rel"): link.get("href") for link in doc.iterfind("a:link", NS)}
    assert "previous" not in links
    assert parse_qs(urlsplit(links["last"]).query)["page"] == ["3"]
    assert doc.findtext("os:totalResults", namespaces=NS) == "7"
    while True:
        seen += [e.findtext("a:id", namespaces=NS) for e in doc.iterfind("a:entry", NS)]
        links = {link.get("rel"): link.get("href") for link in doc.iterfind("a:link", NS)}
        if "next" not in links:
            break
        doc = etree.fromstring(client.get(path_of(links["next"]), headers=headers).data)
        assert "previous" in {link.get("rel") for link in doc.iterfind("a:link", NS)}
    assert seen == [f"urn:comicsrv:book:{b.id}" for b in books]
    assert parse_qs(urlsplit(links["first"]).query).get("page") is None


def test_facets_sort_and_filter_by_read_state(client, opds_reader, opds_v1_schema):
    from comicsrv.library.reading import ProgressUpdate, save_progress

    series, books = _series_with_books(4)
    save_progress(opds_reader.id, books[1], ProgressUpdate(page=books[1].page_count))
    save_progress(opds_reader.id, books[2], ProgressUpdate(page=3))
    headers = basic("opds")

    def ids(query: str) -> list[str]:
        doc = assert_valid_v1(opds_v1_schema, client.get(
            f"/opds/v1.2/series/{series.id}?{query}", headers=headers).data)
        return [e.findtext("a:id", namespaces=NS).rsplit(":", 1)[1]
                for e in doc.iterfind("a:entry", NS)]

    everything = [str(b.id) for b in books]
    assert ids("") == everything
    assert ids("read=read") == [str(books[1].id)]
    assert ids("read=in_progress") == [str(books[2].id)]
    assert ids("read=unread") == [str(books[0].id), str(books[3].id)]
    assert ids("sort=added") == everything[::-1]
    doc = etree.fromstring(client.get(f"/opds/v1.2/series/{series.id}?read=unread",
                                      headers=headers).data)
    active = [(link.get(f"{{{NS['opds']}}}facetGroup"), link.get("title"))
              for link in doc.iterfind("a:link[@rel='http://opds-spec.org/facet']", NS)
              if link.get(f"{{{NS['opds']}}}activeFacet") == "true"]
    assert active == [("Sort", "Issue number"), ("Read", "Unread")]
    assert ids("read=bogus") == everything  # an edited URL falls back, never a 400


def test_opensearch_template_finds_books(client, scanned_library, opds_reader, opds_v1_schema):
    headers = basic("opds")
    root = etree.fromstring(client.get("/opds/v1.2/catalog", headers=headers).data)
    description = client.get(path_of(root.find("a:link[@rel='search']", NS).get("href")),
                             headers=headers)
    assert description.mimetype == "application/opensearchdescription+xml"
    template = etree.fromstring(description.data).find("os:Url", NS).get("template")
    assert "{searchTerms}" in template
    found = client.get(path_of(template.replace("{searchTerms}", "captain science")),
                       headers=headers)
    doc = assert_valid_v1(opds_v1_schema, found.data)
    titles = [e.findtext("a:title", namespaces=NS) for e in doc.iterfind("a:entry", NS)]
    assert titles and all("Captain Science" in t for t in titles)
    nothing = client.get(path_of(template.replace("{searchTerms}", "zzzz-no-such")),
                         headers=headers)
    assert assert_valid_v1(opds_v1_schema, nothing.data).find("a:entry", NS) is None


def test_story_arcs_list_their_books_in_publication_order(client, opds_reader, opds_v1_schema):
    from tests.factories import BookTagFactory, TagFactory

    arc = TagFactory(namespace="arc", name="Civil War")
    library = LibraryFactory()
    late = BookFactory(library=library, series_name="B", year=2007, month=1, title="Late")
    early = BookFactory(library=library, series_name="A", year=2006, month=7, title="Early")
    for book in (late, early):
        BookTagFactory(book=book, tag=arc)
    headers = basic("opds")
    arcs = assert_valid_v1(opds_v1_schema, client.get("/opds/v1.2/arcs", headers=headers).data)
    entry = arcs.find("a:entry", NS)
    assert entry.findtext("a:title", namespaces=NS) == "Civil War"
    href = entry.find("a:link[@rel='subsection']", NS).get("href")
    doc = assert_valid_v1(opds_v1_schema, client.get(path_of(href), headers=headers).data)
    assert [e.findtext("a:id", namespaces=NS) for e in doc.iterfind("a:entry", NS)] == [
        f"urn:comicsrv:book:{early.id}", f"urn:comicsrv:book:{late.id}"]
