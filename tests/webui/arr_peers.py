"""What the *arr browser tests talk to, all on 127.0.0.1: Metron replayed
from recorded bodies (issue covers pointed at the replay server, so no
page ever loads an image from the internet), a Torznab indexer offering one
release, and the comic files that release is made of."""
from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from comicsrv.testing import Recorded, ReplayServer
from tests.automation.test_end_to_end import make_cbz, torznab_body
from tests.peers import make_torrent

FIXTURES = Path(__file__).parent.parent / "fixtures"
METRON = FIXTURES / "metadata" / "metron"
INDEXERS = FIXTURES / "indexers"
SERIES = "Death of the Inhumans"  # Metron series 1 in the recorded bodies
RELEASE = "Death of the Inhumans 002 (2018) (Digital) (Zone-Empire)"


def cover_jpeg(colour=(180, 40, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 450), colour).save(out, "JPEG")
    return out.getvalue()


def metron_server() -> ReplayServer:
    """Metron's series search, series 1 and its issue list, replayed."""
    server = ReplayServer().start()
    issues = json.loads((METRON / "series_1_issue_list.json").read_text())
    for issue in issues["results"]:
        issue["image"] = f"{server.url}/media/issue-{issue['id']}.jpg"
    server.add("GET", "/api/series/", Recorded.file(METRON / "series_name_death.json",
                                                     "application/json"))
    server.add("GET", "/api/series/1/", Recorded.file(METRON / "series_1.json", "application/json"))
    server.add("GET", "/api/series/1/issue_list/", Recorded.json(issues))
    for issue in issues["results"]:
        server.add("GET", f"/media/issue-{issue['id']}.jpg",
                   Recorded(cover_jpeg(), headers={"Content-Type": "image/jpeg"}))
    return server


def torznab_server(payload: Path) -> tuple[ReplayServer, str]:
    """A Torznab indexer whose search answers one release: a torrent of
    ``payload``; returns the server and the torrent's info-hash."""
    torrent, info_hash = make_torrent(payload)
    server = ReplayServer().start()
    server.add("GET", "/api", Recorded.file(
        INDEXERS / "prowlarr" / "Torznab_torznab_animetosho_caps.xml", "application/xml"),
        query={"t": "caps"})
    server.add("GET", "/api", Recorded(
        torznab_body(RELEASE, f"{server.url}/dl/1.torrent", payload.stat().st_size, info_hash),
        headers={"Content-Type": "application/rss+xml"}), query={"t": "search"})
    server.add("GET", "/dl/1.torrent",
               Recorded(torrent, headers={"Content-Type": "application/x-bittorrent"}))
    return server, info_hash


__all__ = ["SERIES", "RELEASE", "make_cbz", "metron_server", "torznab_server", "cover_jpeg"]
