"""Plugin discovery, isolation of broken plugins, and the plugins endpoint."""
import http.server
import json
import sys
import textwrap
import threading
from importlib.metadata import EntryPoint

import pytest

from comicsrv.hookspecs import Notification, hookimpl
from comicsrv.plugins import PluginRegistry
from tests.factories import AdminFactory, UserFactory, api_key_for


def test_builtin_plugin_is_discovered_through_its_entry_point():
    registry = PluginRegistry()
    registry.load_entry_points()
    assert registry.manager.has_plugin("webhook")
    assert "comicsrv_plugins.webhook" in registry.sources["webhook"]
    assert {"webhook", "apprise"} <= set(registry.integrations("notifier"))
    assert registry.failures == []


@pytest.fixture
def plugin_modules(tmp_path, monkeypatch):
    """Write real plugin modules to disk and make them importable."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name, source):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return EntryPoint(name=name, value=name, group="comicsrv.plugins")

    yield write
    for name in list(sys.modules):
        if name.startswith("plug_"):
            del sys.modules[name]


GOOD = """
    from comicsrv.hookspecs import Notifier, TestResult, hookimpl

    class Good(Notifier):
        kind = "good"
        def send(self, notification): pass
        def test(self): return TestResult(True)

    @hookimpl
    def comicsrv_notifiers():
        return [Good]
"""


def test_plugin_that_fails_to_import_is_skipped(plugin_modules):
    broken = plugin_modules("plug_broken", "raise RuntimeError('boom at import')\n")
    good = plugin_modules("plug_good", GOOD)
    registry = PluginRegistry()
    registry.load_entry_points([broken, good])
    assert not registry.manager.has_plugin("plug_broken")
    assert list(registry.integrations("notifier")) == ["good"]
    [failure] = registry.failures
    assert (failure.plugin, failure.stage) == ("plug_broken", "load")
    assert "boom at import" in failure.error


def test_plugin_that_raises_in_a_hook_does_not_break_the_others(plugin_modules):
    raising = plugin_modules("plug_raising", """
        from comicsrv.hookspecs import hookimpl

        @hookimpl
        def comicsrv_notifiers():
            raise ValueError("bad plugin")
    """)
    registry = PluginRegistry()
    registry.load_entry_points([raising, plugin_modules("plug_good", GOOD)])
    assert list(registry.integrations("notifier")) == ["good"]
    assert [(f.plugin, f.stage) for f in registry.failures] == [("plug_raising",
                                                                 "comicsrv_notifiers")]


def test_event_hook_failure_does_not_stop_publishing(make_app):
    seen = []

    class Broken:
        @hookimpl
        def comicsrv_event(self, event):
            raise RuntimeError("listener bug")

    class Recorder:
        @hookimpl
        def comicsrv_event(self, event):
            seen.append(event.name)

    registry = PluginRegistry()
    registry.register(Broken(), "broken")
    registry.register(Recorder(), "recorder")
    app = make_app(PLUGINS=registry)
    from comicsrv.events import LibraryCreated

    app.extensions["comicsrv.events"].publish(LibraryCreated(library_id=1))
    assert seen == ["library_created"]
    assert registry.failures[0].plugin == "broken"


def test_plugins_endpoint_lists_loaded_plugins_for_admins(client):
    admin_key = api_key_for(AdminFactory(), ["SystemAdmin"])
    response = client.get("/api/v1/plugins", headers={"X-API-Key": admin_key})
    assert response.status_code == 200
    [webhook] = [p for p in response.json["items"] if p["name"] == "webhook"]
    assert webhook["provides"] == {"notifier": ["webhook"]}
    assert webhook["hooks"] == ["comicsrv_notifiers"]
    assert response.json["failures"] == []


def test_plugins_endpoint_refuses_others(client):
    user_key = api_key_for(UserFactory(), ["LibrariesRead"])
    assert client.get("/api/v1/plugins").status_code == 401
    response = client.get("/api/v1/plugins", headers={"X-API-Key": user_key})
    assert response.status_code == 403
    assert response.json["error"] == "forbidden"


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.received.append((self.path, self.headers["X-Token"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_notifier_posts_to_a_real_http_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        registry = PluginRegistry()
        registry.load_entry_points()
        notifier_cls = registry.integrations("notifier")["webhook"]
        notifier = notifier_cls({"url": f"http://127.0.0.1:{server.server_port}/hook",
                                 "headers": {"X-Token": "abc"}})
        notifier.send(Notification("downloaded", "Saga #1", "Saga #1 is in the library",
                                   {"book_id": 7}))
        assert notifier.test().ok
    finally:
        server.shutdown()
    path, token, body = _Recorder.received[0]
    assert (path, token) == ("/hook", "abc")
    assert body == {"source": "comicsrv", "event": "downloaded", "title": "Saga #1",
                    "message": "Saga #1 is in the library", "data": {"book_id": 7}}
    assert _Recorder.received[1][2]["event"] == "test"


def test_webhook_test_reports_an_unreachable_url(free_port):
    registry = PluginRegistry()
    registry.load_entry_points()
    notifier = registry.integrations("notifier")["webhook"]({"url": f"http://127.0.0.1:{free_port}/",
                                                             "timeout": 2})
    result = notifier.test()
    assert not result.ok and "Connection refused" in result.message


def test_builtin_providers_and_clients_come_through_their_hooks():
    from comicsrv.hookspecs import DownloadClient, MetadataProvider

    registry = PluginRegistry()
    registry.load_entry_points()
    providers = dict(registry.call("comicsrv_metadata_providers"))
    clients = dict(registry.call("comicsrv_download_clients"))
    assert {plugin: [cls.kind for cls in classes] for plugin, classes in providers.items()} == {
        "comicvine": ["comicvine"], "metron": ["metron"]}
    assert {cls.kind for classes in clients.values() for cls in classes} >= {
        "qbittorrent", "sabnzbd", "nzbget", "blackhole"}
    assert all(issubclass(cls, MetadataProvider) for classes in providers.values() for cls in classes)
    assert all(issubclass(cls, DownloadClient) for classes in clients.values() for cls in classes)


def test_the_builtin_reading_log_comes_through_the_sync_target_hook():
    from comicsrv.hookspecs import SyncTarget

    registry = PluginRegistry()
    registry.load_entry_points()
    targets = dict(registry.call("comicsrv_sync_targets"))
    assert [cls.kind for cls in targets["reading_webhook"]] == ["reading_webhook"]
    assert all(issubclass(cls, SyncTarget) for classes in targets.values() for cls in classes)


def test_plugin_blueprints_are_served_under_the_url_base_and_a_bad_one_is_skipped(make_app, caplog):
    from flask import Blueprint

    def status_blueprint(answer):
        blueprint = Blueprint("example_status", __name__, url_prefix="/plugins/example")
        blueprint.add_url_rule("/status", "status", lambda: {"answer": answer})
        return blueprint

    class Serving:
        @hookimpl
        def comicsrv_blueprints(self):
            return [status_blueprint("first")]

    class Clashing:  # the same blueprint name: Flask refuses it, the app still starts
        @hookimpl
        def comicsrv_blueprints(self):
            return [status_blueprint("second")]

    class Raising:
        @hookimpl
        def comicsrv_blueprints(self):
            raise RuntimeError("no routes today")

    registry = PluginRegistry()
    for plugin, name in ((Serving(), "serving"), (Clashing(), "clashing"), (Raising(), "raising")):
        registry.register(plugin, name)
    client = make_app(PLUGINS=registry, URL_BASE="/comics").test_client()
    # One of the two same-named blueprints is served, the other logged and left out.
    assert client.get("/comics/plugins/example/status").json["answer"] in ("first", "second")
    assert "blueprint <Blueprint 'example_status'> not registered" in caplog.text
    assert [(f.plugin, f.stage) for f in registry.failures] == [("raising", "comicsrv_blueprints")]
