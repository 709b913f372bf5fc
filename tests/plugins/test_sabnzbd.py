"""The SABnzbd plugin against ReplayServer: Debian has no sabnzbdplus, so the
queue is SABnzbd's own recorded body (kept by Sonarr) and the history,
addfile and error bodies are written from SABnzbd's API documentation (see
tests/fixtures/SOURCES.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

from comicsrv.hookspecs import IntegrationAuthError, IntegrationError, Release
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.sabnzbd import STATES, Sabnzbd

FIXTURES = Path(__file__).parent.parent / "fixtures" / "downloaders"
SAB = FIXTURES / "sabnzbd"
VALID_NZB = FIXTURES / "nzb" / "ValidNzb.nzb"
KEY = "0123456789abcdef"


def sabnzbd(queue: str = "sonarr-QueueEmpty.json", history: str = "history.json") -> ReplayServer:
    server = ReplayServer()
    server.add("GET", "/api", Recorded.file(SAB / queue, "application/json"), query={"mode": "queue"})
    server.add("GET", "/api", Recorded.file(SAB / history, "application/json"),
               query={"mode": "history"})
    server.add("GET", "/api", Recorded.json({"version": "4.1.0"}), query={"mode": "version"})
    server.add("GET", "/api", Recorded.json({"categories": ["*", "comics", "tv"]}),
               query={"mode": "get_cats"})
    server.add("POST", "/api", Recorded.json({"status": True, "nzo_ids": ["SABnzbd_nzo_new01"]}),
               query={"mode": "addfile"})
    server.add("GET", "/getnzb/1.nzb", Recorded.file(VALID_NZB, "application/x-nzb"))
    return server


def client(server: ReplayServer, **settings) -> Sabnzbd:
    return Sabnzbd({"url": server.url, "api_key": KEY, "category": "comics", **settings})


def test_add_uploads_the_nzb_with_the_category():
    with sabnzbd() as server:
        nzo_id = client(server).add(Release("Captain Science 001 (1950)",
                                            f"{server.url}/getnzb/1.nzb", "local", "usenet"))
    assert nzo_id == "SABnzbd_nzo_new01"
    (add,) = [r for r in server.requests if r.query.get("mode") == "addfile"]
    assert add.query["apikey"] == KEY and add.query["cat"] == "comics"
    assert add.query["nzbname"] == "Captain Science 001 (1950)"
    assert VALID_NZB.read_bytes() in add.body  # the multipart "name" part


def test_add_refused_by_sabnzbd_is_a_clear_error():
    with sabnzbd() as server:
        server.add("POST", "/api", Recorded.json({"status": False, "error": "No file or url"}),
                   query={"mode": "addfile"})
        with pytest.raises(IntegrationError, match="No file or url"):
            client(server).add(Release("x", f"{server.url}/getnzb/1.nzb", "local", "usenet"))


def test_recorded_queue_with_a_byte_order_mark():
    with sabnzbd(queue="sonarr-Queue.json") as server:
        found = {s.id: s for s in client(server).status(["SABnzbd_nzo_qv6ilb",
                                                         "SABnzbd_nzo_vayub5"])}
    downloading, paused = found["SABnzbd_nzo_qv6ilb"], found["SABnzbd_nzo_vayub5"]
    assert downloading.state == "downloading"
    assert downloading.progress == pytest.approx((267.44 - 238.66) / 267.44)
    assert downloading.name == "30 Rock - 1x05 - Title [HDTV-720p]"
    assert downloading.category == "tv"
    assert paused.state == "paused"


def test_history_gives_final_paths_and_failures():
    with sabnzbd() as server:
        found = {s.id: s for s in client(server).status()}
    done, failed, unpacking = (found["SABnzbd_nzo_done01"], found["SABnzbd_nzo_fail01"],
                               found["SABnzbd_nzo_unpack"])
    assert done.state == "completed" and done.progress == 1.0
    assert done.save_path == "/downloads/complete/comics/Captain Science 001 (1950)"
    assert failed.state == "failed"
    assert failed.error.startswith("Aborted, cannot be completed")
    assert unpacking.state == "downloading"  # still being unpacked: not done
    history_call = [r for r in server.requests if r.query.get("mode") == "history"][0]
    assert history_call.query["category"] == "comics"


def test_status_of_unknown_ids_is_empty():
    with sabnzbd() as server:
        assert client(server).status(["SABnzbd_nzo_gone"]) == []
        assert client(server).status([]) == []


def test_wrong_api_key_is_an_auth_error():
    with sabnzbd() as server:
        # SABnzbd's answer to a bad key, in JSON and (older versions) plain text.
        server.add("GET", "/api", Recorded.json({"status": False, "error": "API Key Incorrect"}),
                   query={"mode": "queue"})
        with pytest.raises(IntegrationAuthError, match="API key"):
            client(server).status()
        server.add("GET", "/api", Recorded.text("API Key Incorrect\n"), query={"mode": "queue"})
        with pytest.raises(IntegrationAuthError):
            client(server).status()


def test_garbage_is_a_clear_error():
    with sabnzbd() as server:
        server.add("GET", "/api", Recorded.text("<html>proxy error</html>", status=502),
                   query={"mode": "queue"})
        with pytest.raises(IntegrationError, match="HTTP 502"):
            client(server).status()


def test_remove_pause_resume_use_the_documented_modes():
    with sabnzbd() as server:
        for mode in ("queue", "history"):
            server.add("GET", "/api", Recorded.json({"status": True, "nzo_ids": []}),
                       query={"mode": mode, "name": "delete"})
        server.add("GET", "/api", Recorded.json({"status": True}), query={"name": "pause"})
        server.add("GET", "/api", Recorded.json({"status": True}), query={"name": "resume"})
        sab = client(server)
        sab.remove("SABnzbd_nzo_done01", delete_files=True)
        sab.pause("SABnzbd_nzo_x")
        sab.resume("SABnzbd_nzo_x")
    calls = [(r.query["mode"], r.query.get("name"), r.query.get("value"), r.query.get("del_files"))
             for r in server.requests]
    assert calls == [("queue", "delete", "SABnzbd_nzo_done01", "1"),
                     ("history", "delete", "SABnzbd_nzo_done01", "1"),
                     ("queue", "pause", "SABnzbd_nzo_x", None),
                     ("queue", "resume", "SABnzbd_nzo_x", None)]


def test_test_checks_the_category():
    with sabnzbd() as server:
        assert client(server).test().ok
        result = client(server, category="manga").test()
    assert not result.ok and "no category 'manga'" in result.message


def test_unreachable_is_an_integration_error(free_port):
    with pytest.raises(IntegrationError, match="cannot reach SABnzbd"):
        Sabnzbd({"url": f"http://127.0.0.1:{free_port}", "api_key": KEY}).status()


@pytest.mark.parametrize("status, state", [
    ("Queued", "queued"), ("Paused", "paused"), ("Downloading", "downloading"),
    ("Fetching", "downloading"), ("Grabbing", "queued"), ("Propagating", "queued"),
    ("Checking", "downloading"), ("Verifying", "downloading"), ("Repairing", "downloading"),
    ("Extracting", "downloading"), ("Moving", "downloading"), ("Running", "downloading"),
    ("Completed", "completed"), ("Failed", "failed"),
])
def test_status_names(status, state):
    assert STATES[status] == state
