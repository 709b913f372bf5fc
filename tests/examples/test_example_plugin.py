"""The plugin authors' guide's worked example (examples/comicsrv-example-plugin),
installed as a third-party distribution and driven through a real app: its
entry point found by ``create_app``, its indexer searched by the real search
service, the release grabbed into the real blackhole client, and the grab
announced through its notifier."""
from __future__ import annotations

import ast
import json

import pytest

from comicsrv.automation import indexers, notification_targets
from comicsrv.automation.notify import send_test, service
from comicsrv.automation.search import search_issue
from comicsrv.extensions import db
from comicsrv.models.automation import NotificationTarget
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.examples.conftest import EXAMPLE
from tests.factories import DownloadClientConfigFactory, WatchedIssueFactory, WatchedSeriesFactory
from tests.plugins.test_blackhole import TORRENT

WANTED = "Saga 054 (2018) (Digital) (Zone-Empire)"
FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:torznab="http://torznab.com/schemas/2015/feed">
  <channel><title>saved by cron</title>
    <item>
      <title>Paper Girls 003 (2016) (Digital)</title>
      <link>{url}/paper-girls.torrent</link>
      <torznab:attr name="category" value="7030"/>
    </item>
    <item>
      <title>{wanted}</title>
      <guid>{url}/details/54</guid>
      <pubDate>Wed, 03 Oct 2018 10:00:00 +0000</pubDate>
      <enclosure url="{url}/saga.torrent" length="40000000" type="application/x-bittorrent"/>
      <torznab:attr name="category" value="7030"/>
      <torznab:attr name="seeders" value="12"/>
    </item>
    <item><title>an item without a link is skipped</title></item>
  </channel>
</rss>
"""


def test_create_app_finds_the_installed_plugin_through_its_entry_point(app):
    import comicsrv_example

    registry = app.extensions["comicsrv.plugins"]
    assert registry.sources["example"] == "comicsrv_example (comicsrv-example-plugin 1.0.0)"
    assert registry.integrations("notifier")["jsonlines"] is comicsrv_example.JsonLinesNotifier
    assert registry.integrations("indexer")["localfeed"] is comicsrv_example.LocalFeedIndexer
    [row] = [row for row in registry.describe() if row["name"] == "example"]
    assert row["hooks"] == ["comicsrv_indexers", "comicsrv_notifiers"]
    assert [f for f in registry.failures if f.plugin == "example"] == []


def test_the_example_imports_only_the_public_plugin_api():
    imported = set()
    for source in (EXAMPLE / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert {name for name in imported if name.split(".")[0] == "comicsrv"} == {"comicsrv.hookspecs"}


@pytest.fixture
def torrents():
    with ReplayServer() as server:
        server.add("GET", "/saga.torrent",
                   Recorded(TORRENT, 200, {"Content-Type": "application/x-bittorrent"}))
        yield server


def test_a_search_through_the_feed_grabs_and_the_grab_reaches_the_notifier(app, torrents, tmp_path):
    feed = tmp_path / "feed.xml"
    feed.write_text(FEED.format(url=torrents.url, wanted=WANTED))
    log = tmp_path / "notifications.jsonl"
    watch = tmp_path / "watch"
    watch.mkdir()
    DownloadClientConfigFactory(name="Blackhole", kind="blackhole", protocol="torrent", settings={
        "watch_folder": str(watch), "completed_folder": str(tmp_path), "settle_seconds": 0})
    # Configured as a user does, through the services behind the settings pages.
    indexer = indexers.create_indexer({"name": "Cron feed", "kind": "localfeed",
                                       "settings": {"path": str(feed)}})
    notification_targets.create_target({"name": "Log", "kind": "jsonlines",
                                        "settings": {"path": str(log)}})
    assert indexer.protocol == "torrent"
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga", year=2012),
                                number="54", number_sort=54.0, cover_date="2018-10-01")
    db.session.commit()

    result = search_issue(issue.id)
    assert service().wait_idle(15)

    assert (result["releases"], result["errors"], result["title"]) == (1, {}, WANTED)
    assert (watch / f"{WANTED}.torrent").read_bytes() == TORRENT
    [line] = log.read_text().splitlines()
    entry = json.loads(line)
    assert (entry["event"], entry["title"]) == ("grabbed", "Grabbed Saga #54")
    assert entry["data"]["download_id"] == result["grabbed"]
    assert entry["data"]["issue"] == "Saga #54"


def test_a_feed_that_cannot_be_read_fails_its_check_with_the_reason(app, tmp_path):
    missing = indexers.test_settings("localfeed", {"path": str(tmp_path / "gone.xml")})
    (tmp_path / "junk.xml").write_text("not <rss")
    junk = indexers.test_settings("localfeed", {"path": str(tmp_path / "junk.xml")})
    assert not missing.ok and "No such file" in missing.message
    assert not junk.ok and "is not an RSS file" in junk.message


def test_an_unwritable_log_is_recorded_on_the_target_and_rotation_keeps_two_files(app, tmp_path):
    broken = notification_targets.create_target({
        "name": "Broken", "kind": "jsonlines",
        "settings": {"path": str(tmp_path / "no-such-dir" / "log.jsonl")}})
    result = send_test(broken.id)
    assert not result.ok and "cannot write" in result.message
    assert "cannot write" in db.session.get(NotificationTarget, broken.id).last_error

    log = tmp_path / "log.jsonl"
    rotating = notification_targets.create_target({
        "name": "Rotating", "kind": "jsonlines", "settings": {"path": str(log), "max_bytes": 1}})
    for _ in range(3):
        assert send_test(rotating.id).ok
    assert len(log.read_text().splitlines()) == 1
    assert len((tmp_path / "log.jsonl.1").read_text().splitlines()) == 1
