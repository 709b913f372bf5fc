"""The scan job against real archives, run through the real job runner."""
import os
import shutil
import time
import zipfile

import pytest

from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.library.reader import compute_koreader_hash
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.events import ScanProgress
from comicsrv.models import Book, BookTag, Job, Page, ReadingProgress, Series, Tag
from tests.factories import UserFactory
from tests.library.conftest import FIXTURE_ARCHIVES
from tests.serving import live_server  # noqa: F401


def scan(app, library, deep=False):
    runner = app.extensions["comicsrv.jobs"]
    job = runner.run_now(SCAN_JOB, {"library_id": library.id, "deep": deep},
                         target=f"library:{library.id}")
    db.session.expire_all()
    return job


def books_by_name(library):
    rows = db.session.execute(db.select(Book).where(Book.library_id == library.id)).scalars()
    return {os.path.basename(b.path): b for b in rows}


def test_first_scan_indexes_readable_files_and_records_broken_ones(app, comic_tree):
    library = create_library("Comics", str(comic_tree))
    events = app.extensions["comicsrv.events"].subscribe({"book_created", "series_created",
                                                          "scan_progress"})
    job = scan(app, library)
    assert job.state == "finished", job.error
    assert job.result["created"] == 8 and job.result["errored"] == 2
    books = books_by_name(library)

    cbz = books["Captain Science #001.cbz"]
    assert (cbz.state, cbz.format, cbz.page_count) == ("ok", "cbz", 5)
    assert (cbz.series_name, cbz.number, cbz.number_sort, cbz.year, cbz.month) == (
        "Captain Science", "1", 1.0, 1950, 11)
    assert cbz.title == "The Beginning; The End" and cbz.has_comicinfo
    assert cbz.publisher.name == "Youthful Adventure Stories"
    assert len(cbz.arcid) == 40
    assert cbz.koreader_hash == compute_koreader_hash(cbz.path)
    with open(cbz.path, "rb") as fh:
        import hashlib
        assert cbz.arcid == hashlib.sha1(fh.read(512_000)).hexdigest()
    pages = db.session.execute(db.select(Page).where(Page.book_id == cbz.id)
                               .order_by(Page.index)).scalars().all()
    assert [p.name for p in pages] == [f"Captain Science 001/CaptainScience#1_0{i}.jpg"
                                       for i in range(1, 6)]
    assert pages[0].media_type == "image/jpeg"
    tags = {(t.tag.namespace, t.tag.name) for t in cbz.tags}
    assert {("writer", "Joe Orlando"), ("penciller", "Wally Wood"), ("genre", "Science Fiction"),
            ("character", "Gordon Dane"), ("arc", "Captain Arc"),
            ("publisher", "Youthful Adventure Stories")} <= tags

    # The RAR5 with ComicBookInfo in its comment, and compressed solid RAR5.
    cbr = books["Captain Science #001 (rar).cbr"]
    assert (cbr.state, cbr.format, cbr.page_count) == ("ok", "cbr", 5)
    assert cbr.series_name == "Captain Science"
    assert books["rar4.cbr"].page_count == 3 and books["rar5-solid.cbr"].state == "ok"
    assert books["komga.pdf"].format == "pdf" and books["komga.pdf"].page_count == 1
    assert books["Captain Science #001.cb7"].page_count == 5

    encrypted, empty = books["encrypted.cbz"], books["empty.cbz"]
    assert encrypted.state == "error" and "encrypt" in encrypted.error.lower()
    assert encrypted.extra["error_reason"]
    assert empty.state == "error" and empty.error

    names = set()
    while (event := events.get(0.01)) is not None:
        names.add(event.name)
    assert names == {"book_created", "series_created", "scan_progress"}


def test_the_readers_hash_the_files_asked_for_and_tolerate_one_gone(comic_tree):
    """A scan's reader processes give the archive id and KOReader hash of
    each file they are asked to hash (unreadable archives included) with
    its contents, and leave the others' for the ``library.archive_ids``
    job; a file deleted before it is hashed leaves them unknown instead of
    failing the batch."""
    from comicsrv.library.reader import compute_arcid, compute_koreader_hash, read_batch

    files = sorted(p for p in comic_tree.rglob("*") if p.is_file())
    gone = comic_tree / "gone.cbz"
    shutil.copy(files[0], gone)
    stats = [(str(p), p.stat().st_size, p.stat().st_mtime, index % 3 != 2)
             for index, p in enumerate(files + [gone])]
    stats[-1] = (*stats[-1][:3], True)
    gone.unlink()
    read = read_batch(stats, None)
    assert [item.path for item in read] == [path for path, _, _, _ in stats]
    assert any(item.error for item in read) and any(not item.error for item in read)
    for item, (_, _, _, hashed) in zip(read[:-1], stats):
        expected = ((compute_arcid(item.path), compute_koreader_hash(item.path)) if hashed
                    else (None, None))
        assert (item.arcid, item.koreader_hash) == expected, item.path
    assert (read[-1].arcid, read[-1].koreader_hash) == (None, None)
    assert read[-1].error


def test_series_are_grouped_by_metadata_and_folders(app, comic_tree):
    library = create_library("Comics", str(comic_tree))
    scan(app, library)
    series = {(s.name, s.volume, s.publisher.name if s.publisher else None)
              for s in db.session.execute(db.select(Series)).scalars()}
    # Metadata says Captain Science vol 1950 by its publisher; the Komga test
    # files have no metadata and take the folders (publisher Komga).
    assert ("Captain Science", 1950, "Youthful Adventure Stories") in series
    assert any(pub == "Komga" for _, _, pub in series)


def test_rescan_of_an_unchanged_library_opens_nothing(app, comic_tree, monkeypatch):
    library = create_library("Comics", str(comic_tree))
    scan(app, library)
    import comicsrv.library.scanner as scanner

    def no_reading(*args, **kwargs):
        raise AssertionError("an unchanged file was opened")

    monkeypatch.setattr(scanner, "read_batch", no_reading)
    job = scan(app, library)
    assert job.state == "finished", job.error
    assert job.result["unchanged"] == 8
    assert job.result["created"] == job.result["updated"] == job.result["missing"] == 0


def test_changed_file_is_reread(app, comic_tree):
    library = create_library("Comics", str(comic_tree))
    scan(app, library)
    target = comic_tree / "Komga/Tests/rar4.cbr"
    before = books_by_name(library)["rar4.cbr"]
    book_id = before.id
    shutil.copy(FIXTURE_ARCHIVES / "komga/rar5.rar", target)
    os.utime(target, (time.time() + 10, time.time() + 10))
    job = scan(app, library)
    assert job.result["updated"] == 1 and job.result["created"] == 0
    after = db.session.get(Book, book_id)
    assert after.page_count == 1
    assert db.session.scalar(db.select(db.func.count()).where(Page.book_id == book_id)) == 1



def test_a_file_changed_in_place_keeps_its_old_archive_id_as_an_alias(app, comic_tree):
    """Same path, new content (a tagger run outside comicsrv): the book keeps
    its id and its old arcid still names it for LANraragi clients; a file
    touched without new content gets no alias."""
    from comicsrv.lrr.archives import find_archive
    from comicsrv.models import ArcidAlias

    library = create_library("Comics", str(comic_tree))
    scan(app, library)
    book = books_by_name(library)["rar4.cbr"]
    book_id, old_arcid = book.id, book.arcid
    target = comic_tree / "Komga/Tests/rar4.cbr"
    shutil.copy(FIXTURE_ARCHIVES / "komga/rar5.rar", target)
    os.utime(target, (time.time() + 10, time.time() + 10))
    untouched = comic_tree / "Komga/Tests/komga.pdf"
    os.utime(untouched, (time.time() + 10, time.time() + 10))
    job = scan(app, library)
    assert job.result["updated"] == 2 and job.result["created"] == 0
    book = db.session.get(Book, book_id)
    new_arcid = book.arcid
    assert new_arcid not in (None, old_arcid)
    assert find_archive(None, old_arcid).id == find_archive(None, new_arcid).id == book_id
    aliases = db.session.execute(db.select(ArcidAlias.arcid, ArcidAlias.book_id)).all()
    assert aliases == [(old_arcid, book_id)]  # none for the PDF whose content is the same
    # The old content back: that id is the book's own again, not an alias;
    # the one it had meanwhile is.
    shutil.copy(FIXTURE_ARCHIVES / "komga/rar4.rar", target)
    os.utime(target, (time.time() + 20, time.time() + 20))
    scan(app, library)
    assert db.session.get(Book, book_id).arcid == old_arcid
    aliases = db.session.execute(db.select(ArcidAlias.arcid, ArcidAlias.book_id)).all()
    assert aliases == [(new_arcid, book_id)]


@pytest.fixture
def book_events(app):
    """Book events from the moment it is requested: ask for it before
    ``scanned_library`` to see that fixture's own scan."""
    with app.extensions["comicsrv.events"].subscribe(
            {"book_created", "book_updated", "book_deleted"}) as subscription:
        yield subscription


def test_every_scan_event_names_the_books_series_and_library(app, book_events, scanned_library,
                                                             comic_tree):
    """book_created, book_updated and book_deleted carry the book's real
    series id (it was null for almost every book) and its library."""
    def books() -> dict[int, int | None]:
        return dict(db.session.execute(db.select(Book.id, Book.series_id).where(
            Book.library_id == scanned_library.id)).all())

    created = _drain(book_events)
    expected = books()
    assert len(created) == len(expected) == 8 and {e.name for e in created} == {"book_created"}
    assert {(e.book_id, e.series_id, e.library_id) for e in created} == {
        (book_id, series_id, scanned_library.id) for book_id, series_id in expected.items()}
    # Errored books (the encrypted and the empty zip) have a series too.
    assert all(series_id is not None for series_id in expected.values())

    # Updates (a deep rescan) and deletions name theirs too.
    os.remove(comic_tree / "Komga/Tests/komga.pdf")
    scan(app, scanned_library, deep=True)
    later = _drain(book_events)
    assert sorted(e.name for e in later).count("book_deleted") == 1
    assert {e.name for e in later} == {"book_updated", "book_deleted"}
    assert {(e.book_id, e.series_id, e.library_id) for e in later} == {
        (book_id, series_id, scanned_library.id) for book_id, series_id in books().items()}


def _drain(subscription) -> list:
    events = []
    while (event := subscription.get(timeout=0.2)) is not None:
        events.append(event)
    return events

def test_moved_file_keeps_its_id_and_progress(app, comic_tree):
    library = create_library("Comics", str(comic_tree))
    scan(app, library)
    book = books_by_name(library)["Captain Science #001.cbz"]
    user = UserFactory()
    db.session.add(ReadingProgress(user_id=user.id, book_id=book.id, page=4, total_pages=5))
    db.session.commit()
    book_id, arcid = book.id, book.arcid
    new_home = comic_tree / "Youthful" / "Renamed" / "CS 1.cbz"
    new_home.parent.mkdir()
    os.rename(book.path, new_home)

    job = scan(app, library)
    assert job.result["moved"] == 1 and job.result["created"] == 0 and job.result["missing"] == 0
    moved = db.session.get(Book, book_id)
    assert (moved.path, moved.state, moved.arcid) == (str(new_home), "ok", arcid)
    progress = db.session.execute(db.select(ReadingProgress).where(
        ReadingProgress.book_id == book_id)).scalar_one()
    assert progress.page == 4


def test_deleted_file_is_marked_missing_and_comes_back(app, comic_tree):
    library = create_library("Comics", str(comic_tree))
    scan(app, library)
    path = comic_tree / "Komga/Tests/komga.pdf"
    saved = path.read_bytes()
    path.unlink()
    job = scan(app, library)
    assert job.result["missing"] == 1
    book = books_by_name(library)["komga.pdf"]
    assert book.state == "missing" and book.missing_since is not None
    path.write_bytes(saved)
    job = scan(app, library)
    book = db.session.get(Book, book.id)
    assert book.state == "ok" and book.missing_since is None
    assert job.result["missing"] == 0


def test_unmounted_library_fails_without_marking_anything_missing(app, comic_tree):
    library = create_library("Comics", str(comic_tree))
    scan(app, library)
    shutil.move(comic_tree, comic_tree.with_name("unmounted"))
    job = scan(app, library)
    assert job.state == "failed" and "nothing was marked missing" in job.error
    states = {b.state for b in books_by_name(library).values()}
    assert "missing" not in states


def test_deep_scan_rereads_everything_and_keeps_user_tags(app, comic_tree):
    library = create_library("Comics", str(comic_tree))
    scan(app, library)
    book = books_by_name(library)["Captain Science #001.cbz"]
    tag = Tag(namespace="", name="favourite")
    db.session.add(tag)
    db.session.flush()
    db.session.add(BookTag(book_id=book.id, tag_id=tag.id, source="user"))
    db.session.commit()
    job = scan(app, library, deep=True)
    assert job.result["updated"] == 8 and job.result["created"] == 0
    tags = {(t.tag.name, t.source) for t in db.session.get(Book, book.id).tags}
    assert ("favourite", "user") in tags and ("Joe Orlando", "metadata") in tags


def test_folder_of_images_is_a_book(app, tmp_path):
    import zipfile

    folder = tmp_path / "lib" / "Scans" / "Issue 7"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(FIXTURE_ARCHIVES / "comicbox/Captain Science #001.cbz") as zf:
        for i in range(1, 4):
            (folder / f"p{i}.jpg").write_bytes(
                zf.read(f"Captain Science 001/CaptainScience#1_0{i}.jpg"))
    library = create_library("Scans", str(tmp_path / "lib"))
    scan(app, library)
    [book] = books_by_name(library).values()
    assert (book.format, book.page_count, book.state) == ("folder", 3, "ok")


def test_whole_fixture_tree_never_crashes_the_scan(app, tmp_path):
    root = tmp_path / "all"
    shutil.copytree(FIXTURE_ARCHIVES, root, ignore=shutil.ignore_patterns("*.md", "*.exp"))
    library = create_library("Everything", str(root))
    job = scan(app, library)
    assert job.state == "finished", job.error
    books = db.session.execute(db.select(Book)).scalars().all()
    files = [p for p in root.rglob("*") if p.is_file()]
    assert job.result["created"] == len(books) == len([
        p for p in files if p.suffix.lower() in {".cbz", ".cbr", ".cb7", ".cbt", ".zip", ".rar",
                                                 ".7z", ".pdf"}])
    for book in books:
        assert book.state in ("ok", "error")
        if book.state == "error":
            assert book.error, book.path
    errored = {os.path.basename(b.path) for b in books if b.state == "error"}
    # Unreadable by design: encrypted, empty, or a later part of a volume set.
    assert {"zip-encrypted.zip", "7zip-encrypted.7z", "rar4-encrypted.rar", "rar5-encrypted.rar",
            "rar5-hpsw.rar", "p.cbz", "rar3-vols.part2.rar", "rar5-vols.part3.rar",
            "winrar.rar"} <= errored
    readable = {os.path.basename(b.path): b.page_count for b in books if b.state == "ok"}
    assert readable["rar4.rar"] == 3 and readable["7zip.7z"] == 1 and readable["zip.zip"] == 1
    assert readable["Captain Science #001-cix.cbt"] == 5
    # comictagger's page-ordering fixture: 8 images (!cover.jpg and 00.jpg
    # are images too); the hidden .ignored.jpg and ignored.txt are not pages.
    assert readable["fake_cbr.cbr"] == 8


def test_running_scan_can_be_cancelled(app, tmp_path):
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[2] / "bench"))
    from make_library import make_library

    make_library(tmp_path / "big", 600, pages=2, seed=3)
    library = create_library("Big", str(tmp_path / "big"))
    runner = app.extensions["comicsrv.jobs"]
    # Cancel at the first batch's progress event, from inside the scan: on a
    # fast machine polling from here would find the scan already finished.
    def cancel_at_first_batch(event):
        if isinstance(event, ScanProgress) and event.current > 0:
            runner.cancel(event.job_id)
    app.extensions["comicsrv.events"].add_listener(cancel_at_first_batch)
    job_id = runner.submit(SCAN_JOB, {"library_id": library.id}, target=f"library:{library.id}")
    assert runner.wait(job_id, 30)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.state == "cancelled"
    # The first batch stays indexed; the cancel stops the scan before the next.
    indexed = db.session.scalar(db.select(db.func.count(Book.id)))
    assert 0 < indexed < 600


def test_scan_survives_worker_processes_that_cannot_start(app, tmp_path, monkeypatch):
    """A host script without a __main__ guard cannot spawn workers: the scan
    reads in-process instead and still indexes everything."""
    import sys
    from concurrent.futures.process import BrokenProcessPool

    import comicsrv.library.scanner as scanner

    class BrokenPool:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, *args, **kwargs):
            raise BrokenProcessPool("worker died")

    monkeypatch.setattr(scanner, "_reader_pool", lambda workers, files: BrokenPool())
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[2] / "bench"))
    from make_library import make_library

    make_library(tmp_path / "lib", 60, pages=2, seed=5)
    library = create_library("Fallback", str(tmp_path / "lib"))
    job = scan(app, library)
    assert job.state == "finished", job.error
    assert job.result["created"] == 60


# -- file names that are not UTF-8 ----------------------------------------------------
#
# NAS shares written by old SMB clients hold names in a Windows code page:
# b"Caf\xe9 #1.cbz" is Latin-1. PostgreSQL refuses the lone surrogate Python
# decodes it to, and one such name used to fail the whole scan.

LATIN1_FILE = b"Caf\xe9 #1.cbz"
LATIN1_FOLDER = b"Vieux r\xe9pertoire"
CBZ = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz"


def latin1_library(root) -> tuple[str, str]:
    """A library with normal files and two books whose names are Latin-1
    bytes (one in a Latin-1 folder); returns those two paths as Python
    sees them."""
    root.mkdir()
    shutil.copy(FIXTURE_ARCHIVES / "komga/zip-copy.zip", root / "Normal #2.cbz")
    shutil.copy(FIXTURE_ARCHIVES / "komga/rar4.rar", root / "Other.cbr")
    raw_root = os.fsencode(root)
    first = os.path.join(raw_root, LATIN1_FILE)
    shutil.copy(CBZ, first)
    os.mkdir(os.path.join(raw_root, LATIN1_FOLDER))
    second = os.path.join(raw_root, LATIN1_FOLDER, b"Num\xe9ro 3.cbz")
    shutil.copy(FIXTURE_ARCHIVES / "komga/zip.zip", second)
    return os.fsdecode(first), os.fsdecode(second)


def test_a_name_that_is_not_utf8_is_indexed_listed_and_read(app, client, admin_headers, tmp_path):
    first, second = latin1_library(tmp_path / "nas")
    library = create_library("NAS", str(tmp_path / "nas"))
    job = scan(app, library)
    assert job.state == "finished", job.error
    assert (job.result["created"], job.result["errored"]) == (4, 0)
    book = db.session.execute(db.select(Book).where(Book.path == first)).scalar_one()
    other = db.session.execute(db.select(Book).where(Book.path == second)).scalar_one()
    # The exact bytes come back from the database, so the file opens.
    assert os.fsencode(book.path) == os.path.join(os.fsencode(tmp_path / "nas"), LATIN1_FILE)
    assert (book.state, book.page_count, book.filename) == ("ok", 5, "Caf\\xe9 #1.cbz")
    assert book.folder == str(tmp_path / "nas")
    assert (other.state, other.page_count, other.filename) == ("ok", 1, "Num\\xe9ro 3.cbz")
    assert db.session.get(Series, other.series_id).name == "Num\\xe9ro"  # from its file name

    listing = client.get("/api/v1/books?page_size=50", headers=admin_headers)
    assert listing.status_code == 200
    listing.data.decode("utf-8")  # strictly valid UTF-8
    assert b"\\udc" not in listing.data  # no lone surrogate escaped into the JSON
    item = next(i for i in listing.json["items"] if i["id"] == book.id)
    assert item["path"] == str(tmp_path / "nas") + "/Caf\\xe9 #1.cbz"
    page = client.get(f"/api/v1/books/{book.id}/pages/1", headers=admin_headers)
    with zipfile.ZipFile(CBZ) as zf:
        assert page.status_code == 200
        assert page.data == zf.read("Captain Science 001/CaptainScience#1_01.jpg")
    assert client.get(f"/api/v1/books/{other.id}/pages/1", headers=admin_headers).status_code == 200
    assert client.get(f"/api/v1/books/{book.id}/thumbnail", headers=admin_headers).status_code == 200
    lrr = client.get(f"/api/archives/{book.arcid}/metadata", headers=admin_headers)
    assert lrr.status_code == 200 and lrr.json["filename"] == "Caf\\xe9 #1"
    clu = client.get(f"/api/v1/issue/{book.id}", headers=admin_headers)
    assert clu.status_code == 200 and clu.json["path"] == item["path"]
    # A client sends the shown path back (CLU keys favourites by path).
    favorite = client.post("/api/v1/library/favorites", headers=admin_headers,
                           json={"type": "book", "path": item["path"]})
    assert favorite.status_code == 201 and favorite.json["path"] == item["path"]

    # A rescan recognises every file as unchanged: the stored paths match the disk's.
    assert scan(app, library).result["unchanged"] == 4
    # Renamed to another Latin-1 name: the same book, moved.
    renamed = os.path.join(os.fsencode(tmp_path / "nas"), b"Caf\xe9 #1 (r\xe9\xe9dition).cbz")
    os.rename(os.fsencode(first), renamed)
    job = scan(app, library)
    assert (job.result["moved"], job.result["created"], job.result["missing"]) == (1, 0, 0)
    assert db.session.get(Book, book.id).path == os.fsdecode(renamed)


def test_a_name_that_is_not_utf8_under_comicsrv_serve(app, live_server, admin, admin_headers,
                                                       tmp_path):
    """The same through a real server process: the scan job, the listing and
    a page (the gevent server's workers, its logging of the paths)."""
    first, _ = latin1_library(tmp_path / "nas")
    library = create_library("NAS", str(tmp_path / "nas"))
    server = live_server()
    task = server.post(f"/api/v1/libraries/{library.id}/scan", headers=admin_headers)
    assert task.status_code == 202, task.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = server.get(f"/api/v1/tasks/{task.json()['id']}", headers=admin_headers).json()
        if status["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert status["status"] == "finished", status
    assert status["result"]["created"] == 4 and status["result"]["errored"] == 0
    listing = server.get("/api/v1/books?page_size=50", headers=admin_headers)
    assert listing.status_code == 200
    item = next(i for i in listing.json()["items"] if i["filename"] == "Caf\\xe9 #1.cbz")
    assert item["path"] == str(tmp_path / "nas") + "/Caf\\xe9 #1.cbz" and item["page_count"] == 5
    page = server.get(f"/api/v1/books/{item['id']}/pages/5", headers=admin_headers)
    with zipfile.ZipFile(CBZ) as zf:
        assert page.status_code == 200
        assert page.content == zf.read("Captain Science 001/CaptainScience#1_05.jpg")
    lrr = server.get(f"/api/archives/{item['arcid']}/files", headers=admin_headers)
    assert lrr.status_code == 200
    assert server.get(lrr.json()["pages"][0], headers=admin_headers).status_code == 200
