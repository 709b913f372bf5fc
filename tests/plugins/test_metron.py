"""The Metron provider against a real HTTP server on 127.0.0.1 answering
with Metron's recorded bodies (tests/fixtures/metadata/metron, recorded by
mokkari's test suite; see _index.json for the URL each answered).

Where a test needs pages or objects that were not recorded together, it
serves recorded bodies under other paths, and says so.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from comicsrv.hookspecs import (
    IntegrationAuthError, IntegrationContext, IntegrationError, IntegrationNotFound,
    IntegrationRateLimited,
)
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.metadata_support import RateLimiter
from comicsrv_plugins.metron import Metron

FIXTURES = Path(__file__).parent.parent / "fixtures" / "metadata" / "metron"


def recorded(name: str, status: int = 200, **headers: str) -> Recorded:
    return Recorded.file(FIXTURES / name, "application/json", status, **headers)


class FakeClock:
    def __init__(self):
        self.now = 5000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(Metron, "limiter", RateLimiter(
        "Metron", [(30, 60.0), (10_000, 86_400.0)], clock=clock, sleep=clock.sleep))
    return clock


@pytest.fixture
def server():
    with ReplayServer() as server:
        yield server


@pytest.fixture
def make(server, tmp_path, clock):
    def make(**settings):
        settings = {"username": "reader", "password": "s3cret", "url": server.url + "/api",
                    **settings}
        return Metron(settings, IntegrationContext(cache_dir=str(tmp_path / "metron"),
                                                   user_agent="comicsrv/test", timeout=5))
    return make


def test_search_series_sends_basic_auth_and_maps_results(server, make):
    server.add("GET", "/api/series/", recorded("series_name_death.json"), query={"name": "death"})
    [found] = make().search_series("death", year=2018)
    assert (found.provider, found.provider_id, found.name, found.year, found.issue_count) == (
        "metron", "1", "Death of the Inhumans", 2018, 5)
    [request] = server.requests
    assert request.query == {"name": "death", "year_began": "2018"}
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(
        b"reader:s3cret").decode()
    assert request.headers["User-Agent"] == "comicsrv/test"


def test_api_token_is_sent_as_bearer(server, make):
    server.add("GET", "/api/series/", recorded("series_name_death.json"))
    make(api_token="tok", password="").search_series("death")
    assert server.requests[0].headers["Authorization"] == "Bearer tok"


def test_search_reads_only_the_first_page(server, make):
    server.add("GET", "/api/series/", recorded("series_name_batman.json"))
    found = make().search_series("batman")
    assert len(found) == 100 and len(server.requests) == 1
    assert ("763", "Batman", 2011) in {(s.provider_id, s.name, s.year) for s in found}


def test_get_series_maps_the_recorded_body(server, make):
    server.add("GET", "/api/series/1/", recorded("series_1.json"))
    series = make().get_series("1")
    assert (series.name, series.year, series.publisher, series.issue_count) == (
        "Death of the Inhumans", 2018, "Marvel", 5)
    assert series.description.startswith("The alien Kree are on a killing spree")
    assert series.url == "https://metron.cloud/series/death-of-the-inhumans-2018/"


def test_get_issues_maps_the_issue_list(server, make):
    server.add("GET", "/api/series/1/issue_list/", recorded("series_1_issue_list.json"))
    issues = make().get_issues("1")
    assert [(i.provider_id, i.series_id, i.number, i.cover_date, i.store_date) for i in issues] == [
        ("1", "1", "1", "2018-09-01", "2018-07-04"), ("2", "1", "2", "2018-10-01", "2018-08-08")]
    assert issues[0].image_url.endswith("death-of-the-inhumans-1.jpg")


def test_get_issues_follows_next_by_page_number_on_our_base_url(server, make):
    # Recorded page 1 of Action Comics (1938) says next is page 2; the last
    # recorded page (9, next=null) is served as page 2 so the walk ends there.
    server.add("GET", "/api/series/2/issue_list/",
               recorded("issue_series_name_action_comics_series_year_began_1938.json"))
    server.add("GET", "/api/series/2/issue_list/",
               recorded("issue_page_9_series_name_action_comics_series_year_began_1938.json"),
               query={"page": "2"})
    issues = make().get_issues("2")
    assert len(issues) == 164
    assert [r.query.get("page") for r in server.requests] == [None, "2"]
    assert issues[0].number == "1" and issues[0].cover_date == "1938-06-01"


def test_get_arc_keeps_order_and_finds_series_ids(server, make):
    # arc_2.json is the arc detail; the recorded issue list is arc 177's,
    # served here as arc 2's.
    server.add("GET", "/api/arc/2/", recorded("arc_2.json"))
    server.add("GET", "/api/arc/2/issue_list/", recorded("arc_177_issue_list.json"))
    server.add("GET", "/api/series/", recorded("series_name_batman.json"),
               query={"name": "Batman"})
    arc = make().get_arc("2")
    assert (arc.provider_id, arc.name) == ("2", "The Witching Hour")
    assert [i.number for i in arc.issues] == ["1", "2", "3", "4", "5", "6", "7"]
    assert {i.series_id for i in arc.issues} == {"763"}  # Batman (2011), volume 2
    # One series search for the seven issues of one series.
    assert [r.path for r in server.requests].count("/api/series/") == 1
    assert server.requests[-1].query == {"name": "Batman", "year_began": "2011"}


def test_issue_detail_credits_map_to_comicinfo_fields(make):
    body = json.loads((FIXTURES / "issue_1.json").read_text())
    issue = make()._issue(body, "")
    assert issue.series_id == "1" and issue.title == "Chapter One: Vox"
    assert issue.credits["Writer"] == ["Donny Cates"]
    assert issue.credits["Penciller"] == ["Ariel Olivetti"]
    assert "Russell Dauterman" in issue.credits["CoverArtist"]
    assert issue.credits["Editor"] == ["Wil Moss"]


def test_http_errors_become_clear_exceptions(server, make):
    server.add("GET", "/api/series/9/", Recorded.json(
        {"detail": "Invalid username/password."}, status=401))
    server.add("GET", "/api/series/10/", Recorded.json({"detail": "Not found."}, status=404))
    server.add("GET", "/api/series/11/", Recorded.json(
        {"detail": "Request was throttled."}, status=429, **{"Retry-After": "42"}))
    server.add("GET", "/api/series/12/", Recorded.text("<html>oops</html>", "text/html"))
    with pytest.raises(IntegrationAuthError, match="Invalid username/password"):
        make().get_series("9")
    with pytest.raises(IntegrationNotFound, match="Not found"):
        make().get_series("10")
    with pytest.raises(IntegrationRateLimited) as info:
        make().get_series("11")
    assert info.value.retry_after == 42
    with pytest.raises(IntegrationError, match="not JSON"):
        make().get_series("12")
    with pytest.raises(ValueError, match="not a Metron series id"):
        make().get_series("1; drop")


def test_missing_credentials_fail_without_a_request(server, make):
    with pytest.raises(IntegrationAuthError):
        make(username="", password="").get_series("1")
    assert server.requests == []
    assert make(password="").test().ok is False


def test_test_checks_the_credentials(server, make):
    server.add("GET", "/api/series/", recorded("series_name_batman.json"))
    assert make().test().ok
    server.add("GET", "/api/series/", Recorded.json({"detail": "Invalid"}, status=401))
    result = make(cache_hours=0).test()
    assert not result.ok and "refused the credentials" in result.message


def test_cached_answers_cost_no_request(server, make):
    server.add("GET", "/api/series/1/", recorded("series_1.json"))
    make().get_series("1")
    make().get_series("1")
    assert len(server.requests) == 1 and Metron.limiter.used() == 1


def test_minute_window_waits_and_daily_window_refuses(server, make, clock):
    server.add("GET", "/api/series/1/", recorded("series_1.json"))
    for _ in range(30):
        make(cache_hours=0).get_series("1")
    assert clock.slept == []
    # The 31st request in the same minute waits for the oldest to leave it.
    make(cache_hours=0).get_series("1")
    assert clock.slept == [pytest.approx(60)]
    # A spent daily quota is refused rather than waited for.
    Metron.limiter.windows = [(30, 60.0), (31, 86_400.0)]
    clock.now += 120
    with pytest.raises(IntegrationRateLimited, match="Metron request quota is spent"):
        make(cache_hours=0).get_series("1")
    assert len(server.requests) == 31
