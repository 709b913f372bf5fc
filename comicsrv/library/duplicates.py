"""Finding duplicate books.

Two kinds, as Codex's duplicates resource shows them:
- content: the same file twice (same archive id and size);
- metadata: the same issue twice (same series, issue number and year after
  normalisation: "Batman 001" and "batman #1" are one issue).

Groups are keyed by what makes them duplicates, so a rerun updates them in
place and a group the user dismissed stays dismissed while its key holds.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, select

from ..extensions import db
from ..filenames import normalize_number, normalize_series
from ..jobs.runner import JobContext
from ..models import Book, DuplicateGroup, DuplicateMember, utcnow
from ..models.library import BOOK_OK

DUPLICATES_JOB = "library.duplicates"


def duplicate_keys() -> dict[tuple[str, str], list[int]]:
    """``{(kind, key): [book ids]}`` for every group of two or more books."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    rows = db.session.execute(select(Book.id, Book.arcid, Book.size, Book.series_name,
                                     Book.number, Book.year).where(Book.state == BOOK_OK))
    for book_id, arcid, size, series, number, year in rows:
        if arcid:
            groups[("content", f"{arcid}:{size}")].append(book_id)
        if series and number:
            key = f"{normalize_series(series)}|{normalize_number(number)}|{year or ''}"
            groups[("metadata", key)].append(book_id)
    return {k: sorted(ids) for k, ids in groups.items() if len(ids) > 1}


def find_duplicates(ctx: JobContext | None = None) -> dict:
    found = duplicate_keys()
    existing = {(g.kind, g.key): g for g in db.session.execute(select(DuplicateGroup)).scalars()}
    created = updated = 0
    for (kind, key), book_ids in found.items():
        group = existing.pop((kind, key), None)
        if group is None:
            group = DuplicateGroup(kind=kind, key=key)
            db.session.add(group)
            db.session.flush()
            created += 1
        else:
            current = sorted(m.book_id for m in group.members)
            if current == book_ids:
                continue
            db.session.execute(delete(DuplicateMember).where(DuplicateMember.group_id == group.id))
            group.updated_at = utcnow()
            updated += 1
        db.session.add_all(DuplicateMember(group_id=group.id, book_id=b) for b in book_ids)
    # Groups whose books are no longer duplicates (one was deleted or fixed).
    if existing:
        db.session.execute(delete(DuplicateGroup).where(
            DuplicateGroup.id.in_([g.id for g in existing.values()])))
    db.session.commit()
    return {"groups": len(found), "created": created, "updated": updated,
            "removed": len(existing)}


def run_duplicates_job(ctx: JobContext) -> dict:
    ctx.progress(0, 1, "looking for duplicates", force=True)
    result = find_duplicates(ctx)
    ctx.progress(1, 1, f"{result['groups']} duplicate groups", force=True)
    return result
