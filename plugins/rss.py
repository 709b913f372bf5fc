"""Generic RSS/Atom feeds as an indexer (a tracker's or a usenet site's feed).

Settings: ``url`` and ``protocol`` (``torrent`` or ``usenet``). A feed cannot
be searched: ``search`` filters the newest items by the query's words. The
download URL is the enclosure of the protocol's type, else a magnet link,
else the item's link; the size is the enclosure's length or a size written
in the description ("Size: 341 MB"), as trackers do. feedparser reads the
feed (it copes with RSS 0.9x-2.0 and Atom); a body that is not XML at all is
a clear error, not an empty feed.
"""
from __future__ import annotations

import re
from calendar import timegm
from datetime import UTC, datetime
from typing import Any, ClassVar

from comicsrv.hookspecs import (
    Indexer, IntegrationError, IntegrationRateLimited, Release, SearchQuery, TestResult, hookimpl,
)

TORRENT_TYPES = ("application/x-bittorrent",)
NZB_TYPES = ("application/x-nzb",)
_SIZE_RE = re.compile(
    r"size\s*(?:</?\w+>\s*)*[:=]?\s*(?:</?\w+>\s*)*([\d.,]+)\s*([kmgt]i?b?|bytes?)\b", re.IGNORECASE)
_BARE_SIZE_RE = re.compile(r"^\s*([\d.,]+)\s*([kmgt]i?b|bytes?)\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
_WORD_RE = re.compile(r"\w+")


def parse_size(text: str | None) -> int | None:
    """Bytes from "Size: 341 m", "Total Size: 1.366 GB" or "609.6 MiB"."""
    if not text:
        return None
    match = _SIZE_RE.search(text) or _BARE_SIZE_RE.match(text)
    if not match:
        return None
    try:
        value = float(match.group(1).replace(",", ""))
    except ValueError:
        return None
    return int(value * _UNITS.get(match.group(2)[0].lower(), 1))


class RssIndexer(Indexer):
    kind: ClassVar[str] = "rss"
    label: ClassVar[str] = "RSS/Atom feed"
    settings_fields: ClassVar[list[dict[str, Any]]] = [
        {"name": "url", "label": "Feed URL", "type": "url", "required": True},
        {"name": "protocol", "label": "Protocol", "type": "choice",
         "choices": ["torrent", "usenet"], "required": True},
    ]

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        protocol = str(self.settings.get("protocol") or "torrent").lower()
        if protocol not in ("torrent", "usenet"):
            raise IntegrationError(f"rss: protocol must be torrent or usenet, not {protocol!r}")
        self.protocol = protocol  # per configured feed, unlike other indexers

    @property
    def name(self) -> str:
        return str(self.settings.get("name") or self.settings.get("url") or self.kind)

    def capabilities(self) -> dict[str, Any]:
        return {"searching": {"search": {"available": False, "params": []}}, "categories": [],
                "limits": {"max": None, "default": None}}

    def _fetch(self) -> bytes:
        import requests

        url = self.settings.get("url")
        if not url:
            raise IntegrationError("rss: no feed URL configured")
        try:
            response = requests.get(url, timeout=self.context.timeout,
                                    headers={"User-Agent": self.context.user_agent})
        except requests.RequestException as exc:
            raise IntegrationError(f"{self.name}: cannot fetch the feed: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            retry = response.headers.get("Retry-After")
            raise IntegrationRateLimited(
                f"{self.name}: HTTP {response.status_code}; backing off",
                retry_after=float(retry) if retry and retry.isdigit() else None)
        if response.status_code >= 400:
            raise IntegrationError(f"{self.name}: HTTP {response.status_code}")
        return response.content

    def rss(self) -> list[Release]:
        import feedparser  # on the first poll, not in every server's memory

        feed = feedparser.parse(self._fetch())
        if feed.bozo and not feed.entries:
            # feedparser keeps going on broken XML; with nothing recovered the
            # feed is unusable, and an empty list would hide that.
            reason = getattr(feed, "bozo_exception", None)
            raise IntegrationError(f"{self.name}: the feed is not valid RSS/Atom XML ({reason})")
        releases = []
        for entry in feed.entries:
            release = self._release(entry)
            if release is not None:
                releases.append(release)
        return releases

    def search(self, query: SearchQuery) -> list[Release]:
        words = [w.casefold() for w in _WORD_RE.findall(query.text)]
        return [r for r in self.rss()
                if all(w in {t.casefold() for t in _WORD_RE.findall(r.title)} for w in words)]

    def test(self) -> TestResult:
        try:
            releases = self.rss()
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        return TestResult(True, f"{len(releases)} items in the feed")

    def _release(self, entry: Any) -> Release | None:
        title = (entry.get("title") or "").strip()
        wanted_types = TORRENT_TYPES if self.protocol == "torrent" else NZB_TYPES
        enclosures = [e for e in entry.get("enclosures", []) if e.get("href")]
        chosen = next((e for e in enclosures
                       if (e.get("type") or "").split(";")[0] in wanted_types), None)
        if chosen is None and enclosures and self.protocol == "torrent":
            chosen = next((e for e in enclosures if e["href"].startswith("magnet:")), None)
        link = entry.get("link")
        magnet = next((v for k, v in entry.items() if k.endswith("magneturi") or k.endswith("magnet")), None)
        download_url = (chosen or {}).get("href") or (magnet if self.protocol == "torrent" else None) or link
        if not title or not download_url:
            return None
        size = _int((chosen or {}).get("length")) or None
        if not size:
            size = next((parse_size(v) for k, v in entry.items()
                         if k.endswith("_size") or k == "size"), None)
        if not size:
            size = parse_size(entry.get("summary") or entry.get("description"))
        published = entry.get("published_parsed") or entry.get("updated_parsed")
        seeders = next((_int(v) for k, v in entry.items() if k.endswith("_seeders")), None)
        leechers = next((_int(v) for k, v in entry.items() if k.endswith("_leechers")), None)
        info_hash = next((v for k, v in entry.items() if k.lower().endswith("_infohash")), None)
        attributes = {"infohash": info_hash.lower()} if info_hash else {}
        return Release(
            title=title,
            download_url=download_url,
            indexer=self.name,
            protocol=self.protocol,
            guid=entry.get("id") or download_url,
            size=size,
            published=datetime.fromtimestamp(timegm(published), UTC) if published else None,
            seeders=seeders,
            peers=(seeders or 0) + leechers if leechers is not None else None,
            info_url=link if link != download_url else None,
            attributes=attributes,
        )


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


@hookimpl
def comicsrv_indexers():
    return [RssIndexer]
