"""The webhook notifier POSTs JSON to a real HTTP server on 127.0.0.1."""
import json

from comicsrv.hookspecs import Notification
from comicsrv.testing.replay import Recorded, ReplayServer
from comicsrv_plugins.webhook import WebhookNotifier


def test_webhook_posts_the_notification_with_its_headers():
    with ReplayServer() as server:
        server.add("POST", "/hook", Recorded.text("ok"))
        notifier = WebhookNotifier({"url": server.url + "/hook", "headers": {"X-Token": "t"}})
        notifier.send(Notification("downloaded", "Downloaded Saga #1", "done", {"book_id": 3}))
    [request] = server.requests
    assert request.headers["X-Token"] == "t"
    assert json.loads(request.body) == {"source": "comicsrv", "event": "downloaded",
                                        "title": "Downloaded Saga #1", "message": "done",
                                        "data": {"book_id": 3}}


def test_webhook_error_status_fails_and_test_says_why():
    with ReplayServer() as server:
        server.add("POST", "/hook", Recorded.text("nope", status=500))
        notifier = WebhookNotifier({"url": server.url + "/hook"})
        result = notifier.test()
    assert not result.ok and "500" in result.message
