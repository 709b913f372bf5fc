"""Covers and pages served from scanned fixture archives."""
import io
import os
import time
import zipfile

import pytest
from PIL import Image

from comicsrv.errors import NotFound
from comicsrv.extensions import db
from comicsrv.library import media as media_module
from comicsrv.library.libraries import create_library
from comicsrv.library.media import MediaUnavailable
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book
from tests.library.conftest import FIXTURE_ARCHIVES


@pytest.fixture
def scanned(app, comic_tree):
    library = create_library("Comics", str(comic_tree))
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    assert job.state == "finished", job.error
    books = db.session.execute(db.select(Book)).scalars().all()
    return {os.path.basename(b.path): b for b in books}


@pytest.fixture
def media(app):
    service = app.extensions["comicsrv.media"]
    yield service
    service.archives.close()


def test_cover_is_made_once_then_served_from_the_cache(scanned, media, monkeypatch):
    book = scanned["Captain Science #001.cbz"]
    cold = media.cover(book, 100)  # the fixture's pages are 114x160
    assert cold.mime_type == "image/jpeg" and cold.data[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(cold.data)) as im:
        assert max(im.size) == 100
    assert cold.etag.startswith(book.arcid)

    def no_archives(*args, **kwargs):
        raise AssertionError("a warm cover opened the archive")

    monkeypatch.setattr(media_module, "open_archive", no_archives)
    warm = media.cover(book, 100)
    assert warm.etag == cold.etag and warm.data == b""
    assert open(warm.path, "rb").read() == cold.data
    assert media.has_cover(book, 100) and not media.has_cover(book, 300)


def test_cover_size_is_clamped(scanned, media):
    book = scanned["rar4.cbr"]
    assert media.cover(book, 5).etag.endswith("-64")
    assert media.cover(book, 99999).etag.endswith("-2000")


def test_cover_follows_the_chosen_cover_page(scanned, media):
    book = scanned["Captain Science #001.cbz"]
    first = media.cover(book, 100)
    book.cover_page = 2
    assert media.cover(book, 100).etag != first.etag


def test_unreadable_book_has_no_cover(scanned, media):
    with pytest.raises(MediaUnavailable):
        media.cover(scanned["encrypted.cbz"])


def test_stored_zip_page_is_a_byte_range_of_the_file(app, tmp_path, media, monkeypatch):
    root = tmp_path / "lib"
    root.mkdir()
    archive = root / "stored.cbz"
    with zipfile.ZipFile(FIXTURE_ARCHIVES / "comicbox/Captain Science #001.cbz") as src, \
            zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    library = create_library("Stored", str(root))
    app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    book = db.session.execute(db.select(Book)).scalar_one()
    assert all(p.data_offset for p in book.pages)

    monkeypatch.setattr(media_module, "open_archive",
                        lambda *a, **k: pytest.fail("stored page went through the archive"))
    page = media.page(book, 2)
    with zipfile.ZipFile(archive) as zf:
        assert page.data == zf.read("Captain Science 001/CaptainScience#1_02.jpg")
    assert page.mime_type == "image/jpeg"

    # A file changed behind the scanner's back is never served at a stale offset.
    os.utime(archive, (time.time() + 5, time.time() + 5))
    with pytest.raises(MediaUnavailable, match="changed since it was indexed"):
        media.page(book, 2)


def test_solid_rar_pages_come_from_one_open_archive(scanned, media, monkeypatch):
    book = scanned["rar5-solid.cbr"]
    opened = []
    real_open = media_module.open_archive
    monkeypatch.setattr(media_module, "open_archive",
                        lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    pages = [media.page(book, n).data for n in range(1, book.page_count + 1)]
    assert all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in pages)
    assert media.page(book, 1).data == pages[0]
    assert opened == [book.path]


def test_page_resize_and_reencode(scanned, media):
    book = scanned["Captain Science #001.cbz"]
    resized = media.page(book, 1, width=100, fmt="webp")
    assert resized.mime_type == "image/webp"
    with Image.open(io.BytesIO(resized.data)) as im:
        assert im.format == "WEBP" and im.size[0] <= 100
    as_is = media.page(book, 1)
    assert as_is.mime_type == "image/jpeg" and as_is.etag != resized.etag


def test_page_out_of_range(scanned, media):
    book = scanned["Captain Science #001.cbz"]
    for number in (0, 6, -1):
        with pytest.raises(NotFound):
            media.page(book, number)


def test_missing_file_is_media_unavailable(scanned, media):
    book = scanned["rar4.cbr"]
    os.unlink(book.path)
    with pytest.raises(MediaUnavailable, match="missing"):
        media.page(book, 1)
