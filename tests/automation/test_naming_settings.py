"""The rename template is checked wherever settings are saved, and a hostile
one stored behind the API's back is never rendered, down to a real
``comicsrv serve`` importing a download.

The hostile template walks from a field to the app's SECRET_KEY, which the
old ``str.format`` renderer put into a library file name and so into
``/api/v1/books``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from comicsrv.naming import DEFAULT_TEMPLATE
from comicsrv.extensions import db
from comicsrv.library.libraries import create_library
from comicsrv.models import Setting
from comicsrv.models.automation import Download
from comicsrv.settings_store import get_setting, set_setting
from tests.test_naming import EXPLOIT
from tests.automation.test_postprocess import CBZ, make_download, run
from tests.factories import api_key_for
from tests.serving import live_server  # noqa: F401 (fixture)

KEY = "postprocess.rename_template"
HUGE_WIDTH = "{series} {issue:1000000000}"


def _refused_v1(response, message: str) -> None:
    assert response.status_code == 400, response.json
    body = response.json
    assert body["error"] == "invalid_value"
    assert KEY in body["message"] and message in body["message"]
    assert KEY in body["details"] and message in body["details"][KEY]


def _unchanged() -> None:
    db.session.expire_all()
    assert get_setting(KEY) == DEFAULT_TEMPLATE
    assert db.session.get(Setting, KEY) is None


@pytest.mark.parametrize("template, message", [
    (EXPLOIT, "without attributes or indexing"),
    (HUGE_WIDTH, "the width must be between 1 and 16"),
    ("{series!r}", "conversions such as !r"),
])
def test_every_settings_api_refuses_a_bad_template_naming_the_field(
        client, admin_headers, template, message):
    _refused_v1(client.put(f"/api/v1/admin/settings/{KEY}", json={"value": template},
                           headers=admin_headers), message)
    _refused_v1(client.post("/api/v1/admin/settings/bulk", json={"settings": {KEY: template}},
                            headers=admin_headers), message)
    _refused_v1(client.patch("/api/v1/config", json={KEY: template}, headers=admin_headers),
                message)
    _refused_v1(client.post("/api/v1/wizard/complete", json={"settings": {KEY: template}},
                            headers=admin_headers), message)
    legacy = client.put("/api/config", json={KEY: template}, headers=admin_headers)
    assert legacy.status_code == 400 and legacy.json["success"] is False
    assert KEY in legacy.json["error"]["message"] and message in legacy.json["error"]["message"]
    _unchanged()
    assert get_setting("wizard.completed") is False


def test_a_good_template_is_saved_through_the_api(client, admin_headers):
    template = "{publisher}/{series} v{volume:02}/{series} #{number:03} - {title}"
    response = client.put(f"/api/v1/admin/settings/{KEY}", json={"value": template},
                          headers=admin_headers)
    assert response.status_code == 200 and response.json["value"] == template
    assert get_setting(KEY) == template


def test_a_stored_template_no_longer_valid_is_not_rendered(app, tmp_path):
    """A value that reached the table some other way (an older release, a
    hand edit) reads as the default, as every setting tightened later does:
    the import goes on to the usual place instead of failing a good release."""
    (tmp_path / "library").mkdir()
    library = create_library("Comics", str(tmp_path / "library"))
    set_setting("postprocess.write_comicinfo", False, None)
    db.session.add(Setting(key=KEY, value=EXPLOIT))
    db.session.commit()
    assert get_setting(KEY) == DEFAULT_TEMPLATE
    download, _, _ = make_download(tmp_path, library)

    job = run(app, download.id)
    assert job.state == "finished", job.error
    assert job.result["context"]["imported_path"] == os.path.join(
        library.path, "Saga (2012)", "Saga 001 (2012).cbz")


def test_the_secret_key_never_reaches_the_library_through_a_real_server(
        app, admin, tmp_path, live_server):  # noqa: F811
    (tmp_path / "library").mkdir()
    library = create_library("Comics", str(tmp_path / "library"))
    download, _, _ = make_download(tmp_path, library, files={"Saga 001.cbz": CBZ})
    db.session.add(Setting(key=KEY, value=EXPLOIT))  # behind the API's back
    db.session.commit()
    headers = {"X-API-Key": api_key_for(admin, ["SystemAdmin"])}
    download_id, root = download.id, Path(library.path)
    db.session.remove()

    server = live_server()
    # The server's key: the one the fixture gives every server of the test.
    secret = server.env["COMICSRV_SECRET_KEY"]
    assert len(secret) >= 32
    started = server.post("/api/downloads/process", json={"download_id": download_id},
                          headers=headers)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    while True:
        db.session.expire_all()
        state = db.session.get(Download, download_id).state
        if state in ("imported", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state == "imported", db.session.get(Download, download_id).error

    books = server.get("/api/v1/books", headers=headers)
    assert books.status_code == 200 and books.json()["total"] == 1
    assert secret not in books.text
    [book] = books.json()["items"]
    assert server.get(f"/api/v1/books/{book['id']}", headers=headers).json()["path"] == str(
        root / "Saga (2012)" / "Saga 001 (2012).cbz")
    for path in root.rglob("*"):
        assert secret not in str(path)
        if path.is_file():
            assert secret.encode() not in path.read_bytes()
    assert secret not in server.output()
