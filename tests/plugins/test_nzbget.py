"""The NZBGet plugin against a real nzbget (Debian's 21) on 127.0.0.1, with no
news server configured, so an added NZB stays queued; plus NZBGet bodies
recorded by Sonarr, replayed for what a local daemon cannot show."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from comicsrv.hookspecs import IntegrationAuthError, IntegrationError, Release
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.nzbget import Nzbget, history_state
from tests.peers import nzbget  # noqa: F401 (fixture)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "downloaders"
VALID_NZB = FIXTURES / "nzb" / "ValidNzb.nzb"
NOT_NZB = FIXTURES / "nzb" / "NotNzb.nzb"


def wait_for(check, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def nzb_server(path: Path = VALID_NZB) -> ReplayServer:
    server = ReplayServer()
    server.add("GET", "/getnzb/1.nzb", Recorded.file(path, "application/x-nzb"))
    return server


def release(url: str, title: str = "Captain Science 001 (1950)") -> Release:
    return Release(title=title, download_url=url, indexer="local", protocol="usenet",
                   guid="guid-1")


def test_add_lists_pauses_resumes_and_deletes(nzbget):
    client = Nzbget(nzbget.settings(category="comics"))
    assert client.test().ok
    with nzb_server() as server:
        nzb_id = client.add(release(f"{server.url}/getnzb/1.nzb"))
    assert nzb_id.isdigit()

    (item,) = client.status([nzb_id])
    # No news server: it waits in the queue.
    assert item.state == "queued"
    assert item.name == "Captain Science 001 (1950)"
    assert item.category == "comics"
    assert item.size and item.size > 0 and item.progress == 0.0
    assert [s.id for s in client.status()] == [nzb_id]

    client.pause(nzb_id)
    assert client.status([nzb_id])[0].state == "paused"
    client.resume(nzb_id)
    assert client.status([nzb_id])[0].state == "queued"

    client.remove(nzb_id)
    wait_for(lambda: not client.status([nzb_id]), what="the item to go")
    # A final delete leaves no DELETED entry behind in the history either.
    assert client.call("history", True) == []


def test_deleted_in_nzbget_reads_as_failed(nzbget):
    client = Nzbget(nzbget.settings())
    with nzb_server() as server:
        nzb_id = client.add(release(f"{server.url}/getnzb/1.nzb"))
    # A user deleting it in NZBGet's own UI moves it to the history.
    assert client.call("editqueue", "GroupDelete", "", [int(nzb_id)])
    item = wait_for(lambda: [s for s in client.status([nzb_id]) if s.state == "failed"],
                    what="the deletion to reach the history")[0]
    assert item.error == "the download was deleted in NZBGet (DELETED/MANUAL)"
    assert item.save_path  # where its files would have been
    client.remove(nzb_id)
    assert client.status([nzb_id]) == []


def test_the_nzb_is_sent_as_content_with_a_tracking_parameter(nzbget):
    client = Nzbget(nzbget.settings())
    with nzb_server() as server:
        nzb_id = client.add(release(f"{server.url}/getnzb/1.nzb"))
    (group,) = [g for g in client.call("listgroups", 0) if str(g["NZBID"]) == nzb_id]
    assert {"Name": "comicsrv", "Value": "guid-1"} in group["Parameters"]


def test_not_an_nzb_is_refused_before_nzbget_sees_it(nzbget):
    client = Nzbget(nzbget.settings())
    with nzb_server(NOT_NZB) as server, pytest.raises(IntegrationError, match="not an NZB"):
        client.add(release(f"{server.url}/getnzb/1.nzb"))
    assert client.status() == []


def test_wrong_password_is_an_auth_error(nzbget):
    client = Nzbget(nzbget.settings(password="wrong"))
    with pytest.raises(IntegrationAuthError):
        client.status()
    assert not client.test().ok


def test_missing_category_fails_the_test(nzbget):
    result = Nzbget(nzbget.settings(category="no-such")).test()
    assert not result.ok and "no category 'no-such'" in result.message


def test_recorded_queue_with_a_byte_order_mark():
    with ReplayServer() as server:
        server.add("POST", "/jsonrpc", lambda request: Recorded.file(
            FIXTURES / "nzbget" / ("sonarr-Queue.json"
                                   if json.loads(request.body)["method"] == "listgroups"
                                   else "sonarr-Queue_empty.json"), "application/json"))
        (item,) = Nzbget({"url": server.url, "username": "u", "password": "p"}).status()
    assert item.id == "1"
    assert item.name == "White.Collar.S04E11.HDTV.x264-2HD"
    assert item.category == "TV"
    assert item.size == 350152055
    assert item.progress == 0.0
    assert item.save_path == "C:\\test\\NzbGet\\\\dst\\TV\\White.Collar.S04E11.HDTV.x264-2HD"


def test_recorded_json_rpc_error_is_a_clear_error():
    with ReplayServer() as server:
        server.add("POST", "/jsonrpc",
                   Recorded.file(FIXTURES / "nzbget" / "sonarr-JsonError.json", "application/json"))
        with pytest.raises(IntegrationError, match="Invalid procedure"):
            Nzbget({"url": server.url}).status()


def test_unreachable_is_an_integration_error(free_port):
    with pytest.raises(IntegrationError, match="cannot reach NZBGet"):
        Nzbget({"url": f"http://127.0.0.1:{free_port}"}).status()


@pytest.mark.parametrize("status, state", [
    ("SUCCESS/ALL", "completed"), ("SUCCESS/UNPACK", "completed"), ("SUCCESS/PAR", "completed"),
    ("SUCCESS/HEALTH", "completed"), ("WARNING/SCRIPT", "completed"),
    ("WARNING/DAMAGED", "failed"), ("WARNING/SPACE", "failed"), ("FAILURE/PAR", "failed"),
    ("FAILURE/UNPACK", "failed"), ("FAILURE/HEALTH", "failed"), ("DELETED/MANUAL", "failed"),
    ("DELETED/DUPE", "failed"),
])
def test_history_states(status, state):
    assert history_state(status)[0] == state
    assert (history_state(status)[1] is None) == (state == "completed")


@pytest.mark.parametrize("status, state", [
    ("QUEUED", "queued"), ("PAUSED", "paused"), ("DOWNLOADING", "downloading"),
    ("FETCHING", "queued"), ("PP_QUEUED", "downloading"), ("LOADING_PARS", "downloading"),
    ("VERIFYING_SOURCES", "downloading"), ("REPAIRING", "downloading"),
    ("UNPACKING", "downloading"), ("MOVING", "downloading"),
    ("EXECUTING_SCRIPT", "downloading"), ("PP_FINISHED", "downloading"),
])
def test_queue_states(status, state):
    item = {"NZBID": 3, "NZBName": "x", "Status": status, "FileSizeLo": 100,
            "RemainingSizeLo": 25}
    found = Nzbget._queue_status(item)
    assert found.state == state and found.progress == 0.75
