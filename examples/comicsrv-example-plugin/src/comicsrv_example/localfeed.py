"""An indexer over a Torznab (or Newznab) RSS file on disk.

Some tools only write their finds to a file: a script that watches a
forum, an export from another *arr, a feed saved by cron with curl. This
indexer searches such a file as if it were a Torznab indexer: a query
matches an item whose title holds every word of the query, in any case.

Settings: ``path`` (required, absolute) of the RSS 2.0 file, items with a
``<title>``, a ``<link>`` or ``<enclosure url>`` to the .torrent, and
optionally ``<guid>``, ``<pubDate>``, ``<size>`` and
``<torznab:attr name="category|size|seeders|peers" value="..."/>``.
"""
from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any
from xml.etree import ElementTree

from comicsrv.hookspecs import (
    Indexer, IntegrationError, Release, SearchQuery, TestResult,
)

TORZNAB_ATTR = "{http://torznab.com/schemas/2015/feed}attr"
NEWZNAB_ATTR = "{http://www.newznab.com/DTD/2010/feeds/attributes/}attr"
WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return WORD.findall(text.casefold())


class LocalFeedIndexer(Indexer):
    kind = "localfeed"
    label = "Local Torznab feed file"
    protocol = "torrent"
    settings_fields = [
        {"name": "path", "label": "Feed file", "type": "path", "required": True},
    ]

    def capabilities(self) -> dict[str, Any]:
        return {"searching": {"search": {"available": True, "params": ["q"]}},
                "categories": [{"id": 7030, "name": "Comics", "subcats": []}],
                "comic_categories": [7030], "limits": {"max": None, "default": None}}

    def search(self, query: SearchQuery) -> list[Release]:
        wanted = set(words(query.text))
        found = []
        for release in self.rss():
            if not wanted <= set(words(release.title)):
                continue
            if query.categories and release.categories and \
                    not set(query.categories) & set(release.categories):
                continue
            found.append(release)
        return found

    def rss(self) -> list[Release]:
        path = self.settings["path"]
        try:
            root = ElementTree.parse(path).getroot()
        except OSError as exc:
            raise IntegrationError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ElementTree.ParseError as exc:
            raise IntegrationError(f"{path} is not an RSS file: {exc}") from None
        return [release for item in root.iter("item")
                if (release := self._release(item)) is not None]

    def _release(self, item: ElementTree.Element) -> Release | None:
        title = (item.findtext("title") or "").strip()
        enclosure = item.find("enclosure")
        url = (enclosure.get("url") if enclosure is not None else None) or item.findtext("link")
        if not title or not url:
            return None  # nothing to grab: skipped, as Sonarr skips it
        attrs = {node.get("name"): node.get("value") or ""
                 for node in [*item.iter(TORZNAB_ATTR), *item.iter(NEWZNAB_ATTR)]}
        published = item.findtext("pubDate")
        size = attrs.get("size") or item.findtext("size") or (
            enclosure.get("length") if enclosure is not None else None)
        return Release(
            title=title,
            download_url=url.strip(),
            indexer=self.kind,  # comicsrv puts the configured indexer's name here
            protocol=self.protocol,
            guid=(item.findtext("guid") or url).strip(),
            size=_int(size),
            published=parsedate_to_datetime(published) if published else None,
            seeders=_int(attrs.get("seeders")),
            peers=_int(attrs.get("peers")),
            categories=[int(c) for c in attrs.get("category", "").split(",") if c.strip().isdigit()],
            info_url=item.findtext("comments"),
            attributes={k: v for k, v in attrs.items() if k},
        )

    def test(self) -> TestResult:
        try:
            count = len(self.rss())
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        return TestResult(True, f"{count} releases in the feed")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
