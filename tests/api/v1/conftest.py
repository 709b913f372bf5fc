"""Fixtures of the ``/api/v1`` tests."""
from __future__ import annotations

import io
import shutil

import pytest

from tests.conftest import FIXTURE_ARCHIVES

# --- CLU's client API (test_clu_*.py) ------------------------------------------------


@pytest.fixture
def clu_user(app):
    """The reader app's user: a plain, non-admin account."""
    from tests.factories import UserFactory

    return UserFactory(username="clu-reader")


@pytest.fixture
def clu_token(clu_user) -> str:
    """A client token ("Client API Access") of ``clu_user``, as a reader app holds it."""
    from comicsrv.auth.users import create_client_token

    return create_client_token(clu_user, "test reader")[1]


@pytest.fixture
def clu_headers(clu_token) -> dict[str, str]:
    return {"Authorization": f"Bearer {clu_token}"}


# Real archives in a multi-volume layout, as CLU's filesystem mode browses it.
VOLUME_TREE = {
    "Archie Comics/Sabrina the Teenage Witch/v1971/Sabrina 001.cbr": "komga/rar4.rar",
    "Archie Comics/Sabrina the Teenage Witch/v1971/Sabrina 002.cbr": "komga/rar5.rar",
    "Archie Comics/Sabrina the Teenage Witch/v1997/Sabrina 001.cbz": "komga/zip.zip",
    "Archie Comics/Jughead/Jughead 001.cbr": "komga/rar4-solid.rar",
}


def _scan(app, name: str, root) -> object:
    from comicsrv.library.libraries import create_library
    from comicsrv.library.scanner import SCAN_JOB

    library = create_library(name, str(root))
    job = app.extensions["comicsrv.jobs"].run_now(SCAN_JOB, {"library_id": library.id})
    assert job.state == "finished", job.error
    return library


@pytest.fixture
def volume_library(app, tmp_path):
    """Library "Archie" (scanned): a series with volume folders v1971/v1997, a
    flat series, an empty series folder, a publisher folder image and a
    hidden folder."""
    from PIL import Image

    root = tmp_path / "archie"
    for target, source in VOLUME_TREE.items():
        dest = root / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FIXTURE_ARCHIVES / source, dest)
    (root / "Archie Comics" / "Empty Series").mkdir()
    (root / ".trash").mkdir()
    image = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(image, "JPEG")
    (root / "Archie Comics" / "cover.jpg").write_bytes(image.getvalue())
    return _scan(app, "Archie", root)


@pytest.fixture
def marvel_library(app, tmp_path):
    """A second library, "Marvel" (scanned): Marvel/X-Men/X-Men 001.cb7."""
    root = tmp_path / "marvel"
    dest = root / "Marvel" / "X-Men" / "X-Men 001.cb7"
    dest.parent.mkdir(parents=True)
    shutil.copy2(FIXTURE_ARCHIVES / "komga/7zip.7z", dest)
    return _scan(app, "Marvel", root)
