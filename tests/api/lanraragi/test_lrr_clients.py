"""The published LANraragi client libraries, aio-lanraragi and lanraragi-api,
against a real ``comicsrv serve`` over the fixture library (every archive
format): every client method is called once and must pass the client's own
validation (its pydantic models).

They need Python >= 3.12 and the suite runs on 3.11, so ``scripts/test``
installs them into ``.venv-lrr-clients`` (tests/lrr_clients/requirements.txt)
when python3.13 or python3.12 exists; tests/lrr_clients/driver.py runs
there. Without that interpreter this test is skipped and says so.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from comicsrv.auth.permissions import PERMISSIONS
from comicsrv.settings_store import set_setting
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.conftest import FIXTURE_ARCHIVES, FIXTURES
from tests.factories import api_key_for
from tests.serving import live_server  # noqa: F401  (the fixture)

from .conftest import book_named

ROOT = Path(__file__).resolve().parents[3]
CLIENT_PYTHON = ROOT / ".venv-lrr-clients" / "bin" / "python"
DRIVER = ROOT / "tests" / "lrr_clients" / "driver.py"
METRON = FIXTURES / "metadata" / "metron"

# Client methods of operations this server does not serve yet: their calls
# are made and reported, and must fail (when one passes, take it out).
KNOWN_GAPS: set[str] = set()


def _client_python() -> Path | None:
    if not CLIENT_PYTHON.exists():
        return None
    probe = subprocess.run([str(CLIENT_PYTHON), "-c", "import lanraragi, lanraragi_api"],
                           capture_output=True)
    return CLIENT_PYTHON if probe.returncode == 0 else None


@pytest.mark.skipif(_client_python() is None, reason=(
    "aio-lanraragi and lanraragi-api need Python >= 3.12: scripts/test installs them into "
    ".venv-lrr-clients when python3.13 or python3.12 is on PATH, and none was"))
def test_both_client_libraries_accept_every_answer(live_server, scanned_library, admin,  # noqa: F811
                                                   tmp_path):
    # Metadata plugins are our providers: Metron, answered by a real HTTP
    # server on 127.0.0.1 replaying its recorded bodies.
    metron = ReplayServer()
    for path, name in (("/api/series/1/", "series_1.json"),
                       ("/api/series/1/issue_list/", "series_1_issue_list.json")):
        metron.add("GET", path, Recorded.file(METRON / name, "application/json"))
    set_setting("metadata.metron_username", "reader", None)
    set_setting("metadata.metron_password", "s3cret", None)
    with metron:
        _drive(live_server, admin, tmp_path, {"metadata_urls": {"metron": metron.url + "/api"}})


def _drive(live_server, admin, tmp_path, server_config):  # noqa: F811
    key = api_key_for(admin, list(PERMISSIONS))
    captain = book_named("Captain Science #001.cbz")
    uploads = []
    for index in range(2):
        # Distinct bytes in the first 512 kB: new archive ids, not duplicates.
        data = bytearray((FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz").read_bytes())
        path = tmp_path / f"Client upload {index}.cbz"
        path.write_bytes(bytes(data) + f"client {index}".encode())
        uploads.append(str(path))
    server = live_server(config=server_config)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"url": server.url, "key": key, "arcid": captain.arcid,
                                  "uploads": uploads, "workdir": str(tmp_path)}))
    run = subprocess.run([str(CLIENT_PYTHON), str(DRIVER), str(config)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": ""})
    assert run.returncode == 0, run.stderr[-4000:]
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    called = {(r["client"], r["method"]) for r in results}
    assert {client for client, _ in called} == {"aio-lanraragi", "lanraragi-api"}
    assert len(called) > 100, len(called)
    failed = {r["method"]: r["error"] for r in results if not r["ok"]
              and r["method"] not in KNOWN_GAPS}
    assert not failed, json.dumps(failed, indent=1)[:6000]
    now_passing = {r["method"] for r in results if r["ok"] and r["method"] in KNOWN_GAPS}
    assert not now_passing, f"served now, take out of KNOWN_GAPS: {sorted(now_passing)}"
    (tmp_path / "results.json").write_text(json.dumps(results, indent=1))
