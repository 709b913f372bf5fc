"""Tagging a watched issue's library book with ComicInfo.xml (Comicarr's
``/api/metadata/metatag``).

The XML is the one post-processing writes (the post-processing host builds
it from the watched issue); the rewrite of the book is ``tagging.tag_book``.
Kept apart from ``tagging``, which the post-processing host imports: this
module builds on the host.
"""
from __future__ import annotations

from ..errors import Conflict
from ..extensions import db
from ..models import Book
from ..models.automation import WatchedIssue
from . import tagging
from .postprocess_host import Host


class _IssueHost(Host):
    """The post-processing host's metadata for a watched issue, without a download."""

    def __init__(self, issue: WatchedIssue) -> None:
        self._watched_issue = issue

    def _issue(self) -> WatchedIssue | None:
        return self._watched_issue


def comicinfo_for(issue: WatchedIssue) -> bytes:
    """The ComicInfo.xml post-processing would write for ``issue``."""
    return _IssueHost(issue).comicinfo()


def metatag(issue: WatchedIssue) -> dict:
    """Write ``issue``'s ComicInfo.xml into its library book (409 when it has
    none); what was written, with the book's new and previous archive ids."""
    book = db.session.get(Book, issue.book_id) if issue.book_id else None
    if book is None:
        raise Conflict(f"issue {issue.number} of {issue.series.name} has no book in the library")
    xml = comicinfo_for(issue)
    provider_id = issue.provider_id
    previous = tagging.tag_book(book, xml)
    book = db.session.get(Book, book.id)
    return {"message": "ComicInfo.xml written", "issue_id": provider_id,
            "book_id": book.id, "path": book.path, "bytes": len(xml),
            "arcid": book.arcid, "previous_arcid": previous}
