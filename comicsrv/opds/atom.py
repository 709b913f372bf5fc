"""OPDS 1.2 documents (Atom feeds with the OPDS, PSE and Dublin Core
namespaces) built with the standard library's ElementTree.

A ``Feed`` is filled with entries and links, then serialised once; nothing
here touches the database or Flask's request, so the views decide what goes
in and this module only decides how it is written. Element order follows the
examples of OPDS 1.2 (the schema itself leaves the order free).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

ATOM = "http://www.w3.org/2005/Atom"
OPDS = "http://opds-spec.org/2010/catalog"
PSE = "http://vaemendis.net/opds-pse/ns"
DCTERMS = "http://purl.org/dc/terms/"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
THR = "http://purl.org/syndication/thread/1.0"

for _prefix, _uri in (("", ATOM), ("opds", OPDS), ("pse", PSE), ("dcterms", DCTERMS),
                      ("opensearch", OPENSEARCH), ("thr", THR)):
    ET.register_namespace(_prefix, _uri)

REL_ACQUISITION = "http://opds-spec.org/acquisition"
REL_IMAGE = "http://opds-spec.org/image"
REL_THUMBNAIL = "http://opds-spec.org/image/thumbnail"
REL_FACET = "http://opds-spec.org/facet"
REL_PSE_STREAM = "http://vaemendis.net/opds-pse/stream"

# Characters XML 1.0 cannot carry at all: ComicInfo summaries sometimes hold them.
_NOT_XML = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def clean(text: object) -> str:
    return str(text).translate(_NOT_XML)


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


@dataclass
class Link:
    rel: str | None
    href: str
    type: str | None = None
    title: str | None = None
    # Attributes in other namespaces, e.g. {PSE count: "22"} or opds:facetGroup.
    extra: dict[str, str] = field(default_factory=dict)

    def element(self, parent: ET.Element) -> ET.Element:
        attrs = {"href": self.href}
        if self.rel:
            attrs["rel"] = self.rel
        if self.type:
            attrs["type"] = self.type
        if self.title:
            attrs["title"] = clean(self.title)
        attrs.update(self.extra)
        return ET.SubElement(parent, _q(ATOM, "link"), attrs)


@dataclass
class Entry:
    id: str
    title: str
    updated: str
    links: list[Link] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    summary: str | None = None
    content: str | None = None
    # Dublin Core terms: issued, language, publisher, extent...
    dcterms: list[tuple[str, str]] = field(default_factory=list)
    categories: list[tuple[str, str]] = field(default_factory=list)

    def element(self, parent: ET.Element) -> None:
        entry = ET.SubElement(parent, _q(ATOM, "entry"))
        ET.SubElement(entry, _q(ATOM, "title")).text = clean(self.title)
        ET.SubElement(entry, _q(ATOM, "id")).text = self.id
        ET.SubElement(entry, _q(ATOM, "updated")).text = self.updated
        for name in self.authors:
            author = ET.SubElement(entry, _q(ATOM, "author"))
            ET.SubElement(author, _q(ATOM, "name")).text = clean(name)
        for term, value in self.dcterms:
            ET.SubElement(entry, _q(DCTERMS, term)).text = clean(value)
        for scheme, term in self.categories:
            ET.SubElement(entry, _q(ATOM, "category"),
                          {"scheme": scheme, "term": clean(term), "label": clean(term)})
        if self.summary:
            ET.SubElement(entry, _q(ATOM, "summary"), {"type": "text"}).text = clean(self.summary)
        if self.content:
            ET.SubElement(entry, _q(ATOM, "content"), {"type": "text"}).text = clean(self.content)
        for item in self.links:
            item.element(entry)


@dataclass
class Feed:
    id: str
    title: str
    updated: str
    links: list[Link] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    subtitle: str | None = None
    # OpenSearch paging figures of an acquisition feed.
    total: int | None = None
    items_per_page: int | None = None
    start_index: int | None = None
    icon: str | None = None

    def to_xml(self) -> bytes:
        feed = ET.Element(_q(ATOM, "feed"))
        ET.SubElement(feed, _q(ATOM, "id")).text = self.id
        ET.SubElement(feed, _q(ATOM, "title")).text = clean(self.title)
        if self.subtitle:
            ET.SubElement(feed, _q(ATOM, "subtitle")).text = clean(self.subtitle)
        ET.SubElement(feed, _q(ATOM, "updated")).text = self.updated
        if self.icon:
            ET.SubElement(feed, _q(ATOM, "icon")).text = self.icon
        author = ET.SubElement(feed, _q(ATOM, "author"))
        ET.SubElement(author, _q(ATOM, "name")).text = "comicsrv"
        if self.total is not None:
            ET.SubElement(feed, _q(OPENSEARCH, "totalResults")).text = str(self.total)
            ET.SubElement(feed, _q(OPENSEARCH, "itemsPerPage")).text = str(self.items_per_page)
            ET.SubElement(feed, _q(OPENSEARCH, "startIndex")).text = str(self.start_index)
        for item in self.links:
            item.element(feed)
        for entry in self.entries:
            entry.element(feed)
        return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def opensearch_description(template: str, short_name: str, description: str) -> bytes:
    """An OpenSearch 1.1 description whose one Url answers an acquisition feed."""
    root = ET.Element(_q(OPENSEARCH, "OpenSearchDescription"))
    ET.SubElement(root, _q(OPENSEARCH, "ShortName")).text = short_name
    ET.SubElement(root, _q(OPENSEARCH, "Description")).text = description
    ET.SubElement(root, _q(OPENSEARCH, "InputEncoding")).text = "UTF-8"
    ET.SubElement(root, _q(OPENSEARCH, "OutputEncoding")).text = "UTF-8"
    ET.SubElement(root, _q(OPENSEARCH, "Url"), {
        "type": "application/atom+xml;profile=opds-catalog;kind=acquisition",
        "template": template})
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
