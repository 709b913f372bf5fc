"""A real HTTP server on 127.0.0.1 that answers with recorded responses.

Indexers, feeds and metadata providers are tested against this instead of
the internet: the plugin under test makes real HTTP requests over loopback,
and the server answers with bodies recorded from the real services (see
``tests/fixtures/SOURCES.md``). Every request is kept for assertions::

    with ReplayServer() as server:
        server.add("GET", "/api", Recorded.file("caps.xml", "application/xml"),
                   query={"t": "caps"})
        plugin = Newznab({"url": server.url, "api_key": "k"})
        plugin.capabilities()
        assert server.requests[0].query["apikey"] == "k"

A route matches on method, path and the query parameters it names (others
may be present). The most recently added matching route wins, so a test can
override a default. A request no route matches gets a 404 with a message.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Recorded:
    """One response: status, headers and body."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def file(cls, path: str | Path, content_type: str = "application/octet-stream",
             status: int = 200, **headers: str) -> Recorded:
        return cls(Path(path).read_bytes(), status, {"Content-Type": content_type, **headers})

    @classmethod
    def json(cls, data: Any, status: int = 200, **headers: str) -> Recorded:
        return cls(json.dumps(data).encode(), status,
                   {"Content-Type": "application/json", **headers})

    @classmethod
    def text(cls, text: str, content_type: str = "text/plain", status: int = 200,
             **headers: str) -> Recorded:
        return cls(text.encode(), status, {"Content-Type": content_type, **headers})


@dataclass
class ReceivedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Responder = Recorded | Callable[[ReceivedRequest], Recorded]


@dataclass
class _Route:
    method: str
    path: str
    query: dict[str, str]
    responder: Responder

    def matches(self, request: ReceivedRequest) -> bool:
        return (self.method in (request.method, "*") and self.path == request.path
                and all(request.query.get(k) == v for k, v in self.query.items()))


class ReplayServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self.requests: list[ReceivedRequest] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = ReceivedRequest(self.command, parts.path,
                                          dict(parse_qsl(parts.query, keep_blank_values=True)),
                                          dict(self.headers.items()), body)
                response = server._respond(request)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, method: str, path: str, responder: Responder,
            query: dict[str, str] | None = None) -> None:
        with self._lock:
            self._routes.append(_Route(method.upper(), path, dict(query or {}), responder))

    def clear(self) -> None:
        with self._lock:
            self._routes.clear()
            self.requests.clear()

    def _respond(self, request: ReceivedRequest) -> Recorded:
        with self._lock:
            self.requests.append(request)
            route = next((r for r in reversed(self._routes) if r.matches(request)), None)
        if route is None:
            return Recorded.text(f"no recorded response for {request.method} {request.path}",
                                 status=404)
        responder = route.responder
        return responder(request) if callable(responder) else responder

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="replay-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
