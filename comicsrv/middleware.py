"""WSGI middleware for running behind a reverse proxy."""
from __future__ import annotations

import ipaddress
from typing import Any, Callable, Iterable

from werkzeug.middleware.proxy_fix import ProxyFix

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class TrustedProxyFix:
    """Honour ``X-Forwarded-For/-Proto/-Host/-Port/-Prefix`` only from
    ``TRUSTED_PROXIES`` (by default loopback only), so no other client can
    claim another address or scheme: the login throttle counts per client
    address, and a client free to rotate ``X-Forwarded-For`` would never be
    locked out. From a trusted proxy the last ``X-Forwarded-For`` entry
    counts, the one the proxy itself appended."""

    def __init__(self, app: WSGIApp, networks: str):
        self.plain = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
        self.networks = [ipaddress.ip_network(n.strip(), strict=False)
                         for n in networks.split(",") if n.strip()]
        self._decided: dict[str | None, bool] = {}

    def trusted(self, address: str | None) -> bool:
        # Decided once per address: parsing it was a few per cent of a page
        # request. The clients of a NAS are few; a flood of addresses only
        # empties the memo.
        known = self._decided.get(address)
        if known is None:
            if len(self._decided) >= 4096:
                self._decided.clear()
            known = self._decided[address] = self._trusted(address)
        return known

    def _trusted(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address((address or "").split("%")[0])
        except ValueError:
            return False
        # A dual-stack listener sees an IPv4 proxy as ::ffff:a.b.c.d.
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        app = self.fixed if self.trusted(environ.get("REMOTE_ADDR")) else self.plain
        return app(environ, start_response)


class UrlBase:
    """Serve the app under a sub-path (``URL_BASE=/comics``).

    ``/comics/x`` reaches route ``/x`` with ``SCRIPT_NAME=/comics`` so every
    generated URL carries the base. ``/ping`` also answers at the root, so a
    container health check needs no knowledge of the base; any other path
    outside the base is a 404.
    """

    ROOT_PATHS = ("/ping",)

    def __init__(self, app: WSGIApp, base: str):
        self.app = app
        self.base = base

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        if path == self.base or path.startswith(self.base + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.base
            environ["PATH_INFO"] = path[len(self.base):] or "/"
            return self.app(environ, start_response)
        if path in self.ROOT_PATHS:
            return self.app(environ, start_response)
        if path == "/":
            start_response("302 Found", [("Location", self.base + "/"), ("Content-Length", "0")])
            return [b""]
        body = b'{"error":"not_found","message":"Not under the configured URL base","details":null}'
        start_response("404 Not Found", [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(body)))])
        return [body]


class HealthOnly:
    """What a ``worker`` process serves over HTTP: ``/ping`` and
    ``/api/v1/health`` for health checks and load balancers, nothing else.
    A request that reached a worker by mistake (a proxy pointed at the wrong
    container) gets a 404 that says so, in the v1 error shape."""

    PATHS = frozenset({"/ping", "/api/v1/health"})
    _BODY = (b'{"error":"not_found","message":"This is a worker process (--role worker): it '
             b'runs jobs and serves only /ping and /api/v1/health. Send requests to a web '
             b'process.","details":null}')

    def __init__(self, app: WSGIApp):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        if environ.get("PATH_INFO", "") in self.PATHS:
            return self.app(environ, start_response)
        start_response("404 NOT FOUND", [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(self._BODY)))])
        return [self._BODY]
