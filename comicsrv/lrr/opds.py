"""LANraragi's own OPDS catalog (OPDS 1.2 with Page Streaming 1.1), as
``/api/opds`` serves it: one acquisition feed of every archive the caller
may see (or of one category), one entry per archive, and each page through
PSE. comicsrv's full OPDS catalog lives at ``/opds``; this one is the shape
LANraragi's clients and users point their readers at.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Sequence
from xml.sax.saxutils import escape, quoteattr

from .. import __version__
from ..models import Book, Category

NAMESPACES = ('xmlns="http://www.w3.org/2005/Atom" '
              'xmlns:thr="http://purl.org/syndication/thread/1.0" '
              'xmlns:dcterms="http://purl.org/dc/terms/" '
              'xmlns:opds="http://opds-spec.org/2010/catalog" '
              'xmlns:pse="http://vaemendis.net/opds-pse/ns"')
FEED = "application/atom+xml;profile=opds-catalog;kind=acquisition"
ENTRY = "application/atom+xml;type=entry;profile=opds-catalog"
MIME = {"cbz": "application/x-cbz", "zip": "application/zip", "cbr": "application/x-cbr",
        "rar": "application/x-rar-compressed", "cb7": "application/x-cb7",
        "7z": "application/x-7z-compressed", "cbt": "application/x-cbt",
        "pdf": "application/pdf", "epub": "application/epub+zip"}


def _when(value: datetime | None) -> str:
    return (value or datetime.now(UTC).replace(tzinfo=None)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tag_values(tags: str, namespace: str) -> str:
    return ", ".join(tag.split(":", 1)[1].strip() for tag in tags.split(",")
                     if tag.strip().startswith(namespace + ":"))


def entry_xml(book: Book, item: dict[str, Any], root: str) -> str:
    """One archive as an OPDS entry (``item``: its LANraragi archive object)."""
    arcid = book.arcid
    base = f"{root}/api/archives/{arcid}"
    mime = MIME.get(item["extension"], "application/octet-stream")
    pse = f"{root}/api/opds/{arcid}/pse?page={{pageNumber}}"
    thumbnail = quoteattr(base + "/thumbnail")
    author = _tag_values(item["tags"], "artist") or _tag_values(item["tags"], "writer")
    return "\n".join([
        f"<title>{escape(item['title'])}</title>",
        f"<id>urn:lrr:{arcid}</id>",
        f"<updated>{_when(book.updated_at)}</updated>",
        f"<published>{_when(book.created_at)}</published>",
        f"<author><name>{escape(author)}</name></author>",
        "<rights></rights>",
        f"<dcterms:language>{escape(_tag_values(item['tags'], 'language'))}</dcterms:language>",
        f"<dcterms:publisher>{escape(_tag_values(item['tags'], 'publisher'))}</dcterms:publisher>",
        "<dcterms:issued></dcterms:issued>",
        '<category term="Archive" />',
        f"<summary>{escape(item['tags'])}</summary>",
        f'<link rel="http://opds-spec.org/image" href={thumbnail} type="image/jpeg" />',
        f'<link rel="http://opds-spec.org/image/thumbnail" href={thumbnail} type="image/jpeg" />',
        f'<link rel="http://opds-spec.org/acquisition" href={quoteattr(base + "/download")} '
        f'title="Download/Read" type={quoteattr(mime)} />',
        f'<link rel="http://vaemendis.net/opds-pse/stream" type="image/jpeg" href={quoteattr(pse)} '
        f'pse:count="{item["pagecount"]}" />',
        f'<link rel="alternate" href={quoteattr(f"{root}/api/opds/{arcid}")} type="{ENTRY}" />',
    ])


def catalog_xml(books: Sequence[Book], items: Sequence[dict[str, Any]],
                categories: Sequence[tuple[Category, int]], active: str | None, root: str) -> str:
    """The acquisition feed: every archive given, categories as facets."""
    self_href = f"{root}/api/opds" + (f"?category={active}" if active else "")
    active_mark = ' opds:activeFacet="true"'
    facets = [f'<link rel="http://opds-spec.org/facet" href="{root}/api/opds" title="All Archives" '
              f'opds:facetGroup="Categories"{"" if active else active_mark} />']
    for category, count in categories:
        href = quoteattr(f"{root}/api/opds?category={category.id}")
        facets.append(
            f'<link rel="http://opds-spec.org/facet" href={href} '
            f'title={quoteattr(category.name)} opds:facetGroup="Categories" thr:count="{count}"'
            f'{active_mark if category.id == active else ""} />')
    entries = [f"<entry>\n{entry_xml(book, item, root)}\n</entry>" for book, item in zip(books, items)]
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<feed {NAMESPACES}>",
        f"<id>urn:lrr:{escape(active or '0')}</id>",
        f'<link rel="self" href={quoteattr(self_href)} type="{FEED}" />',
        f'<link rel="start" href="{root}/api/opds" type="{FEED}" />',
        "<title>comicsrv</title>",
        f"<updated>{_when(None)}</updated>",
        "<subtitle>comicsrv speaking LANraragi's OPDS</subtitle>",
        f"<author><name>{escape(__version__)}</name></author>",
        *facets, *entries,
        "</feed>", ""])


def item_xml(book: Book, item: dict[str, Any], root: str) -> str:
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<entry {NAMESPACES}>",
        f'<link rel="start" href="{root}/api/opds" type="{FEED}" />',
        f'<link rel="self" href="{root}/api/opds/{book.arcid}" type="{ENTRY}" />',
        entry_xml(book, item, root),
        "</entry>", ""])
