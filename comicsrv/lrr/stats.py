"""Server figures for ``/api/info`` and the tag cloud of ``/api/database/stats``."""
from __future__ import annotations

import time
from typing import Any

from flask import current_app
from sqlalchemy import case, desc, func, literal, select

from ..extensions import db
from ..library.access import visible_books
from ..models import Book, BookTag, Category, ReadingProgress, Tag, User
from .search import archive_scope
from .tags import ARTIST, ARTIST_NAMESPACES, SERIES, epoch

# Namespaces LANraragi leaves out of suggestions when asked to: one value
# per archive, useless in a tag cloud.
EXCLUDED_NAMESPACES = ("date_added", "timestamp", "source")
_CLEARED_KEY = "comicsrv.lrr.cache_cleared"


def tag_stats(user: User | None, minweight: int = 1,
              hide_excluded: bool = False) -> list[dict[str, Any]]:
    """Each tag with the number of archives carrying it (at least
    ``minweight``), art credits counted under ``artist``, series included.
    Tags of one value per archive (``date_added``...) are not listed."""
    namespace = case((Tag.namespace.in_(ARTIST_NAMESPACES), literal(ARTIST)), else_=Tag.namespace)
    weight = func.count(func.distinct(BookTag.book_id))
    query = (select(namespace.label("namespace"), Tag.name, weight.label("weight"))
             .join(BookTag, BookTag.tag_id == Tag.id).join(Book, Book.id == BookTag.book_id)
             .where(archive_scope(user)).group_by(namespace, Tag.name)
             .having(weight >= minweight))
    if hide_excluded:
        query = query.where(Tag.namespace.not_in(EXCLUDED_NAMESPACES))
    series_weight = func.count(Book.id)
    series = (select(literal(SERIES).label("namespace"), Book.series_name, series_weight.label("weight"))
              .where(archive_scope(user), Book.series_name.is_not(None))
              .group_by(Book.series_name).having(series_weight >= minweight))
    rows = db.session.execute(query.union_all(series).order_by(desc("weight"), "namespace", "name"))
    return [{"namespace": ns, "text": name, "weight": count} for ns, name, count in rows]


def total_pages_read() -> int:
    """Pages read on this server: every user's current page in every book."""
    return int(db.session.execute(select(func.coalesce(func.sum(ReadingProgress.page), 0))).scalar_one())


def clear_search_cache() -> int:
    """LANraragi's "clear search cache": searches here are never cached, so
    this only tells clients that keep their own index (LRReader) to reload."""
    stamp = int(time.time())
    current_app.extensions[_CLEARED_KEY] = stamp
    return stamp


def cache_last_cleared(user: User | None) -> int:
    """When the caller's view of the library last changed, in unix seconds:
    LRReader reloads its index whenever this moves. A book added, edited or
    gone, a category changed, or the cache cleared all move it."""
    books = db.session.execute(select(func.max(Book.updated_at)).where(visible_books(user))).scalar()
    categories = db.session.execute(select(func.max(Category.updated_at))).scalar()
    cleared = current_app.extensions.setdefault(_CLEARED_KEY, int(time.time()))
    return max(epoch(books), epoch(categories), cleared)
