"""The *arr pages through Flask's test client: what each page shows and
does, field errors with nothing saved, secrets that never come back, the
tests behind the "Test" buttons against real servers on 127.0.0.1, and who
may open the pages. (The browser tests walk the same pages in Chromium.)"""
from __future__ import annotations

import io
import logging
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from PIL import Image

from comicsrv.automation import covers
from comicsrv.events import DownloadFailed, IssueImported, ReleaseGrabbed
from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import ApiKey, Job, SettingChange, User
from comicsrv.models.automation import (
    DL_DOWNLOADING, DL_FAILED, DL_IMPORTED, DL_REMOVED, MONITORED, PAUSED, SKIPPED, WANTED,
    BlockedRelease, DownloadClientConfig, IndexerConfig, NotificationTarget, ReleaseDecision,
    RemotePathMapping, WatchedSeries,
)
from comicsrv.settings_store import get_setting, set_setting
from comicsrv.testing import Recorded, ReplayServer
from comicsrv.webui import live
from tests.api.legacy.metron_replay import metron  # noqa: F401 (fixture)
from tests.automation.test_end_to_end import make_cbz
from tests.factories import (
    DownloadClientConfigFactory, DownloadFactory, IndexerConfigFactory, WatchedIssueFactory,
    WatchedSeriesFactory,
)
from tests.webui.test_pages import csrf, sign_in

CAPS = Path(__file__).parent.parent / "fixtures" / "indexers" / "prowlarr" / "Newznab_newznab_caps.xml"
ARR_MODULES = ("watchlist", "wanted", "activity", "settings_pages", "system", "live")


@pytest.fixture
def app(make_app, metron):  # noqa: F811
    """Metron replayed on 127.0.0.1 for the pages that ask a provider."""
    from comicsrv_plugins.metadata_support import RateLimiter
    from comicsrv_plugins.metron import Metron

    Metron.limiter = RateLimiter("Metron", [(1000, 60.0)])
    app = make_app(METADATA_URLS={"metron": metron.url + "/api"})
    with app.app_context():
        set_setting("metadata.metron_username", "reader", None)
        set_setting("metadata.metron_password", "s3cret", None)
        yield app


@pytest.fixture
def signed_in(client, admin):
    sign_in(client, "admin")
    return client


def post(client, path, data=None, htmx=False, **kwargs):
    data = dict(data or {})
    headers = {"X-CSRF-Token": csrf(client)}
    if htmx:
        headers["HX-Request"] = "true"
    return client.post(path, data=data, headers=headers, **kwargs)


def wait_jobs(app):
    runner = app.extensions["comicsrv.jobs"]
    for job in db.session.execute(db.select(Job)).scalars().all():
        assert runner.wait(job.id, 30)
    db.session.expire_all()  # the test's session saw them queued


# --- who may open them -----------------------------------------------------------------------

def test_every_arr_page_is_for_admins_only(app, client, reader):
    rules = [rule for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("web.")
             and app.view_functions[rule.endpoint].__module__.rsplit(".", 1)[-1] in ARR_MODULES]
    assert len(rules) > 60
    for rule in rules:
        assert app.view_functions[rule.endpoint].web_permission == "SystemAdmin", rule.endpoint
    sign_in(client, "reader")
    for rule in rules:
        url = re.sub(r"<(?:int:)?\w+>", "1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={"csrf_token": csrf(client)})
            assert response.status_code == 403, (method, url, response.status_code)


def test_the_nav_lists_the_arr_sections_for_admins(signed_in):
    page = signed_in.get("/").text
    labels = re.findall(r'<nav class="mainnav".*?</nav>', page, re.S)[0]
    assert [label for label in ("Series", "Wanted", "Activity", "Settings", "System")
            if f">{label}<" in labels] == ["Series", "Wanted", "Activity", "Settings", "System"]
    assert 'name="live-events"' in page
    current = signed_in.get("/settings/indexers").text
    assert re.search(r'aria-current="page">Settings<', current)


# --- secrets -------------------------------------------------------------------------------------

SECRETS = {
    "metron": "metron-password-9c1",
    "comicvine": "comicvine-key-77f",
    "indexer": "indexer-api-key-0ab",
    "client": "qbittorrent-password-e5",
    "apprise": "tgram://bot-token-31337/chat",
    "header": "Bearer header-token-4242",
}


def _save_every_secret(client):
    assert post(client, "/settings/metadata", {
        "metadata.default_provider": "metron", "metadata.metron_username": "reader",
        "metadata.metron_password": SECRETS["metron"],
        "metadata.comicvine_api_key": SECRETS["comicvine"]}).status_code == 303
    assert post(client, "/settings/indexers/new?kind=newznab", {
        "name": "NZB", "enabled": "on", "priority": "5", "enable_search": "on",
        "settings.url": "http://127.0.0.1:9", "settings.api_key": SECRETS["indexer"]}
    ).status_code == 303
    assert post(client, "/settings/download-clients/new?kind=qbittorrent", {
        "name": "qBittorrent", "enabled": "on", "priority": "1", "category": "comics",
        "settings.url": "http://127.0.0.1:9", "settings.username": "admin",
        "settings.password": SECRETS["client"]}).status_code == 303
    assert post(client, "/settings/notifications/new?kind=apprise", {
        "name": "Telegram", "enabled": "on", "events": ["grabbed", "failed"],
        "settings.urls": SECRETS["apprise"]}).status_code == 303
    assert post(client, "/settings/notifications/new?kind=webhook", {
        "name": "Hook", "enabled": "on", "events": ["downloaded"],
        "settings.url": "http://127.0.0.1:9/hook",
        "settings.headers": f"Authorization: {SECRETS['header']}"}).status_code == 303


def test_no_stored_secret_reaches_any_page_or_response(app, signed_in):
    client = signed_in
    _save_every_secret(client)
    # Stored as typed.
    indexer = db.session.execute(db.select(IndexerConfig)).scalar_one()
    qbt = db.session.execute(db.select(DownloadClientConfig)).scalar_one()
    hook = db.session.execute(db.select(NotificationTarget).where(
        NotificationTarget.kind == "webhook")).scalar_one()
    assert indexer.settings["api_key"] == SECRETS["indexer"]
    assert qbt.settings["password"] == SECRETS["client"]
    assert hook.settings["headers"] == {"Authorization": SECRETS["header"]}
    assert get_setting("metadata.metron_password") == SECRETS["metron"]
    apprise = db.session.execute(db.select(NotificationTarget).where(
        NotificationTarget.kind == "apprise")).scalar_one()

    responses = {path: client.get(path) for path in (
        "/settings/media", "/settings/libraries", "/settings/metadata", "/settings/indexers",
        f"/settings/indexers/{indexer.id}", "/settings/download-clients",
        f"/settings/download-clients/{qbt.id}", "/settings/notifications",
        f"/settings/notifications/{apprise.id}", f"/settings/notifications/{hook.id}",
        "/settings/rss", "/settings/general", "/settings/users", "/system", "/system/wizard",
        "/system/wizard?step=indexer", "/system/wizard?step=notification", "/system/logs",
        "/api/v1/downloader/clients", "/api/v1/config")}
    # Forms sent back with the secrets left empty: tests, and a refused save.
    responses["test-client"] = post(client, "/settings/download-clients/test", {
        "kind": "qbittorrent", "id": str(qbt.id), "name": "qBittorrent", "priority": "1",
        "settings.url": "http://127.0.0.1:9", "settings.username": "admin"}, htmx=True)
    responses["test-client-page"] = post(client, "/settings/download-clients/test", {
        "kind": "qbittorrent", "id": str(qbt.id), "name": "qBittorrent", "priority": "1",
        "settings.url": "http://127.0.0.1:9", "settings.username": "admin"})
    responses["refused-indexer"] = post(client, f"/settings/indexers/{indexer.id}", {
        "name": "NZB", "priority": "99", "settings.url": "http://127.0.0.1:9"})
    responses["refused-metadata"] = post(client, "/settings/metadata", {
        "metadata.default_provider": "gopher", "metadata.metron_username": "reader"})
    responses["refused-new-target"] = post(client, "/settings/notifications/new?kind=apprise", {
        "name": "", "events": ["grabbed"], "settings.urls": "tgram://typed-secret-123/chat"})
    assert responses["refused-indexer"].status_code == 400
    assert responses["refused-metadata"].status_code == 400
    assert responses["refused-new-target"].status_code == 400
    for name, response in responses.items():
        body = response.get_data(as_text=True)
        for what, secret in {**SECRETS, "typed": "typed-secret-123"}.items():
            assert secret not in body, (name, what)
            assert secret.split("//")[-1].split("/")[0] not in body, (name, what)
    # The password fields say a value is saved.
    assert "Saved; leave empty to keep it" in responses[f"/settings/download-clients/{qbt.id}"].text
    # The secret survived the refused save and still logs the test in.
    assert db.session.get(IndexerConfig, indexer.id).settings["api_key"] == SECRETS["indexer"]


def test_the_api_key_is_shown_once(app, signed_in, admin):
    made = post(signed_in, "/settings/general/api-key")
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    key = re.search(r'<code class="secretvalue">([^<]+)</code>', made.text).group(1)
    assert app.test_client().get("/api/v1/auth/me",
                                 headers={"X-API-Key": key}).json["username"] == "admin"
    later = signed_in.get("/settings/general").text
    assert key not in later and key.split("_")[1] in later  # only its prefix
    again = post(signed_in, "/settings/general/api-key")
    new_key = re.search(r'<code class="secretvalue">([^<]+)</code>', again.text).group(1)
    assert new_key != key
    # The old key stopped working.
    assert app.test_client().get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 401
    assert db.session.execute(db.select(db.func.count()).select_from(ApiKey).where(
        ApiKey.name == "server")).scalar_one() == 1


# --- settings: all or nothing, errors at their fields ---------------------------------------------

def test_a_refused_save_changes_nothing_and_marks_each_field(app, signed_in):
    before = db.session.execute(db.select(db.func.count()).select_from(SettingChange)).scalar_one()
    refused = post(signed_in, "/settings/general", {
        "host": "0.0.0.0", "port": "not a port", "automation.rss_interval_minutes": "1",
        "automation.search_interval_minutes": "360", "automation.search_spacing_seconds": "10",
        "automation.monitor_interval_seconds": "60", "automation.metadata_refresh_hours": "24",
        "auth.allow_registration": "on"})
    assert refused.status_code == 400
    assert re.search(r'id="f-port-error">Port must be a whole number', refused.text)
    assert re.search(r'id="f-automation-rss-interval-minutes-error">must be between 5 and 1440',
                     refused.text)
    assert re.search(r'name="port" value="not a port"[^>]*aria-describedby="f-port-error[^"]*" '
                     r'aria-invalid="true"', refused.text)
    assert get_setting("auth.allow_registration") is False
    assert db.session.execute(db.select(db.func.count()).select_from(SettingChange)
                              ).scalar_one() == before
    assert not (Path(app.config["DATA_DIR"]) / "config.yml").exists()
    # What was typed stays in the form.
    assert 'value="0.0.0.0"' in refused.text
    saved = post(signed_in, "/settings/general", {
        "host": "0.0.0.0", "port": "8091", "url_base": "comics/",
        "automation.enabled": "on", "automation.rss_interval_minutes": "30",
        "automation.search_interval_minutes": "360", "automation.search_spacing_seconds": "10",
        "automation.monitor_interval_seconds": "60", "automation.metadata_refresh_hours": "24"})
    assert saved.status_code == 303
    assert get_setting("automation.rss_interval_minutes") == 30
    written = yaml.safe_load((Path(app.config["DATA_DIR"]) / "config.yml").read_text())
    assert written == {"host": "0.0.0.0", "port": 8091, "url_base": "/comics"}
    assert "apply after a restart" in signed_in.get("/settings/general").text


def test_the_config_file_keeps_its_other_lines(app, signed_in):
    config = Path(app.config["DATA_DIR"]) / "config.yml"
    config.write_text("# my NAS\nlog_level: DEBUG\nport: 8090\n")
    assert post(signed_in, "/settings/general", {
        "host": "127.0.0.1", "port": "9000", "url_base": "",
        "automation.enabled": "on", "automation.rss_interval_minutes": "15",
        "automation.search_interval_minutes": "360", "automation.search_spacing_seconds": "10",
        "automation.monitor_interval_seconds": "60", "automation.metadata_refresh_hours": "24"}
    ).status_code == 303
    assert config.read_text() == "# my NAS\nlog_level: DEBUG\nport: 9000\n"


def test_the_rename_template_previews_and_refuses_what_it_cannot_name(app, signed_in):
    preview = post(signed_in, "/settings/media/preview",
                   {"postprocess.rename_template": "{publisher}/{series} {issue:04}"}, htmx=True)
    assert "<code>Image/Saga 0054.cbz</code>" in preview.text
    bad = post(signed_in, "/settings/media/preview",
               {"postprocess.rename_template": "{issue.__init__}"}, htmx=True)
    assert 'class="error"' in bad.text and "plain name" in bad.text
    form = {key: "" for key in ("postprocess.file_mode", "postprocess.folder_mode")}
    form.update({"postprocess.rename_template": "{series}/{nope}",
                 "postprocess.transfer_mode": "copy", "postprocess.torrent_transfer_mode": "copy",
                 "automation.preferred_formats": "cbz", "postprocess.file_mode": "0644",
                 "postprocess.folder_mode": "0755", "postprocess.convert_to_cbz": "on"})
    refused = post(signed_in, "/settings/media", form)
    assert refused.status_code == 400 and "unknown field {nope}" in refused.text
    assert get_setting("postprocess.transfer_mode") == "move"
    assert get_setting("postprocess.convert_to_cbz") is False


# --- indexers, clients, notifications, mappings ------------------------------------------------------

def test_indexers_are_added_tested_and_their_categories_loaded(app, signed_in):
    with ReplayServer() as server:
        server.add("GET", "/api", Recorded.file(CAPS, "application/xml"), query={"t": "caps"})
        server.add("GET", "/api", Recorded.text(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
            "application/rss+xml"), query={"t": "search"})
        missing = post(signed_in, "/settings/indexers/new?kind=newznab",
                       {"name": "NZB", "priority": "25", "settings.url": ""})
        assert missing.status_code == 400
        assert 'id="f-settings-url-error">URL is required' in missing.text
        tested = post(signed_in, "/settings/indexers/test",
                      {"kind": "newznab", "name": "NZB", "priority": "25",
                       "settings.url": server.url, "settings.api_key": "k"}, htmx=True)
        assert 'data-test-ok="true"' in tested.text and "0 recent releases" in tested.text
        cats = post(signed_in, "/settings/indexers/categories",
                    {"kind": "newznab", "settings.url": server.url}, htmx=True)
        assert re.search(r'value="8020" checked> 8020 Books / Comics', cats.text)
        assert re.search(r'value="5000"> 5000 TV', cats.text)
        added = post(signed_in, "/settings/indexers/new?kind=newznab", {
            "name": "NZB", "enabled": "on", "priority": "3", "enable_search": "on",
            "settings.url": server.url, "settings.api_key": "k",
            "settings.categories": ["8020", "7030"]})
        assert added.status_code == 303
    row = db.session.execute(db.select(IndexerConfig)).scalar_one()
    assert (row.priority, row.enable_rss, row.settings["categories"]) == (3, False, [8020, 7030])
    IndexerConfigFactory(name="From Prowlarr", managed_by="prowlarr", kind="torznab")
    listing = signed_in.get("/settings/indexers").text
    assert "Synced from Prowlarr" in listing
    down = post(signed_in, f"/settings/indexers/{row.id}/test", htmx=True)
    assert 'data-test-ok="false"' in down.text and "cannot reach" in down.text
    assert post(signed_in, f"/settings/indexers/{row.id}/delete").status_code == 303
    assert db.session.get(IndexerConfig, row.id) is None


def test_a_download_client_test_shows_what_the_client_said(app, signed_in, tmp_path):
    form = {"kind": "blackhole", "name": "Hole", "priority": "1",
            "settings.watch_folder": str(tmp_path / "missing"),
            "settings.completed_folder": str(tmp_path)}
    failed = post(signed_in, "/settings/download-clients/test", form, htmx=True)
    assert 'data-test-ok="false"' in failed.text and "missing" in failed.text
    relative = post(signed_in, "/settings/download-clients/test",
                    {**form, "settings.watch_folder": "watch"}, htmx=True)
    assert "Correct the marked fields first" in relative.text
    assert "must be an absolute path" in relative.text
    (tmp_path / "missing").mkdir()
    passed = post(signed_in, "/settings/download-clients/test", form, htmx=True)
    assert 'data-test-ok="true"' in passed.text and "writable" in passed.text
    # Without JavaScript the form comes back with the outcome.
    page = post(signed_in, "/settings/download-clients/test", form)
    assert page.status_code == 200 and "Test passed" in page.text and 'value="Hole"' in page.text


def test_notification_targets_from_their_pages(app, signed_in):
    with ReplayServer() as server:
        server.add("POST", "/hook", Recorded.text("ok"))
        none = post(signed_in, "/settings/notifications/new?kind=webhook",
                    {"name": "Hook", "settings.url": server.url + "/hook"})
        assert none.status_code == 400 and 'id="f-events-error"' in none.text
        tested = post(signed_in, "/settings/notifications/test", {
            "kind": "webhook", "name": "Hook", "events": ["grabbed"],
            "settings.url": server.url + "/hook"}, htmx=True)
        assert 'data-test-ok="true"' in tested.text
        assert post(signed_in, "/settings/notifications/new?kind=webhook", {
            "name": "Hook", "enabled": "on", "events": ["grabbed", "downloaded"],
            "settings.url": server.url + "/hook", "settings.timeout": "5"}).status_code == 303
        row = db.session.execute(db.select(NotificationTarget)).scalar_one()
        assert (row.events, row.settings["timeout"]) == (["grabbed", "downloaded"], 5)
        sent = post(signed_in, f"/settings/notifications/{row.id}/test", htmx=True)
        assert 'data-test-ok="true"' in sent.text
    listing = signed_in.get("/settings/notifications").text
    assert "Grabbed, Imported" in listing and "Delivered" in listing
    bad_header = post(signed_in, f"/settings/notifications/{row.id}", {
        "name": "Hook", "events": ["grabbed"], "settings.url": "http://127.0.0.1:9/",
        "settings.headers": "no colon here"})
    assert bad_header.status_code == 400 and "Name: value" in bad_header.text


def test_remote_path_mappings_from_the_clients_page(app, signed_in, tmp_path):
    client = DownloadClientConfigFactory(name="qBittorrent")
    refused = post(signed_in, "/settings/download-clients/mappings", {
        "download_client_id": str(client.id), "remote_path": "/downloads",
        "local_path": str(tmp_path / "nope")})
    assert refused.status_code == 400
    assert re.search(r'id="f-local-path-error">[^<]*is not a folder on this server', refused.text)
    assert 'value="/downloads"' in refused.text  # what was typed stays
    assert post(signed_in, "/settings/download-clients/mappings", {
        "download_client_id": str(client.id), "remote_path": "/downloads",
        "local_path": str(tmp_path)}).status_code == 303
    row = db.session.execute(db.select(RemotePathMapping)).scalar_one()
    assert (row.download_client_id, row.remote_path, row.local_path) == (
        client.id, "/downloads", str(tmp_path))
    assert post(signed_in, f"/settings/download-clients/mappings/{row.id}", {
        "download_client_id": "", "remote_path": "/data", "local_path": str(tmp_path)}
    ).status_code == 303
    db.session.expire_all()
    assert (row.download_client_id, row.remote_path) == (None, "/data")
    assert post(signed_in, f"/settings/download-clients/mappings/{row.id}/delete").status_code == 303
    assert db.session.execute(db.select(RemotePathMapping)).first() is None


def test_rss_feeds_are_added_read_and_switched(app, signed_in):
    with ReplayServer() as server:
        server.add("GET", "/feed.xml", Recorded.text(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>c</title><item>'
            f'<title>Saga 054 (2018) (Digital)</title><link>{server.url}/1.torrent</link>'
            '<guid>g1</guid></item></channel></rss>', "application/rss+xml"))
        analysed = post(signed_in, "/settings/rss/analyse",
                        {"url": server.url + "/feed.xml", "protocol": "torrent"})
        assert analysed.status_code == 200 and "Saga 054 (2018) (Digital)" in analysed.text
        bad = post(signed_in, "/settings/rss", {"url": "ftp://x", "protocol": "torrent"})
        assert bad.status_code == 400 and 'id="f-url-error"' in bad.text
        assert post(signed_in, "/settings/rss", {"url": server.url + "/feed.xml", "name": "Feed",
                                                 "protocol": "torrent", "priority": "10"}
                    ).status_code == 303
        feed = db.session.execute(db.select(IndexerConfig)).scalar_one()
        assert post(signed_in, f"/settings/rss/{feed.id}", {"action": "refresh"}).status_code == 303
        assert "1 new item" in signed_in.get("/settings/rss").text
        assert post(signed_in, f"/settings/rss/{feed.id}", {"action": "disable"}).status_code == 303
        db.session.expire_all()
        assert feed.enabled is False


def test_users_and_their_keys(app, signed_in, admin):
    short = post(signed_in, "/settings/users", {"username": "kid", "password": "short"})
    assert short.status_code == 400 and 'id="f-password-error"' in short.text
    library = create_library("Comics", str(Path(app.config["DATA_DIR"])))
    made = post(signed_in, "/settings/users", {"username": "kid", "password": "long enough",
                                               "library_ids": [str(library.id)]})
    assert made.status_code == 303
    kid = db.session.execute(db.select(User).where(User.username == "kid")).scalar_one()
    assert kid.library_ids == [library.id] and not kid.is_admin
    refused = post(signed_in, f"/settings/users/{kid.id}/keys",
                   {"name": "Panels", "permissions": ["SystemAdmin"]})
    assert refused.status_code == 400 and "cannot hold" in refused.text
    key_page = post(signed_in, f"/settings/users/{kid.id}/keys",
                    {"name": "Panels", "permissions": ["SeriesRead", "PagesRead"]})
    key = re.search(r'<code class="secretvalue">([^<]+)</code>', key_page.text).group(1)
    assert key not in signed_in.get(f"/settings/users/{kid.id}").text
    assert app.test_client().get("/api/v1/auth/me",
                                 headers={"X-API-Key": key}).json["username"] == "kid"
    last_admin = post(signed_in, f"/settings/users/{admin.id}", {"is_active": "on"})
    assert last_admin.status_code == 409 and "last active admin" in last_admin.text


# --- series, arcs, interactive search -----------------------------------------------------------------

def test_adding_a_series_from_metron(app, signed_in):
    found = signed_in.get("/watchlist/add?q=death")
    assert found.status_code == 200 and "Death of the Inhumans" in found.text
    bad_year = signed_in.get("/watchlist/add?q=death&year=soon")
    assert bad_year.status_code == 400 and "Year must be a whole number" in bad_year.text
    added = post(signed_in, "/watchlist/add", {"provider": "metron", "provider_id": "1",
                                               "monitor": "future", "search_now": "on"})
    watched = db.session.execute(db.select(WatchedSeries)).scalar_one()
    assert added.headers["Location"] == f"/watchlist/{watched.id}"
    # Both issues are out: with "future only" neither is wanted.
    assert {i.state for i in watched.issues} == {SKIPPED} and watched.monitor_new
    job = db.session.execute(db.select(Job)).scalar_one()
    assert (job.type, job.params) == ("automation.search_wanted",
                                      {"watched_series_id": watched.id})
    wait_jobs(app)
    page = signed_in.get(f"/watchlist/{watched.id}").text
    assert "Watching Death of the Inhumans; searching its wanted issues" in page
    assert page.count('data-state="skipped"') == 2
    again = post(signed_in, "/watchlist/add", {"provider": "metron", "provider_id": "1"})
    assert again.status_code == 303 and "already watched" in signed_in.get(
        again.headers["Location"]).text


def test_release_rules_refuse_with_field_errors_and_save(app, signed_in):
    series = WatchedSeriesFactory(name="Saga")
    refused = post(signed_in, f"/watchlist/{series.id}/edit", {
        "aliases": "Saga (Image)\nSAGA", "formats": "cbz, jpg", "min_size": "90",
        "max_size": "10", "issue_offset": "x"})
    assert refused.status_code == 400
    for field in ("formats", "max-size", "issue-offset"):
        assert f'id="f-{field}-error"' in refused.text
    db.session.expire_all()
    assert series.aliases is None
    saved = post(signed_in, f"/watchlist/{series.id}/edit", {
        "aliases": "Saga (Image)\nSAGA\nsaga (image)", "exclude_terms": "Variant",
        "formats": "CBZ, cbr", "min_size": "10", "max_size": "90.5", "issue_offset": "-1",
        "want_annuals": "on"})
    assert saved.status_code == 303
    db.session.expire_all()
    assert series.aliases == ["Saga (Image)", "SAGA"] and series.formats == ["cbz", "cbr"]
    assert (series.min_size, series.max_size) == (10 * 2**20, int(90.5 * 2**20))
    assert (series.issue_offset, series.want_annuals, series.monitor_new) == (-1, True, False)
    form = signed_in.get(f"/watchlist/{series.id}/edit").text
    assert "Saga (Image)\nSAGA</textarea>" in form and 'value="90.5"' in form


def test_monitoring_states_and_deleting_with_files(app, signed_in, tmp_path):
    root = tmp_path / "library"
    make_cbz(root / "Saga (2012)" / "Saga 001 (2012).cbz", "Saga", "1", 2012)
    library = create_library("Comics", str(root))
    app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    series = WatchedSeriesFactory(name="Saga", year=2012, library_id=library.id)
    had = WatchedIssueFactory(series=series, number="1", number_sort=1.0)
    wanted = WatchedIssueFactory(series=series, number="2", number_sort=2.0,
                                 store_date=(date.today() + timedelta(days=9)).isoformat())
    from comicsrv.automation.metadata_links import link_books
    link_books(series.id)
    toggled = post(signed_in, f"/watchlist/{series.id}/status", {}, htmx=True)
    assert toggled.status_code == 200 and 'role="switch"' in toggled.text
    assert db.session.get(WatchedSeries, series.id).status == PAUSED
    post(signed_in, f"/watchlist/{series.id}/status", {"monitored": "on"})
    assert db.session.get(WatchedSeries, series.id).status == MONITORED
    page = signed_in.get(f"/watchlist/{series.id}").text
    assert f'data-issue-id="{wanted.id}" data-state="future"' in page
    assert 'aria-label="1 of 2 issues"' in page
    row = post(signed_in, f"/watchlist/issues/{wanted.id}/state", {"state": "ignored"}, htmx=True)
    assert 'data-state="ignored"' in row.text
    bad = post(signed_in, f"/watchlist/issues/{wanted.id}/state", {"state": "lost"})
    assert bad.status_code == 400 and "state must be one of" in bad.text
    confirm = signed_in.get(f"/watchlist/{series.id}/delete").text
    assert str(root / "Saga (2012)") in confirm and "1 downloaded file" in confirm
    book_path = root / "Saga (2012)" / "Saga 001 (2012).cbz"
    assert book_path.exists() and had.book_id
    gone = post(signed_in, f"/watchlist/{series.id}/delete", {"delete_files": "on"})
    assert gone.headers["Location"] == "/watchlist"
    assert not book_path.exists()
    assert "1 file(s) deleted" in signed_in.get("/watchlist").text
    assert db.session.execute(db.select(WatchedSeries)).first() is None


def test_interactive_search_lists_the_reasons_and_grabs(app, signed_in, tmp_path):
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga"), number="2")
    for title, accepted, reasons in (("Saga 002 (Digital)", True, ["matches Saga #2 by alias 'saga'"]),
                                     ("Saga 003", False, ["issue 003 is not the wanted issue 2"])):
        db.session.add(ReleaseDecision(watched_issue_id=issue.id, title=title, guid=title,
                                       indexer="NZB", source="rss", accepted=accepted,
                                       score=120 if accepted else 0, reasons=reasons,
                                       download_url="http://127.0.0.1:9/get", protocol="usenet",
                                       size=42 * 2**20))
    db.session.commit()
    page = signed_in.get(f"/watchlist/issues/{issue.id}/releases").text
    assert page.index("Saga 002 (Digital)") < page.index("Saga 003")
    assert "issue 003 is not the wanted issue 2" in page and "42.0 MB" in page
    assert 'hx-trigger="submit, load"' not in page
    assert 'hx-trigger="submit, load"' in signed_in.get(
        f"/watchlist/issues/{issue.id}/releases?search=1").text
    decision = db.session.execute(db.select(ReleaseDecision).where(
        ReleaseDecision.accepted.is_(True))).scalar_one()
    refused = post(signed_in, f"/watchlist/releases/{decision.id}/grab", htmx=True)
    assert refused.status_code == 400 and "no enabled download client for usenet" in refused.text
    # No indexer: the search says so instead of failing.
    searched = post(signed_in, f"/watchlist/issues/{issue.id}/releases", htmx=True)
    assert searched.status_code == 200 and "Searched no indexer" in searched.text


def test_story_arcs_are_added_and_wanted(app, signed_in):
    bad = post(signed_in, "/watchlist/arcs", {"provider": "metron", "arc_id": ""})
    assert bad.status_code == 400 and 'id="f-arc-id-error"' in bad.text
    assert post(signed_in, "/watchlist/arcs", {"provider": "metron", "arc_id": "2"}
                ).status_code == 303
    from comicsrv.models.automation import StoryArc
    arc = db.session.execute(db.select(StoryArc)).scalar_one()
    page = signed_in.get(f"/watchlist/arcs/{arc.id}").text
    assert page.count('data-position="') == len(arc.entries) == 7
    assert "Series not watched" in page
    wanted = post(signed_in, f"/watchlist/arcs/{arc.id}/want")
    assert wanted.status_code == 303
    assert "7 issue(s) wanted, 1 series added to the watchlist" in signed_in.get(
        f"/watchlist/arcs/{arc.id}").text


# --- wanted ----------------------------------------------------------------------------------------

def test_missing_issues_page_sort_and_search(app, signed_in):
    today = date.today()
    series = WatchedSeriesFactory(name="Saga")
    other = WatchedSeriesFactory(name="Alpha Flight", status=PAUSED)
    for n in range(1, 56):
        WatchedIssueFactory(series=series, number=str(n), number_sort=n,
                            store_date=(today - timedelta(days=n)).isoformat())
    WatchedIssueFactory(series=other, number="1", number_sort=1, store_date="2001-01-01")
    future = WatchedIssueFactory(series=series, number="99", number_sort=99,
                                 store_date=(today + timedelta(days=10)).isoformat())
    first = signed_in.get("/wanted").text
    assert "56 missing issues" in first and first.count('name="issue_id"') == 50
    assert f'value="{future.id}"' not in first
    second = signed_in.get("/wanted?page=2").text
    assert second.count('name="issue_id"') == 6 and "Alpha Flight" in second
    by_series = signed_in.get("/wanted?sort=series&order=asc").text
    assert by_series.index("Alpha Flight") < by_series.index("Saga")
    assert "(paused)" in by_series
    ids = [str(i.id) for i in series.issues[:3]]
    done = post(signed_in, "/wanted/search", {"issue_id": ids})
    assert done.status_code == 303
    job = db.session.execute(db.select(Job)).scalar_one()
    assert job.params == {"issue_ids": sorted(int(i) for i in ids)}
    wait_jobs(app)
    nothing = post(signed_in, "/wanted/search", {})
    assert "Select the issues to search first." in signed_in.get(nothing.headers["Location"]).text
    upcoming = signed_in.get("/wanted/upcoming").text
    assert "Saga #99" in upcoming and "Week of" in upcoming


# --- activity ------------------------------------------------------------------------------------

def test_the_queue_stream_sends_the_rows(app, signed_in):
    client = DownloadClientConfigFactory(kind="qbittorrent",
                                         settings={"url": "http://127.0.0.1:9"})
    DownloadFactory(title="Saga 004 (Digital)", client_id=client.id, client_item_id="a" * 40,
                    state=DL_DOWNLOADING, progress=0.5)
    page = signed_in.get("/activity").text
    assert 'data-percent="50"' in page and 'sse-connect="/activity/queue/events"' in page
    stream = signed_in.get("/activity/queue/events", buffered=False)
    first = next(stream.response).decode()
    stream.close()
    assert first.startswith("event: queue") and "Saga 004 (Digital)" in first
    assert 'data-state="downloading"' in first


def test_remove_and_blocklist_from_the_queue(app, signed_in, tmp_path):
    watch, done = tmp_path / "watch", tmp_path / "done"
    watch.mkdir(), done.mkdir()
    (watch / "Saga 004.torrent").write_bytes(b"d4:infod4:name1:xee")
    client = DownloadClientConfigFactory(kind="blackhole", settings={
        "watch_folder": str(watch), "completed_folder": str(done)})
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga"), number="4",
                                state="snatched")
    download = DownloadFactory(title="Saga 004 (Digital)", guid="g4", client_id=client.id,
                               client_item_id="Saga 004", watched_issue_id=issue.id,
                               indexer="NZB", state=DL_DOWNLOADING)
    rows = post(signed_in, f"/activity/downloads/{download.id}/remove", {"blocklist": "on"},
                htmx=True)
    assert rows.status_code == 200 and "Nothing is downloading" in rows.text
    db.session.expire_all()
    assert download.state == DL_REMOVED and issue.state == WANTED
    blocked = db.session.execute(db.select(BlockedRelease)).scalar_one()
    assert (blocked.title, blocked.reason) == ("Saga 004 (Digital)", "blocklisted by a user")
    assert not (watch / "Saga 004.torrent").exists()
    listing = signed_in.get("/activity/blocklist?q=saga").text
    assert "Saga 004 (Digital)" in listing and "blocklisted by a user" in listing
    post(signed_in, f"/activity/blocklist/{blocked.id}/remove")
    assert db.session.execute(db.select(BlockedRelease)).first() is None
    history = signed_in.get("/activity/history?state=removed").text
    assert "Saga 004 (Digital)" in history
    paused = post(signed_in, f"/activity/downloads/{download.id}/pause")
    assert paused.status_code == 303
    assert "cannot pause" in signed_in.get(paused.headers["Location"]).text


def test_history_shows_the_reason_and_how_it_was_found(app, signed_in):
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga"), number="2")
    DownloadFactory(title="Saga 002 (c2c)", indexer="NZB", state=DL_FAILED,
                    watched_issue_id=issue.id, error="the download holds no comic")
    DownloadFactory(title="Saga 001 (Digital)", indexer="NZB", state=DL_IMPORTED,
                    watched_issue_id=issue.id)
    db.session.add(ReleaseDecision(title="Saga 001 (Digital)", source="rss", accepted=True,
                                   grabbed=True, reasons=[]))
    db.session.commit()
    page = signed_in.get("/activity/history").text
    assert "the download holds no comic" in page and "(rss)" in page
    failed = signed_in.get("/activity/history?state=failed").text
    assert "Saga 002 (c2c)" in failed and "Saga 001 (Digital)" not in failed
    db.session.add(BlockedRelease(title="x", reason="y"))
    db.session.commit()
    assert post(signed_in, "/activity/blocklist/clear").status_code == 303
    assert db.session.execute(db.select(BlockedRelease)).first() is None


# --- system ------------------------------------------------------------------------------------------

def test_tasks_run_now_cancel_and_logs(app, signed_in):
    assert post(signed_in, "/system/tasks/run", {"type": "automation.rss"}).status_code == 303
    job = db.session.execute(db.select(Job)).scalar_one()
    assert (job.type, job.target) == ("automation.rss", "automation.rss")
    wait_jobs(app)
    assert post(signed_in, "/system/tasks/run", {"type": "library.scan"}).status_code == 400
    assert post(signed_in, f"/system/tasks/{job.id}/cancel").status_code == 409
    tasks = signed_in.get("/system/tasks").text
    assert 'data-task="automation.rss"' in tasks and "Finished" in tasks
    logging.getLogger("comicsrv.webtest").warning("a warning to find %s", "4711")
    logging.getLogger("comicsrv.webtest").info("an info line 4712")
    rows = signed_in.get("/system/logs?rows=1&level=WARNING").text
    # The message, not the bare number: a timestamp's microseconds may hold it.
    assert "a warning to find 4711" in rows and "an info line" not in rows and "<html" not in rows
    assert "an info line 4712" in signed_in.get("/system/logs?level=INFO").text
    status = signed_in.get("/system").text
    assert "SQLite" in status or "PostgreSQL" in status
    assert "Every plugin loaded." in status and "newznab" in status


def test_the_wizard_saves_only_what_passed_its_test(app, signed_in, tmp_path):
    form = {"kind": "blackhole", "name": "Hole", "enabled": "on", "priority": "1",
            "category": "comics", "settings.watch_folder": str(tmp_path / "watch"),
            "settings.completed_folder": str(tmp_path)}
    failed = post(signed_in, "/system/wizard/client", form)
    assert failed.status_code == 400 and "The test failed, so nothing was saved" in failed.text
    assert db.session.execute(db.select(DownloadClientConfig)).first() is None
    (tmp_path / "watch").mkdir()
    saved = post(signed_in, "/system/wizard/client", form)
    assert saved.headers["Location"] == "/system/wizard?step=indexer"
    assert db.session.execute(db.select(DownloadClientConfig)).scalar_one().name == "Hole"
    page = signed_in.get(saved.headers["Location"]).text
    assert 'data-configured="client"' in page and "passed its test" in page
    assert post(signed_in, "/system/wizard/finish").status_code == 303
    assert get_setting("wizard.completed") is True


# --- live news -----------------------------------------------------------------------------------------

def test_toasts_say_what_happened(app):
    issue = WatchedIssueFactory(series=WatchedSeriesFactory(name="Saga"), number="7")
    grabbed = live.toast(ReleaseGrabbed(download_id=1, title="Saga 007", indexer="NZB",
                                        client="SAB", watched_issue_id=issue.id))
    assert grabbed == {"kind": "grabbed", "title": "Grabbed Saga #7",
                       "text": "Saga 007 from NZB, sent to SAB"}
    imported = live.toast(IssueImported(download_id=1, watched_issue_id=issue.id, book_id=3,
                                        path="/comics/Saga 007.cbz"))
    assert imported["title"] == "Imported Saga #7" and imported["text"] == "/comics/Saga 007.cbz"
    failed = live.toast(DownloadFailed(download_id=1, title="Saga 007", reason="no comic"))
    assert failed == {"kind": "failed", "title": "Download failed", "text": "Saga 007: no comic"}


def test_the_live_stream_starts_with_the_badge(app, signed_in):
    DownloadFactory(state=DL_DOWNLOADING)
    DownloadFactory(state=DL_IMPORTED)
    stream = signed_in.get("/live/events", buffered=False)
    first = next(stream.response).decode()
    stream.close()
    assert first == 'event: badge\ndata: {"active":1}\n\n'


# --- provider covers ---------------------------------------------------------------------------------------

def test_provider_covers_are_fetched_once_and_only_when_signed(app, signed_in):
    image = io.BytesIO()
    Image.new("RGB", (1200, 1800), (200, 30, 30)).save(image, "JPEG")
    with ReplayServer() as server:
        server.add("GET", "/cover.jpg", Recorded(image.getvalue(),
                                                 headers={"Content-Type": "image/jpeg"}))
        server.add("GET", "/page.html", Recorded.text("<html>not an image</html>", "text/html"))
        url = server.url + "/cover.jpg"
        link = f"/watchlist/cover?u={url}&s={covers.signature(url)}"
        first = signed_in.get(link)
        assert first.status_code == 200 and first.mimetype == "image/jpeg"
        assert Image.open(io.BytesIO(first.data)).size == (240, 360)  # made small once
        assert signed_in.get(link).data == first.data
        assert [r.path for r in server.requests] == ["/cover.jpg"]  # from the cache after
        forged = signed_in.get(f"/watchlist/cover?u={server.url}/page.html&s=0000")
        assert forged.status_code == 400
        html = server.url + "/page.html"
        not_image = signed_in.get(f"/watchlist/cover?u={html}&s={covers.signature(html)}")
        assert not_image.mimetype == "image/png"  # the placeholder
        assert not_image.headers["Cache-Control"] == "no-store"
