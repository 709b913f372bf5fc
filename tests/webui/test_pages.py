"""The web UI's pages through Flask's test client: sign-in, first run, CSRF,
redirects that stay on the site, permissions, filters, the reader's
settings, the scan stream, and what ships in the package."""
from __future__ import annotations

import configparser
import glob
import re
from pathlib import Path

import pytest

from comicsrv.auth.csrf import token_for_session
from comicsrv.auth.tokens import SESSION_COOKIE
from comicsrv.extensions import db
from comicsrv.library import reading
from comicsrv.models import UserPreference
from tests.factories import (
    PASSWORD, BookFactory, LibraryFactory, PublisherFactory, SeriesFactory,
    UserFactory, api_key_for,
)

ROOT = Path(__file__).resolve().parents[2]


def sign_in(client, username: str, password: str = PASSWORD, next_: str | None = None):
    data = {"username": username, "password": password}
    if next_ is not None:
        data["next"] = next_
    return client.post("/login", data=data)


def csrf(client) -> str:
    return token_for_session(client.get_cookie(SESSION_COOKIE).value)


# --- first run ----------------------------------------------------------------------------

def test_every_page_leads_to_setup_until_the_first_admin_exists(client):
    for path in ("/", "/series", "/books/1", "/login", "/libraries"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/setup", path
    created = client.post("/setup", data={"username": "boss", "password": "long enough",
                                          "confirm": "long enough"})
    assert created.status_code == 303 and client.get_cookie(SESSION_COOKIE) is not None
    # Signed in as the new admin, set-up goes on with the first library.
    page = client.get("/setup")
    assert page.status_code == 200 and "Add your first library" in page.text
    me = client.get("/api/v1/auth/me").json
    assert me["username"] == "boss" and me["is_admin"] is True


def test_setup_refuses_bad_input_and_other_sites(client):
    mismatch = client.post("/setup", data={"username": "boss", "password": "long enough",
                                           "confirm": "different!"})
    assert mismatch.status_code == 400 and "The two passwords differ." in mismatch.text
    short = client.post("/setup", data={"username": "boss", "password": "short",
                                        "confirm": "short"})
    assert short.status_code == 400 and "at least 8 characters" in short.text
    forged = client.post("/setup", data={"username": "evil", "password": "long enough",
                                         "confirm": "long enough"},
                         headers={"Origin": "http://evil.example"})
    assert forged.status_code == 403
    assert client.get("/").headers["Location"] == "/setup"  # still nobody


def test_the_first_admin_is_made_only_once(client, admin):
    again = client.post("/setup", data={"username": "second", "password": "long enough",
                                        "confirm": "long enough"})
    assert again.status_code == 302 and again.headers["Location"].startswith("/login")
    assert db.session.execute(db.select(db.func.count()).select_from(
        type(admin))).scalar_one() == 1


def test_setup_belongs_to_admins_once_done(client, reader):
    sign_in(client, "reader")
    assert client.get("/setup").status_code == 403


def test_setup_adds_the_first_library_and_starts_its_scan(app, client, admin, comic_tree):
    sign_in(client, "admin")
    missing = client.post("/setup", data={"name": "Comics", "path": str(comic_tree / "nope"),
                                          "csrf_token": csrf(client)})
    assert missing.status_code == 400 and "is not a folder" in missing.text
    added = client.post("/setup", data={"name": "Comics", "path": str(comic_tree),
                                        "csrf_token": csrf(client)})
    assert added.status_code == 303
    assert re.fullmatch(r"/libraries/\d+/scan\?first_run=1", added.headers["Location"])
    runner = app.extensions["comicsrv.jobs"]
    from comicsrv.models import Job
    job = db.session.execute(db.select(Job)).scalar_one()
    assert runner.wait(job.id, 60)
    # With a library in place, set-up leads to the libraries.
    assert client.get("/setup").headers["Location"] == "/libraries"


# --- sign-in -------------------------------------------------------------------------------

def test_sign_in_sets_the_session_the_api_accepts(client, admin):
    response = sign_in(client, "admin", next_="/series?q=captain")
    assert response.status_code == 303 and response.headers["Location"] == "/series?q=captain"
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie.http_only and cookie.same_site == "Lax"
    assert client.get("/api/v1/auth/me").json["username"] == "admin"
    assert client.get("/login").headers["Location"] == "/"  # already signed in


@pytest.mark.parametrize("target", [
    "//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
    "http:/evil.example", "\\\\evil.example", "/ok\r\nSet-Cookie: x=1", "",
])
def test_next_never_leaves_the_site(client, admin, target):
    response = sign_in(client, "admin", next_=target)
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_a_page_asks_for_sign_in_and_comes_back(client, admin):
    response = client.get("/series?publisher=DC")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/series?publisher%3DDC"
    assert sign_in(client, "admin", next_="/series?publisher=DC").headers["Location"] == \
        "/series?publisher=DC"


def test_wrong_passwords_are_throttled_like_the_api(client, admin):
    for _ in range(5):
        wrong = sign_in(client, "admin", "not the password")
        assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
    locked = sign_in(client, "admin")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert client.get_cookie(SESSION_COOKIE) is None
    # The API's login shares the throttle.
    assert client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
                       ).status_code == 429


def test_sign_out_needs_the_token_and_clears_the_cookie(client, admin):
    sign_in(client, "admin")
    assert client.post("/logout").status_code == 403
    response = client.post("/logout", data={"csrf_token": csrf(client)})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get_cookie(SESSION_COOKIE) is None
    assert client.get("/").status_code == 302


# --- CSRF ---------------------------------------------------------------------------------

def test_state_changes_need_the_csrf_token(client, admin):
    book = BookFactory()
    sign_in(client, "admin")
    refused = client.post(f"/books/{book.id}/read", data={"state": "read"})
    assert refused.status_code == 403 and "CSRF token" in refused.text
    wrong = client.post(f"/books/{book.id}/read", data={"state": "read", "csrf_token": "x"})
    assert wrong.status_code == 403
    assert reading.get_progress(admin.id, book.id) is None
    form = client.post(f"/books/{book.id}/read", data={"state": "read", "csrf_token": csrf(client)})
    assert form.status_code == 303
    assert reading.get_progress(admin.id, book.id).completed is True
    # htmx sends the token in the header and gets the row back.
    htmx = client.post(f"/books/{book.id}/read", data={"state": "unread"},
                       headers={"HX-Request": "true", "X-CSRF-Token": csrf(client)})
    assert htmx.status_code == 200 and f'id="book-{book.id}"' in htmx.text
    assert "Mark read" in htmx.text and reading.get_progress(admin.id, book.id) is None


def test_a_refused_htmx_request_shows_its_message_in_place(client, admin):
    book = BookFactory()
    sign_in(client, "admin")
    response = client.post(f"/books/{book.id}/read", headers={"HX-Request": "true"})
    assert response.status_code == 403 and response.headers["HX-Retarget"] == "#flash"
    assert 'role="alert"' in response.text


def test_other_origins_are_refused_even_with_the_token(client, admin):
    book = BookFactory()
    sign_in(client, "admin")
    response = client.post(f"/books/{book.id}/read", data={"csrf_token": csrf(client)},
                           headers={"Sec-Fetch-Site": "same-site"})
    assert response.status_code == 403
    assert reading.get_progress(admin.id, book.id) is None


def test_api_keys_need_no_token(client, admin):
    book = BookFactory()
    key = api_key_for(admin, ["SystemAdmin"])
    assert client.post(f"/api/v1/books/{book.id}/read", headers={"X-API-Key": key}
                       ).status_code == 200


# --- what a user may see -------------------------------------------------------------------

def test_a_plain_user_sees_only_their_libraries(client):
    mine, other = LibraryFactory(name="Mine"), LibraryFactory(name="Other")
    shown = SeriesFactory(library=mine, name="Shown Series")
    hidden = SeriesFactory(library=other, name="Hidden Series")
    BookFactory(library=mine, series=shown, series_name="Shown Series")
    hidden_book = BookFactory(library=other, series=hidden, series_name="Hidden Series")
    UserFactory(username="reader", library_ids=[mine.id])
    sign_in(client, "reader")
    grid = client.get("/series").text
    assert "Shown Series" in grid and "Hidden Series" not in grid
    assert client.get(f"/series/{hidden.id}").status_code == 404
    assert client.get(f"/books/{hidden_book.id}").status_code == 404
    assert client.get(f"/read/{hidden_book.id}").status_code == 404
    assert client.get("/libraries").status_code == 403
    assert ">Libraries<" not in client.get("/").text
    assert client.post(f"/libraries/{mine.id}/scan", data={"csrf_token": csrf(client)}
                       ).status_code == 403


# --- the series grid ------------------------------------------------------------------------

@pytest.fixture
def shelf(admin):
    library = LibraryFactory()
    marvel, dc = PublisherFactory(name="Marvel"), PublisherFactory(name="DC Comics")
    saga = SeriesFactory(library=library, name="Saga", publisher=marvel, year=2012)
    watchmen = SeriesFactory(library=library, name="Watchmen", publisher=dc, year=1986)
    BookFactory(library=library, series=saga, year=2012, format="cbz")
    read = BookFactory(library=library, series=watchmen, year=1986, format="cbr")
    reading.mark_read(admin.id, read)
    return {"saga": saga, "watchmen": watchmen}


def _names(html: str) -> list[str]:
    return re.findall(r'<span class="title">([^<]+)</span>', html)


@pytest.mark.parametrize("query,expected", [
    ("", ["Saga", "Watchmen"]),
    ("?publisher=dc comics", ["Watchmen"]),
    ("?year=2012", ["Saga"]),
    ("?read=read", ["Watchmen"]),
    ("?read=unread", ["Saga"]),
    ("?format=cbr", ["Watchmen"]),
    ("?q=watch", ["Watchmen"]),
    ("?sort=year", ["Watchmen", "Saga"]),
    ("?sort=name&order=desc", ["Watchmen", "Saga"]),
    ('?condition={"publisher": {"operator": "beginsWith", "value": "Marv"}}', ["Saga"]),
])
def test_series_grid_filters(client, shelf, query, expected):
    sign_in(client, "admin")
    response = client.get("/series" + query)
    assert response.status_code == 200
    assert _names(response.text) == expected


@pytest.mark.parametrize("query,message", [
    ("?year=abc", "year must be a whole number"),
    ("?read=maybe", "read is one of"),
    ("?sort=colour", "sort is one of"),
    ("?condition={nope", "condition must be a JSON condition tree"),
    ('?condition={"shoe": {"operator": "is", "value": 1}}', "shoe"),
])
def test_bad_filters_get_a_clear_400(client, shelf, query, message):
    sign_in(client, "admin")
    response = client.get("/series" + query)
    assert response.status_code == 400 and message in response.text


def test_the_next_page_of_covers_comes_as_cards(client, admin):
    library = LibraryFactory()
    for n in range(65):
        BookFactory(library=library, series=SeriesFactory(library=library, name=f"S{n:03d}"))
    sign_in(client, "admin")
    first = client.get("/series")
    assert len(_names(first.text)) == 60 and 'hx-trigger="revealed"' in first.text
    more = client.get("/series?page=2", headers={"HX-Request": "true"})
    assert _names(more.text) == [f"S{n:03d}" for n in range(60, 65)]
    assert "<html" not in more.text and "revealed" not in more.text


# --- the reader ------------------------------------------------------------------------------

def _config(html: str) -> dict:
    import json
    return json.loads(re.search(r'id="reader-config">(.*?)</script>', html, re.S).group(1))


def test_the_reader_opens_where_the_user_left_off(client, admin):
    book = BookFactory(page_count=20)
    sign_in(client, "admin")
    assert _config(client.get(f"/read/{book.id}").text)["start"] == 1
    reading.save_progress(admin.id, book, reading.ProgressUpdate(page=17))
    config = _config(client.get(f"/read/{book.id}").text)
    assert config["start"] == 17 and config["pageCount"] == 20
    assert config["pagesUrl"] == f"/api/v1/books/{book.id}/pages/"
    assert _config(client.get(f"/read/{book.id}?page=99").text)["start"] == 20
    reading.mark_read(admin.id, book)
    assert _config(client.get(f"/read/{book.id}").text)["start"] == 1  # read again


def test_an_errored_book_says_why_it_cannot_be_read(client, admin):
    book = BookFactory(state="error", page_count=0, error="entry 'x.png' is password-protected")
    sign_in(client, "admin")
    page = client.get(f"/books/{book.id}")
    assert page.status_code == 200 and "password-protected" in page.text
    assert client.get(f"/read/{book.id}").status_code == 404


def test_reading_modes_are_remembered_per_series(client, admin):
    library = LibraryFactory()
    manga, comic = SeriesFactory(library=library), SeriesFactory(library=library)
    manga_book = BookFactory(library=library, series=manga)
    comic_book = BookFactory(library=library, series=comic)
    sign_in(client, "admin")
    headers = {"X-CSRF-Token": csrf(client)}
    saved = client.post(f"/read/series/{manga.id}/settings",
                        json={"direction": "rtl", "layout": "double"}, headers=headers)
    assert saved.status_code == 200 and saved.json["direction"] == "rtl"
    assert _config(client.get(f"/read/{manga_book.id}").text)["settings"] == {
        "layout": "double", "direction": "rtl", "fit": "screen"}
    assert _config(client.get(f"/read/{comic_book.id}").text)["settings"]["direction"] == "ltr"
    bad = client.post(f"/read/series/{manga.id}/settings", json={"direction": "up"},
                      headers=headers)
    assert bad.status_code == 400 and "direction is one of" in bad.text
    assert client.post(f"/read/series/{manga.id}/settings", json={"direction": "ltr"}
                       ).status_code == 403  # no token
    # Stored beside the documented preferences, which the API keeps listing alone.
    assert db.session.get(UserPreference, (admin.id, f"reader.series:{manga.id}")) is not None
    keys = [p["key"] for p in client.get("/api/v1/user/preferences").json["items"]]
    assert not any(k.startswith("reader.series") for k in keys)


def test_right_to_left_manga_opens_right_to_left(client, admin):
    book = BookFactory(series=SeriesFactory(), manga="YesAndRightToLeft")
    sign_in(client, "admin")
    assert _config(client.get(f"/read/{book.id}").text)["settings"]["direction"] == "rtl"


# --- libraries and scans -----------------------------------------------------------------

def test_a_scan_streams_its_progress_and_result(app, client, admin, scanned_library):
    sign_in(client, "admin")
    started = client.post(f"/libraries/{scanned_library.id}/scan",
                          data={"csrf_token": csrf(client)})
    assert started.headers["Location"] == f"/libraries/{scanned_library.id}/scan"
    from comicsrv.models import Job
    job = db.session.execute(db.select(Job).where(Job.target.is_not(None))).scalar_one()
    assert app.extensions["comicsrv.jobs"].wait(job.id, 60)
    db.session.expire_all()  # the test's session saw the job queued
    assert "Scan finished" in client.get(started.headers["Location"]).text
    stream = client.get(f"/libraries/{scanned_library.id}/scan/{job.id}/events")
    text = stream.get_data(as_text=True)  # the stream ends after "done"
    assert stream.mimetype == "text/event-stream"
    assert 'event: progress' in text and 'value="100"' in text
    assert "event: done" in text and "password-protected" in text
    page = client.get("/libraries").text
    assert "Scan now" in page and 'data-count="errored"' in page
    assert client.get(f"/libraries/{scanned_library.id}/scan/999/events").status_code == 404


def test_scan_now_answers_the_live_panel(app, client, admin, scanned_library):
    sign_in(client, "admin")
    response = client.post(f"/libraries/{scanned_library.id}/scan", data={"mode": "deep"},
                           headers={"HX-Request": "true", "X-CSRF-Token": csrf(client)})
    assert response.status_code == 200 and "sse-connect" in response.text
    from comicsrv.models import Job
    job = db.session.execute(db.select(Job).order_by(Job.id.desc())).scalars().first()
    assert job.params == {"library_id": scanned_library.id, "deep": True}
    assert app.extensions["comicsrv.jobs"].wait(job.id, 60)


# --- docs and packaging ------------------------------------------------------------------

def test_docs_load_nothing_from_another_host(client):
    page = client.get("/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all("://" not in s and not s.startswith("//") for s in sources), sources
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert f"static/vendor/swagger-ui/{asset}" in page
        assert client.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200


def test_docs_assets_resolve_under_a_url_base(make_app):
    client = make_app(URL_BASE="/comics", API_DOCS_PATH="/api/docs").test_client()
    page = client.get("/comics/api/docs").text
    assert 'src="../static/vendor/swagger-ui/swagger-ui-bundle.js"' in page
    assert client.get("/comics/static/vendor/swagger-ui/swagger-ui.css").status_code == 200


def test_pages_load_nothing_from_another_host(client, admin):
    sign_in(client, "admin")
    page = client.get("/").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all("://" not in s and not s.startswith("//") for s in sources), sources


def test_every_web_file_ships_in_the_package():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in
                config["options.package_data"]["comicsrv.web"].split(",")]
    files = [p.relative_to(ROOT / "web").as_posix() for p in (ROOT / "web").rglob("*")
             if p.is_file()]
    assert any(f.startswith("static/vendor/htmx/") for f in files)
    # setuptools expands package_data patterns with glob, "**" recursively.
    shipped = {name for pattern in patterns
               for name in glob.glob(pattern, root_dir=ROOT / "web", recursive=True)
               if (ROOT / "web" / name).is_file()}
    assert sorted(set(files) - shipped) == []


# --- every page is guarded ---------------------------------------------------------------

def test_every_web_route_asks_for_sign_in(app, client, admin):
    """A page added without ``login_required`` fails here, before it ships."""
    from comicsrv.webui.shell import PUBLIC_ENDPOINTS

    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("web.") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        assert hasattr(app.view_functions[rule.endpoint], "web_permission"), rule.endpoint
        url = re.sub(r"<(?:int:)?\w+>", "1", rule.rule).replace("<path:name>", "x")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code in (302, 303), (method, url, response.status_code)
            assert response.headers["Location"].startswith("/login?next="), (method, url)
            checked.append(url)
    assert len(checked) > 15


# --- browsing pages -------------------------------------------------------------------------

def test_theme_is_saved_and_served(client, admin):
    sign_in(client, "admin")
    saved = client.post("/preferences/theme", data={"theme": "dark", "next": "/reading",
                                                    "csrf_token": csrf(client)})
    assert saved.status_code == 303 and saved.headers["Location"] == "/reading"
    assert '<html lang="en" data-theme="dark">' in client.get("/").text
    bad = client.post("/preferences/theme", data={"theme": "neon", "csrf_token": csrf(client)})
    assert bad.status_code == 400 and "theme" in bad.text


def test_story_arcs_list_their_books_in_reading_order(client, admin):
    from tests.factories import BookTagFactory, TagFactory

    arc = TagFactory(namespace="arc", name="Civil War")
    library = LibraryFactory()
    order = {}
    for label, number, year in (("Tie-in", "3", 2006), ("Prologue", "1", 2007),
                                ("Main", "2", 2006)):
        book = BookFactory(library=library, title=label, year=year,
                           extra={"story_arc_number": [number]})
        BookTagFactory(book=book, tag=arc)
        order[label] = book.id
    BookFactory(library=library, title="Unrelated")
    sign_in(client, "admin")
    assert "Civil War" in client.get("/arcs").text
    page = client.get("/arcs/Civil War").text
    titles = re.findall(r'class="name" href="[^"]*">([^<]+)</a>', page)
    assert [t for t in titles if t in order] == ["Prologue", "Main", "Tie-in"]
    assert client.get("/arcs/Nothing").status_code == 404


def test_favorites_and_to_read_show_on_the_reading_page(client, admin):
    library = LibraryFactory()
    series = SeriesFactory(library=library, name="Bone")
    book = BookFactory(library=library, series=series, series_name="Bone", number="1")
    sign_in(client, "admin")
    favorite = client.post(f"/series/{series.id}/favorite", data={"state": "on"},
                           headers={"HX-Request": "true", "X-CSRF-Token": csrf(client)})
    assert favorite.status_code == 200 and 'aria-pressed="true"' in favorite.text
    listed = client.post(f"/books/{book.id}/to-read", data={"csrf_token": csrf(client)})
    assert listed.status_code == 303
    page = client.get("/reading").text
    favorites = page.split('id="r-fav"')[1]
    to_read = page.split('id="r-toread"')[1].split('id="r-fav"')[0]
    assert "Bone" in favorites and "Bone #1" in to_read
    client.post(f"/series/{series.id}/favorite", data={"state": "off", "csrf_token": csrf(client)})
    assert "Bone" not in client.get("/reading").text.split('id="r-fav"')[1]


def test_folders_and_publishers_browse_the_scanned_library(client, admin, scanned_library,
                                                           comic_tree):
    sign_in(client, "admin")
    top = client.get("/folders").text
    assert "Youthful" in top and "Komga" in top
    series = client.get("/folders", query_string={"path": str(comic_tree / "Youthful" /
                                                           "Captain Science")}).text
    assert "v1950" in series and "Captain Science #1" in series
    assert client.get("/folders", query_string={"path": "/etc"}).status_code == 400
    assert client.get("/folders", query_string={"path": str(comic_tree / ".." / "x")}
                      ).status_code == 400
    assert client.get("/publishers").status_code == 200
    home = client.get("/").text
    assert 'data-row="recently-added"' in home and "Captain Science #1" in home


def test_mark_a_whole_series_read_and_unread(client, admin):
    library = LibraryFactory()
    series = SeriesFactory(library=library)
    books = [BookFactory(library=library, series=series, number=str(n)) for n in (1, 2, 3)]
    sign_in(client, "admin")
    done = client.post(f"/series/{series.id}/read", data={"state": "read"},
                       headers={"HX-Request": "true", "X-CSRF-Token": csrf(client)})
    assert done.status_code == 200 and "<strong>3</strong> read" in done.text
    assert all(reading.get_progress(admin.id, b.id).completed for b in books)
    undone = client.post(f"/series/{series.id}/read",
                         data={"state": "unread", "csrf_token": csrf(client)})
    assert undone.status_code == 303
    assert all(reading.get_progress(admin.id, b.id) is None for b in books)
