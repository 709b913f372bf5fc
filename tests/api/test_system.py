"""Health, metrics, error envelopes and reverse-proxy handling."""
from flask import url_for

from tests.factories import AdminFactory, BookFactory, UserFactory, api_key_for


def test_ping_is_public_and_cheap(client):
    response = client.get("/ping")
    assert response.status_code == 200 and response.json == {"status": "OK"}


def test_health_is_public_and_checks_the_database(client):
    body = client.get("/api/v1/health").json
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "scheduler": "stopped"}
    assert body["version"]


def test_metrics_need_system_health_and_speak_prometheus(client):
    """Metrics count every library's books and every user's jobs and requests:
    a plain user's key gets a 403, a scraper's key (SystemHealth, which an
    admin holds or grants) the Prometheus text."""
    assert client.get("/api/v1/metrics").status_code == 401
    BookFactory.create_batch(3)
    BookFactory(state="missing")
    plain = api_key_for(UserFactory(), ["SystemHealth", "BooksRead"])
    assert client.get("/api/v1/metrics", headers={"X-API-Key": plain}).status_code == 403
    key = api_key_for(UserFactory(granted_permissions=["SystemHealth"]), ["SystemHealth"])
    client.get("/ping")
    response = client.get("/api/v1/metrics", headers={"X-API-Key": key})
    assert response.status_code == 200
    from prometheus_client import CONTENT_TYPE_LATEST

    assert response.content_type == CONTENT_TYPE_LATEST
    text = response.get_data(as_text=True)
    assert 'comicsrv_books{state="ok"} 3.0' in text
    assert 'comicsrv_books{state="missing"} 1.0' in text
    assert "comicsrv_libraries 4.0" in text
    assert 'comicsrv_http_requests_total{endpoint="system.Ping",method="GET",status="200"} 1.0' in text
    assert "process_resident_memory_bytes" in text


def test_unknown_route_gets_the_v1_error_envelope(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    assert set(response.json) == {"error", "message", "details"}


def test_wrong_method_is_405_with_allow_header(client):
    response = client.post("/api/v1/health")
    assert response.status_code == 405
    assert response.json["error"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_bad_credentials_are_401_never_500(client):
    for headers in ({"Authorization": "Basic !!!notbase64"}, {"Authorization": "Basic Zm9v"},
                    {"Authorization": "Bearer nope"}, {"X-API-Key": ""}, {"Authorization": "Digest x"}):
        response = client.get("/api/v1/plugins", headers=headers)
        assert response.status_code == 401, headers
        assert response.json["error"] == "unauthorized"


def test_http_basic_with_a_real_password(client):
    from tests.factories import PASSWORD

    admin = AdminFactory()
    assert client.get("/api/v1/plugins", auth=(admin.username, PASSWORD)).status_code == 200
    assert client.get("/api/v1/plugins", auth=(admin.username, "wrong password")).status_code == 401


def test_api_key_as_bearer_and_its_permissions_are_capped_by_the_owner(client):
    plain_user = UserFactory()
    # A plain user's key cannot hold SystemAdmin even if the row says so.
    key = api_key_for(plain_user, ["SystemAdmin"])
    assert client.get("/api/v1/plugins", headers={"Authorization": f"Bearer {key}"}).status_code == 403


def test_inactive_users_key_is_refused(client, app):
    user = AdminFactory(is_active=False)
    key = api_key_for(user, ["SystemAdmin"])
    assert client.get("/api/v1/plugins", headers={"X-API-Key": key}).status_code == 401


def _whoami_client(app):
    @app.route("/whoami")
    def whoami():
        from flask import request

        return {"remote": request.remote_addr, "scheme": request.scheme,
                "url": url_for("whoami", _external=True)}

    return app.test_client()


FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "comics.example.org", "X-Forwarded-Prefix": "/reader"}
AS_FORWARDED = {"remote": "203.0.113.9", "scheme": "https",
                "url": "https://comics.example.org/reader/whoami"}


def test_forwarded_headers_are_trusted_from_loopback_only_by_default(make_app):
    client = _whoami_client(make_app())
    local = client.get("/whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert local.json == AS_FORWARDED
    # A LAN client, a Docker bridge neighbour, the internet: none may claim
    # another address (or scheme) and so dodge the per-address login lock-out.
    for address in ("192.168.1.2", "172.17.0.5", "10.0.0.7", "198.51.100.7"):
        answer = client.get("/whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": address})
        assert answer.json["remote"] == address and answer.json["scheme"] == "http", address


def test_a_configured_proxy_network_is_trusted_dual_stack_too(make_app):
    client = _whoami_client(make_app(TRUSTED_PROXIES="172.18.0.0/16"))
    for proxy in ("172.18.0.3", "::ffff:172.18.0.3"):
        answer = client.get("/whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": proxy})
        assert answer.json == AS_FORWARDED, proxy
    # The last X-Forwarded-For entry is the one the proxy appended: whatever
    # the client put before it is ignored.
    chained = client.get("/whoami", headers={"X-Forwarded-For": "10.9.9.9, 192.0.2.44"},
                         environ_base={"REMOTE_ADDR": "172.18.0.3"})
    assert chained.json["remote"] == "192.0.2.44"
    outside = client.get("/whoami", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert outside.json["remote"] == "127.0.0.1", "the setting replaces the default"


def test_url_base_serves_under_a_sub_path(make_app):
    client = make_app(URL_BASE="comics/").test_client()
    assert client.get("/comics/ping").json == {"status": "OK"}
    assert client.get("/comics/api/v1/health").status_code == 200
    assert client.get("/ping").status_code == 200  # container health checks
    assert client.get("/api/v1/health").status_code == 404
    redirect = client.get("/")
    assert redirect.status_code == 302 and redirect.headers["Location"] == "/comics/"


def test_openapi_document_is_served_and_valid(client):
    from openapi_spec_validator import validate

    spec = client.get("/openapi.json").json
    validate(spec)
    assert "/api/v1/health" in spec["paths"] and "/ping" in spec["paths"]


def test_views_share_the_schemas_their_documentation_names(tmp_path):
    """flask-smorest deep-copies a view's documentation at each decorator
    layer and keeps every copy: with the schemas in it copied too, that was
    2,300 schema instances (8 MB of every server). A schema is shared, as
    marshmallow itself shares a field, and an error envelope is one instance
    however many views document it. Counted in a new process: the test
    session's other apps hold their own documents."""
    import subprocess
    import sys

    script = """
import copy, gc, sys
from comicsrv.app import create_app
from comicsrv.api.errors_doc import LegacyErrorSchema, V1ErrorSchema
create_app({"DATABASE_URL": "sqlite://"}, data_dir=sys.argv[1])
schema = V1ErrorSchema()
gc.collect()
print(copy.deepcopy({"doc": [schema]})["doc"][0] is schema,
      sum(type(o) in (V1ErrorSchema, LegacyErrorSchema) for o in gc.get_objects()))
"""
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "3"]  # the two shared ones, and the one made here


def test_docs_can_be_switched_off(make_app):
    client = make_app(API_DOCS_ENABLED=False).test_client()
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code == 404
