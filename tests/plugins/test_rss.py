"""Generic RSS/Atom feeds against a real HTTP server on 127.0.0.1 serving
Sonarr's and Jackett's recorded feeds (tests/fixtures/indexers)."""
from __future__ import annotations

from pathlib import Path

import pytest

from comicsrv.hookspecs import IntegrationContext, IntegrationError, IntegrationRateLimited, SearchQuery
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.rss import RssIndexer, parse_size

FIXTURES = Path(__file__).parent.parent / "fixtures" / "indexers"


@pytest.fixture
def server():
    with ReplayServer() as server:
        yield server


def feed(server, name, protocol="torrent", status=200, **headers):
    server.add("GET", "/feed", Recorded.file(FIXTURES / name, "application/rss+xml", status, **headers))
    return RssIndexer({"url": server.url + "/feed", "protocol": protocol}, IntegrationContext(timeout=5))


def test_nyaa_feed_link_size_seeders_and_infohash(server):
    releases = feed(server, "sonarr/Nyaa_Nyaa2021.xml").rss()
    assert len(releases) == 3
    first = releases[0]
    assert first.title == "[Foxy-Subs] Mahouka Koukou no Yuutousei - 08 [720p] [3194D881].mkv"
    assert first.download_url == "https://nyaa.si/download/1424896.torrent"
    assert first.guid == "https://nyaa.si/view/1424896"
    assert first.size == int(609.6 * 1024 ** 2)
    assert (first.seeders, first.peers) == (4, 7)
    assert first.attributes["infohash"] == "e8ca5e20eca876339f41c3d9e95ea66c1d7caaee"
    assert first.published.isoformat() == "2021-08-24T22:18:46+00:00"
    assert first.protocol == "torrent"


def test_enclosure_of_the_protocol_and_size_from_the_description(server):
    torrent = feed(server, "sonarr/TorrentRss_AnimeTosho_NoSize.xml").rss()[0]
    assert torrent.download_url.endswith(".torrent")
    # The enclosure says length="0"; the description says "Total Size: 1.366 GB".
    assert torrent.size == int(1.366 * 1024 ** 3)
    server.clear()
    usenet = feed(server, "sonarr/TorrentRss_AnimeTosho_NoSize.xml", protocol="usenet").rss()[0]
    assert usenet.download_url.endswith(".nzb") and usenet.protocol == "usenet"


def test_an_item_without_pubdate_or_enclosure(server):
    release = feed(server, "sonarr/TorrentRss_invalid_TorrentDay_NoPubDate.xml").rss()[0]
    assert release.title == "Surviving Marriage S01E09 480p HDTV x264-mSD"
    assert release.download_url.startswith("https://www.torrentday.com/download.php/123/")
    assert release.published is None
    assert release.size == 341 * 1024 ** 2  # "Size: 341 m"


def test_torznab_feed_read_as_plain_rss_keeps_magnets(server):
    releases = feed(server, "sonarr/Torznab_torznab_tpb.xml").rss()
    assert releases[0].download_url.startswith("magnet:?xt=urn:btih:9fb267cf")
    assert releases[0].size == 388895872


def test_not_well_formed_xml_is_a_clear_error(server):
    indexer = feed(server, "jackett/Invalid-RSS.xml")
    with pytest.raises(IntegrationError, match="not valid RSS/Atom XML"):
        indexer.rss()
    assert indexer.test().ok is False


def test_html_instead_of_a_feed_is_a_clear_error(server):
    server.add("GET", "/feed", Recorded.text("<html><body><p>Log in</p>", "text/html"))
    indexer = RssIndexer({"url": server.url + "/feed", "protocol": "torrent"})
    with pytest.raises(IntegrationError, match="not valid RSS/Atom"):
        indexer.rss()


def test_http_errors_and_back_off(server):
    indexer = feed(server, "sonarr/Nyaa_Nyaa2021.xml", status=429, **{"Retry-After": "60"})
    with pytest.raises(IntegrationRateLimited) as caught:
        indexer.rss()
    assert caught.value.retry_after == 60
    server.clear()
    indexer = feed(server, "sonarr/Nyaa_Nyaa2021.xml", status=404)
    with pytest.raises(IntegrationError, match="HTTP 404"):
        indexer.rss()


def test_search_filters_the_feed_by_every_word(server):
    indexer = feed(server, "sonarr/Nyaa_Nyaa2021.xml")
    titles = [r.title for r in indexer.search(SearchQuery("macross zero"))]
    assert titles == ["Macross Zero (BDRip 1920x1080p x265 HEVC TrueHD, FLAC 5.1+2.0)[sxales]"]
    assert indexer.search(SearchQuery("macross hero")) == []


def test_settings_are_checked():
    with pytest.raises(IntegrationError, match="protocol"):
        RssIndexer({"url": "http://127.0.0.1:9/", "protocol": "ftp"})
    assert RssIndexer({"protocol": "usenet"}).test().ok is False


def test_test_counts_the_items(server):
    result = feed(server, "sonarr/Nyaa_Nyaa2021.xml").test()
    assert result.ok and result.message == "3 items in the feed"


@pytest.mark.parametrize("text, size", [
    ("Size: 341 m", 341 * 1024 ** 2), ("<strong>Total Size</strong>: 158.1 MB", int(158.1 * 1024 ** 2)),
    ("609.6 MiB", int(609.6 * 1024 ** 2)), ("2 GB", 2 * 1024 ** 3), ("no size here", None), (None, None),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_registered_through_entry_points(app):
    assert app.extensions["comicsrv.plugins"].integrations("indexer")["rss"] is RssIndexer
