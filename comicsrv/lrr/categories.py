"""LANraragi categories: static lists of archives and saved searches.

A category is the server's (``owner_id`` None), which every user sees and
only a curator (MetadataWrite) changes, or one user's own, which only that
user sees and changes. A curator's new categories are the server's; anyone
else's are their own. A category a user cannot see does not exist for them.

Errors carry LANraragi's own messages (clients show them as they are).
"""
from __future__ import annotations

import re
import time
from collections import defaultdict
from typing import Any, Sequence

from sqlalchemy import ColumnElement, delete, func, or_, select, update

from ..errors import BadRequest, Forbidden, NotFound
from ..extensions import db
from ..models import Book, Category, CategoryBook, User, utcnow
from .search import archive_scope
from .tags import epoch

CATEGORY_ID = re.compile(r"^SET_\d{10}$")
MAX_NAME = 500
MAX_SEARCH = 2000


def new_category_id() -> str:
    """``SET_`` + the current unix time, as LANraragi makes them; the next
    free second when two are created within one."""
    stamp = int(time.time())
    taken = set(db.session.execute(select(Category.id).where(
        Category.id >= f"SET_{stamp}")).scalars())
    while f"SET_{stamp}" in taken:
        stamp += 1
    return f"SET_{stamp}"


def archives_of(categories: Sequence[Category], user: User | None) -> dict[str, list[str]]:
    """Archive ids of static categories, in the order they were added, only
    the books the caller may see; one query."""
    ids = [category.id for category in categories if not category.search]
    found: dict[str, list[str]] = defaultdict(list)
    if not ids:
        return found
    rows = db.session.execute(
        select(CategoryBook.category_id, Book.arcid).join(Book, Book.id == CategoryBook.book_id)
        .where(CategoryBook.category_id.in_(ids), archive_scope(user))
        .order_by(CategoryBook.category_id, CategoryBook.position, Book.id))
    for category_id, arcid in rows:
        if arcid not in found[category_id]:
            found[category_id].append(arcid)
    return found


def category_objects(categories: Sequence[Category], user: User | None) -> list[dict[str, Any]]:
    """LANraragi's category objects: ``pinned`` the integer 0/1 its OpenAPI
    description documents, ``last_used`` a unix-time string as LANraragi
    stores it."""
    archives = archives_of(categories, user)
    return [{"id": category.id, "name": category.name, "search": category.search or "",
             "pinned": 1 if category.pinned else 0,
             "last_used": str(epoch(category.last_used_at)),
             "archives": archives.get(category.id, [])} for category in categories]


def visible_to(user: User | None) -> ColumnElement[bool]:
    """The categories ``user`` sees: the server's and their own."""
    if user is None:
        return Category.owner_id.is_(None)
    return or_(Category.owner_id.is_(None), Category.owner_id == user.id)


def list_categories(user: User | None) -> list[Category]:
    return list(db.session.execute(
        select(Category).where(visible_to(user)).order_by(Category.id)).scalars())


def find_category(category_id: str, user: User | None) -> Category | None:
    return db.session.execute(
        select(Category).where(Category.id == category_id, visible_to(user))).scalar()


def get_category(category_id: str, user: User | None) -> Category:
    category = find_category(category_id, user)
    if category is None:
        raise BadRequest("The given category does not exist.")
    return category


def check_may_change(category: Category, user: User | None, curator: bool) -> Category:
    """A user changes their own categories; the server's need a curator."""
    if category.owner_id is not None and user is not None and category.owner_id == user.id:
        return category
    if category.owner_id is None and curator:
        return category
    raise Forbidden(f"{category.id} is one of the server's categories: changing it needs the "
                    "MetadataWrite permission.")


def changeable_category(category_id: str, user: User | None, curator: bool) -> Category:
    """The category, if ``user`` may change it: ``BadRequest`` when they
    cannot see it, ``Forbidden`` when it is the server's and they are no
    curator."""
    return check_may_change(get_category(category_id, user), user, curator)


def _clean_name(name: str | None) -> str:
    return (name or "").strip()[:MAX_NAME]


def _clean_search(search: str | None) -> str:
    return (search or "").strip()[:MAX_SEARCH]


def create_category(name: str | None, search: str | None, pinned: bool,
                    owner: User | None = None) -> Category:
    """A server category, or with ``owner`` that user's own."""
    name = _clean_name(name)
    if not name:
        raise BadRequest("Category name not specified.")
    category = Category(id=new_category_id(), name=name, search=_clean_search(search),
                        pinned=pinned, bookmark=False, last_used_at=utcnow(),
                        owner_id=owner.id if owner is not None else None)
    db.session.add(category)
    db.session.commit()
    return category


def update_category(category: Category, name: str | None, search: str | None,
                    pinned: bool) -> Category:
    """An empty or missing name or search keeps the old one (LRReader sends
    both, empty when unchanged); ``pinned`` is always set (LANraragi unpins a
    category updated without it)."""
    if _clean_name(name):
        category.name = _clean_name(name)
    new_search = _clean_search(search)
    if new_search and new_search != category.search:
        if not category.search and db.session.execute(
                select(CategoryBook.book_id).where(CategoryBook.category_id == category.id)).first():
            raise BadRequest("This category already contains archives: a search predicate "
                             "cannot be added to it.")
        if category.bookmark:
            raise BadRequest("This category is linked to bookmarks and must stay static.")
        category.search = new_search
    category.pinned = pinned
    db.session.commit()
    return category


def delete_category(category: Category) -> None:
    db.session.delete(category)
    db.session.commit()


def _static(category: Category) -> Category:
    if category.search:
        raise BadRequest(f"{category.id} is a dynamic category: it holds no archives.")
    return category


def add_book(category: Category, book: Book) -> None:
    _static(category)
    exists = db.session.execute(select(CategoryBook.book_id).where(
        CategoryBook.category_id == category.id, CategoryBook.book_id == book.id)).first()
    if exists:
        return
    last = db.session.execute(select(func.max(CategoryBook.position)).where(
        CategoryBook.category_id == category.id)).scalar()
    db.session.add(CategoryBook(category_id=category.id, book_id=book.id,
                                position=(last or 0) + 1))
    category.updated_at = utcnow()
    db.session.commit()


def remove_book(category: Category, book: Book) -> None:
    _static(category)
    db.session.execute(delete(CategoryBook).where(CategoryBook.category_id == category.id,
                                                  CategoryBook.book_id == book.id))
    category.updated_at = utcnow()
    db.session.commit()


def categories_with_book(book: Book, user: User | None) -> list[Category]:
    return list(db.session.execute(
        select(Category).join(CategoryBook, CategoryBook.category_id == Category.id)
        .where(CategoryBook.book_id == book.id, visible_to(user)).order_by(Category.id)).scalars())


def bookmark_category() -> Category | None:
    """The server's bookmark category: LANraragi has one bookmark button, so
    only a server category can be linked to it."""
    return db.session.execute(select(Category).where(Category.bookmark.is_(True),
                                                     Category.owner_id.is_(None))
                              .order_by(Category.id).limit(1)).scalar()


def link_bookmark(category_id: str) -> Category:
    category = db.session.get(Category, category_id)
    if category is None or category.owner_id is not None:
        raise NotFound("The given category does not exist.")
    if category.search:
        raise BadRequest("Only a static category can be linked to bookmarks.")
    db.session.execute(update(Category).where(Category.id != category.id,
                                              Category.bookmark.is_(True)).values(bookmark=False))
    category.bookmark = True
    db.session.commit()
    return category


def unlink_bookmark() -> str:
    """Turn the bookmark link off; return the id it pointed to ("" if none)."""
    linked = bookmark_category()
    if linked is None:
        return ""
    db.session.execute(update(Category).where(Category.bookmark.is_(True)).values(bookmark=False))
    db.session.commit()
    return linked.id
