"""Newznab (usenet) and Torznab (torrent) indexers: Jackett, Prowlarr, NZBHydra
and the usenet indexers themselves all speak this API.

Settings: ``url`` (the indexer, or Prowlarr's ``http://prowlarr:9696/12``),
``api_key``, ``api_path`` (default ``/api``), ``categories`` (default: from
``t=caps``, 7030 Comics when listed, else the category named Comics) and
``max_pages`` (result pages per search, default 3).

There is no comic search function in the API: searches are ``t=search`` with
``q`` and ``cat``, as Mylar does. Errors come as HTTP 200 with
``<error code=".." description=".."/>``; they become typed exceptions, and
500/501 (request or download limit) and HTTP 429/5xx become
``IntegrationRateLimited`` so the host backs off.
"""
from __future__ import annotations

import html
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from comicsrv.hookspecs import (
    Indexer, IntegrationAuthError, IntegrationError, IntegrationNotFound,
    IntegrationRateLimited, Release, SearchQuery, TestResult, hookimpl,
)

if TYPE_CHECKING:
    import requests

COMICS_CATEGORY = 7030
NEWZNAB_NS = "http://www.newznab.com/DTD/2010/feeds/attributes/"
TORZNAB_NS = "http://torznab.com/schemas/2015/feed"
# A limit-reached answer without Retry-After: newznab quotas reset daily,
# but an hour is what Sonarr waits first.
DEFAULT_BACKOFF_SECONDS = 3600.0


class NewznabError(IntegrationError):
    """The indexer answered ``<error code description/>`` (nZEDb spec §5)."""

    def __init__(self, message: str, code: int | None = None, description: str = "",
                 retry_after: float | None = None):
        Exception.__init__(self, message)
        self.code = code
        self.description = description
        self.retry_after = retry_after


class NewznabAuthError(NewznabError, IntegrationAuthError):
    """100-102: bad API key, suspended account, insufficient privileges."""


class NewznabRequestError(NewznabError):
    """200-203: a parameter or function the indexer does not accept."""


class NewznabNotFound(NewznabError, IntegrationNotFound):
    """300: no such item."""


class NewznabLimitReached(NewznabError, IntegrationRateLimited):
    """500/501 or HTTP 429: request or download limit reached; back off."""


def error_for(code: int | None, description: str, indexer: str,
              retry_after: float | None = None) -> NewznabError:
    """The typed exception for a newznab error code."""
    what = f"{indexer}: error {code}: {description or 'no description'}"
    if code is None:
        return NewznabError(what, code, description)
    if 100 <= code < 200:
        return NewznabAuthError(what + " (check the API key)", code, description)
    if 200 <= code < 300:
        return NewznabRequestError(what, code, description)
    if code == 300:
        return NewznabNotFound(what, code, description)
    if code in (429, 500, 501, 502, 503):
        return NewznabLimitReached(what, code, description,
                                   retry_after if retry_after is not None else DEFAULT_BACKOFF_SECONDS)
    return NewznabError(what, code, description)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    seconds = _int(value)
    if seconds is not None:
        return float(max(seconds, 0))
    when = _date(value)
    if when is None:
        return None
    return max((when - datetime.now(when.tzinfo)).total_seconds(), 0.0)


class NewznabIndexer(Indexer):
    kind: ClassVar[str] = "newznab"
    label: ClassVar[str] = "Newznab"
    protocol: ClassVar[str] = "usenet"
    settings_fields: ClassVar[list[dict[str, Any]]] = [
        {"name": "url", "label": "URL", "type": "url", "required": True},
        {"name": "api_key", "label": "API key", "type": "password", "required": False},
        {"name": "api_path", "label": "API path", "type": "text", "required": False},
        {"name": "categories", "label": "Categories", "type": "list", "required": False},
        {"name": "max_pages", "label": "Result pages per search", "type": "number",
         "required": False},
    ]
    attr_namespaces: ClassVar[tuple[str, ...]] = (NEWZNAB_NS, TORZNAB_NS)

    def __init__(self, settings=None, context=None):
        import requests

        super().__init__(settings, context)
        self._caps: dict[str, Any] | None = None
        self._session = requests.Session()
        self._session.headers["User-Agent"] = self.context.user_agent

    # --- HTTP ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.settings.get("name") or self.settings.get("url") or self.kind)

    @property
    def base_url(self) -> str:
        return str(self.settings.get("url") or "").rstrip("/") + "/"

    @property
    def api_url(self) -> str:
        path = str(self.settings.get("api_path") or "/api").lstrip("/")
        return urljoin(self.base_url, path)

    def _get(self, params: dict[str, Any], *, with_key: bool = True) -> Element:
        import requests

        if not self.settings.get("url"):
            raise IntegrationError(f"{self.kind}: no URL configured")
        query = {k: v for k, v in params.items() if v not in (None, "")}
        if with_key and self.settings.get("api_key"):
            query["apikey"] = self.settings["api_key"]
        try:
            response = self._session.get(self.api_url, params=query, timeout=self.context.timeout)
        except requests.RequestException as exc:
            # The message never repeats the URL with its apikey.
            raise IntegrationError(f"{self.name}: cannot reach {self.api_url}: "
                                   f"{type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise error_for(response.status_code if response.status_code in (429, 500, 501, 502, 503)
                            else 503, f"HTTP {response.status_code}", self.name,
                            _retry_after(response))
        root = self._parse(response.content, response.status_code)
        if root.tag == "error":
            raise error_for(_int(root.get("code")), root.get("description") or "", self.name,
                            _retry_after(response))
        if response.status_code in (401, 403):
            raise NewznabAuthError(f"{self.name}: HTTP {response.status_code} (check the API key)",
                                   response.status_code)
        if response.status_code >= 400:
            raise NewznabError(f"{self.name}: HTTP {response.status_code}", response.status_code)
        return root

    def _parse(self, body: bytes, status: int) -> Element:
        try:
            return SafeET.fromstring(body)
        except (SafeET.ParseError, DefusedXmlException) as exc:
            if status in (401, 403):
                raise NewznabAuthError(f"{self.name}: HTTP {status} (check the API key)", status) from None
            if status >= 400:
                raise NewznabError(f"{self.name}: HTTP {status}", status) from None
            raise IntegrationError(f"{self.name}: the answer is not valid XML ({exc})") from None

    # --- capabilities -------------------------------------------------------

    def capabilities(self) -> dict[str, Any]:
        """``t=caps``: limits, search functions and categories."""
        root = self._get({"t": "caps"}, with_key=False)
        if root.tag != "caps":
            raise IntegrationError(f"{self.name}: t=caps answered <{root.tag}>, not <caps>")
        limits = root.find("limits")
        searching = {}
        for node in root.find("searching") if root.find("searching") is not None else []:
            params = node.get("supportedParams") or "q"
            searching[node.tag] = {"available": (node.get("available") or "").lower() == "yes",
                                   "params": [p.strip() for p in params.split(",") if p.strip()]}
        categories = []
        for node in root.iter("category"):
            subcats = [{"id": _int(s.get("id")), "name": s.get("name") or ""}
                       for s in node.findall("subcat")]
            categories.append({"id": _int(node.get("id")), "name": node.get("name") or "",
                               "subcats": subcats})
        caps = {
            "server": dict(root.find("server").attrib) if root.find("server") is not None else {},
            "limits": {"max": _int(limits.get("max")) if limits is not None else None,
                       "default": _int(limits.get("default")) if limits is not None else None},
            "searching": searching,
            "categories": categories,
            "comic_categories": _comic_categories(categories),
        }
        self._caps = caps
        return caps

    def categories(self) -> list[int]:
        """The categories searched: the configured ones, else from caps."""
        configured = self.settings.get("categories")
        if configured:
            if isinstance(configured, str):
                configured = configured.split(",")
            return [c for c in (_int(v) for v in configured) if c is not None]
        if self._caps is None:
            try:
                self.capabilities()
            except NewznabLimitReached:
                raise
            except IntegrationError:
                return [COMICS_CATEGORY]
        return self._caps["comic_categories"] or [COMICS_CATEGORY]

    # --- searching ----------------------------------------------------------

    def _page_size(self) -> int:
        limits = (self._caps or {}).get("limits") or {}
        return int(self.settings.get("page_size") or limits.get("max") or 100)

    def search(self, query: SearchQuery) -> list[Release]:
        categories = query.categories or self.categories()
        limit = self._page_size()
        max_pages = max(1, int(self.settings.get("max_pages") or 3))
        releases: list[Release] = []
        offset = 0
        for _ in range(max_pages):
            root = self._get({"t": "search", "q": query.text, "cat": _cats(categories),
                              "extended": 1, "limit": limit, "offset": offset})
            page, total = self._releases(root)
            releases.extend(page)
            offset += len(page)
            if not page or len(page) < limit or (total is not None and offset >= total):
                break
        return releases

    def rss(self) -> list[Release]:
        root = self._get({"t": "search", "cat": _cats(self.categories()), "extended": 1})
        return self._releases(root)[0]

    def test(self) -> TestResult:
        try:
            caps = self.capabilities()
            releases = self.rss()
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        cats = ", ".join(str(c) for c in self.categories())
        return TestResult(True, f"{len(releases)} recent releases in categories {cats}; "
                                f"{len(caps['categories'])} categories offered")

    # --- parsing results ----------------------------------------------------

    def _attrs(self, item: Element) -> dict[str, list[str]]:
        attrs: dict[str, list[str]] = {}
        for namespace in self.attr_namespaces:
            for node in item.findall(f"{{{namespace}}}attr"):
                name, value = node.get("name"), node.get("value")
                if name and value is not None:
                    attrs.setdefault(name.lower(), []).append(value)
        return attrs

    def _releases(self, root: Element) -> tuple[list[Release], int | None]:
        channel = root.find("channel")
        if root.tag != "rss" or channel is None:
            raise IntegrationError(f"{self.name}: the answer is <{root.tag}>, not an RSS feed")
        total = None
        for namespace in (NEWZNAB_NS, TORZNAB_NS):
            response = channel.find(f"{{{namespace}}}response")
            if response is not None:
                total = _int(response.get("total"))
        releases = []
        for item in channel.findall("item"):
            release = self._release(item)
            if release is not None:
                releases.append(release)
        return releases, total

    def _url(self, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        value = value.strip()
        if value.startswith("magnet:"):
            return value
        return urljoin(self.base_url, value)

    def _release(self, item: Element) -> Release | None:
        title = html.unescape((item.findtext("title") or "").strip())
        attrs = self._attrs(item)
        enclosure = item.find("enclosure")
        enclosure_url = enclosure.get("url") if enclosure is not None else None
        magnet = (attrs.get("magneturl") or [None])[0]
        download_url = self._url(enclosure_url) or self._url(item.findtext("link")) or self._url(magnet)
        if not title or not download_url:
            return None
        size = _int((attrs.get("size") or [None])[0]) or _int(item.findtext("size"))
        if not size and enclosure is not None:
            size = _int(enclosure.get("length")) or None
        categories = list(dict.fromkeys(
            c for c in (_int(v) for v in attrs.get("category", [])) if c is not None))
        if not categories:
            categories = [c for c in (_int(n.text) for n in item.findall("category")) if c is not None]
        published = _date(item.findtext("pubDate")) or _date((attrs.get("usenetdate") or [None])[0])
        single = {name: values[0] for name, values in attrs.items() if name != "category"}
        guid = (item.findtext("guid") or "").strip() or download_url
        return Release(
            title=title,
            download_url=download_url,
            indexer=self.name,
            protocol=self.protocol,
            guid=guid,
            size=size or None,
            published=published,
            seeders=_int(single.get("seeders")) if "seeders" in single else None,
            peers=_int(single.get("peers")) if "peers" in single else None,
            categories=categories,
            info_url=self._url(item.findtext("comments")),
            attributes=single,
        )


class TorznabIndexer(NewznabIndexer):
    kind: ClassVar[str] = "torznab"
    label: ClassVar[str] = "Torznab"
    protocol: ClassVar[str] = "torrent"


def _cats(categories: list[int]) -> str:
    return ",".join(str(c) for c in categories)


def _comic_categories(categories: list[dict[str, Any]]) -> list[int]:
    """7030 when listed; else every category or subcategory named Comics
    (nZEDb numbers Comics 8020)."""
    every = [(c["id"], c["name"]) for c in categories]
    every += [(s["id"], s["name"]) for c in categories for s in c["subcats"]]
    ids = [cid for cid, _ in every if cid is not None]
    if COMICS_CATEGORY in ids:
        return [COMICS_CATEGORY]
    return [cid for cid, name in every if cid is not None and "comic" in name.lower()]


@hookimpl
def comicsrv_indexers():
    return [NewznabIndexer, TorznabIndexer]
