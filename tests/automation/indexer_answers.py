"""Newznab/Torznab search answers with comic releases, for tests.

No comic search answer was recorded (the recorded indexer bodies hold TV and
anime). These answers keep the recorded nzb.su body byte for byte around the
items (channel, namespaces, ``newznab:response``) and build each item from its
first recorded item, changing only title, guid, URLs, size and the
attributes a test names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

FIXTURES = Path(__file__).parent.parent / "fixtures" / "indexers"
NZB_SU = (FIXTURES / "sonarr" / "Newznab_newznab_nzb_su.xml").read_text()
_HEAD, _ITEMS = NZB_SU.split("<item>", 1)
_TAIL = NZB_SU[NZB_SU.rindex("</item>") + len("</item>"):]
_TEMPLATE = "<item>" + _ITEMS.split("</item>", 1)[0] + "</item>"
TORZNAB_NS = 'xmlns:torznab="http://torznab.com/schemas/2015/feed"'


@dataclass
class Item:
    title: str
    size: int = 40_000_000
    category: int = 7030
    seeders: int | None = None
    guid: str | None = None
    url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _item(item: Item, index: int, base: str) -> str:
    guid = item.guid or f"{index:032x}"
    url = item.url or f"{base}/getnzb/{guid}.nzb"
    text = _TEMPLATE
    text = re.sub(r"<title>.*?</title>", f"<title>{escape(item.title)}</title>", text)
    text = re.sub(r"<description>.*?</description>",
                  f"<description>{escape(item.title)}</description>", text)
    text = re.sub(r"<guid([^>]*)>.*?</guid>", rf"<guid\1>{base}/details/{guid}</guid>", text)
    text = re.sub(r"<link>.*?</link>", f"<link>{escape(url)}</link>", text)
    text = re.sub(r"<comments>.*?</comments>", f"<comments>{base}/details/{guid}#comments</comments>", text)
    text = re.sub(r'<enclosure url="[^"]*" length="\d+"',
                  f'<enclosure url={quoteattr(url)} length="{item.size}"', text)
    attrs = [f'<newznab:attr name="category" value="{item.category // 1000 * 1000}" />',
             f'<newznab:attr name="category" value="{item.category}" />',
             f'<newznab:attr name="size" value="{item.size}" />',
             f'<newznab:attr name="guid" value="{guid}" />']
    if item.seeders is not None:
        attrs += [f'<torznab:attr name="seeders" value="{item.seeders}" />',
                  f'<torznab:attr name="peers" value="{item.seeders + 1}" />']
    attrs += [f'<newznab:attr name="{k}" value="{escape(v)}" />' for k, v in item.extra.items()]
    text = re.sub(r'(\s*<newznab:attr name="category".*<newznab:attr name="guid" value="[^"]*" />)',
                  "\n      " + "\n      ".join(attrs), text, flags=re.S)
    return text


def answer(items: list[Item], *, base: str = "http://127.0.0.1:9", total: int | None = None,
           offset: int = 0) -> str:
    """An RSS answer with ``items`` in the recorded nzb.su body."""
    head = _HEAD.replace('offset="0" total="10000"',
                         f'offset="{offset}" total="{len(items) if total is None else total}"')
    head = head.replace("<rss ", f"<rss {TORZNAB_NS} ", 1)
    body = "\n    ".join(_item(item, offset + i + 1, base) for i, item in enumerate(items))
    return head + body + _TAIL
