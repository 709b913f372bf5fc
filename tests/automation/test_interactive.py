"""Interactive search: every release every indexer offers for an issue,
each evaluated and stored with its reasons and what it takes to grab it
later; grabbing one by its decision (a Torznab indexer and a blackhole
client, both real, on 127.0.0.1 and in temporary folders)."""
from __future__ import annotations

import pytest

from comicsrv.automation import interactive
from comicsrv.errors import Conflict, NotFound
from comicsrv.extensions import db
from comicsrv.models.automation import SNATCHED, Download, ReleaseDecision
from comicsrv.testing import Recorded, ReplayServer
from tests.automation.indexer_answers import Item, answer
from tests.factories import (
    DownloadClientConfigFactory, IndexerConfigFactory, WatchedIssueFactory, WatchedSeriesFactory,
)
from tests.peers import bencode

TORRENT = bencode({"info": {"name": "Saga 054.cbz", "length": 1, "piece length": 16384,
                            "pieces": b"\0" * 20}})


@pytest.fixture
def issue(app):
    series = WatchedSeriesFactory(name="Saga", year=2012, exclude_terms=["Variant"])
    return WatchedIssueFactory(series=series, number="54", number_sort=54.0,
                               store_date="2018-07-04")


@pytest.fixture
def indexer(app):
    with ReplayServer() as server:
        items = [Item("Saga 054 (2018) (Digital) (Zone-Empire)", seeders=30, guid="a" * 32,
                      url=f"{server.url}/dl/a.torrent", size=50_000_000),
                 Item("Saga 054 Variant (2018)", seeders=2, guid="b" * 32,
                      url=f"{server.url}/dl/b.torrent"),
                 Item("Saga 053 (2018) (Digital)", seeders=9, guid="c" * 32,
                      url=f"{server.url}/dl/c.torrent")]
        server.add("GET", "/api", Recorded.text(answer(items, base=server.url),
                                                "application/rss+xml"), query={"t": "search"})
        server.add("GET", "/dl/a.torrent", Recorded(TORRENT, headers={
            "Content-Type": "application/x-bittorrent"}))
        IndexerConfigFactory(name="Torznab", kind="torznab", protocol="torrent",
                             settings={"url": server.url, "api_key": "k",
                                       "categories": [7030]})
        yield server


def test_every_release_is_listed_with_its_decision_and_kept(app, issue, indexer):
    result = interactive.interactive_search(issue.id)
    assert result.searched == ["Torznab"] and not result.errors
    rows = result.decisions
    # Each release once, though both queries ("Saga 054", "Saga 54") found it.
    # Accepted first; the rejected ones after it, newest first.
    assert [r.title for r in rows] == ["Saga 054 (2018) (Digital) (Zone-Empire)",
                                       "Saga 053 (2018) (Digital)", "Saga 054 Variant (2018)"]
    best, *rejected = rows
    assert best.accepted and best.source == "manual" and best.seeders == 30
    assert best.download_url.endswith("/dl/a.torrent") and best.size == 50_000_000
    assert best.protocol == "torrent"
    reasons = {r.title: r.reasons for r in rejected}
    assert "issue 053 is not the wanted issue 54" in reasons["Saga 053 (2018) (Digital)"]
    assert "the title contains the excluded term 'Variant'" in reasons["Saga 054 Variant (2018)"]
    assert not any(r.accepted for r in rejected)
    # Listed again later from what was stored.
    shown = interactive.issue_decisions(issue.id)
    assert [r.id for r in shown] == [r.id for r in rows]
    described = interactive.describe(best)
    assert described["can_grab"] and described["reasons"][0].startswith("matches Saga #54")


def test_a_decision_is_grabbed_once(app, issue, indexer, tmp_path):
    watch, done = tmp_path / "watch", tmp_path / "done"
    watch.mkdir(), done.mkdir()
    DownloadClientConfigFactory(kind="blackhole", protocol="torrent", settings={
        "watch_folder": str(watch), "completed_folder": str(done)})
    best = interactive.interactive_search(issue.id).decisions[0]
    download = interactive.grab_decision(best.id)
    assert download.title == best.title and download.score == best.score
    assert [p.name for p in watch.iterdir()] == ["Saga 054 (2018) (Digital) (Zone-Empire).torrent"]
    db.session.expire_all()
    assert db.session.get(ReleaseDecision, best.id).grabbed
    assert issue.state == SNATCHED
    with pytest.raises(Conflict, match="still queued"):
        interactive.grab_decision(best.id)
    assert db.session.execute(db.select(db.func.count()).select_from(Download)).scalar_one() == 1


def test_decisions_recorded_before_links_were_kept_say_so(app, issue):
    row = ReleaseDecision(watched_issue_id=issue.id, title="Saga 054", source="search",
                          accepted=True, reasons=[])
    db.session.add(row)
    db.session.commit()
    with pytest.raises(Conflict, match="search again"):
        interactive.grab_decision(row.id)
    with pytest.raises(NotFound):
        interactive.grab_decision(row.id + 100)
