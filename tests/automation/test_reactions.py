"""The automation's reactions: a finished scan links watched issues to the
books it found; the download monitor's hand-overs are events."""
from pathlib import Path

from comicsrv.events import DownloadCompleted, IssueWantedAgain
from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.models.automation import DL_COMPLETED, DOWNLOADED, WANTED, Download, WatchedIssue
from tests.automation.test_end_to_end import make_cbz
from tests.factories import DownloadFactory, WatchedIssueFactory, WatchedSeriesFactory


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


def test_a_completed_download_post_processing_refuses_has_the_reason_noted(app):
    """The monitor publishes DownloadCompleted; the reaction starts
    post-processing, and a refusal (here: no save path) lands on the row
    for the next check to retry, as the monitor's own code did."""
    download = DownloadFactory(state=DL_COMPLETED, save_path=None)
    app.extensions["comicsrv.events"].publish(DownloadCompleted(download_id=download.id), remote=False)
    db.session.expire_all()
    row = db.session.get(Download, download.id)
    assert row.state == DL_COMPLETED and "no save path" in row.error


def test_an_issue_wanted_again_is_searched_for(app, monkeypatch):
    from comicsrv.automation import search

    calls: list[int] = []
    monkeypatch.setattr(search, "search_issue", calls.append)
    app.extensions["comicsrv.events"].publish(IssueWantedAgain(watched_issue_id=42), remote=False)
    assert calls == [42]


def test_the_download_monitor_imports_neither_post_processing_nor_the_search():
    """The hidden cycle (downloads -> postprocess -> postprocess_host ->
    downloads, behind function-level imports that swallowed ImportError)
    stays broken; lint-imports checks the same contract."""
    import ast

    from comicsrv.automation import downloads

    tree = ast.parse(Path(downloads.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"postprocess", "postprocess_host", "search", "grab"}
    assert "ImportError" not in Path(downloads.__file__).read_text()
