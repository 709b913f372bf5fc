"""Matching releases to watched issues and ranking them, with readable reasons."""
from __future__ import annotations

import pytest

from comicsrv.automation.decisions import History, evaluate, match, rank, record
from comicsrv.automation.releases import parse_release
from comicsrv.hookspecs import Release
from comicsrv.models import BlockedRelease, ReleaseDecision
from tests.factories import (
    DownloadFactory, IndexerConfigFactory, WatchedIssueFactory, WatchedSeriesFactory,
)

MB = 1024 * 1024


def release(title, *, size=40 * MB, indexer="Indexer A", protocol="usenet", seeders=None, guid=None):
    return Release(title=title, download_url=f"http://127.0.0.1:9/get/{abs(hash(title))}",
                   indexer=indexer, protocol=protocol, guid=guid or f"guid-{title}", size=size,
                   seeders=seeders)


@pytest.fixture
def saga(app):
    series = WatchedSeriesFactory(name="Saga", year=2012)
    issue = WatchedIssueFactory(series=series, number="54", number_sort=54.0, cover_date="2018-10-01",
                                store_date="2018-08-29")
    return series, issue


def decide(title, issue, **kwargs):
    r = release(title, **kwargs)
    return evaluate(r, parse_release(r.title), issue, issue.series)


def test_a_matching_release_is_accepted_with_its_reasons(saga):
    series, issue = saga
    decision = decide("Saga 054 (2018) (Digital) (Zone-Empire).cbz", issue)
    assert decision.accepted, decision.reasons
    assert decision.reasons[0] == "matches Saga #54 by alias 'saga'"
    assert "format cbz is preference 1 of 4" in decision.reasons


@pytest.mark.parametrize("title, reason", [
    ("Saga 055 (2018) (Digital) (Zone-Empire)", "issue 055 is not the wanted issue 54"),
    ("Saga 054 (2012) (Digital) (Zone-Empire)", "year 2012 is not the issue's year 2018 (+-1)"),
    ("Saga Annual 054 (2018) (Digital) (Zone-Empire)", "annuals are not wanted for this series"),
    ("Saga TPB (2018) (digital)", "the release name has no issue number (a TPB, not a single issue)"),
    ("Sagas 054 (2018) (Digital) (Zone-Empire)",
     "series 'Sagas' is not 'Saga' or one of its aliases"),
])
def test_rejections_say_why(saga, title, reason):
    decision = decide(title, saga[1])
    assert not decision.accepted
    assert reason in decision.reasons


def test_cover_year_and_release_year_may_differ_by_one(saga):
    assert decide("Saga 054 (2019) (Digital)", saga[1]).accepted
    assert decide("Saga 054 (2017) (Digital)", saga[1]).accepted
    assert not decide("Saga 054 (2020) (Digital)", saga[1]).accepted


def test_wrong_volume_is_rejected(app):
    batman = WatchedSeriesFactory(name="Batman", year=2016, volume=3)
    issue = WatchedIssueFactory(series=batman, number="50", number_sort=50.0, cover_date="2018-09-01")
    assert decide("Batman v3 050 (2018) (2 covers) (digital) (Son of Ultron-Empire)", issue).accepted
    wrong = decide("Batman v2 050 (2018) (digital)", issue)
    assert "volume 2 is not the watched volume 3" in wrong.reasons


def test_issue_offset_shifts_the_number(app):
    series = WatchedSeriesFactory(name="Legacy", issue_offset=100)
    issue = WatchedIssueFactory(series=series, number="1", number_sort=1.0)
    assert decide("Legacy 101 (2018) (Digital)", issue).accepted
    assert "issue 001 is not the wanted issue 1 (with the series' issue offset +100)" in \
        decide("Legacy 001 (2018) (Digital)", issue).reasons


def test_annuals_when_wanted_and_year_numbered_annuals(app):
    series = WatchedSeriesFactory(name="The Amazing Spider-Man", year=2018, want_annuals=True)
    annual = WatchedIssueFactory(series=series, number="2019", number_sort=2019.0, annual=True,
                                 cover_date="2019-08-01")
    regular = WatchedIssueFactory(series=series, number="1", number_sort=1.0, cover_date="2018-09-01")
    assert decide("Amazing Spider-Man Annual 2019 (2019) (Digital) (Zone-Empire)", annual).accepted
    assert "an annual, and the wanted issue is not one" in \
        decide("Amazing Spider-Man Annual 001 (2018) (Digital)", regular).reasons


def test_include_exclude_terms_and_size_limits(app):
    series = WatchedSeriesFactory(name="Saga", include_terms=["digital"], exclude_terms=["c2c"],
                                  min_size=10 * MB, max_size=100 * MB)
    issue = WatchedIssueFactory(series=series, number="1", number_sort=1.0)
    assert decide("Saga 001 (2012) (Digital) (Zone-Empire)", issue).accepted
    assert "the title lacks the required term 'digital'" in decide("Saga 001 (2012) (Zone)", issue).reasons
    assert "the title contains the excluded term 'c2c'" in \
        decide("Saga 001 (2012) (digital) (c2c)", issue).reasons
    assert "size 1.0 MB is below the minimum 10.0 MB" in \
        decide("Saga 001 (2012) (Digital)", issue, size=MB).reasons
    assert "size 200.0 MB is above the maximum 100.0 MB" in \
        decide("Saga 001 (2012) (Digital)", issue, size=200 * MB).reasons


def test_blocked_and_already_grabbed_releases_are_rejected(saga):
    series, issue = saga
    from comicsrv.extensions import db

    db.session.add(BlockedRelease(guid="bad-guid", title="anything", reason="failed"))
    db.session.commit()
    assert "the release is blocklisted" in decide("Saga 054 (2018) (Digital)", issue, guid="bad-guid").reasons
    DownloadFactory(title="Saga 054 (2018) (Digital) (Zone-Empire)", guid="other")
    grabbed = decide("Saga 054 (2018) (Digital) (Zone-Empire)", issue)
    assert "the release was grabbed before; never grab the same release twice" in grabbed.reasons


def test_longest_alias_wins(app):
    batman = WatchedSeriesFactory(name="Batman", year=2016)
    beyond = WatchedSeriesFactory(name="Batman Beyond", year=2016, aliases=["BB"])
    batman_1 = WatchedIssueFactory(series=batman, number="1", number_sort=1.0)
    beyond_1 = WatchedIssueFactory(series=beyond, number="1", number_sort=1.0)
    decisions = match(release("Batman Beyond 001 (2016) (Digital) (Zone-Empire)"), [batman_1, beyond_1])
    assert [(d.issue.id, d.accepted) for d in decisions] == [(beyond_1.id, True)]
    assert match(release("Batman 001 (2016) (Digital)"), [batman_1, beyond_1])[0].issue.id == batman_1.id
    # With only Batman watched, Batman Beyond is no watched series at all.
    only = match(release("Batman Beyond 001 (2016) (Digital)"), [batman_1])
    assert only[0].issue is None and only[0].reasons == ["'Batman Beyond' is no watched series"]
    # An alias matches too, normalized (case, articles, punctuation).
    assert match(release("bb 001 (2016)"), [batman_1, beyond_1])[0].issue.id == beyond_1.id
    asm = WatchedSeriesFactory(name="The Amazing Spider-Man", aliases=["ASM"])
    asm_1 = WatchedIssueFactory(series=asm, number="1", number_sort=1.0)
    assert match(release("Amazing Spider-Man 001 (2018)"), [asm_1])[0].accepted


def test_match_without_a_wanted_number(saga):
    decisions = match(release("Saga 001 (2012) (Digital)"), [saga[1]])
    assert decisions[0].issue is None and decisions[0].series.id == saga[0].id
    assert decisions[0].reasons == ["issue 001 of 'Saga' is not wanted"]


def test_rank_by_format_then_indexer_priority_then_seeders_then_size(app, saga):
    series, issue = saga
    IndexerConfigFactory(name="High", priority=1)
    IndexerConfigFactory(name="Low", priority=40)
    releases = [
        release("Saga 054 (2018) (Digital) (A).cbr", indexer="High"),
        release("Saga 054 (2018) (Digital) (B).cbz", indexer="Low"),
        release("Saga 054 (2018) (Digital) (C).cbz", indexer="High", size=400 * MB),
        release("Saga 054 (2018) (Digital) (D).cbz", indexer="High", size=44 * MB),
        release("Saga 054 (2018) (Digital) (E).cbz", indexer="High", protocol="torrent", seeders=3,
                size=400 * MB),
        release("Saga 054 (2018) (Digital) (G)", indexer="High"),
    ]
    history = History(releases)
    decisions = [evaluate(r, None, issue, series, history=history) for r in releases]
    order = [d.parsed.scan_group for d in rank(decisions)]
    assert order == ["E", "D", "C", "B", "A", "G"]
    assert decisions[1].score < decisions[3].score  # same format, worse indexer priority


def test_series_formats_override_the_setting(app):
    series = WatchedSeriesFactory(name="Saga", formats=["cbr", "cbz"])
    issue = WatchedIssueFactory(series=series, number="1", number_sort=1.0)
    ranked = rank([decide("Saga 001 (2012) (X).cbz", issue), decide("Saga 001 (2012) (Y).cbr", issue)])
    assert [d.parsed.format for d in ranked] == ["cbr", "cbz"]


def test_every_decision_is_recorded(saga):
    from comicsrv.extensions import db

    decisions = match(release("Saga 054 (2018) (Digital)"), [saga[1]])
    decisions += match(release("Nope 054 (2018)"), [saga[1]])
    rows = record(decisions, "rss")
    db.session.commit()
    stored = db.session.execute(db.select(ReleaseDecision).order_by(ReleaseDecision.id)).scalars().all()
    assert [(r.accepted, r.source, r.watched_issue_id) for r in stored] == [
        (True, "rss", saga[1].id), (False, "rss", None)]
    assert stored[1].reasons == ["'Nope' is no watched series"]
    assert rows[0] is decisions[0].row and stored[0].score == decisions[0].score
