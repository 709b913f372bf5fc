"""``/api/v1/libraries``: list, create, read, update, delete, thumbnail; folders
fenced to the library roots."""
import io
import os

import pytest
from PIL import Image

from comicsrv.extensions import db
from comicsrv.library.libraries import create_library, library_roots
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.settings_store import set_setting
from comicsrv.models import Book, Library, Series
from tests.factories import (
    AdminFactory, BookFactory, JobFactory, LibraryFactory, SeriesFactory, UserFactory, api_key_for,
)

LIBRARY_FIELDS = {"id", "name", "path", "enabled", "scan_cron", "scan_on_start", "watch_mode",
                  "default_scan_mode", "scanning_config", "book_count", "series_count",
                  "last_scan_at", "created_at", "updated_at"}


@pytest.fixture(autouse=True)
def roots(app, tmp_path):
    """The test's folder is the one library root (``filesystem.allowed_roots``)."""
    set_setting("filesystem.allowed_roots", [str(tmp_path)], None)
    return tmp_path


@pytest.fixture
def scheduler(app):
    """The app's scheduler, running (its cron triggers are hours away)."""
    scheduler = app.extensions["comicsrv.scheduler"]
    scheduler.start()
    yield scheduler
    scheduler.shutdown()


def schedules(app):
    return {s["id"]: s["trigger"] for s in app.extensions["comicsrv.scheduler"].schedules()}


def test_list_with_counts(client, scanned_library, admin_headers):
    body = client.get("/api/v1/libraries", headers=admin_headers).json
    assert {k: body[k] for k in ("total", "page", "page_size", "total_pages", "has_more")} == \
        {"total": 1, "page": 1, "page_size": 50, "total_pages": 1, "has_more": False}
    (item,) = body["items"]
    assert set(item) == LIBRARY_FIELDS
    assert item["id"] == scanned_library.id and item["name"] == "Comics"
    # Eight files (two of them unreadable, still books) in six series.
    assert item["book_count"] == 8 and item["series_count"] == 6
    assert item["last_scan_at"] is not None
    assert item["scanning_config"] == {"enabled": False, "cron_schedule": None,
                                       "default_mode": "normal", "scan_on_start": True}


def test_missing_books_are_not_counted(client, admin_headers):
    library = LibraryFactory()
    BookFactory(library=library)
    BookFactory(library=library, state="missing")
    item = client.get(f"/api/v1/libraries/{library.id}", headers=admin_headers).json
    assert item["book_count"] == 1


def test_paging_and_order(client, admin_headers):
    for name in ("Charlie", "Alpha", "Bravo"):
        LibraryFactory(name=name)
    body = client.get("/api/v1/libraries?page_size=2", headers=admin_headers).json
    assert [i["name"] for i in body["items"]] == ["Alpha", "Bravo"] and body["has_more"] is True
    body = client.get("/api/v1/libraries?page=2&page_size=2", headers=admin_headers).json
    assert [i["name"] for i in body["items"]] == ["Charlie"] and body["total_pages"] == 2


def test_readers_see_enabled_libraries_in_their_scope(client, admin_headers):
    shown, hidden, disabled = LibraryFactory(), LibraryFactory(), LibraryFactory(enabled=False)
    user = UserFactory(library_ids=[shown.id, disabled.id])
    headers = {"X-API-Key": api_key_for(user, ["LibrariesRead"])}
    body = client.get("/api/v1/libraries", headers=headers).json
    assert [i["id"] for i in body["items"]] == [shown.id]
    for library in (hidden, disabled):
        response = client.get(f"/api/v1/libraries/{library.id}", headers=headers)
        assert response.status_code == 404 and response.json["error"] == "not_found"
    # A manager sees the disabled one too.
    ids = {i["id"] for i in client.get("/api/v1/libraries", headers=admin_headers).json["items"]}
    assert ids == {shown.id, hidden.id, disabled.id}


def test_create_with_flat_fields(app, scheduler, client, admin_headers, tmp_path):
    response = client.post("/api/v1/libraries", headers=admin_headers, json={
        "name": "  Manga ", "path": str(tmp_path), "scan_cron": "0 3 * * *",
        "scan_on_start": False, "default_scan_mode": "deep"})
    assert response.status_code == 201
    body = response.json
    assert set(body) == LIBRARY_FIELDS
    assert body["name"] == "Manga" and body["path"] == str(tmp_path.resolve())
    assert body["scan_cron"] == "0 3 * * *" and body["scan_on_start"] is False
    assert body["default_scan_mode"] == "deep" and body["enabled"] is True
    assert body["book_count"] == 0 and body["series_count"] == 0 and body["last_scan_at"] is None
    assert "cron" in schedules(app)[f"scan:{body['id']}"]
    assert db.session.get(Library, body["id"]).name == "Manga"


def test_create_with_codex_scanning_config(app, scheduler, client, admin_headers, tmp_path):
    (tmp_path / "first").mkdir()
    body = client.post("/api/v1/libraries", headers=admin_headers, json={
        "name": "My Comics", "path": str(tmp_path / "first"),
        "scanning_config": {"enabled": True, "cron_schedule": "0 0 * * *",
                            "default_mode": "normal", "scan_on_start": True}}).json
    assert body["scanning_config"] == {"enabled": True, "cron_schedule": "0 0 * * *",
                                       "default_mode": "normal", "scan_on_start": True}
    assert body["scan_cron"] == "0 0 * * *"
    assert f"scan:{body['id']}" in schedules(app)
    # Scheduling switched off: the expression is not kept, nothing is scheduled.
    other = tmp_path / "other"
    other.mkdir()
    body = client.post("/api/v1/libraries", headers=admin_headers, json={
        "name": "Unscheduled", "path": str(tmp_path / "first" / ".." / "other"),
        "scanning_config": {"enabled": False, "cron_schedule": "0 0 * * *"}}).json
    assert body["scan_cron"] is None and f"scan:{body['id']}" not in schedules(app)


@pytest.mark.parametrize("payload, status, error", [
    ({"path": "/"}, 400, "validation_error"),
    ({"name": "X"}, 400, "validation_error"),
    ({"name": "X", "path": "/no/such/folder"}, 400, "bad_request"),
    ({"name": "X", "path": "/" + "0" * 300}, 400, "bad_request"),  # a name over 255 bytes
    ({"name": "X", "path": "/a" * 3000}, 400, "validation_error"),  # over PATH_MAX
    ({"name": " ", "path": "$tmp"}, 400, "bad_request"),
    ({"name": "X", "path": "$tmp", "scan_cron": "every day"}, 400, "bad_request"),
    ({"name": "X", "path": "$tmp", "default_scan_mode": "fast"}, 400, "validation_error"),
    ({"name": "X", "path": "$tmp", "scanning_config": {"default_mode": "fast"}}, 400,
     "validation_error"),
    ({"name": "X", "path": "$tmp", "enabled": "sometimes"}, 400, "validation_error"),
    ({"name": "Taken", "path": "$tmp"}, 409, "conflict"),
    ({"name": "X", "path": "$taken"}, 409, "conflict"),
    ({"name": "X", "path": "$inside"}, 409, "conflict"),
])
def test_create_refuses_bad_input(client, admin_headers, tmp_path, payload, status, error):
    (tmp_path / "free").mkdir()
    (tmp_path / "taken" / "inside").mkdir(parents=True)
    LibraryFactory(name="Taken", path=str((tmp_path / "taken").resolve()))
    places = {"$tmp": tmp_path / "free", "$taken": tmp_path / "taken",
              "$inside": tmp_path / "taken" / "inside"}
    payload = {k: str(places.get(v, v)) if isinstance(v, str) else v for k, v in payload.items()}
    response = client.post("/api/v1/libraries", headers=admin_headers, json=payload)
    assert response.status_code == status, response.json
    assert response.json["error"] == error and response.json["message"]
    assert db.session.query(Library).count() == 1


def test_update_changes_only_what_is_sent_and_reschedules(app, scheduler, client, admin_headers, tmp_path):
    library_id = client.post("/api/v1/libraries", headers=admin_headers, json={
        "name": "Old", "path": str(tmp_path), "scan_cron": "0 3 * * *"}).json["id"]
    url = f"/api/v1/libraries/{library_id}"
    before = schedules(app)[f"scan:{library_id}"]

    body = client.put(url, headers=admin_headers, json={"name": "New"}).json
    assert body["name"] == "New" and body["scan_cron"] == "0 3 * * *"
    body = client.put(url, headers=admin_headers,
                      json={"scanning_config": {"cron_schedule": "30 4 * * 1"}}).json
    assert body["scan_cron"] == "30 4 * * 1"
    after = schedules(app)[f"scan:{library_id}"]
    assert after != before and "hour='4'" in after and "minute='30'" in after
    assert list(schedules(app)).count(f"scan:{library_id}") == 1

    # Disabling drops the schedule; enabling brings it back; no cron, none.
    client.put(url, headers=admin_headers, json={"enabled": False})
    assert f"scan:{library_id}" not in schedules(app)
    client.put(url, headers=admin_headers, json={"enabled": True})
    assert f"scan:{library_id}" in schedules(app)
    body = client.put(url, headers=admin_headers, json={"scan_cron": None}).json
    assert body["scan_cron"] is None and f"scan:{library_id}" not in schedules(app)


def test_update_validates_like_create(client, admin_headers, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = client.post("/api/v1/libraries", headers=admin_headers,
                        json={"name": "A", "path": str(tmp_path / "a")}).json
    client.post("/api/v1/libraries", headers=admin_headers,
                json={"name": "B", "path": str(tmp_path / "b")})
    url = f"/api/v1/libraries/{first['id']}"
    for payload, status in (({"name": "B"}, 409), ({"path": str(tmp_path / "b")}, 409),
                            ({"path": str(tmp_path / "nope")}, 400), ({"scan_cron": "* *"}, 400),
                            ({"name": ""}, 400)):
        assert client.put(url, headers=admin_headers, json=payload).status_code == status, payload
    # Its own name and folder are no clash.
    body = client.put(url, headers=admin_headers,
                      json={"name": "A", "path": str(tmp_path / "a")}).json
    assert body["name"] == "A"
    assert client.put("/api/v1/libraries/999999", headers=admin_headers,
                      json={"name": "Z"}).status_code == 404


def test_delete_cascades_and_unschedules(app, scheduler, client, admin_headers, tmp_path):
    library_id = client.post("/api/v1/libraries", headers=admin_headers, json={
        "name": "Doomed", "path": str(tmp_path), "scan_cron": "0 3 * * *"}).json["id"]
    library = db.session.get(Library, library_id)
    series = SeriesFactory(library=library)
    BookFactory(library=library, series=series)
    response = client.delete(f"/api/v1/libraries/{library_id}", headers=admin_headers)
    assert response.status_code == 204 and response.data == b""
    db.session.expire_all()
    assert db.session.get(Library, library_id) is None
    assert db.session.query(Series).count() == 0 and db.session.query(Book).count() == 0
    assert f"scan:{library_id}" not in schedules(app)
    assert client.delete(f"/api/v1/libraries/{library_id}", headers=admin_headers).status_code == 404
    assert tmp_path.is_dir()


def test_delete_is_refused_while_scanning(client, admin_headers):
    library = LibraryFactory()
    JobFactory(type=SCAN_JOB, target=f"library:{library.id}", state="running")
    response = client.delete(f"/api/v1/libraries/{library.id}", headers=admin_headers)
    assert response.status_code == 409 and response.json["error"] == "scan_running"
    assert db.session.get(Library, library.id) is not None


def test_permissions(client, reader_headers, tmp_path):
    library = LibraryFactory()
    assert client.get("/api/v1/libraries").status_code == 401
    assert client.get("/api/v1/libraries", headers=reader_headers).status_code == 200
    for method, path, payload in (
            ("post", "/api/v1/libraries", {"name": "X", "path": str(tmp_path)}),
            ("put", f"/api/v1/libraries/{library.id}", {"name": "X"}),
            ("delete", f"/api/v1/libraries/{library.id}", None)):
        response = getattr(client, method)(path, headers=reader_headers, json=payload)
        assert response.status_code == 403 and response.json["error"] == "forbidden", path
    writer = {"X-API-Key": api_key_for(AdminFactory(), ["LibrariesRead", "LibrariesWrite"])}
    assert client.delete(f"/api/v1/libraries/{library.id}", headers=writer).status_code == 403
    assert client.put(f"/api/v1/libraries/{library.id}", headers=writer,
                      json={"name": "Renamed"}).status_code == 200


def test_thumbnail_is_the_newest_books_cover(client, scanned_library, admin_headers):
    newest = db.session.execute(
        db.select(Book).where(Book.state == "ok").order_by(Book.created_at.desc(), Book.id.desc())
    ).scalars().first()
    url = f"/api/v1/libraries/{scanned_library.id}/thumbnail"
    response = client.get(f"{url}?size=100", headers=admin_headers)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, max-age=86400"
    etag = response.headers["ETag"]
    assert etag == f'"{newest.arcid}-{newest.cover_page}-100"'
    with Image.open(io.BytesIO(response.data)) as im:
        assert max(im.size) == 100
    cached = client.get(f"{url}?size=100", headers={**admin_headers, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b"" and cached.headers["ETag"] == etag
    assert cached.headers["Cache-Control"] == "private, max-age=86400"
    # Sizes are clamped to 64..2000.
    assert client.get(f"{url}?size=5", headers=admin_headers).headers["ETag"].endswith('-64"')
    assert client.get(f"{url}?size=9000", headers=admin_headers).headers["ETag"].endswith('-2000"')
    assert client.get(f"{url}?size=big", headers=admin_headers).status_code == 400


def test_thumbnail_of_a_library_without_books(client, admin_headers):
    library = LibraryFactory()
    response = client.get(f"/api/v1/libraries/{library.id}/thumbnail", headers=admin_headers)
    assert response.status_code == 404 and response.json["error"] == "cover_unavailable"


# -- library roots ----------------------------------------------------------------

@pytest.fixture
def outside(tmp_path_factory):
    """A readable folder outside the roots (a sibling of the test's folder)."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "comics").mkdir()
    return folder


def test_a_folder_outside_the_roots_cannot_become_a_library(client, admin_headers, roots, outside):
    """The roots fence library paths as they fence browsing, judged after
    symlinks and ``..``: /etc, a sibling folder, a way out through ``..`` or a
    symlink inside the roots are all 403 path_not_allowed, and nothing is stored."""
    (roots / "escape").symlink_to(outside)
    for path in ("/etc", str(outside / "comics"), f"{roots}/../{outside.name}",
                 str(roots / "escape"), str(roots / "escape" / "comics")):
        response = client.post("/api/v1/libraries", headers=admin_headers,
                               json={"name": "Sneaky", "path": path})
        assert response.status_code == 403, path
        assert response.json["error"] == "path_not_allowed"
        assert "filesystem.allowed_roots" in response.json["message"]
    assert db.session.execute(db.select(db.func.count(Library.id))).scalar() == 0
    (roots / "comics").mkdir()
    inside = client.post("/api/v1/libraries", headers=admin_headers,
                         json={"name": "Fine", "path": str(roots / "comics")})
    assert inside.status_code == 201


def test_a_library_cannot_be_moved_outside_the_roots(client, admin_headers, roots, outside):
    (roots / "a").mkdir()
    library_id = client.post("/api/v1/libraries", headers=admin_headers,
                             json={"name": "A", "path": str(roots / "a")}).json["id"]
    response = client.put(f"/api/v1/libraries/{library_id}", headers=admin_headers,
                          json={"path": "/etc", "name": "Moved"})
    assert response.status_code == 403 and response.json["error"] == "path_not_allowed"
    db.session.expire_all()
    library = db.session.get(Library, library_id)
    assert (library.name, library.path) == ("A", str((roots / "a").resolve()))


def test_default_roots_are_the_docker_volumes_and_the_libraries_never_home(app, client,
                                                                          admin_headers, roots):
    """With ``filesystem.allowed_roots`` empty nothing but /comics, /downloads
    (where they exist) and the existing libraries' folders is offered: not the
    server user's home, not the data directory's parent."""
    set_setting("filesystem.allowed_roots", [], None)
    (roots / "existing").mkdir()
    existing = LibraryFactory(path=str(roots / "existing"))
    docker = [r for r in ("/comics", "/downloads") if os.path.isdir(r)]
    assert library_roots() == sorted({*map(os.path.realpath, docker),
                                      os.path.realpath(existing.path)})
    home = os.path.realpath(os.path.expanduser("~"))
    assert home not in library_roots() and "/" not in library_roots()
    (roots / "new").mkdir()
    response = client.post("/api/v1/libraries", headers=admin_headers,
                           json={"name": "New", "path": str(roots / "new")})
    assert response.status_code == 403 and response.json["error"] == "path_not_allowed"


def test_the_roots_the_server_was_started_with_apply_while_the_setting_is_empty(
        make_app, roots, outside):
    """``LIBRARY_ROOTS`` (environment or config.yml, set by whoever runs the
    server) is what a plain install offers; the admin setting overrides it."""
    (roots / "comics").mkdir()
    app = make_app(LIBRARY_ROOTS=f" {roots / 'comics'} ,")
    with app.app_context():
        set_setting("filesystem.allowed_roots", [], None)
        admin_headers = {"X-API-Key": api_key_for(AdminFactory(username="boss"), ["SystemAdmin"])}
        assert library_roots() == [os.path.realpath(roots / "comics")]
        client = app.test_client()
        inside = client.post("/api/v1/libraries", headers=admin_headers,
                             json={"name": "In", "path": str(roots / "comics")})
        assert inside.status_code == 201, inside.json
        refused = client.post("/api/v1/libraries", headers=admin_headers,
                              json={"name": "Out", "path": str(outside / "comics")})
        assert refused.status_code == 403 and refused.json["error"] == "path_not_allowed"
        set_setting("filesystem.allowed_roots", [str(outside)], None)
        assert library_roots() == [os.path.realpath(outside)]


def test_the_cli_path_is_not_fenced(app, outside):
    """``comicsrv library add`` (create_library without within_roots) is the
    machine's admin adding a folder on purpose."""
    library = create_library("Outside", str(outside / "comics"))
    assert library.path == str((outside / "comics").resolve())
