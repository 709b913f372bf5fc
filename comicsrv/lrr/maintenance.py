"""LANraragi's maintenance operations over comicsrv's own machinery.

- the JSON backup (archives' titles, tags and summaries; categories;
  tankoubons), made at once or by a job, and its restore by a job: it
  writes what the backup says onto the archives found by id;
- "clean database": books whose file is gone are first unlinked (marked
  missing, as a scan does), then deleted on the next clean;
- "drop database": LANraragi's own data (categories, tankoubons, tables of
  contents, stamps, titles set by clients) is removed; libraries, books, users and
  reading progress stay, since comicsrv is more than a LANraragi server;
- the temporary folder: the page-thumbnail cache, made again on demand;
- regenerating thumbnails and building the tag statistics as jobs.

Every job function here is registered by ``comicsrv.api.lanraragi``.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update

from .. import services
from ..errors import BadRequest
from ..events import LibraryUpdated
from ..extensions import db
from ..jobs.runner import JobContext
from ..models import (
    Book,
    Category,
    CategoryBook,
    Job,
    Stamp,
    Tankoubon,
    TankoubonBook,
    TocEntry,
    utcnow,
)
from . import categories as category_service
from . import stats, thumbnails
from .archives import ARCID, archive_objects, split_filename
from .search import archive_scope
from .tags import set_book_tags

BACKUP_JOB = "lrr.backup"
RESTORE_JOB = "lrr.restore"
REGEN_THUMBNAILS_JOB = "lrr.regen_thumbnails"
STAT_HASHES_JOB = "lrr.build_stat_hashes"
MISSING = "missing"
MAX_BACKUP_BYTES = 64 * 1024 * 1024


# -- backup and restore ------------------------------------------------------


def backup(user=None) -> dict[str, list[dict[str, Any]]]:
    """LANraragi's backup JSON of everything the caller may see."""
    archives = []
    ids = list(db.session.execute(select(Book.id).where(archive_scope(user))
                                  .order_by(Book.id)).scalars())
    for start in range(0, len(ids), 500):
        books = list(db.session.execute(select(Book).where(
            Book.id.in_(ids[start:start + 500])).order_by(Book.id)).scalars())
        for book, item in zip(books, archive_objects(books, user)):
            archives.append({"arcid": book.arcid, "title": item["title"], "tags": item["tags"],
                             "summary": item["summary"], "thumbhash": None,
                             "filename": split_filename(book.filename)[0]})
    found_categories = category_service.list_categories(user)
    members = category_service.archives_of(found_categories, user)
    categories = [{"catid": category.id, "name": category.name, "search": category.search or "",
                   "archives": members.get(category.id, [])} for category in found_categories]
    tanks = []
    for tank in db.session.execute(select(Tankoubon).order_by(Tankoubon.id)).scalars():
        arcids = list(db.session.execute(
            select(Book.arcid).join(TankoubonBook, TankoubonBook.book_id == Book.id)
            .where(TankoubonBook.tankoubon_id == tank.id, archive_scope(user))
            .order_by(TankoubonBook.position)).scalars())
        tanks.append({"tankid": tank.id, "name": tank.name, "summary": tank.summary or "",
                      "tags": tank.tags or "", "archives": arcids})
    return {"archives": archives, "categories": categories, "tankoubons": tanks}


def backup_path(job_id: int) -> Path:
    return Path(current_app.config["DATA_DIR"]) / "lrr-backups" / f"backup-{job_id}.json"


def run_backup_job(ctx: JobContext) -> dict:
    from ..models import User

    user_id = db.session.get(Job, ctx.job_id).user_id
    user = db.session.get(User, user_id) if user_id else None
    body = backup(user)
    path = backup_path(ctx.job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".part")
    temp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    os.replace(temp, path)
    return {"archives": len(body["archives"]), "categories": len(body["categories"]),
            "tankoubons": len(body["tankoubons"])}


def finished_backup(job_id: int) -> dict[str, Any]:
    job = db.session.get(Job, job_id)
    if job is None or job.type != BACKUP_JOB:
        raise BadRequest("No backup job with this ID.")
    if job.state != "finished" or not backup_path(job.id).exists():
        raise BadRequest("The backup job has not completed.")
    return json.loads(backup_path(job.id).read_text(encoding="utf-8"))


def parse_backup(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_BACKUP_BYTES:
        raise BadRequest("This backup is too large.")
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("This file is not a LANraragi backup (JSON).") from None
    if not isinstance(body, dict) or not any(
            isinstance(body.get(key), list) for key in ("archives", "categories", "tankoubons")):
        raise BadRequest("This file is not a LANraragi backup: no archives, categories or "
                         "tankoubons.")
    return body


def restore(body: dict[str, Any]) -> dict[str, int]:
    """Write a backup's metadata onto the archives it names (those not here
    are skipped), and bring back its categories and tankoubons."""
    counts = {"archives": 0, "categories": 0, "tankoubons": 0, "skipped": 0}
    from .archives import update_metadata

    def books_for(arcids: Any) -> list[Book]:
        wanted = [str(a).lower() for a in arcids or [] if ARCID.match(str(a).lower())]
        found = {book.arcid: book for book in db.session.execute(
            select(Book).where(Book.arcid.in_(wanted))).scalars()} if wanted else {}
        return [found[a] for a in wanted if a in found]

    for item in body.get("archives") or []:
        if not isinstance(item, dict):
            continue
        found = books_for([item.get("arcid")])
        if not found:
            counts["skipped"] += 1
            continue
        for book in found:
            title = item.get("title")
            update_metadata(book, title=str(title) if title else None, tags=None,
                            summary=str(item["summary"]) if item.get("summary") is not None
                            else None)
            if isinstance(item.get("tags"), str):
                set_book_tags(book, item["tags"])
        counts["archives"] += 1
    for item in body.get("categories") or []:
        if not isinstance(item, dict) or not category_service.CATEGORY_ID.match(
                str(item.get("catid", ""))):
            continue
        category = db.session.get(Category, item["catid"])
        if category is None:
            category = Category(id=item["catid"], name=str(item.get("name") or item["catid"]),
                                search=str(item.get("search") or ""), pinned=False,
                                bookmark=False)
            db.session.add(category)
            db.session.flush()
        if not category.search:
            for book in books_for(item.get("archives")):
                if db.session.get(CategoryBook, (category.id, book.id)) is None:
                    db.session.add(CategoryBook(category_id=category.id, book_id=book.id))
        counts["categories"] += 1
    from .tankoubons import TANK_ID

    for item in body.get("tankoubons") or []:
        if not isinstance(item, dict) or not TANK_ID.match(str(item.get("tankid", ""))):
            continue
        tank = db.session.get(Tankoubon, item["tankid"]) or Tankoubon(
            id=item["tankid"], name=str(item.get("name") or item["tankid"]))
        tank.summary, tank.tags = str(item.get("summary") or ""), str(item.get("tags") or "")
        db.session.add(tank)
        db.session.flush()
        db.session.execute(delete(TankoubonBook).where(TankoubonBook.tankoubon_id == tank.id))
        for position, book in enumerate(books_for(item.get("archives")), 1):
            db.session.add(TankoubonBook(tankoubon_id=tank.id, book_id=book.id, position=position))
        counts["tankoubons"] += 1
    db.session.commit()
    stats.clear_search_cache()
    return counts


def run_restore_job(ctx: JobContext, backup: dict) -> dict:
    return restore(backup)


# -- clean, drop, temporary folder ---------------------------------------------


def clean_database() -> dict[str, int]:
    """Delete the books a previous clean (or scan) unlinked; unlink those
    whose file is gone now."""
    gone = list(db.session.execute(select(Book).where(Book.state == MISSING)).scalars())
    deleted = len(gone)
    libraries = {book.library_id for book in gone}
    for book in gone:
        db.session.delete(book)
    unlinked = 0
    rows = db.session.execute(select(Book.id, Book.path, Book.library_id)
                              .where(Book.state != MISSING)).all()
    for book_id, path, library_id in rows:
        if not os.path.exists(path):
            db.session.execute(update(Book).where(Book.id == book_id).values(
                state=MISSING, missing_since=utcnow()))
            libraries.add(library_id)
            unlinked += 1
    db.session.commit()
    for library_id in libraries:
        services.events().publish(LibraryUpdated(library_id=library_id))
    return {"deleted": deleted, "unlinked": unlinked}


def drop_lanraragi_data() -> None:
    """Remove what only the LANraragi API made: categories, tankoubons,
    tables of contents and client-set titles."""
    db.session.execute(delete(CategoryBook))
    db.session.execute(delete(Category))
    db.session.execute(delete(TankoubonBook))
    db.session.execute(delete(Tankoubon))
    db.session.execute(delete(TocEntry))
    db.session.execute(delete(Stamp))
    db.session.execute(update(Book).where(Book.lrr_title.is_not(None)).values(lrr_title=None))
    db.session.commit()
    stats.clear_search_cache()


def temp_folder() -> Path:
    return Path(current_app.config["CACHE_DIR"]) / "lrr-thumbnails"


def folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def clean_temp_folder() -> tuple[int, str | None]:
    """Empty the page-thumbnail cache; its size after, and an error if any."""
    folder = temp_folder()
    error = None
    if folder.exists():
        def failed(_function, path, exc_info):
            nonlocal error
            error = f"{path}: {exc_info[1]}"
        shutil.rmtree(folder, onerror=failed)
    return (folder_size(folder) if folder.exists() else 0), error


# -- jobs ------------------------------------------------------------------------


def run_regen_thumbnails_job(ctx: JobContext, force: bool = False) -> dict:
    """Make every archive's cover thumbnail (again, with ``force``)."""
    ids = list(db.session.execute(select(Book.id).where(Book.state != MISSING)
                                  .order_by(Book.id)).scalars())
    made = failed = 0
    for index, book_id in enumerate(ids):
        ctx.check_cancelled()
        book = db.session.get(Book, book_id)
        if book is None or not book.page_count:
            continue
        try:
            if force or not thumbnails.has_thumbnail(book, 0):
                thumbnails.thumbnail(book, 0)
                made += 1
        except Exception:  # noqa: BLE001  an unreadable archive: count it, go on
            failed += 1
        ctx.progress(index + 1, len(ids))
    return {"made": made, "failed": failed}


def run_stat_hashes_job(ctx: JobContext) -> dict:
    """LANraragi's ``build_stat_hashes``: the tag statistics, computed and
    the clients' caches told to reload."""
    found = stats.tag_stats(None, 1)
    stats.clear_search_cache()
    return {"tags": len(found)}
