"""The Apprise notifier delivering through Apprise's own json:// and form://
services to a real HTTP server on 127.0.0.1."""
import json
from urllib.parse import parse_qs

import pytest

from comicsrv.hookspecs import Notification
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.apprise_notifier import AppriseConfigError, AppriseNotifier, parse_urls


@pytest.fixture
def server():
    with ReplayServer() as srv:
        srv.add("POST", "/hook", Recorded.text("ok"))
        yield srv


def _hostport(server):
    return server.url.split("://", 1)[1]


def test_json_url_receives_title_body_and_type(server):
    notifier = AppriseNotifier({"urls": [f"json://{_hostport(server)}/hook"]})
    notifier.send(Notification("downloaded", "Downloaded Saga #1", "Imported as /x.cbz"))
    [request] = server.requests
    body = json.loads(request.body)
    assert (body["title"], body["message"], body["type"]) == (
        "Downloaded Saga #1", "Imported as /x.cbz", "success")


def test_form_url_and_several_urls_in_one_string(server):
    urls = f"form://{_hostport(server)}/hook\njson://{_hostport(server)}/hook"
    AppriseNotifier({"urls": urls}).send(Notification("failed", "Failed", "repair failed"))
    assert len(server.requests) == 2
    form = next(r for r in server.requests if not r.body.startswith(b"{"))
    assert parse_qs(form.body.decode())["type"] == ["failure"]


def test_an_unreachable_service_raises_and_test_reports_it(free_port):
    notifier = AppriseNotifier({"urls": [f"json://127.0.0.1:{free_port}/hook"]})
    with pytest.raises(RuntimeError, match="could not deliver"):
        notifier.send(Notification("grabbed", "t", "m"))
    result = notifier.test()
    assert not result.ok and "could not deliver" in result.message


def test_configuration_errors_are_clear():
    with pytest.raises(AppriseConfigError, match="no Apprise URLs"):
        AppriseNotifier({"urls": []}).send(Notification("test", "t", "m"))
    with pytest.raises(AppriseConfigError, match="does not understand a nosuchservice://"):
        AppriseNotifier({"urls": "nosuchservice://secret-token"}).send(Notification("test", "t", "m"))
    assert parse_urls(" a://x , b://y\n\n") == ["a://x", "b://y"]
    assert parse_urls(None) == []
