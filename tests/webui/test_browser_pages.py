"""Every page in a real Chromium against one ``comicsrv serve`` shared by this
module: permissions as a non-admin sees them, a cross-site form refused,
axe-core's accessibility check, and screenshots at desktop and phone width.
"""
from __future__ import annotations

import http.server
import shutil
import threading

import pytest
from playwright.sync_api import expect

from comicsrv.app import create_app
from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book, Series
from tests.conftest import COMIC_TREE, FIXTURE_ARCHIVES, _empty_tables
from tests.factories import PASSWORD, AdminFactory, UserFactory
from tests.serving import LiveServer, server_env
from tests.webui.conftest import DESKTOP, PHONE, describe, serious_violations, sign_in
from tests.webui.test_browser_flow import pattern_library


@pytest.fixture(scope="module")
def site(database_url, tmp_path_factory):
    """A scanned library, an admin and a plain user, and one server for the
    module; the tables are emptied afterwards as ``make_app`` does."""
    root = tmp_path_factory.mktemp("site")
    comics = root / "comics"
    for target, source in COMIC_TREE.items():
        (comics / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FIXTURE_ARCHIVES / source, comics / target)
    pattern_library(comics)
    app = create_app({"DATA_DIR": str(root / "data"), "DATABASE_URL": database_url,
                      "AUTO_MIGRATE": False, "SCHEDULER_ENABLED": False, "TESTING": True})
    server = None
    try:  # the tables are emptied however the start goes: the next module needs them so
        with app.app_context():
            library = create_library("Comics", str(comics))
            job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
            assert job.state == "finished", job.error
            AdminFactory(username="admin")
            UserFactory(username="reader")
            pattern = db.session.execute(
                db.select(Series).where(Series.name == "Test Pattern")).scalar_one()
            book = db.session.execute(db.select(Book).where(
                Book.filename == "Test Pattern #001.cbz")).scalar_one()
            ids = {"series": pattern.id, "book": book.id}
        server = LiveServer(root / "serve", server_env(database_url)).start()
        yield server, ids, app
    finally:
        if server is not None:
            server.stop()
        with app.app_context():
            _empty_tables()
            db.engine.dispose()
    if server is not None:
        assert "Traceback" not in server.output(), server.output()[-6000:]


def test_a_plain_user_cannot_reach_admin_pages(site, browser_context):
    server, ids, _ = site
    page = browser_context(DESKTOP).new_page()
    sign_in(page, server.url, "reader", PASSWORD)
    expect(page.locator("nav.mainnav")).not_to_contain_text("Libraries")
    for path in ("/libraries", "/setup", "/libraries/1/scan"):
        response = page.goto(server.url + path)
        assert response.status == 403, path
        expect(page.locator("h1")).to_have_text("Not allowed")
    # What a reader may do, they can: read a series.
    assert page.goto(f"{server.url}/series/{ids['series']}").status == 200


class _HostileSite:
    """Another web app on the same machine (same site, another origin), whose
    page posts a form to comicsrv as soon as it is opened."""

    def __init__(self, target: str):
        page = (f'<!doctype html><title>Win a prize</title><form id="f" method="post" '
                f'action="{target}"><input name="state" value="read"></form>'
                f'<script>document.getElementById("f").submit()</script>').encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_cross_site_form_post_is_refused(site, browser_context):
    server, ids, app = site
    page = browser_context(DESKTOP).new_page()
    sign_in(page, server.url, "admin", PASSWORD)
    hostile = _HostileSite(f"{server.url}/books/{ids['book']}/read")
    try:
        with page.expect_response(lambda r: r.url.endswith("/read")) as refused:
            page.goto(hostile.url)
        assert refused.value.status == 403
    finally:
        hostile.close()
    expect(page.locator("main")).to_contain_text("cannot use the session cookie")
    # Nothing was marked read.
    response = page.goto(f"{server.url}/books/{ids['book']}")
    assert response.status == 200
    expect(page.locator("main")).to_contain_text("Mark read")
    expect(page.locator("main")).not_to_contain_text("Mark unread")


PAGES = {  # name: path (filled with the site's ids)
    "home": "/",
    "series-grid": "/series",
    "series": "/series/{series}",
    "book": "/books/{book}",
    "reader": "/read/{book}",
    "reading": "/reading",
    "libraries": "/libraries",
}


@pytest.mark.parametrize("viewport_name,viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_pages_pass_axe_and_are_photographed(site, browser_context, screenshots,
                                             viewport_name, viewport):
    server, ids, _ = site
    context = browser_context(viewport)
    page = context.new_page()
    page.goto(server.url + "/login")
    found = {"login": serious_violations(page)}
    page.screenshot(path=screenshots / f"login-{viewport_name}.png")
    sign_in(page, server.url, "admin", PASSWORD)
    # Something to continue and a read book, so the home page shows its rows.
    page.goto(f"{server.url}/read/{ids['book']}?page=1")
    expect(page.locator("#spread")).to_have_attribute("data-pages", "1")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#spread")).to_have_attribute("data-pages", "4")
    page.wait_for_timeout(900)  # the debounced progress save
    for name, path in PAGES.items():
        response = page.goto(server.url + path.format(**ids))
        assert response.status == 200, (name, response.status)
        if name == "reader":
            expect(page.locator("#spread img").first).to_be_visible()
        page.wait_for_load_state("networkidle")
        found[name] = serious_violations(page)
        page.screenshot(path=screenshots / f"{name}-{viewport_name}.png",
                        full_page=name not in ("reader",))
    bad = {name: v for name, v in found.items() if v}
    assert not bad, describe(bad)
