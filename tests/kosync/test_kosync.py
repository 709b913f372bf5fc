"""KOReader's progress sync, as the kosync plugin speaks it: register and log
in with an API key as the user name, then PUT and GET the position of a
document named by KOReader's partial MD5 of the file, which the scan stored
for every book."""
from __future__ import annotations

import hashlib

import pytest

from comicsrv.auth.permissions import USER_PERMISSIONS
from comicsrv.extensions import db
from comicsrv.library import reading
from comicsrv.library.reader import compute_koreader_hash
from comicsrv.models import Book
from tests.factories import UserFactory, api_key_for

KOREADER = {"Accept": "application/vnd.koreader.v1+json"}


def partial_md5(path: str) -> str:
    """util.partialMD5 of KOReader (frontend/util.lua), offsets spelled out."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for offset in [0] + [1024 * 4 ** i for i in range(11)]:
            fh.seek(offset)
            sample = fh.read(1024)
            if not sample:
                break
            digest.update(sample)
    return digest.hexdigest()


@pytest.fixture
def reader(app):
    return UserFactory(username="kindle")


@pytest.fixture
def key(reader) -> str:
    return api_key_for(reader, sorted(USER_PERMISSIONS))


@pytest.fixture
def book(scanned_library) -> Book:
    return db.session.execute(db.select(Book).where(
        Book.state == "ok", Book.page_count >= 3, Book.format == "cbz").order_by(Book.id)
    ).scalars().first()


def auth(key: str) -> dict[str, str]:
    return {**KOREADER, "X-Auth-User": key, "X-Auth-Key": hashlib.md5(b"dummy").hexdigest()}


def test_the_scan_stores_koreaders_hash_of_every_file(scanned_library, tmp_path):
    books = db.session.execute(db.select(Book)).scalars().all()
    assert books and all(b.koreader_hash == partial_md5(b.path) for b in books)
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 20_000)  # 5 MB: samples up to 4 MiB
    assert compute_koreader_hash(str(big)) == partial_md5(str(big))
    (tmp_path / "folder").mkdir()
    assert compute_koreader_hash(str(tmp_path / "folder")) is None


def test_register_and_login_take_an_api_key_as_the_user_name(client, key):
    created = client.post("/koreader/users/create", json={"username": key, "password": "x"},
                          headers=KOREADER)
    assert created.status_code == 201 and created.json == {"username": "kindle"}
    refused = client.post("/koreader/users/create", json={"username": "kindle", "password": "x"},
                          headers=KOREADER)
    assert refused.status_code == 401 and refused.json["code"] == 2001
    assert "API key" in refused.json["message"]
    assert client.get("/koreader/users/auth", headers=auth(key)).json == {"authorized": "OK"}
    wrong = client.get("/koreader/users/auth", headers=auth("csrv_nope"))
    assert wrong.status_code == 401 and wrong.json["code"] == 2001
    assert client.get("/koreader/users/auth", headers={"X-API-Key": key}).status_code == 200


def test_push_and_pull_a_position(client, key, book, reader):
    document = partial_md5(book.path)
    assert client.get(f"/koreader/syncs/progress/{document}", headers=auth(key)).json == {}
    pushed = client.put("/koreader/syncs/progress", headers=auth(key), json={
        "document": document, "progress": "2", "percentage": 2 / book.page_count,
        "device": "Kobo Clara", "device_id": "ABC123"})
    assert pushed.status_code == 200, pushed.json
    assert pushed.json["document"] == document and isinstance(pushed.json["timestamp"], int)
    saved = reading.get_progress(reader.id, book.id)
    assert (saved.page, saved.device_name, saved.device_id) == (2, "Kobo Clara", "ABC123")
    pulled = client.get(f"/koreader/syncs/progress/{document}", headers=auth(key)).json
    assert pulled["progress"] == "2" and pulled["device"] == "Kobo Clara"
    assert pulled["percentage"] == pytest.approx(2 / book.page_count, abs=1e-3)
    # A position saved elsewhere is the one KOReader pulls next.
    reading.save_progress(reader.id, book, reading.ProgressUpdate(page=3))
    assert client.get(f"/koreader/syncs/progress/{document}",
                      headers=auth(key)).json["progress"] == "3"
    # An EPUB-style xpointer: the percentage places it.
    client.put("/koreader/syncs/progress", headers=auth(key), json={
        "document": document, "progress": "/body/DocFragment[2]", "percentage": 1.0,
        "device": "Kobo", "device_id": "A"})
    assert reading.get_progress(reader.id, book.id).completed


def test_refusals(client, key, book, app):
    unknown = client.put("/koreader/syncs/progress", headers=auth(key), json={
        "document": "0" * 32, "progress": "1", "percentage": 0.1, "device": "", "device_id": ""})
    assert unknown.status_code == 404 and unknown.json["code"] == 2003
    missing = client.put("/koreader/syncs/progress", headers=auth(key), json={"progress": "1"})
    assert missing.status_code == 400 and missing.json["code"] == 2003
    anonymous = client.get(f"/koreader/syncs/progress/{book.koreader_hash}")
    assert anonymous.status_code == 401
    read_only = api_key_for(UserFactory(username="ro"), ["BooksRead"])
    refused = client.put("/koreader/syncs/progress", headers=auth(read_only), json={
        "document": book.koreader_hash, "progress": "1", "percentage": 0.1})
    assert refused.status_code == 403
    other = UserFactory(username="elsewhere", library_ids=[])
    hidden = api_key_for(other, sorted(USER_PERMISSIONS))
    assert client.get(f"/koreader/syncs/progress/{book.koreader_hash}",
                      headers=auth(hidden)).status_code == 404
    from comicsrv.settings_store import set_setting

    set_setting("koreader.enabled", False, None)
    off = client.get("/koreader/users/auth", headers=auth(key))
    assert off.status_code == 404


def test_text_no_database_stores_is_a_400(client, key):
    assert client.get("/koreader/syncs/progress/a%00b", headers=auth(key)).status_code == 400
    response = client.put("/koreader/syncs/progress", headers=auth(key), json={
        "document": "a\x00", "progress": "1", "percentage": 0.1, "device": "\x00"})
    assert response.status_code == 400 and response.json["code"] == 2003
    assert client.post("/koreader/users/create", json={"username": "\x00"}).status_code == 400
