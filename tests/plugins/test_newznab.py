"""Newznab and Torznab indexers against a real HTTP server on 127.0.0.1 answering
with Sonarr's and Prowlarr's recorded indexer bodies (tests/fixtures/indexers)."""
from __future__ import annotations

from pathlib import Path

import pytest

from comicsrv.hookspecs import (
    IntegrationAuthError, IntegrationContext, IntegrationError, IntegrationNotFound,
    IntegrationRateLimited, SearchQuery,
)
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.newznab import (
    NewznabAuthError, NewznabIndexer, NewznabRequestError, TorznabIndexer,
)
from tests.automation.indexer_answers import Item, answer

FIXTURES = Path(__file__).parent.parent / "fixtures" / "indexers"
XML = "application/rss+xml"


def recorded(name: str, status: int = 200, **headers: str) -> Recorded:
    return Recorded.file(FIXTURES / name, XML, status, **headers)


@pytest.fixture
def server():
    with ReplayServer() as server:
        yield server


def newznab(server, cls=NewznabIndexer, **settings):
    return cls({"url": server.url, "api_key": "secret-key", **settings},
               IntegrationContext(timeout=5))


def test_caps_reads_limits_search_functions_and_categories(server):
    server.add("GET", "/api", recorded("prowlarr/Newznab_newznab_caps.xml"), query={"t": "caps"})
    caps = newznab(server).capabilities()
    assert caps["limits"] == {"max": 60, "default": 25}
    assert caps["searching"]["search"]["available"] is True
    assert {c["id"] for c in caps["categories"]} == {5000, 7000, 8000}
    # nZEDb numbering: Comics is 8020, and no 7030 is offered.
    assert caps["comic_categories"] == [8020]
    assert "apikey" not in server.requests[0].query


def test_search_uses_the_comics_category_from_caps_and_pages_with_the_caps_limit(server):
    server.add("GET", "/api", recorded("sonarr/Newznab_newznab_caps.xml"), query={"t": "caps"})
    server.add("GET", "/api", recorded("sonarr/Newznab_newznab_nzb_su.xml"), query={"t": "search"})
    releases = newznab(server).search(SearchQuery("White Collar"))
    search = [r for r in server.requests if r.query["t"] == "search"]
    assert search[0].query == {"t": "search", "q": "White Collar", "cat": "8020", "extended": "1",
                               "limit": "60", "offset": "0", "apikey": "secret-key"}
    # The recorded page has 100 items and says 10000 in total: the next page
    # is asked from offset 100, up to max_pages (3).
    assert [r.query["offset"] for r in search] == ["0", "100", "200"]
    assert len(releases) == 300
    first = releases[0]
    assert first.title == "White.Collar.S03E05.720p.HDTV.X264-DIMENSION"
    assert first.guid == "http://nzb.su/details/24967ef4c2e26296c65d3bbfa97aa8fe"
    assert first.download_url == "http://nzb.su/getnzb/24967ef4c2e26296c65d3bbfa97aa8fe.nzb&i=37292&r=xxx"
    assert first.size == 1183105773
    assert first.categories == [5000, 5040]
    assert first.protocol == "usenet"
    assert first.published.isoformat() == "2012-02-27T11:09:39-05:00"
    assert first.info_url.endswith("#comments")


def test_configured_categories_skip_caps_and_paging_stops_at_the_total(server):
    def pages(request):
        offset = int(request.query["offset"])
        items = [Item(f"Saga {offset + i + 1:03d} (2012) (Digital) (Zone-Empire)") for i in range(2)]
        return Recorded.text(answer(items, base=server.url, total=4, offset=offset), XML)

    server.add("GET", "/api", pages, query={"t": "search"})
    indexer = newznab(server, categories="7030,8020", page_size=2, max_pages=10)
    releases = indexer.search(SearchQuery("Saga"))
    assert [r.title[:8] for r in releases] == ["Saga 001", "Saga 002", "Saga 003", "Saga 004"]
    assert [r.query["offset"] for r in server.requests] == ["0", "2"]
    assert {r.query["cat"] for r in server.requests} == {"7030,8020"}
    assert releases[0].download_url.startswith(server.url + "/getnzb/")


def test_without_a_comics_category_in_caps_7030_is_searched(server):
    server.add("GET", "/api", recorded("prowlarr/Torznab_torznab_animetosho_caps.xml"),
               query={"t": "caps"})
    server.add("GET", "/api", recorded("sonarr/Torznab_torznab_animetosho.xml"), query={"t": "search"})
    releases = newznab(server, TorznabIndexer).rss()
    rss_request = server.requests[-1]
    assert rss_request.query["cat"] == "7030" and "q" not in rss_request.query
    assert releases[0].categories == [5070, 100001]
    assert releases[0].protocol == "torrent"


def test_torznab_attributes_magnets_seeders_and_infohash(server):
    server.add("GET", "/api", recorded("sonarr/Torznab_torznab_tpb.xml"), query={"t": "search"})
    releases = newznab(server, TorznabIndexer, categories=[7030]).search(SearchQuery("x"))
    first = releases[0]
    assert first.download_url.startswith("magnet:?xt=urn:btih:9fb267cff5ae5603f07a347676ec3bf3e35f75e1")
    assert (first.seeders, first.peers, first.size) == (34128, 36724, 388895872)
    assert first.attributes["infohash"] == "9fb267cff5ae5603f07a347676ec3bf3e35f75e1"
    assert first.attributes["minimumseedtime"] == "172800"


def test_torznab_plain_elements_and_prowlarr_results(server):
    server.add("GET", "/api", recorded("prowlarr/Torznab_torznab_morethantv.xml"),
               query={"t": "search"})
    release = newznab(server, TorznabIndexer, categories=[7030]).search(SearchQuery("x"))[0]
    assert release.title == "Out of the Past 1947 720p BluRay FLAC2.0 x264-CtrlHD.mkv"
    assert (release.size, release.seeders, release.peers) == (5412993028, 3, 3)
    assert release.download_url.startswith("https://www.morethantv.me/torrents.php?action=download")


def test_encoded_titles_are_decoded_once(server):
    server.add("GET", "/api", recorded("sonarr/encoded_title.xml"), query={"t": "search"})
    release = newznab(server, categories=[7030]).search(SearchQuery("x"))[0]
    assert release.title == "Series.&.Title.S02E19.EAC3.5.1.1080p.WEBRip.x265-iVy"
    assert release.size == 724655000


def test_relative_urls_are_resolved_against_the_indexer(server):
    server.add("GET", "/prowlarr/12/api", recorded("sonarr/relative_urls.xml"), query={"t": "search"})
    indexer = NewznabIndexer({"url": server.url + "/prowlarr/12", "categories": [7030]})
    release = indexer.search(SearchQuery("x"))[0]
    assert release.download_url == f"{server.url}/prowlarr/12/getnzb/123.nzb&i=123&r=123"
    assert release.guid == "details/123"
    assert release.title == "Real.Time.With.Bill.Maher.2015.08.07.720p.HDTV.x264-BATV"


def test_api_path_setting(server):
    server.add("GET", "/newznab/api", recorded("sonarr/Newznab_newznab_caps.xml"), query={"t": "caps"})
    assert newznab(server, api_path="/newznab/api").capabilities()["comic_categories"] == [8020]


def test_error_100_is_an_auth_error_that_never_shows_the_key(server):
    server.add("GET", "/api", recorded("sonarr/Newznab_unauthorized.xml"))
    with pytest.raises(IntegrationAuthError) as caught:
        newznab(server, categories=[7030]).search(SearchQuery("x"))
    assert isinstance(caught.value, NewznabAuthError) and caught.value.code == 100
    assert "Incorrect user credentials" in str(caught.value)
    assert "secret-key" not in str(caught.value)


@pytest.mark.parametrize("code, expected", [
    (201, NewznabRequestError), (300, IntegrationNotFound), (500, IntegrationRateLimited),
    (501, IntegrationRateLimited), (900, IntegrationError),
])
def test_error_codes_become_typed_exceptions(server, code, expected):
    server.add("GET", "/api", Recorded.text(
        '<?xml version="1.0" encoding="utf-8" ?>\n'
        f'<error code="{code}" description="Request limit reached"/>',
        "text/xml"))
    with pytest.raises(expected) as caught:
        newznab(server, categories=[7030]).search(SearchQuery("x"))
    assert caught.value.code == code


@pytest.mark.parametrize("status", [429, 500, 503])
def test_http_429_and_5xx_mean_back_off_for_retry_after(server, status):
    server.add("GET", "/api", Recorded.text("slow down", status=status, **{"Retry-After": "120"}))
    with pytest.raises(IntegrationRateLimited) as caught:
        newznab(server, categories=[7030]).search(SearchQuery("x"))
    assert caught.value.retry_after == 120


def test_a_body_that_is_not_xml_is_a_clear_error(server):
    server.add("GET", "/api", Recorded.text("<html><body>Cloudflare", "text/html"))
    with pytest.raises(IntegrationError, match="not valid XML"):
        newznab(server, categories=[7030]).search(SearchQuery("x"))


def test_an_unreachable_indexer_is_an_integration_error(free_port):
    indexer = NewznabIndexer({"url": f"http://127.0.0.1:{free_port}", "api_key": "secret-key",
                              "categories": [7030]}, IntegrationContext(timeout=2))
    with pytest.raises(IntegrationError, match="cannot reach") as caught:
        indexer.search(SearchQuery("x"))
    assert "secret-key" not in str(caught.value)


def test_test_reports_caps_and_recent_releases(server):
    server.add("GET", "/api", recorded("sonarr/Newznab_newznab_caps.xml"), query={"t": "caps"})
    server.add("GET", "/api", recorded("sonarr/Newznab_newznab_indexerflags.xml"), query={"t": "search"})
    result = newznab(server).test()
    assert result.ok and "11 recent releases in categories 8020" in result.message
    server.add("GET", "/api", recorded("sonarr/Newznab_unauthorized.xml"), query={"t": "search"})
    result = newznab(server).test()
    assert not result.ok and "Incorrect user credentials" in result.message


def test_both_kinds_are_registered_through_entry_points(app):
    kinds = app.extensions["comicsrv.plugins"].integrations("indexer")
    assert kinds["newznab"] is NewznabIndexer and kinds["torznab"] is TorznabIndexer
