"""API keys in OPDS URLs, for reader apps that cannot send HTTP Basic.

Most OPDS apps (Panels, Chunky, KyBook, Thorium) prompt for a user name and
password and send HTTP Basic; some (older Moon+ Reader and Librera builds,
e-ink readers) take only a URL. For those the catalogue URL can carry an API
key, the way Kavita's OPDS URLs do::

    /opds/v1.2/key/<api key>/catalog      (recommended: survives every app)
    /opds/v1.2/catalog?apikey=<api key>   (also accepted)

``OpdsKeyInUrl`` is WSGI middleware in front of the Flask app. It takes the
key out of the URL before Flask sees the request and hands it on as an
``X-API-Key`` header, so the key is checked by the same code as every other
key (``comicsrv.auth.principal``), and the request's path, URL and query
string, which error handlers and log lines print, never contain it. The raw
request line the server keeps (``RAW_URI``/``REQUEST_URI``) is masked too.
Every link of a feed served this way carries the key again in the path form
(``key_prefix``), so the app can follow them.

A key in a URL still passes through whatever sits in front of comicsrv (a
reverse proxy's access log): ``mask_keys`` is the one function that turns
such a URL into a loggable one, for a log filter to call.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, urlencode

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

# The environ key holding the URL key of this request, for links.
LINK_KEY = "comicsrv.opds.key"
MASK = "***"
PREFIX = "/opds/"
VERSIONS = ("v1.2", "v2.0")
# /opds/<version>/key/<key>[/rest]: the key is one path segment.
_KEY_PATH = re.compile(r"^/opds/(v1\.2|v2\.0)/key/([^/]+)(/.*)?$")
_KEY_ANYWHERE = re.compile(r"(/opds/v(?:1\.2|2\.0)/key/)[^/?#\s]+")
_APIKEY_QUERY = re.compile(r"([?&]apikey=)[^&#\s]*", re.IGNORECASE)


def mask_keys(text: str) -> str:
    """``text`` with every OPDS URL key (path or ``apikey=`` form) replaced by ``***``."""
    return _APIKEY_QUERY.sub(r"\1" + MASK, _KEY_ANYWHERE.sub(r"\1" + MASK, text))


class OpdsKeyInUrl:
    """Move an OPDS URL's API key into the ``X-API-Key`` header."""

    def __init__(self, app: WSGIApp):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            self._take_key(environ, path)
        return self.app(environ, start_response)

    @staticmethod
    def _take_key(environ: dict, path: str) -> None:
        key = None
        match = _KEY_PATH.match(path)
        if match is not None:
            version, key, rest = match.groups()
            environ["PATH_INFO"] = f"/opds/{version}{rest or '/'}"
        query = environ.get("QUERY_STRING", "")
        if "apikey=" in query.lower():
            pairs = parse_qsl(query, keep_blank_values=True)
            kept = [(name, value) for name, value in pairs if name.lower() != "apikey"]
            key = key or next((v for n, v in pairs if n.lower() == "apikey" and v), None)
            environ["QUERY_STRING"] = urlencode(kept)
        if key is None:
            return
        # An explicit header wins over a key an app kept in a bookmarked URL.
        environ.setdefault("HTTP_X_API_KEY", key)
        environ[LINK_KEY] = key
        for name in ("RAW_URI", "REQUEST_URI"):
            if name in environ:
                environ[name] = mask_keys(environ[name])
