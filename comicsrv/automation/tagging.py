"""Writing ComicInfo.xml into comics: metatag and post-processing.

A library book is rewritten beside itself, in a hidden folder next to it (a
scan never sees the half-written copy, and the swap is a rename on one file
system), and the copy is swapped in inside the transaction that re-indexes
it. So the book answers at once, with the new file's page offsets, size and
mtime; it keeps its id, reading progress, user tags and categories; and its
old archive id stays an alias (``models.ArcidAlias``) for the LANraragi
clients that cached it.

Post-processing writes converted and tagged copies into its work folder.
When the file it started from is a library book, the copy's archive id is
noted as an alias of that book, and the import (``scanner.index_file``) makes
the copy that very book once the original is gone.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from .. import services
from ..errors import BadRequest, Conflict
from ..extensions import db
from ..fspaths import display
from ..jobs.pool import run_cpu
from ..library.catalog import Catalog, remember_arcids
from ..library.reader import compute_arcid, read_comic
from ..library.scanner import drop_empty_series
from ..models import ArcidAlias, Book
from . import comicfiles
from ..models.library import BOOK_MISSING

STAGING_PREFIX = ".comicsrv-tagging-"


def tag_book(book: Book, comicinfo: bytes) -> str | None:
    """Write ``comicinfo`` into the library CBZ of ``book`` and re-index it;
    return the archive id the book had before (an alias now).

    Should the commit fail after the swap, the file is the tagged one and the
    rows still the old ones: the next scan sees a file changed in place and
    re-indexes it, keeping the old id as an alias all the same.
    """
    name = display(os.path.basename(book.path))
    if not book.path.lower().endswith(".cbz"):
        raise BadRequest(f"{name} is not a CBZ: it cannot hold ComicInfo.xml")
    if not os.path.isfile(book.path):
        raise Conflict(f"{name} is missing on disk")
    folder = os.path.dirname(book.path)
    try:
        staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder)
    except OSError as exc:
        raise Conflict(f"ComicInfo.xml not written: the folder of {name} is not writable "
                       f"({exc.strerror or exc})") from None
    previous = book.arcid
    book_id, library_id, path = book.id, book.library_id, book.path
    staged = os.path.join(staging, name)
    bus = services.events()
    try:
        run_cpu(comicfiles.embed_comicinfo, path, staged, comicinfo)
        stat = os.stat(staged)
        item = run_cpu(read_comic, staged, stat.st_size, stat.st_mtime, _archive_cache(), True)
        if item.error:  # the writer checked its output: this would be a bug
            raise comicfiles.ComicFileError(f"{name}: the tagged copy does not read back "
                                            f"({item.error}); the book is unchanged")
        item.path = path
        catalog = Catalog(library_id, book.library.path, bus)
        catalog.write_batch([], [(book_id, item)],
                            before_commit=lambda: os.replace(staged, path))
    except comicfiles.ComicFileError as exc:
        db.session.rollback()
        raise BadRequest(exc.reason) from None
    except OSError as exc:
        db.session.rollback()
        raise Conflict(f"ComicInfo.xml not written into {name}: {exc.strerror or exc}") from None
    except BaseException:
        db.session.rollback()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    drop_empty_series(library_id, bus)
    return previous


def tag_copy(source: str, target: str, comicinfo: bytes) -> None:
    """Post-processing: a copy of the CBZ ``source`` with ``comicinfo`` at ``target``."""
    run_cpu(comicfiles.embed_comicinfo, source, target, comicinfo)
    _note_copy(source, target)


def convert_copy(source: str, target: str, cache_dir: str | None) -> dict:
    """Post-processing: ``source`` converted to a CBZ at ``target``."""
    result = run_cpu(comicfiles.convert_to_cbz, source, target, cache_dir)
    _note_copy(source, target)
    return result


def _note_copy(source: str, target: str) -> None:
    """When ``source`` is a library book, or a copy made of one, the copy's
    archive id names that book too (see ``scanner.index_file``)."""
    book_id = db.session.execute(select(Book.id).where(
        Book.path.in_({source, os.path.realpath(source)}), Book.state != BOOK_MISSING)
        .order_by(Book.id).limit(1)).scalar()
    if book_id is None:
        source_arcid = run_cpu(compute_arcid, source)
        book_id = db.session.execute(select(ArcidAlias.book_id).where(
            ArcidAlias.arcid == source_arcid).order_by(ArcidAlias.book_id).limit(1)).scalar()
    if book_id is None:
        return
    remember_arcids([(run_cpu(compute_arcid, target), book_id)])
    db.session.commit()


def _archive_cache() -> str:
    return str(Path(current_app.config["CACHE_DIR"]) / "archives")
