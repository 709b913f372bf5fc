"""The ComicVine provider against a real HTTP server on 127.0.0.1 answering
with ComicVine's recorded bodies (tests/fixtures/metadata/comicvine).

Only single-object answers were recorded (a volume, an issue, "not found");
list answers are built here by wrapping those recorded objects in
ComicVine's list envelope, which is how the real API returns them.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from comicsrv.hookspecs import (
    IntegrationAuthError, IntegrationContext, IntegrationNotFound, IntegrationRateLimited,
)
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.comicvine import ComicVine
from comicsrv_plugins.metadata_support import RateLimiter

FIXTURES = Path(__file__).parent.parent / "fixtures" / "metadata" / "comicvine"
VOLUME = json.loads((FIXTURES / "comictagger-cv_volume_result.json").read_text())
ISSUE = json.loads((FIXTURES / "comictagger-cv_issue_result.json").read_text())
NOT_FOUND = json.loads((FIXTURES / "comictagger-cv_not_found.json").read_text())


def envelope(results, *, total=None, offset=0, status=1, error="OK"):
    """ComicVine's list envelope around recorded objects."""
    results = list(results)
    return {"error": error, "limit": 100, "offset": offset,
            "number_of_page_results": len(results),
            "number_of_total_results": len(results) if total is None else total,
            "status_code": status, "results": results, "version": "1.0"}


def issue_record(issue_id: int, number: str) -> dict:
    record = copy.deepcopy(ISSUE["results"])
    record.update(id=issue_id, issue_number=number)
    return record


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(ComicVine, "limiter",
                        RateLimiter("ComicVine", [(200, 3600.0)], clock=clock, sleep=clock.sleep))
    return clock


@pytest.fixture
def server():
    with ReplayServer() as server:
        yield server


@pytest.fixture
def make(server, tmp_path, clock):
    def make(**settings):
        settings = {"api_key": "cv-key", "url": server.url + "/api", **settings}
        return ComicVine(settings, IntegrationContext(cache_dir=str(tmp_path / "cv"),
                                                      user_agent="comicsrv/test", timeout=5))
    return make


def test_get_series_maps_the_recorded_volume_and_sends_key_and_format(server, make):
    server.add("GET", "/api/volume/4050-23437/", Recorded.json(VOLUME))
    series = make().get_series("4050-23437")
    assert series.provider == "comicvine" and series.provider_id == "23437"
    assert series.name == "Cory Doctorow's Futuristic Tales of the Here and Now"
    assert (series.year, series.publisher, series.issue_count) == (2007, "IDW Publishing", 1)
    assert series.description.startswith("Writer and BoingBoing.net co-editor Cory Doctorow")
    assert "<" not in series.description
    assert series.image_url.endswith("585444-109004_20080707014047_large.jpg")
    [request] = server.requests
    assert request.query["api_key"] == "cv-key" and request.query["format"] == "json"
    assert request.headers["User-Agent"] == "comicsrv/test"


def test_bare_number_ids_are_accepted_and_bad_ids_rejected_before_any_request(server, make):
    server.add("GET", "/api/volume/4050-23437/", Recorded.json(VOLUME))
    assert make().get_series("23437").provider_id == "23437"
    with pytest.raises(ValueError, match="not a ComicVine volume id"):
        make().get_series("4000-23437")
    with pytest.raises(ValueError):
        make().get_series("../../etc")
    assert len(server.requests) == 1


def test_search_filters_by_year_and_asks_for_volumes(server, make):
    server.add("GET", "/api/search/", Recorded.json(envelope([VOLUME["results"]])))
    provider = make()
    [found] = provider.search_series("Cory Doctorow", year=2007)
    assert found.provider_id == "23437" and found.year == 2007
    assert provider.search_series("Cory Doctorow", year=1999) == []
    request = server.requests[0]
    assert request.query["query"] == "Cory Doctorow" and request.query["resources"] == "volume"
    with pytest.raises(ValueError):
        provider.search_series("   ")


def test_get_issues_follows_every_page_and_maps_credits(server, make):
    first, second = issue_record(140529, "1"), issue_record(140530, "2")
    server.add("GET", "/api/issues/", Recorded.json(envelope([first], total=2)),
               query={"offset": "0"})
    server.add("GET", "/api/issues/", Recorded.json(envelope([second], total=2, offset=1)),
               query={"offset": "1"})
    issues = make(page_size=1).get_issues("23437")
    assert [(i.provider_id, i.number) for i in issues] == [("140529", "1"), ("140530", "2")]
    assert [r.query["filter"] for r in server.requests] == ["volume:23437"] * 2
    issue = issues[0]
    assert issue.series_id == "23437" and issue.title == "Anda's Game"
    assert issue.cover_date == "2007-10-01" and issue.store_date is None
    assert issue.credits == {
        "Writer": ["Dara Naraghi", "Esteve Polls"], "Penciller": ["Esteve Polls"],
        "Inker": ["Esteve Polls"], "Letterer": ["Neil Uyetake"], "CoverArtist": ["Sam Kieth"],
        "Editor": ["Ted Adams"]}


def test_get_arc_keeps_the_arcs_reading_order(server, make):
    arc = {"id": 55766, "name": "Anda's Arc", "issues": [{"id": 140530}, {"id": 140529}]}
    server.add("GET", "/api/story_arc/4045-55766/",
               Recorded.json({**envelope([]), "number_of_total_results": 1, "results": arc}))
    # The issues filter answers in id order, not reading order.
    server.add("GET", "/api/issues/", Recorded.json(envelope(
        [issue_record(140529, "1"), issue_record(140530, "2")])))
    result = make().get_arc("55766")
    assert result.name == "Anda's Arc"
    assert [i.provider_id for i in result.issues] == ["140530", "140529"]
    assert server.requests[-1].query["filter"] == "id:140530|140529"


def test_not_found_envelope_becomes_integration_not_found(server, make):
    server.add("GET", "/api/volume/4050-999999/", Recorded.json(NOT_FOUND, status=404))
    with pytest.raises(IntegrationNotFound, match="status 101: Object Not Found"):
        make().get_series("999999")


def test_invalid_key_and_rate_limit_envelopes_are_clear_errors(server, make):
    # Built from the recorded 101 envelope with ComicVine's documented codes.
    server.add("GET", "/api/volume/4050-1/", Recorded.json(
        {**NOT_FOUND, "status_code": 100, "error": "Invalid API Key"}, status=401))
    server.add("GET", "/api/volume/4050-2/", Recorded.json(
        {**NOT_FOUND, "status_code": 107, "error": "Rate limit exceeded.  Slow down cowboy."},
        status=420))
    with pytest.raises(IntegrationAuthError, match="rejected the API key"):
        make().get_series("1")
    with pytest.raises(IntegrationRateLimited, match="status 107"):
        make().get_series("2")
    assert make().test().ok is False


def test_missing_key_fails_without_a_request(server, make):
    with pytest.raises(IntegrationAuthError, match="needs an API key"):
        make(api_key="").get_series("1")
    assert server.requests == []


def test_test_reports_success(server, make):
    server.add("GET", "/api/volumes/", Recorded.json(envelope([{"id": 23437}])))
    result = make().test()
    assert result.ok, result.message


def test_a_cached_answer_costs_no_request_and_no_quota(server, make, tmp_path):
    server.add("GET", "/api/volume/4050-23437/", Recorded.json(VOLUME))
    make().get_series("23437")
    # A second instance (a later refresh) with the same cache folder.
    again = make().get_series("23437")
    assert again.name.startswith("Cory Doctorow")
    assert len(server.requests) == 1
    assert ComicVine.limiter.used("volume") == 1
    # The API key is neither in the stored answer nor its key.
    stored = b"".join(p.read_bytes() for p in (tmp_path / "cv").rglob("*") if p.is_file())
    assert b"cv-key" not in stored


def test_error_answers_are_not_cached(server, make):
    server.add("GET", "/api/volume/4050-5/", Recorded.json(NOT_FOUND, status=404))
    for _ in range(2):
        with pytest.raises(IntegrationNotFound):
            make().get_series("5")
    assert len(server.requests) == 2


def test_limiter_is_per_resource_and_shared_by_every_instance(server, make, clock):
    ComicVine.limiter.windows = [(2, 3600.0)]
    server.add("GET", "/api/volume/4050-1/", Recorded.json(VOLUME))
    server.add("GET", "/api/volume/4050-2/", Recorded.json(VOLUME))
    server.add("GET", "/api/search/", Recorded.json(envelope([])))
    make(cache_hours=0).get_series("1")
    clock.now += 10
    make(cache_hours=0).get_series("2")
    # Another resource has its own window: no wait.
    make(cache_hours=0).search_series("x")
    assert clock.slept == []
    # The third volume request of the hour would wait ~59 min: too long.
    with pytest.raises(IntegrationRateLimited, match="quota for 'volume' is spent") as info:
        make(cache_hours=0).get_series("1")
    assert info.value.retry_after == pytest.approx(3590)
    assert len(server.requests) == 3
    # A short wait is waited out instead.
    clock.now += 3590 - 30
    make(cache_hours=0).get_series("1")
    assert clock.slept == [pytest.approx(30)]
    assert len(server.requests) == 4


def test_unreachable_service_is_a_clear_error(make, free_port):
    from comicsrv.hookspecs import IntegrationError

    provider = make(url=f"http://127.0.0.1:{free_port}/api")
    with pytest.raises(IntegrationError, match="could not be reached"):
        provider.get_series("1")


def test_plugin_is_registered_through_its_entry_point():
    from comicsrv.plugins import PluginRegistry

    registry = PluginRegistry()
    registry.load_entry_points()
    assert registry.integrations("metadata")["comicvine"] is ComicVine
