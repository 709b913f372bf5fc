import requests

from comicsrv.testing import Recorded, ReplayServer


def test_routes_match_on_method_path_and_named_query_parameters():
    with ReplayServer() as server:
        server.add("GET", "/api", Recorded.text("caps"), query={"t": "caps"})
        server.add("GET", "/api", Recorded.json({"hits": 1}), query={"t": "search"})
        caps = requests.get(f"{server.url}/api", params={"t": "caps", "apikey": "k"}, timeout=5)
        search = requests.get(f"{server.url}/api", params={"t": "search"}, timeout=5)
        missing = requests.post(f"{server.url}/api", params={"t": "caps"}, timeout=5)
    assert (caps.status_code, caps.text) == (200, "caps")
    assert search.json() == {"hits": 1}
    assert missing.status_code == 404 and "POST /api" in missing.text
    assert [r.query.get("apikey") for r in server.requests] == ["k", None, None]


def test_a_later_route_overrides_and_a_callable_sees_the_request():
    with ReplayServer() as server:
        server.add("*", "/x", Recorded.text("old"))
        server.add("*", "/x", lambda req: Recorded.text(req.body.decode().upper(), status=201))
        response = requests.put(f"{server.url}/x", data=b"body", timeout=5)
    assert (response.status_code, response.text) == (201, "BODY")
    assert server.requests[0].method == "PUT"
