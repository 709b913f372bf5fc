"""A finished scan links watched issues to the books it found."""
from pathlib import Path

from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.models.automation import DOWNLOADED, WANTED, WatchedIssue
from tests.automation.test_end_to_end import make_cbz
from tests.factories import WatchedIssueFactory, WatchedSeriesFactory


def test_a_book_copied_in_by_hand_makes_its_wanted_issue_downloaded(app, tmp_path):
    root = tmp_path / "library"
    root.mkdir()
    library = create_library("Comics", str(root))
    series = WatchedSeriesFactory(name="Saga", sort_name="saga", year=2012, library_id=library.id)
    issue = WatchedIssueFactory(series=series, number="3", number_sort=3.0, state=WANTED)
    other = WatchedIssueFactory(series=series, number="4", number_sort=4.0, state=WANTED)
    make_cbz(Path(root) / "Saga (2012)" / "Saga 003 (2012).cbz", "Saga", "3", 2012)

    job = app.extensions["comicsrv.jobs"].run_now("library.scan", {"library_id": library.id})
    assert job.state == "finished", job.error

    db.session.expire_all()
    linked = db.session.get(WatchedIssue, issue.id)
    assert linked.state == DOWNLOADED and linked.book_id is not None
    assert db.session.get(WatchedIssue, other.id).state == WANTED
