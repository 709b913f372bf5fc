"""Pipeline events reach the subscribed notification targets (the real
webhook and Apprise plugins, delivering to a real HTTP server on 127.0.0.1)
without making the publisher wait, and one failing target stops no other."""
import json
import threading

import pytest

from comicsrv.automation.notify import send_test, service
from comicsrv.errors import NotFound
from comicsrv.events import (
    DownloadFailed, DownloadUpdated, IssueImported, IssueWanted, ReleaseGrabbed,
)
from comicsrv.extensions import db
from comicsrv.models.automation import NotificationTarget
from comicsrv.testing.replay import Recorded, ReplayServer
from tests.factories import NotificationTargetFactory, WatchedIssueFactory, WatchedSeriesFactory


@pytest.fixture
def server():
    with ReplayServer() as srv:
        for path in ("/webhook", "/apprise", "/grabs"):
            srv.add("POST", path, Recorded.text("ok"))
        yield srv


@pytest.fixture
def issue(app):
    series = WatchedSeriesFactory(name="Saga", year=2012)
    return WatchedIssueFactory(series=series, number="7")


def _publish_and_wait(app, *events):
    bus = app.extensions["comicsrv.events"]
    for event in events:
        bus.publish(event)
    assert service().wait_idle(15)


def _bodies(server, path):
    return [r.body for r in server.requests if r.path == path]


def test_each_event_reaches_each_subscribed_target(app, server, issue, free_port):
    hostport = server.url.split("://")[1]
    webhook = NotificationTargetFactory(kind="webhook", settings={"url": server.url + "/webhook"})
    apprise = NotificationTargetFactory(kind="apprise",
                                        settings={"urls": [f"json://{hostport}/apprise"]})
    grabs_only = NotificationTargetFactory(kind="webhook", events=["grabbed"],
                                           settings={"url": server.url + "/grabs"})
    broken = NotificationTargetFactory(kind="webhook",
                                       settings={"url": f"http://127.0.0.1:{free_port}/x"})
    NotificationTargetFactory(kind="webhook", enabled=False,
                              settings={"url": server.url + "/webhook"})
    db.session.commit()

    _publish_and_wait(
        app,
        ReleaseGrabbed(download_id=1, title="Saga 007 (2012)", indexer="Local", client="qB",
                       watched_issue_id=issue.id),
        IssueImported(download_id=1, watched_issue_id=issue.id, book_id=5, path="/c/Saga 007.cbz"),
        DownloadFailed(download_id=2, title="Saga 007 (2012) v2", reason="repair failed",
                       watched_issue_id=issue.id),
        IssueWanted(watched_series_id=issue.series.id, watched_issue_id=issue.id, series="Saga",
                    number="8", new=True),
        # Neither of these is a notification.
        IssueWanted(watched_series_id=issue.series.id, watched_issue_id=issue.id, series="Saga",
                    number="7", new=False),
        DownloadUpdated(download_id=1, title="x", state="downloading"),
    )

    webhook_payloads = sorted((json.loads(b) for b in _bodies(server, "/webhook")),
                              key=lambda p: p["event"])
    assert [p["event"] for p in webhook_payloads] == ["downloaded", "failed", "grabbed",
                                                      "new_issue"]
    by_event = {p["event"]: p for p in webhook_payloads}
    assert by_event["grabbed"]["title"] == "Grabbed Saga #7"
    assert "Saga 007 (2012)" in by_event["grabbed"]["message"]
    assert by_event["grabbed"]["data"]["download_id"] == 1
    assert by_event["downloaded"]["data"]["book_id"] == 5
    assert "/c/Saga 007.cbz" in by_event["downloaded"]["message"]
    assert "repair failed" in by_event["failed"]["message"]
    assert by_event["new_issue"]["title"] == "New issue: Saga #8"
    assert all(p["source"] == "comicsrv" for p in webhook_payloads)

    apprise_types = sorted(json.loads(b)["type"] for b in _bodies(server, "/apprise"))
    assert apprise_types == ["failure", "info", "info", "success"]
    assert [json.loads(b)["event"] for b in _bodies(server, "/grabs")] == ["grabbed"]

    db.session.expire_all()
    failed = db.session.get(NotificationTarget, broken.id)
    assert failed.last_error and "ConnectionError" in failed.last_error
    assert failed.last_error_at is not None
    ok = db.session.get(NotificationTarget, webhook.id)
    assert ok.last_sent_at is not None and ok.last_error is None
    assert db.session.get(NotificationTarget, apprise.id).last_error is None
    assert grabs_only.id


def test_the_publisher_never_waits_for_a_slow_target(app):
    release = threading.Event()
    received = threading.Event()

    def slow(request):
        received.set()
        release.wait(15)
        return Recorded.text("ok")

    with ReplayServer() as server:
        server.add("POST", "/slow", slow)
        NotificationTargetFactory(kind="webhook", settings={"url": server.url + "/slow"})
        db.session.commit()
        app.extensions["comicsrv.events"].publish(
            ReleaseGrabbed(download_id=1, title="Saga 001"))
        # publish() has returned while the target is still being waited for.
        assert received.wait(15) and not release.is_set()
        release.set()
        assert service().wait_idle(15)
    assert len(server.requests) == 1


def test_send_test_reports_success_and_failure(app, server, free_port):
    good = NotificationTargetFactory(kind="webhook", settings={"url": server.url + "/webhook"})
    bad = NotificationTargetFactory(kind="webhook",
                                    settings={"url": f"http://127.0.0.1:{free_port}/"})
    unknown_kind = NotificationTargetFactory(kind="carrier-pigeon")
    db.session.commit()
    assert send_test(good.id).ok
    assert json.loads(_bodies(server, "/webhook")[0])["event"] == "test"
    result = send_test(bad.id)
    assert not result.ok and "ConnectionError" in result.message
    result = send_test(unknown_kind.id)
    assert not result.ok and "carrier-pigeon" in result.message
    with pytest.raises(NotFound):
        send_test(999999)
