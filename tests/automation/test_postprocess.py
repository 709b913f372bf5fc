"""Post-processing a finished download into the library, end to end through
the real job runner, the built-in step plugin, real archives and the real
library indexer; and its resumption after the process is killed."""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from comicsrv.archives import open_archive
from comicsrv.automation.integrations import instance_for
from comicsrv.automation.postprocess import JOB_TYPE, run_postprocess, steps_for, submit
from comicsrv.automation.postprocess_host import Host
from comicsrv.automation.transfer import file_digest
from comicsrv.comicinfo import parse_metadata
from comicsrv.errors import Conflict, NotFound
from comicsrv.extensions import db
from comicsrv.hookspecs import PostProcessStep, hookimpl
from comicsrv.library.libraries import create_library
from comicsrv.models import Book, Job
from comicsrv.models.automation import BlockedRelease, Download
from comicsrv.plugins import PluginRegistry
from comicsrv.settings_store import set_setting
from tests.automation.test_downloads import grab, qbt_client_row, run_monitor
from tests.conftest import FIXTURE_ARCHIVES
from tests.factories import (
    DownloadClientConfigFactory, DownloadFactory, WatchedIssueFactory, WatchedSeriesFactory,
)
from tests.peers import qbittorrent  # noqa: F401 (fixture)
from tests.plugins.test_qbittorrent import COMIC, comic_torrent, wait_for

CBZ = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz"
CBR = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001-cbi.cbr"


@pytest.fixture
def library(app, tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    return create_library("Comics", str(folder))


def make_download(tmp_path, library, *, files=None, number="1", protocol="usenet",
                  **series_fields):
    """A completed download of Saga #number: a folder holding ``files``
    ({relative name: source path or bytes}). Usenet unless told: its files
    are moved by default, a torrent's are linked for seeding."""
    series = WatchedSeriesFactory(name="Saga", year=2012, publisher="Image",
                                  library_id=library.id, **series_fields)
    issue = WatchedIssueFactory(
        series=series, number=number, number_sort=float(number), state="snatched",
        title="Chapter One", cover_date="2012-03-14", description="The first chapter.",
        credits={"Writer": ["Brian K. Vaughan"], "Artist": ["Fiona Staples"]})
    folder = tmp_path / "downloads" / f"Saga {number} (2012)"
    folder.mkdir(parents=True)
    for name, content in (files or {f"Saga {int(number):03d} (2012) (digital).cbz": CBZ}).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, target)
        else:
            target.write_bytes(content)
    download = DownloadFactory(title=f"Saga {number} (2012) (digital)", state="completed",
                               protocol=protocol,
                               save_path=str(folder), watched_issue_id=issue.id,
                               guid=f"guid-{number}", indexer="Local")
    db.session.commit()
    return download, issue, folder


def run(app, download_id, **kwargs):
    runner = app.extensions["comicsrv.jobs"]
    job_id = submit(download_id, **kwargs)
    assert runner.wait(job_id, 60)
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_a_completed_download_is_tagged_renamed_moved_and_indexed(app, tmp_path, library):
    download, issue, folder = make_download(tmp_path, library)
    source = next(folder.iterdir())
    with app.extensions["comicsrv.events"].subscribe() as events:
        job = run(app, download.id)
        seen = []
        while (event := events.get(timeout=0.5)) is not None:
            seen.append(event)
    assert job.state == "finished", job.error
    expected = Path(library.path) / "Saga (2012)" / "Saga 001 (2012).cbz"
    assert expected.is_file() and not source.exists()  # moved (the default)
    with open_archive(expected) as archive:
        assert len(archive.pages()) > 0
        meta = parse_metadata(archive.find_metadata())
    assert (meta.series, meta.number, meta.volume, meta.year, meta.month, meta.day) == (
        "Saga", "1", 2012, 2012, 3, 14)
    assert meta.title == "Chapter One" and meta.publisher == "Image"
    assert meta.writer == ["Brian K. Vaughan"] and meta.penciller == ["Fiona Staples"]
    book = db.session.execute(select(Book).where(Book.path == str(expected))).scalar_one()
    assert book.series_name == "Saga" and book.has_comicinfo
    assert db.session.get(Download, download.id).state == "imported"
    assert db.session.get(Download, download.id).book_id == book.id
    db.session.refresh(issue)
    assert (issue.state, issue.book_id) == ("downloaded", book.id)
    steps = [(e.step, e.status) for e in seen if e.name == "postprocess_step"]
    assert steps[:2] == [("find_files", "started"), ("find_files", "done")]
    assert ("transfer", "done") in steps and ("index", "done") in steps
    assert not any(status == "failed" for _, status in steps)
    [imported] = [e for e in seen if e.name == "issue_imported"]
    assert (imported.book_id, imported.path, imported.watched_issue_id) == (
        book.id, str(expected), issue.id)
    assert job.result["completed"][-1] == "cleanup"
    work = Path(app.config["CACHE_DIR"]) / "postprocess" / str(download.id)
    assert not any(p.is_file() for p in work.rglob("*"))


@pytest.mark.parametrize("protocol, moved", [("usenet", True), ("ddl", True),
                                              ("torrent", False)])
def test_the_protocol_chooses_move_or_hard_link_by_default(app, tmp_path, library, protocol,
                                                           moved):
    set_setting("postprocess.write_comicinfo", False, None)
    download, _, folder = make_download(tmp_path, library, protocol=protocol)
    source = next(folder.iterdir())
    digest = file_digest(source)
    job = run(app, download.id)
    assert job.state == "finished", job.error
    imported = Path(job.result["context"]["imported_path"])
    assert file_digest(imported) == digest
    # A torrent's file stays where its client seeds from, linked, not copied.
    assert source.exists() is not moved
    assert moved or os.path.samefile(source, imported)
    assert job.result["context"]["transfer"]["method"] == "link"
    assert not job.result["context"].get("release", {}).get("released")  # no client asked


@pytest.mark.parametrize("mode", ["copy", "hardlink"])
def test_copy_and_hardlink_leave_the_download_for_seeding(app, tmp_path, library, mode):
    set_setting("postprocess.transfer_mode", mode, None)
    set_setting("postprocess.write_comicinfo", False, None)
    download, _, folder = make_download(tmp_path, library)
    source = next(folder.iterdir())
    digest = file_digest(source)
    job = run(app, download.id)
    assert job.state == "finished", job.error
    imported = Path(job.result["context"]["imported_path"])
    assert source.exists() and file_digest(source) == digest == file_digest(imported)
    assert os.path.samefile(source, imported) is (mode == "hardlink")


def test_tagging_in_copy_mode_never_changes_the_download(app, tmp_path, library):
    set_setting("postprocess.transfer_mode", "hardlink", None)
    download, _, folder = make_download(tmp_path, library)
    source = next(folder.iterdir())
    digest = file_digest(source)
    job = run(app, download.id)
    assert job.state == "finished", job.error
    imported = Path(job.result["context"]["imported_path"])
    assert file_digest(source) == digest  # the seeding file is untouched
    assert not os.path.samefile(source, imported)
    with zipfile.ZipFile(imported) as zf:
        assert "ComicInfo.xml" in zf.namelist()


def test_cbr_is_converted_to_cbz_when_asked(app, tmp_path, library):
    set_setting("postprocess.convert_to_cbz", True, None)
    download, _, folder = make_download(tmp_path, library, files={"Saga 001.cbr": CBR})
    job = run(app, download.id)
    assert job.state == "finished", job.error
    imported = Path(job.result["context"]["imported_path"])
    assert imported.name == "Saga 001 (2012).cbz"
    with open_archive(CBR) as original, open_archive(imported) as converted:
        assert converted.format == "cbz"
        assert [p.name for p in converted.pages()] == [p.name for p in original.pages()]
        assert converted.read_page(0) == original.read_page(0)
    assert not (folder / "Saga 001.cbr").exists()  # move: the original went after the copy


def test_series_folder_and_default_library_setting(app, tmp_path, library):
    download, _, _ = make_download(tmp_path, library, folder="Image/Saga")
    job = run(app, download.id)
    assert job.state == "finished", job.error
    assert job.result["context"]["imported_path"] == os.path.join(
        library.path, "Image", "Saga", "Saga 001 (2012).cbz")


def test_an_existing_different_file_is_kept_and_the_import_gets_a_suffix(app, tmp_path, library):
    taken = Path(library.path) / "Saga (2012)" / "Saga 001 (2012).cbz"
    taken.parent.mkdir()
    taken.write_bytes(b"not the same comic")
    download, _, _ = make_download(tmp_path, library)
    job = run(app, download.id)
    assert job.state == "finished", job.error
    assert taken.read_bytes() == b"not the same comic"
    assert job.result["context"]["imported_path"] == str(taken.with_name("Saga 001 (2012) (2).cbz"))


def test_a_download_without_comics_is_blocklisted_and_the_issue_wanted_again(app, tmp_path, library):
    download, issue, folder = make_download(
        tmp_path, library, files={"readme.nfo": b"hello", "Saga 001 sample.cbz": CBZ,
                                  "broken.cbz": b"PK\x03\x04 not really a zip"})
    with app.extensions["comicsrv.events"].subscribe(["download_failed"]) as events:
        job = run(app, download.id)
        failed = events.get(timeout=2)
    assert job.state == "failed" and "no readable comic" in job.error
    row = db.session.get(Download, download.id)
    assert row.state == "failed" and "verify" in row.error
    [blocked] = db.session.execute(select(BlockedRelease)).scalars().all()
    assert (blocked.guid, blocked.indexer, blocked.watched_issue_id) == ("guid-1", "Local", issue.id)
    db.session.refresh(issue)
    assert issue.state == "wanted"
    assert failed is not None and failed.download_id == download.id
    assert sorted(p.name for p in folder.iterdir()) == ["Saga 001 sample.cbz", "broken.cbz",
                                                        "readme.nfo"]


def test_submit_for_a_failed_download_runs_the_failure_steps(app, tmp_path, library):
    download, issue, _ = make_download(tmp_path, library)
    download.state, download.error = "failed", "SABnzbd: repair failed"
    db.session.commit()
    job = run(app, download.id)
    assert job.state == "finished", job.error
    assert job.result["outcome"] == "failure"
    assert job.result["completed"] == ["blocklist", "want_again", "announce_failure", "search_next"]
    [blocked] = db.session.execute(select(BlockedRelease)).scalars().all()
    assert blocked.reason == "SABnzbd: repair failed"
    run(app, download.id)  # twice: still one blocklist row
    assert len(db.session.execute(select(BlockedRelease)).scalars().all()) == 1


class Gate:
    """A step plugin that waits at a chosen point until the test opens it."""

    def __init__(self, order, fail=False):
        self.reached, self.release, self.fail = threading.Event(), threading.Event(), fail
        gate = self

        class Step(PostProcessStep):
            name = "test_gate"

            def run(self, context):  # a step without the host argument works too
                gate.reached.set()
                gate.release.wait(30)
                if gate.fail:
                    raise OSError(28, "No space left on device")
                context["gate"] = "passed"

        Step.order = order
        self.step = Step()

    @hookimpl
    def comicsrv_postprocess_steps(self):
        return [self.step]


def _app_with(make_app, plugin):
    registry = PluginRegistry()
    registry.load_entry_points()
    registry.register(plugin, "test_gate")
    return make_app(PLUGINS=registry)


def test_submit_is_idempotent_while_an_import_runs(make_app, tmp_path):
    gate = Gate(order=150)
    app = _app_with(make_app, gate)
    with app.app_context():
        (tmp_path / "lib").mkdir()
        library = create_library("Comics", str(tmp_path / "lib"))
        download, _, _ = make_download(tmp_path, library)
        first = submit(download.id)
        assert gate.reached.wait(30)
        assert submit(download.id) == first
        assert db.session.get(Download, download.id).state == "importing"
        gate.release.set()
        assert app.extensions["comicsrv.jobs"].wait(first, 60)
        db.session.expire_all()
        job = db.session.get(Job, first)
        assert job.state == "finished", job.error
        assert job.result["context"]["gate"] == "passed"
        with pytest.raises(Conflict):
            submit(download.id)


def test_a_failing_step_fails_the_job_with_its_reason_and_loses_nothing(make_app, tmp_path):
    gate = Gate(order=650, fail=True)  # after the transfer, before indexing
    gate.release.set()
    app = _app_with(make_app, gate)
    with app.app_context():
        (tmp_path / "lib").mkdir()
        library = create_library("Comics", str(tmp_path / "lib"))
        download, issue, folder = make_download(tmp_path, library)
        job = run(app, download.id)
        assert job.state == "failed"
        assert "test_gate" in job.error and "No space left on device" in job.error
        row = db.session.get(Download, download.id)
        assert row.state == "failed" and "No space left" in row.error
        # Moved before the failure: the verified file is in the library.
        assert Path(job.result["context"]["imported_path"]).is_file()
        assert db.session.execute(select(BlockedRelease)).first() is None
        db.session.refresh(issue)
        assert issue.state == "snatched"


def test_unknown_download_and_missing_path_are_clear_errors(app, tmp_path, library):
    with pytest.raises(NotFound):
        submit(999999)
    download = DownloadFactory(state="completed", save_path=None)
    db.session.commit()
    with pytest.raises(Exception, match="no save path"):
        submit(download.id)


def test_steps_come_in_order_per_outcome(app):
    assert [s.name for s in steps_for("success")] == [
        "find_files", "verify", "convert", "comicinfo", "rename", "transfer", "index",
        "update_state", "remove_from_client", "cleanup"]
    assert [s.name for s in steps_for("failure")] == [
        "blocklist", "want_again", "announce_failure", "search_next"]
    assert app.extensions["comicsrv.jobs"].types[JOB_TYPE].resumable
    assert app.extensions["comicsrv.jobs"].types[JOB_TYPE].fn is run_postprocess


# --- crash safety -------------------------------------------------------------------

def _big_comic(path: Path) -> Path:
    """A real CBZ of a few MiB (the fixture's pages plus a large stored page),
    so the copy takes several chunks and can be caught half way."""
    with zipfile.ZipFile(CBZ) as src, zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr(zipfile.ZipInfo("zz-poster.jpg"), os.urandom(4 * 1024 * 1024),
                     zipfile.ZIP_STORED)
    return path


def _library_files(root: str) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


@pytest.mark.parametrize("mode, point", [("copy", "copy"), ("move", "delete")])
def test_killed_during_the_transfer_loses_nothing_and_resumes(make_app, database_url, tmp_path,
                                                              mode, point):
    data_dir = tmp_path / "data"
    app = make_app(DATA_DIR=str(data_dir))
    with app.app_context():
        (tmp_path / "lib").mkdir()
        library = create_library("Comics", str(tmp_path / "lib"))
        set_setting("postprocess.transfer_mode", mode, None)
        set_setting("postprocess.write_comicinfo", False, None)
        big = _big_comic(tmp_path / "big.cbz")
        download, issue, folder = make_download(tmp_path, library, files={"Saga 001.cbz": big})
        source = folder / "Saga 001.cbz"
        digest = file_digest(source)
        download_id, root = download.id, library.path
        db.session.remove()

    marker = tmp_path / "reached"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.automation.postprocess_child", database_url,
         str(data_dir), str(download_id), point, str(marker)],
        cwd=Path(__file__).parents[2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the child never reached the transfer"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()  # reaped: a zombie would still look alive to the recovery

    # Dead mid-transfer: the source is whole, and the library holds either
    # nothing visible or the complete file, never a partial one.
    assert file_digest(source) == digest
    visible = [p for p in _library_files(root) if not p.name.startswith(".")]
    assert all(file_digest(p) == digest for p in visible)
    assert (visible == []) is (point == "copy")
    if point == "copy":  # caught half way: only the hidden temporary file, and partial
        [partial] = [p for p in _library_files(root) if p.name.startswith(".")]
        assert 0 < partial.stat().st_size < source.stat().st_size

    restarted = make_app(DATA_DIR=str(data_dir))
    with restarted.app_context():
        runner = restarted.extensions["comicsrv.jobs"]
        job_id = db.session.execute(select(Job.id).where(Job.type == JOB_TYPE)).scalar_one()
        assert db.session.get(Job, job_id).result["completed"][-1] == "rename"
        assert runner.recover_interrupted() == [job_id]
        assert runner.wait(job_id, 60)
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        assert job.state == "finished", job.error
        assert job.result["completed"][-1] == "cleanup"
        [imported] = _library_files(root)  # no temporary file, no second copy
        assert imported == Path(root) / "Saga (2012)" / "Saga 001 (2012).cbz"
        assert file_digest(imported) == digest
        assert source.exists() is (mode == "copy")
        row = db.session.get(Download, download_id)
        assert row.state == "imported" and row.book_id is not None
        assert db.session.get(Book, row.book_id).path == str(imported)


# --- torrents keep seeding; usenet is moved -------------------------------------------

SEEDING_STATES = ("uploading", "stalledUP")


def _import_through_the_monitor(app, download_id: int) -> Download:
    """Poll the client until the download is handed over, then wait for its import."""
    runner = app.extensions["comicsrv.jobs"]

    def finished():
        run_monitor(app)
        db.session.expire_all()
        row = db.session.get(Download, download_id)
        if row.job_id and runner.wait(row.job_id, timeout=60):
            db.session.expire_all()
            row = db.session.get(Download, download_id)
            return row if row.state in ("imported", "failed") else None
        return None

    return wait_for(finished, timeout=60, what="the download to be imported")


def _torrent(client, info_hash: str) -> dict:
    [torrent] = client._torrents([info_hash])
    return torrent


def test_an_imported_torrent_keeps_seeding_from_its_files(app, qbittorrent, tmp_path):
    (tmp_path / "library").mkdir()
    library = create_library("Comics", str(tmp_path / "library"))
    set_setting("postprocess.write_comicinfo", False, None)  # the file itself is linked
    path, torrent, info_hash = comic_torrent(qbittorrent.downloads / "seeding")
    row = qbt_client_row(qbittorrent, save_path=str(path.parent))
    download = grab(row, path, torrent)
    assert download.protocol == "torrent"
    client = instance_for("download_client", row)

    download = _import_through_the_monitor(app, download.id)
    assert download.state == "imported", download.error
    book = db.session.get(Book, download.book_id)
    assert Path(book.path).read_bytes() == COMIC.read_bytes() == path.read_bytes()
    if os.stat(path.parent).st_dev == os.stat(library.path).st_dev:
        assert os.path.samefile(book.path, path)  # one file, two names: no space used
    job = db.session.get(Job, download.job_id)
    assert job.result["context"]["transfer"]["method"] == "link"
    assert "release" not in job.result["context"]
    assert job.result["context"]["messages"]["remove_from_client"] == (
        "kept: the client is not set to remove completed downloads")

    # Still seeding, and a full recheck finds every piece where it was.
    assert _torrent(client, info_hash)["state"] in SEEDING_STATES
    response = client._request("POST", "torrents/recheck", data={"hashes": info_hash})
    assert response.ok
    time.sleep(2)  # the recheck is queued: let it start before waiting for its end
    checked = wait_for(lambda: (t := _torrent(client, info_hash))["state"] in SEEDING_STATES
                       and t, what="the recheck to end")
    assert checked["progress"] == 1.0 and checked["amount_left"] == 0
    assert client.status([info_hash])[0].error is None


def test_the_torrent_move_choice_removes_the_torrent_before_moving(app, qbittorrent, tmp_path):
    (tmp_path / "library").mkdir()
    create_library("Comics", str(tmp_path / "library"))
    set_setting("postprocess.torrent_transfer_mode", "move", None)
    set_setting("postprocess.write_comicinfo", False, None)
    path, torrent, info_hash = comic_torrent(qbittorrent.downloads / "moved")
    row = qbt_client_row(qbittorrent, save_path=str(path.parent))
    download = grab(row, path, torrent)
    client = instance_for("download_client", row)

    download = _import_through_the_monitor(app, download.id)
    assert download.state == "imported", download.error
    assert client.status([info_hash]) == []  # no longer at the client ...
    assert not path.exists()  # ... and its file moved into the library
    book = db.session.get(Book, download.book_id)
    assert Path(book.path).read_bytes() == COMIC.read_bytes()
    context = db.session.get(Job, download.job_id).result["context"]
    assert context["release"]["released"] is True
    assert context["messages"]["transfer"].startswith(f"removed from {row.name}, files kept")
    assert context["messages"]["remove_from_client"].startswith("done before the move")
    # A rerun after a crash asks again: the client takes it calmly.
    assert Host(download.id).release_from_client()["released"] is True


def test_a_torrent_is_not_moved_when_its_client_cannot_remove_it(app, tmp_path, library,
                                                                  free_port):
    set_setting("postprocess.torrent_transfer_mode", "move", None)
    row = DownloadClientConfigFactory(kind="qbittorrent", protocol="torrent",
                                      settings={"url": f"http://127.0.0.1:{free_port}"})
    download, issue, folder = make_download(tmp_path, library, protocol="torrent")
    download.client_id, download.client_item_id = row.id, "e" * 40
    db.session.commit()
    source = next(folder.iterdir())
    digest = file_digest(source)
    job = run(app, download.id)
    assert job.state == "failed"
    assert "could not remove the torrent, so its files were not moved" in job.error
    assert "cannot reach qBittorrent" in job.error
    assert file_digest(source) == digest  # still where the client would seed from
    assert _library_files(library.path) == []
    row = db.session.get(Download, download.id)
    assert row.state == "failed" and "transfer" in row.error
    # The release is fine: not blocklisted, the issue not searched again.
    assert db.session.execute(select(BlockedRelease)).first() is None
    db.session.refresh(issue)
    assert issue.state == "snatched"


def test_a_usenet_blackhole_download_is_moved(app, tmp_path, library):
    watch, completed = tmp_path / "watch", tmp_path / "completed"
    watch.mkdir()
    completed.mkdir()
    set_setting("postprocess.write_comicinfo", False, None)
    row = DownloadClientConfigFactory(kind="blackhole_usenet", protocol="usenet", settings={
        "watch_folder": str(watch), "completed_folder": str(completed), "settle_seconds": 0})
    download, _, folder = make_download(tmp_path, library, protocol="usenet")
    folder.rename(completed / folder.name)  # the external client finished it there
    download.client_id, download.client_item_id = row.id, "Saga 1 (2012)"
    download.state, download.save_path = "downloading", None
    db.session.commit()
    source = completed / "Saga 1 (2012)" / "Saga 001 (2012) (digital).cbz"
    digest = file_digest(source)

    download = _import_through_the_monitor(app, download.id)
    assert download.state == "imported", download.error
    assert download.save_path == str(source.parent)
    book = db.session.get(Book, download.book_id)
    assert file_digest(book.path) == digest
    assert not source.exists()  # moved: the default for usenet

@pytest.mark.parametrize("name, source, convert", [
    ("Saga 001 (digital).cbz", CBZ, False),
    ("Saga 001 (digital).cbr", CBR, True),
])
def test_a_library_book_post_processed_stays_the_same_book(app, tmp_path, library, name, source,
                                                           convert):
    """A download saved inside the library is already a book, maybe read
    already: the tagged (and converted) file that replaces it is that book,
    with its id, its reader's progress and its old archive id as an alias."""
    from comicsrv.library.reading import ProgressUpdate, get_progress, save_progress
    from comicsrv.library.scanner import SCAN_JOB
    from comicsrv.lrr.archives import find_archive
    from tests.factories import UserFactory

    set_setting("postprocess.convert_to_cbz", convert, None)
    incoming = Path(library.path) / "incoming" / name
    incoming.parent.mkdir()
    shutil.copy(source, incoming)
    runner = app.extensions["comicsrv.jobs"]
    assert runner.run_now(SCAN_JOB, {"library_id": library.id}).state == "finished"
    book = db.session.execute(select(Book).where(Book.path == str(incoming))).scalar_one()
    book_id, old_arcid = book.id, book.arcid
    reader = UserFactory()
    save_progress(reader.id, book, ProgressUpdate(page=2))
    download, issue, _ = make_download(tmp_path, library, files={})
    download.save_path = str(incoming)
    db.session.commit()

    job = run(app, download.id)
    assert job.state == "finished", job.error
    imported = Path(library.path) / "Saga (2012)" / "Saga 001 (2012).cbz"
    assert Path(job.result["context"]["imported_path"]) == imported and not incoming.exists()
    assert job.result["context"]["book_id"] == book_id
    book = db.session.get(Book, book_id)
    assert (book.path, book.format, book.series_name, book.state) == (
        str(imported), "cbz", "Saga", "ok")
    assert book.arcid != old_arcid
    assert get_progress(reader.id, book_id).page == 2
    assert find_archive(reader, old_arcid).id == find_archive(reader, book.arcid).id == book_id
    # The next scan agrees: one book, nothing missing, the alias kept.
    job = runner.run_now(SCAN_JOB, {"library_id": library.id})
    assert (job.result["created"], job.result["missing"]) == (0, 0)
    db.session.expire_all()
    assert db.session.scalars(select(Book.id)).all() == [book_id]
    assert find_archive(reader, old_arcid).id == book_id


def test_a_copy_of_a_library_book_that_stays_is_a_book_of_its_own(app, tmp_path, library):
    """In copy mode the original stays in the library: the tagged copy is
    indexed as a new book and the original keeps its id and archive id."""
    from comicsrv.library.scanner import SCAN_JOB
    from comicsrv.lrr.archives import find_archive

    set_setting("postprocess.transfer_mode", "copy", None)
    incoming = Path(library.path) / "incoming" / "Saga 001 (digital).cbz"
    incoming.parent.mkdir()
    shutil.copy(CBZ, incoming)
    assert app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id}).state == "finished"
    original = db.session.execute(select(Book).where(Book.path == str(incoming))).scalar_one()
    original_id, original_arcid = original.id, original.arcid
    download, _, _ = make_download(tmp_path, library, files={})
    download.save_path = str(incoming)
    db.session.commit()
    job = run(app, download.id)
    assert job.state == "finished", job.error
    assert incoming.is_file() and job.result["context"]["book_id"] != original_id
    db.session.expire_all()
    assert db.session.get(Book, original_id).arcid == original_arcid
    assert find_archive(None, original_arcid).id == original_id


def test_an_import_logs_one_line_with_its_outcome(app, tmp_path, library, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="comicsrv")
    download, _, _ = make_download(tmp_path, library)
    job = run(app, download.id)
    assert job.state == "finished", job.error
    expected = Path(library.path) / "Saga (2012)" / "Saga 001 (2012).cbz"
    book_id = db.session.get(Download, download.id).book_id
    lines = [r.getMessage() for r in caplog.records if r.name == "comicsrv.jobs.runner"]
    assert len(lines) == 1 and lines[0].startswith(f"job {job.id} automation.postprocess finished")
    assert lines[0].endswith(f": imported 'Saga 1 (2012) (digital)' (download {download.id}) "
                             f"as book {book_id} at {expected}")
