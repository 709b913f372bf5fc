"""The whole *arr pipeline on this machine, with real parts.

Watch a series from recorded Metron responses → its missing issue is wanted
→ a search against a Torznab indexer on 127.0.0.1 finds it → a real
qbittorrent-nox "downloads" it (the torrent is made for a file already on
disk, so its recheck completes it) → the download monitor hands it to
post-processing, which renames, tags and indexes it → ``/api/v1`` lists the
book with its ComicInfo, and the event bus (what every SSE stream reads)
announced each step.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from PIL import Image

from comicsrv.automation import downloads as monitor
from comicsrv.automation.search import search_issue
from comicsrv.automation.watchlist import add_series
from comicsrv.comicinfo import ComicMetadata, read_comicinfo, to_comicinfo_xml
from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.models import Book, Job
from comicsrv.models.automation import (
    DL_IMPORTED, DOWNLOADED, WANTED, Download, DownloadClientConfig, ReleaseDecision,
    WatchedIssue,
)
from comicsrv.settings_store import set_setting
from comicsrv.testing import Recorded, ReplayServer
from tests.factories import (
    AdminFactory, DownloadClientConfigFactory, IndexerConfigFactory, api_key_for,
)
from tests.peers import make_torrent, qbittorrent  # noqa: F401 (fixture)
from tests.plugins.test_qbittorrent import wait_for

FIXTURES = Path(__file__).parent.parent / "fixtures"
METRON = FIXTURES / "metadata" / "metron"
INDEXERS = FIXTURES / "indexers"
SERIES = "Death of the Inhumans"  # Metron series 1 in the recorded bodies
RELEASE = "Death of the Inhumans 002 (2018) (Digital) (Zone-Empire)"


def make_cbz(path: Path, series: str, number: str, year: int, pages: int = 3) -> Path:
    """A real CBZ: JPEG pages and a ComicInfo.xml."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(pages):
            image = io.BytesIO()
            Image.new("RGB", (400, 600), (40 * index, 90, 160)).save(image, "JPEG")
            archive.writestr(f"{index + 1:03d}.jpg", image.getvalue())
        meta = ComicMetadata(series=series, number=number, year=year)
        archive.writestr("ComicInfo.xml", to_comicinfo_xml(meta))
    return path


def torznab_body(title: str, url: str, size: int, info_hash: str) -> bytes:
    """The recorded Torznab answer (Jackett's The Pirate Bay, from Sonarr's
    tests) with its first item's release swapped for ours: same channel,
    same elements and attributes, so the plugin parses what indexers send."""
    recorded = (INDEXERS / "sonarr" / "Torznab_torznab_tpb.xml").read_text()
    start, end = recorded.index("<item>"), recorded.index("</item>") + len("</item>")
    item = f"""<item>
      <title>{escape(title)}</title>
      <guid>{escape(url)}#guid</guid>
      <comments>{escape(url)}</comments>
      <pubDate>Wed, 04 Jul 2018 10:00:00 -0000</pubDate>
      <size>{size}</size>
      <description>{escape(title)}</description>
      <link>{escape(url)}</link>
      <category>7030</category>
      <enclosure url="{escape(url)}" length="{size}" type="application/x-bittorrent" />
      <torznab:attr name="category" value="7030" />
      <torznab:attr name="seeders" value="12" />
      <torznab:attr name="peers" value="14" />
      <torznab:attr name="infohash" value="{info_hash}" />
    </item>"""
    # Only our item: the recorded TV releases would just be rejected.
    rest = recorded[end:]
    rest = rest[rest.rindex("</item>") + len("</item>"):] if "</item>" in rest else rest
    return (recorded[:start] + item + rest).encode()


@pytest.fixture
def metron():
    with ReplayServer() as server:
        def recorded(name):
            return Recorded.file(METRON / name, "application/json")
        server.add("GET", "/api/series/1/", recorded("series_1.json"))
        server.add("GET", "/api/series/1/issue_list/", recorded("series_1_issue_list.json"))
        yield server


@pytest.fixture
def pipeline_app(make_app, metron):
    app = make_app(METADATA_URLS={"metron": metron.url + "/api"})
    with app.app_context():
        set_setting("metadata.metron_username", "reader", None)
        set_setting("metadata.metron_password", "s3cret", None)
        yield app


def test_watch_search_download_import_and_list(pipeline_app, qbittorrent, tmp_path):
    app = pipeline_app
    bus = app.extensions["comicsrv.events"]
    runner = app.extensions["comicsrv.jobs"]
    events = bus.subscribe()

    # A library that already has issue 1, scanned.
    library_root = tmp_path / "library"
    make_cbz(library_root / f"{SERIES} (2018)" / f"{SERIES} 001 (2018).cbz", SERIES, "1", 2018)
    library = create_library("Comics", str(library_root))
    scan = runner.run_now("library.scan", {"library_id": library.id})
    assert scan.state == "finished", scan.error

    # 1. Watch the series: issue 1 is linked to its book, issue 2 is wanted.
    watched = add_series("metron", "1", library_id=library.id)
    issues = {i.number: i for i in watched.issues}
    assert set(issues) == {"1", "2"}
    assert issues["1"].state == DOWNLOADED and issues["1"].book_id is not None
    assert issues["2"].state == WANTED
    wanted_id = issues["2"].id

    # 2. The release is on disk where qBittorrent saves, and on the indexer.
    payload = make_cbz(qbittorrent.downloads / "complete" / f"{RELEASE}.cbz", "Unknown", "", 2018,
                       pages=4)
    original = payload.read_bytes()
    torrent, info_hash = make_torrent(payload)
    with ReplayServer() as indexer:
        indexer.add("GET", "/api", Recorded.file(
            INDEXERS / "prowlarr" / "Torznab_torznab_animetosho_caps.xml", "application/xml"),
            query={"t": "caps"})
        indexer.add("GET", "/api", Recorded(
            torznab_body(RELEASE, f"{indexer.url}/dl/1.torrent", len(original), info_hash),
            headers={"Content-Type": "application/rss+xml"}), query={"t": "search"})
        indexer.add("GET", "/dl/1.torrent",
                    Recorded(torrent, headers={"Content-Type": "application/x-bittorrent"}))
        IndexerConfigFactory(kind="torznab", protocol="torrent", name="Local Torznab",
                             settings={"url": indexer.url, "api_key": "local-key"})
        DownloadClientConfigFactory(
            kind="qbittorrent", protocol="torrent", category="comics", name="qBittorrent",
            settings=qbittorrent.settings(category="comics", save_path=str(payload.parent)))

        # 3. Search finds it and grabs it.
        result = search_issue(wanted_id)
    assert result["grabbed"], result
    assert any(r.query.get("apikey") == "local-key" for r in indexer.requests)
    download = db.session.get(Download, result["grabbed"])
    assert (download.title, download.client_item_id) == (RELEASE, info_hash)
    assert db.session.get(WatchedIssue, wanted_id).state == "snatched"
    decision = db.session.execute(db.select(ReleaseDecision).where(
        ReleaseDecision.watched_issue_id == wanted_id, ReleaseDecision.grabbed.is_(True))
    ).scalar_one()
    assert decision.accepted and decision.title == RELEASE

    # 4. qBittorrent completes it; the monitor hands it to post-processing.
    def imported():
        job = runner.run_now(monitor.JOB_TYPE)
        assert job.state == "finished", job.error
        db.session.expire_all()
        row = db.session.get(Download, download.id)
        if row.job_id:
            assert runner.wait(row.job_id, timeout=60)
            db.session.expire_all()
            row = db.session.get(Download, download.id)
        return row if row.state == DL_IMPORTED else None

    download = wait_for(imported, timeout=60, what="the download to be imported")
    job = db.session.get(Job, download.job_id)
    assert job.state == "finished", job.error

    # 5. Renamed by the template, tagged from Metron, indexed, issue downloaded.
    book = db.session.get(Book, download.book_id)
    expected = library_root / f"{SERIES} (2018)" / f"{SERIES} 002 (2018).cbz"
    assert Path(book.path) == expected
    # The torrent seeds on from the untouched download; the library holds
    # the tagged copy (the default torrent transfer links or copies).
    assert payload.read_bytes() == original
    client = monitor.client_instance(db.session.get(DownloadClientConfig, download.client_id))
    assert client.raw_state(info_hash) in ("uploading", "stalledUP")
    with zipfile.ZipFile(expected) as archive:
        info = read_comicinfo(archive.read("ComicInfo.xml"))
        assert sorted(n for n in archive.namelist() if n.endswith(".jpg")) == [
            "001.jpg", "002.jpg", "003.jpg", "004.jpg"]
    assert (info.series, info.number, info.year) == (SERIES, "2", 2018)
    issue = db.session.get(WatchedIssue, wanted_id)
    assert (issue.state, issue.book_id) == (DOWNLOADED, book.id)

    # 6. /api/v1 lists it with its ComicInfo metadata.
    client = app.test_client()
    headers = {"X-API-Key": api_key_for(AdminFactory(username="admin"), ["SystemAdmin"])}
    listed = client.get("/api/v1/books", query_string={"library_id": library.id,
                                                       "sort": "number"}, headers=headers)
    assert listed.status_code == 200
    assert [b["number"] for b in listed.json["items"]] == ["1", "2"]
    detail = client.get(f"/api/v1/books/{book.id}", headers=headers).json
    assert detail["series_name"] == SERIES and detail["number"] == "2"
    assert detail["page_count"] == 4

    # 7. The event stream announced every step, in order.
    names = []
    while (event := events.get(timeout=0.1)) is not None:
        names.append(event.name)
    events.close()
    for step in ("issue_wanted", "release_grabbed", "download_updated", "postprocess_step",
                 "book_created", "issue_imported"):
        assert step in names, (step, names)
    order = [names.index(n) for n in ("issue_wanted", "release_grabbed", "download_updated",
                                      "issue_imported")]
    assert order == sorted(order), names
