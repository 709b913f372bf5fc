"""Every archive format, and every hostile archive, through a real ``comicsrv serve``.

Under the gevent server, archive work runs on native threads, where a lazy
import that starts a process (py7zr's pycryptodome runs ``file``) or a RAR
tool (``unar``, ``bsdtar``) used to fail with gevent's "child watchers are
only available on the default loop": CB7 and compressed RAR pages and covers
answered 500 while the in-process tests passed. So these tests talk HTTP to
the real server, on the page, thumbnail and cover routes of ``/api/v1`` and
of the LANraragi API, before and after a restart (a fresh process, where no
reader was imported yet and no cover is made yet).

The books are grouped so one server serves them all: a server start costs
more than every request put together.
"""
from __future__ import annotations

import base64
import io
import os
import shutil
import stat
import tarfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import py7zr
import pytest
import requests
from PIL import Image
from sqlalchemy import select

from comicsrv.archives import open_archive
from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book
from tests.conftest import FIXTURE_ARCHIVES
from tests.factories import api_key_for
from tests.serving import live_server  # noqa: F401

# Every fixture that is a valid comic, by format; the library path says what it is.
VALID_COMICS = {
    "CBZ/Captain Science #001 (deflate).cbz": "comicbox/Captain Science #001.cbz",
    "CBZ/Komga (stored).cbz": "komga/zip.zip",
    "CBR/Komga (RAR4 stored).cbr": "komga/rar4.rar",
    "CBR/Komga (RAR4 solid).cbr": "komga/rar4-solid.rar",
    "CBR/Komga (RAR5 stored).cbr": "komga/rar5.rar",
    "CBR/Komga (RAR5 solid).cbr": "komga/rar5-solid.rar",
    "CBR/Captain Science #001 (RAR5 m5, CBI comment).cbr": "comicbox/Captain Science #001-cbi.cbr",
    "CBR/Captain Science #001 (ComicInfo, CBI comment).cbr":
        "comicbox/Captain Science #001-cix-cbi.cbr",
    "CB7/Captain Science #001 (solid LZMA2).cb7": "comicbox/Captain Science #001.cb7",
    "CB7/Komga.cb7": "komga/7zip.7z",
    "CBT/Captain Science #001 (tar.xz).cbt": "comicbox/Captain Science #001-cix.cbt",
    "PDF/Komga.pdf": "komga/komga.pdf",
    "PDF/comicbox.pdf": "comicbox/test_pdf.pdf",
    "PDF/comicbox ComicInfo.pdf": "comicbox/test_cix.pdf",
}
# Formats no stored fixture has with images: a plain tar and a folder, built
# from the Captain Science pages.
BUILT_COMICS = ("CBT/Captain Science #001 (plain tar).cbt", "Folder/Captain Science #001")

SCAN_TIMEOUT = 60


def _captain_science_pages() -> dict[str, bytes]:
    with zipfile.ZipFile(FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz") as zf:
        return {Path(name).name: zf.read(name) for name in zf.namelist()
                if name.lower().endswith(".jpg")}


def _valid_library(root: Path) -> Path:
    for target, source in VALID_COMICS.items():
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FIXTURE_ARCHIVES / source, root / target)
    pages = _captain_science_pages()
    tar_path, folder = (root / name for name in BUILT_COMICS)
    with tarfile.open(tar_path, "w") as tf:
        for name, data in pages.items():
            info = tarfile.TarInfo(f"Captain Science 001/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    folder.mkdir(parents=True)
    for name, data in pages.items():
        (folder / name).write_bytes(data)
    return root


def _jpeg(size: tuple[int, int] = (60, 90), color: str = "navy") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def _seven_zip(path: Path, members: dict[str, bytes], rename: dict[str, str] | None = None,
               **options) -> None:
    """A 7z of ``members``; ``rename`` rewrites names in the header after py7zr
    checked them, to make the traversal names py7zr itself refuses to write."""
    archive = py7zr.SevenZipFile(path, "w", **options)
    for name, data in members.items():
        archive.writestr(data, name)
    for info in archive.header.files_info.files:
        info["filename"] = (rename or {}).get(info["filename"], info["filename"])
    archive.close()


def _hostile_library(root: Path) -> dict[str, str]:
    """Hostile and broken archives, each mapped to the error reason the scan
    must record ("ok" for the one good book among them)."""
    root.mkdir(parents=True)
    expected: dict[str, str] = {}

    def copy(name: str, source: str, reason: str) -> None:
        shutil.copy2(FIXTURE_ARCHIVES / source, root / name)
        expected[name] = reason

    def truncated(name: str, source: str) -> None:
        data = (FIXTURE_ARCHIVES / source).read_bytes()
        (root / name).write_bytes(data[: len(data) // 2])
        expected[name] = "corrupt"

    jpeg = _jpeg()
    zeros = bytes(8 * 1024 * 1024)  # packs to a few KiB: a ratio far above 200

    _seven_zip(root / "traversal.cb7", {"01.jpg": jpeg, "02.jpg": jpeg},
               rename={"02.jpg": "../../escaped.jpg"})
    expected["traversal.cb7"] = "unsafe"
    _seven_zip(root / "absolute.cb7", {"01.jpg": jpeg, "02.jpg": jpeg},
               rename={"02.jpg": "/etc/escaped.jpg"})
    expected["absolute.cb7"] = "unsafe"
    link_source = root.parent / "link-source"
    link_source.mkdir()
    (link_source / "01.jpg").write_bytes(jpeg)
    os.symlink("/etc/passwd", link_source / "02.jpg")
    with py7zr.SevenZipFile(root / "symlink.cb7", "w") as archive:
        archive.write(link_source / "01.jpg", "01.jpg")
        archive.write(link_source / "02.jpg", "02.jpg")
    expected["symlink.cb7"] = "unsafe"
    _seven_zip(root / "bomb.cb7", {"01.jpg": zeros})
    expected["bomb.cb7"] = "unsafe"
    # A real cover first, the bomb later in the same solid block: 7z reports a
    # packed size only for a block's first entry.
    _seven_zip(root / "solid bomb.cb7", {"01.jpg": jpeg, "02.jpg": zeros})
    expected["solid bomb.cb7"] = "unsafe"

    with zipfile.ZipFile(root / "bomb.cbz", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("01.jpg", jpeg)
        zf.writestr("02.jpg", zeros)
    expected["bomb.cbz"] = "unsafe"
    with zipfile.ZipFile(root / "traversal.cbz", "w") as zf:
        zf.writestr("01.jpg", jpeg)
        zf.writestr("../../escaped.jpg", jpeg)
    expected["traversal.cbz"] = "unsafe"
    with zipfile.ZipFile(root / "symlink.cbz", "w") as zf:
        zf.writestr("01.jpg", jpeg)
        link = zipfile.ZipInfo("02.jpg")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    expected["symlink.cbz"] = "unsafe"
    with tarfile.open(root / "symlink.cbt", "w") as tf:
        page = tarfile.TarInfo("01.jpg")
        page.size = len(jpeg)
        tf.addfile(page, io.BytesIO(jpeg))
        link = tarfile.TarInfo("02.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    expected["symlink.cbt"] = "unsafe"
    copy("symlink traversal.cbr", "rarfile/rar5-evil-symlink-traversal.rar", "unsafe")

    copy("encrypted.cbz", "komga/zip-encrypted.zip", "encrypted")
    copy("encrypted (patool).cbz", "patool/p.cbz", "encrypted")
    copy("encrypted.cb7", "komga/7zip-encrypted.7z", "encrypted")
    copy("encrypted headers (RAR4).cbr", "komga/rar4-encrypted.rar", "encrypted")
    copy("encrypted headers (RAR5).cbr", "komga/rar5-encrypted.rar", "encrypted")
    copy("encrypted files (RAR5).cbr", "rarfile/rar5-psw.rar", "encrypted")
    copy("encrypted headers (RAR5, rarfile).cbr", "rarfile/rar5-hpsw.rar", "encrypted")

    truncated("truncated.cbz", "comicbox/Captain Science #001.cbz")
    truncated("truncated.cb7", "comicbox/Captain Science #001.cb7")
    truncated("truncated (RAR5).cbr", "comicbox/Captain Science #001-cbi.cbr")
    truncated("truncated.cbt", "comicbox/Captain Science #001-cix.cbt")
    truncated("truncated.pdf", "komga/komga.pdf")

    shutil.copy2(FIXTURE_ARCHIVES / "komga/rar5-solid.rar", root / "readable.cbr")
    expected["readable.cbr"] = "ok"
    return expected


def _keys(admin) -> tuple[dict[str, str], dict[str, str]]:
    """Headers for /api/v1 and for the LANraragi API (``Bearer base64(key)``)."""
    key = api_key_for(admin, ["SystemAdmin"])
    return ({"X-API-Key": key},
            {"Authorization": "Bearer " + base64.b64encode(key.encode()).decode()})


def _get(server, path: str, headers: dict) -> requests.Response:
    """One request on a connection of its own: on a kept-alive connection
    every answer of the gevent server waits ~40 ms for the client's delayed
    ACK (Nagle), which would make up most of this module's time."""
    return server.get_once(path, headers=headers)


@dataclass(frozen=True)
class BookRow:
    """What the checks need of a book, detached from the session so threads can use it."""

    id: int
    path: str
    format: str
    state: str
    error: str | None
    error_reason: str | None
    page_count: int
    arcid: str


def _books(library_id: int) -> list[BookRow]:
    db.session.expire_all()
    books = db.session.execute(select(Book).where(Book.library_id == library_id)
                               .order_by(Book.path)).scalars()
    return [BookRow(book.id, book.path, book.format, book.state, book.error,
                    (book.extra or {}).get("error_reason"), book.page_count, book.arcid)
            for book in books]


def _image(response, what: str) -> Image.Image:
    assert response.status_code == 200, f"{what}: {response.status_code} {response.text[:300]}"
    image = Image.open(io.BytesIO(response.content))
    image.load()  # a real, complete image, not just the right magic
    return image


def _expected_pages(book: BookRow) -> dict[int, bytes]:
    """Pages 1, 2 and the last, read from the archive by this process."""
    with open_archive(book.path) as archive:
        return {number: archive.read_page(number - 1)
                for number in {1, min(2, book.page_count), book.page_count}}


def _check_first_start(server, book: BookRow, v1: dict, lrr: dict) -> None:
    """A new server's first page and cover of a book: nothing imported, nothing cached."""
    what = f"{Path(book.path).name} ({book.format})"
    page = _get(server, f"/api/v1/books/{book.id}/pages/1", headers=v1)
    _image(page, f"{what} v1 page 1")
    assert page.content == _expected_pages(book)[1], f"{what}: page 1 is not the archive's"
    thumbnail = _get(server, f"/api/v1/books/{book.id}/thumbnail", headers=v1)
    assert max(_image(thumbnail, f"{what} v1 thumbnail").size) <= 400


def _check_after_restart(server, book: BookRow, v1: dict, lrr: dict) -> None:
    """Every image route of both surfaces after a restart, on pages and sizes
    the first server did not make, so each one reads the archive again."""
    what = f"{Path(book.path).name} ({book.format})"
    expected = _expected_pages(book)
    last = book.page_count
    page = _get(server, f"/api/v1/books/{book.id}/pages/{last}", headers=v1)
    _image(page, f"{what} v1 page {last}")
    assert page.content == expected[last], f"{what}: page {last} is not the archive's"
    thumbnail = _get(server, f"/api/v1/books/{book.id}/thumbnail?size=150", headers=v1)
    assert max(_image(thumbnail, f"{what} v1 thumbnail").size) <= 150
    cover = _get(server, f"/api/v1/issue/{book.id}/cover?size=200", headers=v1)
    assert _image(cover, f"{what} cover").format == "JPEG"

    second = min(2, last)
    thumb = _get(server, f"/api/archives/{book.arcid}/thumbnail?page={second}", headers=lrr)
    _image(thumb, f"{what} LANraragi thumbnail of page {second}")
    assert "no-cache" not in thumb.headers.get("Cache-Control", ""), f"{what}: a placeholder"
    files = _get(server, f"/api/archives/{book.arcid}/files", headers=lrr)
    assert files.status_code == 200, f"{what} files: {files.text[:300]}"
    urls = files.json()["pages"]
    assert len(urls) == last
    url = urlsplit(urls[second - 1])  # a quoted entry name: '#' and spaces are common
    lrr_page = _get(server, f"{url.path}?{url.query}", headers=lrr)
    _image(lrr_page, f"{what} LANraragi page {second}")
    assert lrr_page.content == expected[second], f"{what}: LANraragi page {second} differs"


def _for_every_book(check, server, books: list[BookRow], *args) -> None:
    """``check`` every book, several at once: readers' apps load pages in
    parallel, and concurrent reads of different formats must not trip over
    each other (several worker threads handing tools to the hub at once)."""
    with ThreadPoolExecutor(4) as executor:
        for future in [executor.submit(check, server, book, *args) for book in books]:
            future.result()


def test_every_format_serves_pages_and_covers_before_and_after_a_restart(
        live_server, app, admin, tmp_path):
    library = create_library("Formats", str(_valid_library(tmp_path / "formats")))
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    assert job.state == "finished", job.error
    books = _books(library.id)
    assert {(book.state, book.error) for book in books} == {("ok", None)}
    assert {book.format for book in books} == {"cbz", "cbr", "cb7", "cbt", "pdf", "folder"}
    assert len(books) == len(VALID_COMICS) + len(BUILT_COMICS)
    assert all(book.page_count >= 1 and book.arcid for book in books)
    v1, lrr = _keys(admin)

    server = live_server()
    _for_every_book(_check_first_start, server, books, v1, lrr)
    server.restart()
    _for_every_book(_check_after_restart, server, books, v1, lrr)
    # live_server fails the test if the server logged a traceback (any 500 does).


def _wait_for_scan(server, library_id: int, headers: dict) -> dict:
    started = server.post(f"/api/v1/libraries/{library_id}/scan", headers=headers)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + SCAN_TIMEOUT
    while time.monotonic() < deadline:
        status = _get(server, f"/api/v1/libraries/{library_id}/scan-status", headers=headers).json()
        if not status["scanning"] and status["task"]["status"] not in ("queued", "running"):
            return status["task"]
        time.sleep(0.1)
    pytest.fail(f"the scan did not end within {SCAN_TIMEOUT} s")


def _json(response) -> dict:
    """The body of a requests or of a Flask test client response."""
    return response.json() if callable(response.json) else response.json


def _assert_refused(response, what: str, route: str) -> None:
    """A 4xx with a message in the surface's JSON envelope."""
    assert 400 <= response.status_code < 500, f"{what} {route}: {response.status_code}"
    assert response.headers["Content-Type"].startswith("application/json"), f"{what} {route}"
    body = _json(response)
    message = body.get("message") or body.get("error")
    assert message, f"{what} {route}: no message in {body}"


def _assert_placeholder(response, what: str) -> None:
    """LANraragi clients get an image even for a book without a readable cover."""
    assert response.status_code == 200, f"{what} LANraragi thumbnail: {response.status_code}"
    content = response.content if hasattr(response, "content") else response.data
    Image.open(io.BytesIO(content)).load()
    assert "no-cache" in response.headers["Cache-Control"], f"{what}: not the placeholder"


def test_hostile_archives_are_recorded_as_errors_and_never_answer_500(
        live_server, app, admin, tmp_path):
    """Traversal names, links, bombs, encryption and truncation: the scan (run
    by the server, under gevent) records each book as errored with its reason
    and goes on, and every page and cover route answers a 4xx in its
    surface's envelope, or LANraragi's placeholder image, never a 500."""
    expected = _hostile_library(tmp_path / "hostile")
    library = create_library("Hostile", str(tmp_path / "hostile"))
    v1, lrr = _keys(admin)
    server = live_server()

    task = _wait_for_scan(server, library.id, v1)
    assert task["status"] == "finished", (task["error"], server.output()[-2500:])
    books = {Path(book.path).name: book for book in _books(library.id)}
    assert set(books) == set(expected)
    for name, reason in expected.items():
        book = books[name]
        if reason == "ok":
            assert book.state == "ok" and book.page_count == 3, name
        else:
            assert book.state == "error", f"{name}: {book.state}"
            assert book.error_reason == reason, f"{name}: {book.error}"
            assert book.error and book.page_count == 0, name

    _image(_get(server, f"/api/v1/books/{books['readable.cbr'].id}/pages/3", headers=v1),
           "the readable book among them")
    refused = [books[name] for name, reason in expected.items() if reason != "ok"]
    _for_every_book(_check_refused_book, server, refused, v1, lrr)


def _check_refused_book(server, book: BookRow, v1: dict, lrr: dict) -> None:
    name = Path(book.path).name
    _assert_refused(_get(server, f"/api/v1/books/{book.id}/pages/1", headers=v1), name, "page")
    _assert_refused(_get(server, f"/api/v1/books/{book.id}/thumbnail", headers=v1),
                    name, "thumbnail")
    _assert_refused(_get(server, f"/api/v1/issue/{book.id}/cover", headers=v1), name, "cover")
    _assert_placeholder(_get(server, f"/api/archives/{book.arcid}/thumbnail", headers=lrr), name)
    _assert_refused(_get(server, f"/api/archives/{book.arcid}/files", headers=lrr),
                    name, "LANraragi files")
    _assert_refused(_get(server, f"/api/archives/{book.arcid}/page?path=01.jpg", headers=lrr),
                    name, "LANraragi page")


def _broken_data_library(root: Path) -> list[str]:
    """Archives whose listing is sound but whose page data is not."""
    root.mkdir(parents=True)
    jpeg = _jpeg()
    _seven_zip(root / "bad crc.cb7", {"01.jpg": jpeg}, filters=[{"id": py7zr.FILTER_COPY}])
    # Deflated: a stored zip page is served as a byte range of the file, unchecked.
    with zipfile.ZipFile(root / "bad data.cbz", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("01.jpg", jpeg)
    rar = bytearray((FIXTURE_ARCHIVES / "komga/rar4-solid.rar").read_bytes())
    (root / "bad data (RAR4 solid).cbr").write_bytes(bytes(rar))
    for name, offset in (("bad crc.cb7", 32 + 40), ("bad data.cbz", 30 + len("01.jpg") + 40),
                         ("bad data (RAR4 solid).cbr", len(rar) - 200)):
        raw = bytearray((root / name).read_bytes())
        raw[offset] ^= 0xFF  # inside the packed page: the directory still reads
        (root / name).write_bytes(bytes(raw))
    return sorted(path.name for path in root.iterdir())


def test_a_book_whose_page_data_is_broken_answers_4xx_and_placeholders(app, client, admin,
                                                                       tmp_path):
    """No gevent here: the behaviour asked of every route, whoever serves it.
    (Under ``serve``, gevent's thread pool also logs each such read error
    with a traceback: jobs/pool.py's ``run_cpu`` lets the exception cross it.)"""
    names = _broken_data_library(tmp_path / "broken")
    library = create_library("Broken", str(tmp_path / "broken"))
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    assert job.state == "finished", job.error
    books = _books(library.id)
    assert sorted(Path(book.path).name for book in books) == names
    v1, lrr = _keys(admin)
    for book in books:
        name = Path(book.path).name
        assert book.state == "ok" and book.page_count >= 1, f"{name}: {book.error}"
        _assert_refused(client.get(f"/api/v1/books/{book.id}/pages/1", headers=v1), name, "page")
        _assert_refused(client.get(f"/api/v1/books/{book.id}/thumbnail", headers=v1),
                        name, "thumbnail")
        _assert_refused(client.get(f"/api/v1/issue/{book.id}/cover", headers=v1), name, "cover")
        _assert_placeholder(client.get(f"/api/archives/{book.arcid}/thumbnail", headers=lrr),
                            name)
        files = client.get(f"/api/archives/{book.arcid}/files", headers=lrr)
        query = urlsplit(files.json["pages"][0]).query
        _assert_refused(client.get(f"/api/archives/{book.arcid}/page?{query}", headers=lrr),
                        name, "LANraragi page")
