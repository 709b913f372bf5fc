"""A real OPDS client library walks both catalogues of a real ``comicsrv
serve``: Readium's r2-opds-js (the parser Thorium Reader uses), under node,
from the root down to a page image through OPDS-PSE and through a Readium
manifest; and the page it read is the position /api/v1 reports."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from comicsrv.auth.permissions import USER_PERMISSIONS
from tests.factories import PASSWORD, api_key_for
from tests.serving import live_server  # noqa: F401

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="session")
def node_client() -> list[str]:
    """``node walk.js``, its packages installed from package-lock.json once
    (scripts/test does it too)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        pytest.skip("node is not installed (Debian: nodejs npm)")
    if not (NODE_DIR / "node_modules" / "r2-opds-js").is_dir():
        assert npm is not None, "npm is needed to install tests/opds/node"
        subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                       cwd=NODE_DIR, check=True, capture_output=True, timeout=600)
    return [node, str(NODE_DIR / "walk.js")]


def test_readium_walks_from_the_root_to_a_page(live_server, node_client, scanned_library,  # noqa: F811
                                               opds_reader):
    key = api_key_for(opds_reader, sorted(USER_PERMISSIONS))
    server = live_server()
    run = subprocess.run([*node_client, server.url, "opds", PASSWORD], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    opds1, opds2 = result["opds1"], result["opds2"]
    assert opds1["feeds"] >= 8 and opds1["entries"] > 0 and opds1["streams"] > 0
    assert opds1["page"]["type"] == opds1["page"]["declared"]
    assert opds1["page"]["magic"][:4] in ("ffd8", "8950") and opds1["page"]["bytes"] > 100
    assert opds2["publications"] > 0 and opds2["pages"] > 0 and opds2["progression"]
    assert opds2["page"]["type"] == opds2["page"]["declared"] and opds2["page"]["bytes"] > 100
    # The page streamed by the client is now the reader's position.
    progress = server.get("/api/v1/progress/currently-reading", headers={"X-API-Key": key})
    assert progress.json()["items"][0]["current_page"] == 1
