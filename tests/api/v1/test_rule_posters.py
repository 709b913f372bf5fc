"""AutoBangumi's poster refresh, calendar refresh and reset-all, for watched
series (rules) added from Metron answered by a real HTTP server on
127.0.0.1 replaying recorded bodies; the poster a real JPEG (a fixture
comic's cover)."""
from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta

from PIL import Image

from comicsrv.extensions import db
from comicsrv.models import Job
from comicsrv.models.automation import WatchedIssue, WatchedSeries
from comicsrv.testing.replay import Recorded
from tests.api.legacy.metron_replay import (  # noqa: F401 (fixtures)
    SERIES_1, add_inhumans, app, headers, metron,
)
from tests.conftest import FIXTURE_ARCHIVES
from tests.factories import WatchedIssueFactory, WatchedSeriesFactory, api_key_for


def cover_jpeg() -> bytes:
    with zipfile.ZipFile(FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz") as archive:
        name = sorted(n for n in archive.namelist() if n.lower().endswith((".jpg", ".jpeg")))[0]
        return archive.read(name)


def v1(headers):
    return {"X-API-Key": headers["X-Api-Key"]}


def _rule_id() -> int:
    return db.session.execute(db.select(WatchedSeries.id).where(
        WatchedSeries.provider_id == "1")).scalar_one()


def _wait(app, job_id):
    assert app.extensions["comicsrv.jobs"].wait(job_id, 60)
    db.session.expire_all()
    return db.session.get(Job, job_id)


def serve_image(metron, body: bytes, content_type: str = "image/jpeg") -> None:
    """Series 1 as Metron lists it with an image (Metron's answers are
    cached by the plugin, so this is set before the series is added)."""
    metron.add("GET", "/media/series/1.jpg", Recorded(body, 200, {"Content-Type": content_type}))
    metron.add("GET", "/api/series/1/", Recorded.json(
        {**SERIES_1, "image": f"{metron.url}/media/series/1.jpg"}))


def test_refresh_one_poster_keeps_the_providers_image(app, client, headers, metron):
    serve_image(metron, cover_jpeg())
    add_inhumans(client, headers)
    rule_id = _rule_id()
    missing = client.get(f"/api/v1/rules/{rule_id}/poster", headers=v1(headers))
    assert missing.status_code == 404 and missing.json["error"] == "no_poster"
    # Batman (2011) has no image at Metron: said so.
    batman = WatchedSeriesFactory(name="Batman", provider="metron", provider_id="763")
    none = client.post(f"/api/v1/rules/{batman.id}/poster/refresh", headers=v1(headers))
    assert none.status_code == 404 and "no image" in none.json["message"]

    answer = client.post(f"/api/v1/rules/{rule_id}/poster/refresh", headers=v1(headers))
    assert answer.status_code == 200, answer.json
    assert answer.json["image_url"] == f"{metron.url}/media/series/1.jpg"
    assert answer.json["poster"] == f"/api/v1/rules/{rule_id}/poster"
    poster = client.get(answer.json["poster"], headers=v1(headers))
    assert poster.status_code == 200 and poster.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(poster.data))
    assert image.format == "JPEG" and max(image.size) <= 600
    assert db.session.get(WatchedSeries, rule_id).image_url.endswith("/media/series/1.jpg")


def test_a_poster_that_is_not_an_image_is_refused_and_nothing_kept(app, client, headers, metron):
    serve_image(metron, b"<html>moved</html>", "text/html")
    add_inhumans(client, headers)
    rule_id = _rule_id()
    answer = client.post(f"/api/v1/rules/{rule_id}/poster/refresh", headers=v1(headers))
    assert answer.status_code == 503 and answer.json["error"] == "poster_unavailable"
    assert client.get(f"/api/v1/rules/{rule_id}/poster", headers=v1(headers)).status_code == 404


def test_refresh_all_posters_in_a_job_reports_each_failure(app, client, headers, metron):
    serve_image(metron, cover_jpeg())
    add_inhumans(client, headers)
    WatchedSeriesFactory(name="Unknown at Metron", provider="metron", provider_id="424242")
    answer = client.post("/api/v1/rules/posters/refresh", headers=v1(headers))
    assert answer.status_code == 202
    job = _wait(app, answer.json["job_id"])
    assert job.state == "finished", job.error
    assert job.result["refreshed"] == 1 and len(job.result["failed"]) == 1


def test_calendar_lists_upcoming_issues_and_refresh_runs_the_metadata_job(
        app, client, headers, metron):
    today = date.today()
    saga = WatchedSeriesFactory(name="Saga", year=2012)
    soon = WatchedIssueFactory(series=saga, number="67", number_sort=67.0,
                               store_date=(today + timedelta(days=3)).isoformat(), state="wanted")
    WatchedIssueFactory(series=saga, number="66", number_sort=66.0,
                        store_date=(today - timedelta(days=10)).isoformat())
    WatchedIssueFactory(series=saga, number="70", number_sort=70.0,
                        store_date=(today + timedelta(days=90)).isoformat())
    answer = client.get("/api/v1/calendar", headers=v1(headers)).json
    assert [i["number"] for i in answer["items"]] == ["67"]
    item = answer["items"][0]
    assert item["rule_id"] == saga.id and item["series"] == "Saga" and item["state"] == "wanted"
    assert item["weekday"] == date.fromisoformat(soon.store_date).isoweekday()
    wider = client.get("/api/v1/calendar", headers=v1(headers),
                       query_string={"days": 120, "past_days": 30}).json
    assert [i["number"] for i in wider["items"]] == ["66", "67", "70"]
    assert wider["start"] == (today - timedelta(days=30)).isoformat()

    add_inhumans(client, headers)
    refresh = client.post("/api/v1/calendar/refresh", headers=v1(headers))
    assert refresh.status_code == 202
    job = _wait(app, refresh.json["job_id"])
    assert job.type == "automation.refresh_metadata" and job.state == "finished"
    assert job.result["refreshed"] >= 1


def test_reset_all_needs_confirmation_then_removes_every_rule(app, client, headers, metron):
    add_inhumans(client, headers)
    WatchedSeriesFactory(name="Saga")
    unconfirmed = client.post("/api/v1/rules/reset-all", headers=v1(headers),
                              json={"confirm": False})
    assert unconfirmed.status_code == 400 and unconfirmed.json["error"] == "confirmation_required"
    assert client.post("/api/v1/rules/reset-all", headers=v1(headers), json={}).status_code == 400
    assert db.session.execute(db.select(WatchedSeries)).scalars().all()
    answer = client.post("/api/v1/rules/reset-all", headers=v1(headers), json={"confirm": True})
    assert answer.status_code == 200 and len(answer.json["removed"]) == 2
    assert db.session.execute(db.select(WatchedSeries)).first() is None
    assert db.session.execute(db.select(WatchedIssue)).first() is None


def test_only_an_admin_touches_rules(app, client, reader):
    key = api_key_for(reader, ["LibrariesRead"])
    for method, path in (("get", "/api/v1/calendar"), ("post", "/api/v1/calendar/refresh"),
                         ("post", "/api/v1/rules/posters/refresh"),
                         ("post", "/api/v1/rules/reset-all")):
        assert getattr(client, method)(path, headers={"X-API-Key": key}).status_code == 403
