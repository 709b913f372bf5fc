"""Hostile input gets a clear 4xx in the surface's envelope, never a 500 and
never a gigabyte of memory: bodies over the limit, JSON built to blow the
parser's stack or Python's integer conversion, bytes that are not UTF-8,
bodies of the wrong type, ids beyond 64 bits, paging out of range, on the
three surfaces (``/api/v1``, LANraragi's archive API, the legacy ``/api``).

The body-size tests run against a real ``comicsrv serve``: what matters is
what the gevent server reads and holds.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import time
import zipfile

import pytest

from comicsrv.api.request_limits import MAX_JSON_DEPTH, InvalidJson, loads
from tests.conftest import FIXTURE_ARCHIVES
from tests.factories import api_key_for
from tests.serving import live_server  # noqa: F401

DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
HUGE_INT = "7" * 5000
NOT_UTF8 = b'{"username": "adm\xff\xfein", "password": "x"}'
BEYOND_64_BITS = "99999999999999999999"  # 2**63 - 1 has 19 digits
BEYOND_ROW_IDS = str(2**31)  # primary keys are 32-bit integer columns on PostgreSQL
MiB = 1024 * 1024


def v1_error(response, status: int, code: str | None = None) -> dict:
    """``/api/v1``'s envelope: ``{"error", "message", "details"}``."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.json
    assert set(body) == {"error", "message", "details"} and body["message"]
    if code:
        assert body["error"] == code, body
    return body


def legacy_error(response, status: int) -> str:
    """The legacy envelope: ``{"success": false, "error": {"code", "message"}}``."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.json
    assert body["success"] is False and body["error"]["code"] == status
    return body["error"]["message"]


def lrr_error(response, status: int) -> list[dict]:
    """LANraragi's validation envelope: ``{"errors": [{"message", "path"}], "status"}``."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.json
    assert body["status"] == status and body["errors"][0]["message"]
    return body["errors"]


def lrr_operation_error(body: dict) -> str:
    """LANraragi's OperationResponse, which its description gives every
    refusal of a route (and its clients parse): ``success`` 0 and an error."""
    assert body["success"] == 0 and body["error"] and body["operation"], body
    return body["error"]


def lrr_headers(key: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + base64.b64encode(key.encode()).decode()}


# -- the JSON loader itself ------------------------------------------------------------

@pytest.mark.parametrize("text, reason", [
    (DEEP_ARRAY, "nest more than"),
    (DEEP_OBJECT, "nest more than"),
    ('{"page": %s}' % HUGE_INT, "does not fit in 64 bits"),
    ('{"page": %s}' % BEYOND_64_BITS, "does not fit in 64 bits"),
    ('{"page": -%s}' % BEYOND_64_BITS, "does not fit in 64 bits"),
    ('{"page": 1e400}', "out of range"),
    ('{"page": NaN}', "NaN is not a JSON value"),
    ('[Infinity]', "Infinity is not a JSON value"),
    (NOT_UTF8, "not UTF-8"),
    ('{"a": 1', "Expecting"),
])
def test_the_json_loader_refuses_hostile_documents(text, reason):
    with pytest.raises(InvalidJson, match=reason):
        loads(text)


def test_the_json_loader_takes_what_clients_really_send():
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads(nested.encode()) is not None
    # Brackets inside strings are text, not nesting.
    assert loads('{"q": "%s"}' % ("[{" * 1000)) == {"q": "[{" * 1000}
    assert loads('{"a": [9223372036854775807, -9223372036854775808, 1.5, "\\u00e9"]}') == \
        {"a": [2**63 - 1, -2**63, 1.5, "é"]}


# -- malformed JSON bodies on every surface ----------------------------------------------

BAD_BODIES = [
    pytest.param(DEEP_ARRAY, "nest more than", id="deep-array"),
    pytest.param(DEEP_OBJECT, "nest more than", id="deep-object"),
    pytest.param('{"username": %s, "password": "x"}' % HUGE_INT, "64 bits", id="5000-digits"),
    pytest.param(NOT_UTF8, "not UTF-8", id="not-utf8"),
]


@pytest.mark.parametrize("body, reason", BAD_BODIES)
def test_v1_login_refuses_malformed_json_with_400(client, body, reason):
    response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    assert reason in v1_error(response, 400, "validation_error")["message"]


@pytest.mark.parametrize("body, reason", BAD_BODIES)
def test_v1_list_bodies_refuse_malformed_json_with_400(client, admin_headers, body, reason):
    for path in ("/api/v1/books/list", "/api/v1/series/list"):
        response = client.post(path, data=body, content_type="application/json",
                               headers=admin_headers)
        assert reason in v1_error(response, 400, "validation_error")["message"]


@pytest.mark.parametrize("body, reason", BAD_BODIES)
def test_legacy_bodies_refuse_malformed_json_with_400(client, admin_headers, body, reason):
    for path in ("/api/auth/login", "/api/search/comics"):
        response = client.post(path, data=body, content_type="application/json",
                               headers=admin_headers)
        assert reason in legacy_error(response, 400)


@pytest.mark.parametrize("body, reason", BAD_BODIES)
def test_archive_api_refuses_malformed_json_with_400(client, admin, body, reason):
    headers = lrr_headers(api_key_for(admin, ["SystemAdmin"]))
    response = client.put("/api/categories", data=body, content_type="application/json",
                          headers=headers, query_string={"name": "Hostile"})
    assert reason in lrr_error(response, 400)[0]["message"]


def test_a_list_body_past_any_filter_depth_is_400_not_a_recursion(client, admin_headers):
    condition = '{"allOf": [' * 15 + "{}" + "]}" * 15  # 31 levels: under the JSON bound
    response = client.post("/api/v1/books/list", data='{"condition": %s}' % condition,
                           content_type="application/json", headers=admin_headers)
    assert response.status_code == 400 and "deep" in response.json["message"]


# -- bodies of the wrong type ----------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml", "multipart/form-data; boundary=x"])
def test_json_endpoints_refuse_other_body_types_with_415(client, admin_headers, content_type):
    body = '{"username": "admin", "password": "x"}'
    response = client.post("/api/v1/auth/login", data=body, content_type=content_type)
    assert "application/json" in v1_error(response, 415, "unsupported_media_type")["message"]
    # A list body of another type used to be ignored: a silent 200 with the defaults.
    response = client.post("/api/v1/books/list", data='{"page": 2}', headers=admin_headers,
                           content_type=content_type)
    v1_error(response, 415, "unsupported_media_type")
    response = client.post("/api/auth/login", data=body, content_type=content_type)
    assert "application/json" in legacy_error(response, 415)


def test_an_empty_body_without_a_type_is_still_fine(client, admin_headers):
    response = client.post("/api/v1/books/list", headers=admin_headers)
    assert response.status_code == 200 and response.json["page"] == 1


# -- ids in paths ------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    f"/api/v1/books/{BEYOND_64_BITS}",
    f"/api/v1/books/{BEYOND_64_BITS}/thumbnail",
    f"/api/v1/libraries/{BEYOND_64_BITS}/thumbnail",
    f"/api/v1/series/{BEYOND_64_BITS}",
    f"/api/v1/users/{BEYOND_64_BITS}",
    f"/api/v1/books/{'9' * 5000}",
    f"/api/v1/books/{BEYOND_ROW_IDS}",
    f"/api/v1/series/{BEYOND_ROW_IDS}/books",
    f"/api/v1/tasks/{BEYOND_ROW_IDS}",
    f"/api/v1/libraries/{BEYOND_ROW_IDS}",
])
def test_v1_ids_beyond_the_row_id_range_are_404(client, admin_headers, path):
    v1_error(client.get(path, headers=admin_headers), 404, "not_found")


def test_v1_writes_to_ids_beyond_64_bits_are_404(client, admin_headers):
    for path in (f"/api/v1/books/{BEYOND_64_BITS}/read", f"/api/v1/books/{BEYOND_64_BITS}/analyze"):
        v1_error(client.post(path, headers=admin_headers), 404, "not_found")


def test_the_largest_row_id_is_an_ordinary_404(client, admin_headers):
    body = v1_error(client.get(f"/api/v1/books/{2**31 - 1}", headers=admin_headers), 404)
    assert "book" in body["message"].lower()


@pytest.mark.parametrize("query", [f"library_id={BEYOND_ROW_IDS}", f"series_id={BEYOND_ROW_IDS}"])
def test_v1_ids_in_query_strings_stop_at_the_row_id_range(client, admin_headers, query):
    body = v1_error(client.get(f"/api/v1/books?{query}", headers=admin_headers), 400)
    assert query.split("=")[0] in body["details"]["query"]
    v1_error(client.get(f"/api/v1/series/in-progress?library_id={BEYOND_ROW_IDS}",
                        headers=admin_headers), 400)


def test_legacy_and_archive_ids_beyond_the_row_id_range_are_4xx(client, admin, admin_headers):
    legacy_error(client.get(f"/api/series/{BEYOND_64_BITS}", headers=admin_headers), 404)
    legacy_error(client.get(f"/api/series/{'9' * 5000}", headers=admin_headers), 404)
    legacy_error(client.post(f"/api/downloads/{BEYOND_64_BITS}/requeue", headers=admin_headers),
                 404)
    legacy_error(client.delete(f"/api/downloads/{BEYOND_64_BITS}", headers=admin_headers), 404)
    legacy_error(client.delete(f"/api/downloads/{BEYOND_ROW_IDS}", headers=admin_headers), 404)
    headers = lrr_headers(api_key_for(admin, ["SystemAdmin"]))
    response = client.get(f"/api/minion/{BEYOND_64_BITS}", headers=headers)
    assert response.status_code == 400 and response.json["success"] == 0
    lrr_error(client.get(f"/api/archives/{'9' * 5000}/metadata", headers=headers), 400)


@pytest.mark.parametrize("query", ["filter=a%00b", "category=%00", "sortby=date%00added"])
def test_archive_search_text_with_nul_is_400(client, admin, query):
    """PostgreSQL cannot compare text holding NUL: LANraragi's envelope, not a 500."""
    headers = lrr_headers(api_key_for(admin, ["SystemAdmin"]))
    errors = lrr_error(client.get(f"/api/search?{query}", headers=headers), 400)
    assert errors[0]["path"] == "/" + query.split("=")[0]


def test_v1_searches_with_nul_are_400(client, admin_headers):
    for path, body in (("/api/v1/series/search", {"query": "spider\x00man"}),
                       ("/api/v1/books/list", {"fullTextSearch": "a\x00"})):
        response = client.post(path, json=body, headers=admin_headers)
        v1_error(response, 400, "invalid_query")


def test_a_nul_in_a_path_is_400(client, admin_headers):
    v1_error(client.get("/api/v1/user/preferences/a%00b", headers=admin_headers), 400)


# -- paging -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/books", "/api/v1/users", "/api/v1/libraries",
                                  "/api/v1/tasks", "/api/v1/books/recently-added"])
@pytest.mark.parametrize("query, field", [("page=abc", "page"), ("page_size=x", "page_size"),
                                          (f"page={HUGE_INT}", "page")],
                         ids=["page=abc", "page_size=x", "page=5000-digits"])
def test_v1_paging_that_is_not_a_number_is_400_naming_the_field(client, admin_headers, path,
                                                                query, field):
    body = v1_error(client.get(f"{path}?{query}", headers=admin_headers), 400,
                    "validation_error")
    assert field in body["details"]["query"] and field in body["message"]


@pytest.mark.parametrize("query, page, page_size", [
    ("page=-1", 1, 50), ("page=0&page_size=0", 1, 1), ("page_size=-5", 1, 1),
    ("page_size=5000", 1, 200), (f"page={BEYOND_64_BITS}", 1_000_000, 50),
])
def test_v1_paging_out_of_range_is_clamped_as_documented(client, admin_headers, query, page,
                                                         page_size):
    body = client.get(f"/api/v1/books?{query}", headers=admin_headers).json
    assert (body["page"], body["page_size"]) == (page, page_size)


def test_the_clamp_is_documented_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json
    parameters = {p["name"]: p for p in spec["paths"]["/api/v1/books"]["get"]["parameters"]}
    assert "clamped" in parameters["page_size"]["description"]
    assert "below 1" in parameters["page"]["description"]


def test_v1_paging_in_json_bodies_follows_the_same_rules(client, admin_headers):
    body = v1_error(client.post("/api/v1/books/list", json={"page": "two"},
                                headers=admin_headers), 400)
    assert "page" in body["details"]["json"]
    body = client.post("/api/v1/books/list", json={"page": -3, "pageSize": 900},
                       headers=admin_headers).json
    assert (body["page"], body["page_size"]) == (1, 200)


def test_clu_reader_endpoints_keep_clus_documented_defaults(client, admin_headers):
    """CLU documents that a value that is not a number becomes the default;
    its reader apps are served exactly that."""
    body = client.get("/api/v1/library/publishers?mode=metadata&page=abc&page_size=x",
                      headers=admin_headers).json
    assert (body["page"], body["page_size"]) == (1, 50)


@pytest.mark.parametrize("query, field", [
    ("limit=-1", "limit"), ("limit=0", "limit"), ("limit=501", "limit"), ("limit=abc", "limit"),
    ("offset=-5", "offset"), ("offset=abc", "offset"), (f"offset={BEYOND_64_BITS}", "offset"),
])
def test_legacy_paging_out_of_range_is_400_naming_the_field(client, admin_headers, query, field):
    for path in ("/api/series", "/api/storyarcs", "/api/downloads/history", "/api/wanted"):
        message = legacy_error(client.get(f"{path}?{query}", headers=admin_headers), 400)
        assert message.startswith(f"Invalid request: {field}:"), (path, message)


@pytest.mark.parametrize("query", ["start=-5", "start=abc", f"start={BEYOND_64_BITS}"])
def test_archive_search_paging_out_of_range_is_400_naming_the_field(client, admin, query):
    headers = lrr_headers(api_key_for(admin, ["SystemAdmin"]))
    errors = lrr_error(client.get(f"/api/search?{query}", headers=headers), 400)
    assert errors[0]["path"] == "/start"


# -- body size ------------------------------------------------------------------------------

def test_the_body_limit_is_a_setting_and_uploads_have_their_own(make_app, comic_tree):
    app = make_app(MAX_REQUEST_BYTES=4096, MAX_UPLOAD_BYTES=64 * 1024)
    client = app.test_client()
    with app.app_context():
        from comicsrv.library.libraries import create_library
        from tests.factories import AdminFactory

        create_library("Comics", str(comic_tree))
        key = api_key_for(AdminFactory(), ["SystemAdmin"])
    big_json = '{"username": "%s", "password": "x"}' % ("a" * 5000)
    response = client.post("/api/v1/auth/login", data=big_json, content_type="application/json")
    assert "4096 bytes" in v1_error(response, 413, "payload_too_large")["message"]
    assert legacy_error(client.post("/api/auth/login", data=big_json,
                                    content_type="application/json"), 413)
    comic = (FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001-cix.cbz").read_bytes()
    assert 4096 < len(comic) < 64 * 1024
    response = client.put("/api/archives/upload", headers=lrr_headers(key),
                          data={"file": (io.BytesIO(comic), "Small.cbz")},
                          content_type="multipart/form-data")
    assert response.status_code == 200, response.json
    response = client.put("/api/archives/upload", headers=lrr_headers(key),
                          data={"file": (io.BytesIO(_big_comic(70 * 1024)), "Big.cbz")},
                          content_type="multipart/form-data")
    assert response.status_code == 413
    assert "bytes" in lrr_operation_error(response.json)


# -- body size, through the real server ----------------------------------------------------------

def _peak_rss(pid: int) -> int:
    """VmHWM (the process's peak resident set) in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _chunks(total: int, size: int = MiB):
    block = b"[" * size
    for _ in range(total // size):
        yield block


# Peak memory a 300 MB body may add to the server: a few times the 2 MiB
# limit for buffers, nowhere near the body. Before the limit the peak grew by
# the whole body (140 -> 683 MB).
PEAK_GROWTH_BOUND = 64 * MiB


def test_a_300_mb_chunked_body_gets_413_unread(live_server):
    server = live_server()
    before = _peak_rss(server.process.pid)
    started = time.monotonic()
    response = server.post("/api/v1/auth/login", data=_chunks(300 * MiB),
                           headers={"Content-Type": "application/json"}, timeout=120)
    elapsed = time.monotonic() - started
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error"] == "payload_too_large"
    growth = _peak_rss(server.process.pid) - before
    print(f"300 MB chunked body: 413 after {elapsed:.2f} s, server peak RSS "
          f"+{growth / MiB:.1f} MiB")
    assert growth < PEAK_GROWTH_BOUND
    assert elapsed < 60  # generous: the server drains the rest at loopback speed
    assert server.get("/ping").ok


def _answer_to_headers_alone(port: int, path: str, declared: int) -> str:
    """Send a request's headers (and a few bytes of its body), then read the
    answer: it must come without the rest of the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
                     .encode() + b"[" * 4096)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.decode("latin-1")


def test_a_declared_300_mb_body_is_refused_before_it_is_sent(live_server):
    """With a Content-Length over the limit the answer comes after the
    headers alone: the client never has to send (and the server never reads)
    the body, credentials or not."""
    server = live_server()
    for path, envelope in (("/api/v1/auth/login", '"error":"payload_too_large"'),
                           ("/api/auth/login", '"success":false'),
                           ("/api/categories", '"success":0')):
        answer = _answer_to_headers_alone(server.port, path, 300 * MiB)
        assert answer.startswith("HTTP/1.1 413"), answer[:300]
        assert envelope in answer.replace(" ", ""), answer
    assert server.get("/ping").ok


def test_malformed_input_through_the_real_server(live_server, admin):
    """The same hostile requests against ``comicsrv serve``: each a 4xx, and
    (checked by the fixture) no traceback in the server's log."""
    headers = {"X-API-Key": api_key_for(admin, ["SystemAdmin"])}
    lrr = lrr_headers(headers["X-API-Key"])
    server = live_server()
    json_type = {"Content-Type": "application/json"}
    for path in ("/api/v1/auth/login", "/api/auth/login", "/api/v1/books/list"):
        for body in (DEEP_ARRAY, DEEP_OBJECT, '{"page": %s}' % HUGE_INT, NOT_UTF8):
            response = server.post(path, data=body, headers={**headers, **json_type})
            assert response.status_code == 400, (path, response.text[:200])
        response = server.post(path, data="page=2", headers={
            **headers, "Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 415, (path, response.text[:200])
    for path, status in ((f"/api/v1/books/{BEYOND_64_BITS}", 404),
                         (f"/api/v1/books/{BEYOND_ROW_IDS}/thumbnail", 404),
                         ("/api/v1/books?page=abc", 400), ("/api/series?offset=-1", 400)):
        assert server.get(path, headers=headers).status_code == status, path
    assert server.delete(f"/api/downloads/{BEYOND_ROW_IDS}", headers=headers).status_code == 404
    assert server.get("/api/search?start=abc", headers=lrr).status_code == 400
    assert server.get("/api/search?filter=%00", headers=lrr).status_code == 400


def _big_comic(size: int) -> bytes:
    """A real CBZ (the Captain Science fixture's pages) padded past ``size``
    with an incompressible extra file."""
    buffer = io.BytesIO()
    source = FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001-cix.cbz"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(buffer, "w") as comic:
        for info in original.infolist():
            comic.writestr(info, original.read(info))
        comic.writestr("extras/scan-notes.bin", os.urandom(size), zipfile.ZIP_STORED)
    return buffer.getvalue()


def test_an_upload_bigger_than_the_json_limit_still_works(live_server, scanned_library,
                                                          admin):
    key = api_key_for(admin, ["SystemAdmin"])
    server = live_server()
    data = _big_comic(3 * MiB)  # the JSON limit is 2 MiB
    response = server.put("/api/archives/upload", headers=lrr_headers(key),
                          files={"file": ("Big Upload.cbz", data)},
                          data={"file_checksum": hashlib.sha1(data).hexdigest()}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json()["success"] == 1
    with open(os.path.join(scanned_library.path, "Uploads", "Big Upload.cbz"), "rb") as fh:
        assert fh.read() == data
    # The same bytes as a JSON body are refused.
    response = server.post("/api/v1/auth/login", data=data,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_an_upload_over_its_own_limit_gets_413_in_lanraragis_envelope(live_server,
                                                                      scanned_library, admin):
    key = api_key_for(admin, ["SystemAdmin"])
    server = live_server(max_upload_bytes=MiB)
    response = server.put("/api/archives/upload", headers=lrr_headers(key),
                          files={"file": ("Too Big.cbz", _big_comic(2 * MiB))}, timeout=120)
    assert response.status_code == 413
    assert lrr_operation_error(response.json())
    assert not os.path.exists(os.path.join(scanned_library.path, "Uploads", "Too Big.cbz"))
