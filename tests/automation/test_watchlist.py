"""The watchlist against the real database, with Metron answered by a real
HTTP server on 127.0.0.1 replaying its recorded bodies."""
from __future__ import annotations

import copy
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from comicsrv.automation import watchlist
from comicsrv.errors import BadRequest, Conflict, NotFound
from comicsrv.extensions import db
from comicsrv.models.automation import (
    DOWNLOADED, SKIPPED, SNATCHED, WANTED, WatchedIssue, WatchedSeries,
)
from comicsrv.settings_store import set_setting
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.metadata_support import RateLimiter
from comicsrv_plugins.metron import Metron
from tests.factories import (
    BookFactory, LibraryFactory, SeriesFactory, WatchedIssueFactory, WatchedSeriesFactory,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "metadata" / "metron"
SERIES_1 = json.loads((FIXTURES / "series_1.json").read_text())
ISSUES_1 = json.loads((FIXTURES / "series_1_issue_list.json").read_text())


def with_third_issue(body: dict, **changes) -> dict:
    """The recorded issue list with a third issue announced (a copy of the
    second, renumbered): what a later refresh would see."""
    body = copy.deepcopy(body)
    third = copy.deepcopy(body["results"][1])
    third.update(id=3, number="3", issue="Death of the Inhumans (2018) #3", **changes)
    body["results"].append(third)
    body["count"] = 3
    return body


@pytest.fixture
def metron():
    with ReplayServer() as server:
        server.add("GET", "/api/series/", Recorded.file(FIXTURES / "series_name_death.json",
                                                         "application/json"))
        server.add("GET", "/api/series/1/", Recorded.json(SERIES_1))
        server.add("GET", "/api/series/1/issue_list/", Recorded.json(ISSUES_1))
        yield server


@pytest.fixture
def app(make_app, metron, monkeypatch):
    # A fresh quota per test: the class-wide limiter would otherwise carry
    # requests over from earlier tests.
    monkeypatch.setattr(Metron, "limiter", RateLimiter("Metron", [(30, 60.0)]))
    app = make_app(METADATA_URLS={"metron": metron.url + "/api",
                                  "comicvine": metron.url + "/cv"})
    with app.app_context():
        set_setting("metadata.metron_username", "reader", None)
        set_setting("metadata.metron_password", "s3cret", None)
        yield app


@pytest.fixture
def events(app):
    with app.extensions["comicsrv.events"].subscribe(["issue_wanted"]) as sub:
        def drain():
            found = []
            while (event := sub.get(timeout=0)) is not None:
                found.append(event)
            return found
        yield drain


def forget_cached_answers(app):
    """Let the provider cache expire, as it does between two scheduled refreshes."""
    shutil.rmtree(Path(app.config["CACHE_DIR"]) / "integrations" / "metadata",
                  ignore_errors=True)


def test_provider_is_built_from_settings_and_metadata_urls(app, metron):
    source = watchlist.provider()
    assert source.kind == "metron"
    assert source.settings["url"] == metron.url + "/api"
    assert source.settings["username"] == "reader"
    set_setting("metadata.comicvine_api_key", "cv-key", None)
    assert watchlist.provider("comicvine").settings["api_key"] == "cv-key"
    with pytest.raises(BadRequest, match="no metadata plugin provides 'nosuch'"):
        watchlist.provider("nosuch")


def test_search_series_goes_to_the_provider(app, metron):
    [found] = watchlist.search_series("death", year=2018)
    assert (found.provider_id, found.name) == ("1", "Death of the Inhumans")
    assert metron.requests[0].query == {"name": "death", "year_began": "2018"}
    with pytest.raises(BadRequest):
        watchlist.search_series("  ")


def test_add_series_creates_rows_links_books_and_wants_the_rest(app, events):
    library = LibraryFactory()
    series = SeriesFactory(library=library, name="Death of the Inhumans", year=2018)
    book = BookFactory(library=library, series=series, number="001")
    watched = watchlist.add_series("metron", "1", library_id=library.id, aliases=["DotI"])
    assert (watched.name, watched.year, watched.publisher, watched.aliases) == (
        "Death of the Inhumans", 2018, "Marvel", ["DotI"])
    assert watched.series_id == series.id
    first, second = watched.issues
    assert (first.number, first.state, first.book_id) == ("1", DOWNLOADED, book.id)
    assert (second.number, second.state, second.book_id) == ("2", WANTED, None)
    assert (second.store_date, second.cover_date, second.number_sort) == (
        "2018-08-08", "2018-10-01", 2.0)
    [event] = events()
    assert (event.watched_issue_id, event.number, event.new) == (second.id, "2", False)


def test_a_series_of_the_same_name_from_another_year_is_not_linked(app):
    library = LibraryFactory()
    other = SeriesFactory(library=library, name="Death of the Inhumans", year=1990)
    BookFactory(library=library, series=other, number="1")
    watched = watchlist.add_series("metron", "1", library_id=library.id)
    assert [i.state for i in watched.issues] == [WANTED, WANTED]
    assert watched.series_id is None


def test_add_series_twice_is_a_conflict_and_bad_input_is_refused(app, metron):
    watchlist.add_series("metron", "1")
    with pytest.raises(Conflict):
        watchlist.add_series("metron", "1")
    with pytest.raises(BadRequest, match="unknown series options: colour"):
        watchlist.add_series("metron", "2", colour="red")
    with pytest.raises(BadRequest, match="not a Metron series id"):
        watchlist.add_series("metron", "../1")
    with pytest.raises(NotFound, match="library 999 does not exist"):
        watchlist.add_series("metron", "2", library_id=999)
    with pytest.raises(NotFound):
        watchlist.add_series("metron", "404")  # the replay server has no such series
    assert db.session.scalar(db.select(db.func.count(WatchedSeries.id))) == 1


def test_mark_missing_wanted_false_skips_released_issues(app, events):
    watched = watchlist.add_series("metron", "1", mark_missing_wanted=False)
    assert [i.state for i in watched.issues] == [SKIPPED, SKIPPED]
    assert events() == []


def test_announced_issues_are_wanted_but_not_released(app, metron):
    metron.add("GET", "/api/series/1/issue_list/", Recorded.json(
        with_third_issue(ISSUES_1, store_date="2999-01-06", cover_date="2999-03-01")))
    watched = watchlist.add_series("metron", "1", mark_missing_wanted=False)
    states = {i.number: i.state for i in watched.issues}
    assert states == {"1": SKIPPED, "2": SKIPPED, "3": WANTED}
    third = watched.issues[2]
    assert not watchlist.released(third) and watchlist.released(watched.issues[0])
    assert watchlist.released(third, today=date(2999, 1, 6))


def test_released_reads_partial_dates_and_treats_undated_as_out(app):
    issue = WatchedIssue(number="1", cover_date="2018-09", store_date=None)
    assert watchlist.released(issue, today=date(2018, 9, 1))
    assert not watchlist.released(issue, today=date(2018, 8, 31))
    assert watchlist.released(WatchedIssue(number="1"), today=date(1900, 1, 1))


def test_refresh_adds_new_issues_as_wanted_and_never_downgrades(app, metron, events):
    watched = watchlist.add_series("metron", "1")
    first, second = watched.issues
    watchlist.set_issue_state(first.id, DOWNLOADED)
    watchlist.set_issue_state(second.id, SNATCHED)
    events()
    changed = copy.deepcopy(ISSUES_1)
    changed["results"][0]["cover_date"] = "2018-09-05"
    metron.add("GET", "/api/series/1/issue_list/", Recorded.json(with_third_issue(changed)))
    forget_cached_answers(app)

    outcome = watchlist.refresh_series(watched.id)
    assert outcome["added"] == 1 and outcome["wanted"] == 1 and outcome["updated"] == 1
    db.session.expire_all()
    states = {i.number: i.state for i in db.session.get(WatchedSeries, watched.id).issues}
    assert states == {"1": DOWNLOADED, "2": SNATCHED, "3": WANTED}
    assert db.session.get(WatchedIssue, first.id).cover_date == "2018-09-05"
    [event] = events()
    assert (event.number, event.new) == ("3", True)


def test_refresh_without_monitor_new_skips_new_issues(app, metron, events):
    watched = watchlist.add_series("metron", "1", monitor_new=False)
    events()
    metron.add("GET", "/api/series/1/issue_list/", Recorded.json(with_third_issue(ISSUES_1)))
    forget_cached_answers(app)
    assert watchlist.refresh_series(watched.id)["wanted"] == 0
    assert db.session.scalars(db.select(WatchedIssue.state).where(
        WatchedIssue.number == "3")).one() == SKIPPED
    assert events() == []


def test_a_refresh_within_the_cache_lifetime_spends_no_request(app, metron):
    watched = watchlist.add_series("metron", "1")
    before = len(metron.requests)
    watchlist.refresh_series(watched.id)
    assert len(metron.requests) == before


def test_refresh_job_reports_a_failing_series_and_goes_on(app, metron):
    good = watchlist.add_series("metron", "1")
    gone = WatchedSeriesFactory(provider="metron", provider_id="404")
    runner = app.extensions["comicsrv.jobs"]
    job = runner.run_now(watchlist.REFRESH_JOB, {})
    assert job.state == "finished", job.error
    assert job.result["refreshed"] == 1
    [failure] = job.result["failed"]
    assert failure["watched_series_id"] == gone.id and "Metron has no series/404" in failure["error"]
    assert db.session.get(WatchedSeries, good.id).last_refreshed_at is not None
    one = runner.run_now(watchlist.REFRESH_JOB, {"series_id": good.id})
    assert one.state == "finished" and one.result["refreshed"] == 1


def test_refresh_job_stops_when_the_quota_is_spent(app, metron, monkeypatch):
    watchlist.add_series("metron", "1")
    WatchedSeriesFactory(provider="metron", provider_id="2")
    forget_cached_answers(app)
    monkeypatch.setattr(Metron, "limiter", RateLimiter("Metron", [(1, 3600.0)]))
    job = app.extensions["comicsrv.jobs"].run_now(watchlist.REFRESH_JOB, {})
    assert job.state == "finished", job.error
    assert job.result["refreshed"] == 0 and "quota is spent" in job.result["stopped"]


def test_set_issue_state_and_series_status(app, events):
    issue = WatchedIssueFactory(state=SKIPPED)
    assert watchlist.set_issue_state(issue.id, WANTED).state == WANTED
    [event] = events()
    assert event.watched_issue_id == issue.id
    with pytest.raises(BadRequest):
        watchlist.set_issue_state(issue.id, "gone")
    with pytest.raises(NotFound):
        watchlist.set_issue_state(99999, WANTED)
    assert watchlist.set_series_status(issue.series.id, "paused").status == "paused"
    with pytest.raises(BadRequest):
        watchlist.set_series_status(issue.series.id, "sleeping")


def test_remove_series_keeps_files_unless_asked(app, tmp_path):
    library = LibraryFactory(path=str(tmp_path))
    kept, deleted = tmp_path / "kept.cbz", tmp_path / "deleted.cbz"
    kept.write_bytes(b"PK"), deleted.write_bytes(b"PK")
    first = WatchedIssueFactory(book_id=BookFactory(library=library, path=str(kept)).id)
    series_id = first.series.id
    watchlist.remove_series(series_id)
    assert kept.exists()
    assert db.session.get(WatchedSeries, series_id) is None
    assert db.session.scalar(db.select(db.func.count(WatchedIssue.id))) == 0

    book = BookFactory(library=library, path=str(deleted))
    second = WatchedIssueFactory(book_id=book.id)
    outcome = watchlist.remove_series(second.series.id, delete_files=True)
    assert outcome["deleted_files"] == 1 and not deleted.exists() and kept.exists()
    assert book.state == "missing"


def test_link_books_after_a_scan(scanned_library):
    watched = WatchedSeriesFactory(name="Captain Science", year=1950,
                                   library_id=scanned_library.id)
    one = WatchedIssueFactory(series=watched, number="1", state=WANTED)
    two = WatchedIssueFactory(series=watched, number="2", state=WANTED)
    ignored = WatchedIssueFactory(series=WatchedSeriesFactory(name="Captain Science", year=1950),
                                  number="001", state="ignored")
    assert watchlist.link_books() == 2
    assert one.state == DOWNLOADED and one.book_id is not None
    assert two.state == WANTED and two.book_id is None
    # The user's "ignored" stays, but the book is linked.
    assert ignored.state == "ignored" and ignored.book_id is not None
    assert watched.series_id is not None
    # Nothing new the second time.
    assert watchlist.link_books(watched.id) == 0
