"""CLU's ``/api/v1/issue/<id>``, its cover and its download (with Range)."""
import io
import os
import shutil

import pytest
from PIL import Image

from comicsrv.auth.users import create_client_token
from comicsrv.extensions import db
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book
from tests.conftest import FIXTURE_ARCHIVES
from tests.factories import UserFactory

CBZ = "Youthful/Captain Science/Captain Science #001.cbz"
CBZ_SIZE = 23606


def book_at(path):
    return db.session.execute(db.select(Book).where(Book.path == path)).scalar_one()


@pytest.fixture
def cbz(scanned_library):
    return book_at(f"{scanned_library.path}/{CBZ}")


def file_bytes(book):
    with open(book.path, "rb") as handle:
        return handle.read()


# --- /issue/<id> ------------------------------------------------------------------------


def test_unknown_and_out_of_scope_books_are_404_not_found(client, clu_headers, scanned_library,
                                                          marvel_library, cbz):
    for suffix in ("", "/cover", "/download"):
        response = client.get(f"/api/v1/issue/999999{suffix}", headers=clu_headers)
        assert response.status_code == 404 and response.json["error"] == "not_found"
    scoped = UserFactory(library_ids=[marvel_library.id])
    headers = {"Authorization": f"Bearer {create_client_token(scoped)[1]}"}
    for suffix in ("", "/cover", "/download"):
        response = client.get(f"/api/v1/issue/{cbz.id}{suffix}", headers=headers)
        assert response.status_code == 404 and response.json["error"] == "not_found"
    assert client.get(f"/api/v1/issue/{cbz.id}", headers=clu_headers).status_code == 200


def test_metadata_values_default_to_empty_strings(client, clu_headers, scanned_library):
    book = book_at(f"{scanned_library.path}/Komga/Tests/rar4.cbr")
    body = client.get(f"/api/v1/issue/{book.id}", headers=clu_headers).json
    assert body["metadata"] == {
        "title": "", "series": "rar4", "number": "", "count": "", "volume": "", "year": "",
        "writer": "", "penciller": "", "inker": "", "colorist": "", "letterer": "",
        "coverartist": "", "publisher": "Komga", "genre": "", "characters": ""}
    assert body["has_comicinfo"] is False and body["progress"] is None
    assert body["name"] == "rar4.cbr" and body["size"] == 9480
    assert body["modified_at"] == int(os.stat(book.path).st_mtime)


# --- cover ------------------------------------------------------------------------------


def test_cover_size_is_clamped_and_cached_by_etag(client, clu_headers, cbz):
    url = f"/api/v1/issue/{cbz.id}/cover"
    small = client.get(url, headers=clu_headers, query_string={"size": 10})
    assert small.status_code == 200
    assert max(Image.open(io.BytesIO(small.data)).size) == 64
    default = client.get(url, headers=clu_headers, query_string={"size": "big"})
    assert default.headers["ETag"] == client.get(url, headers=clu_headers).headers["ETag"]
    assert default.headers["ETag"] != small.headers["ETag"]
    assert max(Image.open(io.BytesIO(default.data)).size) <= 400

    again = client.get(url, headers={**clu_headers, "If-None-Match": default.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == default.headers["ETag"]
    assert again.headers["Cache-Control"] == "private, max-age=86400"
    # the second 200 is served from the cover cache, byte for byte
    assert client.get(url, headers=clu_headers).data == default.data


def test_cover_unavailable_is_404(client, clu_headers, scanned_library):
    for name in ("empty.cbz", "encrypted.cbz"):
        book = book_at(f"{scanned_library.path}/Komga/Tests/{name}")
        response = client.get(f"/api/v1/issue/{book.id}/cover", headers=clu_headers)
        assert response.status_code == 404 and response.json["error"] == "cover_unavailable"


# --- download ---------------------------------------------------------------------------


def test_download_streams_the_whole_file(client, clu_headers, scanned_library):
    types = {"Komga/Tests/rar4.cbr": "application/vnd.comicbook-rar",
             "Komga/Tests/komga.pdf": "application/pdf",
             "Youthful/Captain Science/v1950/Captain Science #001.cb7": "application/octet-stream"}
    for path, mime in types.items():
        book = book_at(f"{scanned_library.path}/{path}")
        response = client.get(f"/api/v1/issue/{book.id}/download", headers=clu_headers)
        assert response.status_code == 200 and response.is_streamed
        assert response.headers["Content-Type"] == mime
        assert response.data == file_bytes(book)
        assert response.headers["Content-Length"] == str(len(response.data))


@pytest.mark.parametrize("header, first, last", [
    ("bytes=0-15", 0, 15), ("bytes=100-", 100, CBZ_SIZE - 1),
    ("bytes=-50", CBZ_SIZE - 50, CBZ_SIZE - 1),
    ("bytes=23000-99999", 23000, CBZ_SIZE - 1), ("bytes=-99999", 0, CBZ_SIZE - 1),
    ("bytes=23605-23605", 23605, 23605),
])
def test_a_single_range_is_206(client, clu_headers, cbz, header, first, last):
    response = client.get(f"/api/v1/issue/{cbz.id}/download",
                          headers={**clu_headers, "Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{CBZ_SIZE}"
    assert response.headers["Content-Length"] == str(last - first + 1)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.data == file_bytes(cbz)[first:last + 1]


@pytest.mark.parametrize("header", [
    "bytes=23606-", "bytes=99999-100000", "bytes=5-2", "bytes=-0", "bytes=abc", "bytes=-",
    "items=0-1", "bytes=0-1,5-6", "bytes=１-2", "0-15", "bytes=" + "9" * 30 + "-",
])
def test_an_unsatisfiable_or_garbled_range_is_416(client, clu_headers, cbz, header):
    response = client.get(f"/api/v1/issue/{cbz.id}/download",
                          headers={**clu_headers, "Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{CBZ_SIZE}"
    assert response.json["error"] == "range_not_satisfiable"


def test_a_file_gone_from_disk_is_404_file_not_found(client, clu_headers, cbz):
    os.remove(cbz.path)
    response = client.get(f"/api/v1/issue/{cbz.id}/download", headers=clu_headers)
    assert response.status_code == 404 and response.json["error"] == "File not found"


def test_attachment_name_of_a_non_ascii_file(app, client, clu_headers, scanned_library):
    path = f"{scanned_library.path}/Komga/Tests/Café \"Noir\" №1.cbz"
    shutil.copy2(FIXTURE_ARCHIVES / "komga/zip.zip", path)
    app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": scanned_library.id})
    response = client.get(f"/api/v1/issue/{book_at(path).id}/download", headers=clu_headers)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Caf_ \\"Noir\\" _1.cbz"; '
        "filename*=UTF-8''Caf%C3%A9%20%22Noir%22%20%E2%84%961.cbz")
