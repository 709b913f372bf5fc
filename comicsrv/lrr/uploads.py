"""Uploading an archive into a library (LANraragi's ``PUT /api/archives/upload``).

The file is streamed to a hidden temporary file in the library's
``Uploads/`` folder (the scanner skips dot files) while its SHA-1 and its
archive id are computed, then checked: the checksum the client sent, the
content (opened as a comic archive, whatever its name says), and whether
the library already holds it. A file that passes takes its final name —
never over an existing file — and is indexed at once, so its archive id
answers in the same response.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import services
from ..archives import ArchiveError, open_archive
from ..errors import BadRequest
from ..extensions import db
from ..jobs.pool import run_cpu
from ..library.catalog import Catalog
from ..library.reader import ARCID_BYTES, read_comic
from ..library.walker import COMIC_EXTENSIONS
from ..models import Book, Library, User
from . import settings
from ..redact import mask_text
from .archives import split_filename, update_metadata
from .categories import add_book, changeable_category
from .search import archive_scope
from .tags import add_book_tags

UPLOAD_FOLDER = "Uploads"
CHUNK = 1 << 20
MAX_NAME_BYTES = 240  # room for " (12)" and the file system's 255-byte limit
# The extension a file gets when its own does not say what it is.
EXTENSIONS = {"cbz": ".cbz", "cbr": ".cbr", "cb7": ".cb7", "cbt": ".cbt", "pdf": ".pdf"}


class UploadRejected(Exception):
    """An upload refused with LANraragi's status and message (and, for a
    duplicate, the id of the archive already there)."""

    def __init__(self, status: int, message: str, arcid: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.arcid = arcid


@dataclass(frozen=True)
class UploadFields:
    checksum: str | None = None
    title: str | None = None
    tags: str | None = None
    summary: str | None = None
    category_id: str | None = None


def upload_library() -> Library:
    """The library uploads go to: the admin's choice, else the first one."""
    chosen = settings.upload_library_id()
    library = db.session.get(Library, chosen) if chosen else None
    if library is None or not library.enabled:
        library = db.session.execute(select(Library).where(Library.enabled.is_(True))
                                     .order_by(Library.id).limit(1)).scalar()
    if library is None:
        raise UploadRejected(400, "There is no library to upload into: add one first.")
    return library


def safe_filename(name: str | None) -> str:
    """A client's file name reduced to a plain, short file name."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*').strip().lstrip(".")
    stem, ext = os.path.splitext(name)
    while len((stem + ext).encode("utf-8")) > MAX_NAME_BYTES and stem:
        stem = stem[:-1]
    return (stem.strip() + ext) if stem.strip() else ""


def _hash_update(digest, data: bytes) -> None:
    digest.update(data)


def _receive(stream: BinaryIO, path: Path) -> tuple[str, str]:
    """Copy the upload to ``path``; return (SHA-1, archive id)."""
    whole, head = hashlib.sha1(), hashlib.sha1()
    size = 0
    with open(path, "xb") as out:
        while chunk := stream.read(CHUNK):
            run_cpu(_hash_update, whole, chunk)
            if size < ARCID_BYTES:
                head.update(chunk[:ARCID_BYTES - size])
            out.write(chunk)
            size += len(chunk)
    return whole.hexdigest(), head.hexdigest()


def _probe(path: Path, cache_dir: str) -> str:
    """The archive format, or ``ArchiveError`` if this is no comic."""
    with open_archive(path, cache_dir) as archive:
        archive.pages()
        return archive.format


def _place(temp: Path, folder: Path, name: str) -> Path:
    """Give the file its name, adding " (n)" rather than replacing a file."""
    stem, ext = os.path.splitext(name)
    for number in range(10_000):
        target = folder / (f"{stem} ({number}){ext}" if number else f"{stem}{ext}")
        try:
            os.link(temp, target)  # fails if the name is taken: no race, no overwrite
        except FileExistsError:
            continue
        except OSError:
            # No hard links on this file system: reserve the name, then move.
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            os.close(fd)
            os.replace(temp, target)
            return target
        os.unlink(temp)
        return target
    raise UploadRejected(500, f"No free file name for {name} in {folder}")


def _index(library: Library, path: Path, arcid: str) -> Book:
    """Read and catalogue one new file, as the scanner would."""
    stat = path.stat()
    cache_dir = str(Path(current_app.config["CACHE_DIR"]) / "archives")
    item = run_cpu(read_comic, str(path), stat.st_size, stat.st_mtime, cache_dir)
    item.arcid = arcid
    catalog = Catalog(library.id, library.path, services.events())
    try:
        catalog.write_batch([item], [])
    except IntegrityError:
        db.session.rollback()  # a scan indexed it a moment before us
    return db.session.execute(select(Book).where(Book.path == str(path))).scalar_one()


def _store(stream: BinaryIO, filename: str | None, fields: UploadFields, folder: Path,
           user: User | None) -> tuple[Path, str]:
    """Receive the file beside its destination, check it, name it; return
    (its path, its archive id). Nothing is left behind when a check fails."""
    temp = folder / f".upload-{secrets.token_hex(8)}.part"
    try:
        checksum, arcid = _receive(stream, temp)
        expected = (fields.checksum or "").strip().lower()
        if expected and expected != checksum:
            raise UploadRejected(417, f"Checksum mismatch: expected {expected}, got {checksum}.")
        name = safe_filename(filename)
        cache_dir = str(Path(current_app.config["CACHE_DIR"]) / "archives")
        try:
            kind = run_cpu(_probe, temp, cache_dir)
        except (ArchiveError, OSError) as exc:
            reason = getattr(exc, "reason", "unreadable")
            raise UploadRejected(415, f"Unsupported file extension ({name or 'upload'}): "
                                      f"not a comic archive ({reason})") from None
        existing = db.session.execute(select(Book.arcid).where(
            Book.arcid == arcid, archive_scope(user))).scalar()
        if existing:
            raise UploadRejected(409, "This file already exists in the Library. Enable replace "
                                      "duplicated archive in config to replace old ones.", existing)
        stem, ext = os.path.splitext(name or f"upload-{arcid[:8]}")
        if ext.lower() not in COMIC_EXTENSIONS:
            # Named for what it is, so the scanner picks it up too.
            stem, ext = stem + ext, EXTENSIONS[kind]
        return _place(temp, folder, stem + ext), arcid
    finally:
        temp.unlink(missing_ok=True)


def receive_upload(stream: BinaryIO, filename: str | None, fields: UploadFields,
                   user: User | None, *, curator: bool = False) -> Book:
    """Store, check and index an uploaded archive; return its book. A
    category named must be one the uploader may change (their own, or with
    ``curator`` the server's)."""
    category = (changeable_category(fields.category_id, user, curator)
                if fields.category_id else None)
    if category is not None and category.search:
        raise UploadRejected(400, f"{category.id} is a dynamic category: it holds no archives.")
    library = upload_library()
    folder = Path(library.path) / UPLOAD_FOLDER
    try:
        folder.mkdir(exist_ok=True)
        final, arcid = _store(stream, filename, fields, folder, user)
    except OSError as exc:
        raise UploadRejected(500, f"The file couldn't be moved to your content folder "
                                  f"({folder}): {exc.strerror or exc}") from None
    book = _index(library, final, arcid)
    if fields.tags or fields.title or fields.summary:
        add_book_tags(book, fields.tags)
        update_metadata(book, title=fields.title or None, tags=None, summary=fields.summary or None)
    if category is not None:
        add_book(category, book)
    return book


# -- /api/download_url: a URL fetched into the upload library -----------------------

DOWNLOAD_JOB = "lrr.download_url"


def check_download_url(url: str | None) -> str:
    """The URL if it is one a direct download may fetch (http or https with
    a host, as for Comicarr's DDL links)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise BadRequest(f"{mask_text(url)!r} is not an http(s) URL")
    return url


def run_download_job(ctx, url: str, category_id: str | None = None, user_id: int | None = None,
                     curator: bool = False) -> dict:
    """Fetch ``url`` (a comic archive, checked as a direct download is) and
    add it to the upload library as an upload with ``category_id``."""
    import requests

    from ..automation import ddl

    user = db.session.get(User, user_id) if user_id else None
    folder = Path(upload_library().path) / UPLOAD_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    try:
        response = requests.get(check_download_url(url), stream=True, timeout=ddl.TIMEOUT,
                                headers={"User-Agent": "comicsrv"})
    except requests.RequestException as exc:
        raise BadRequest(f"cannot fetch {mask_text(url)}: {type(exc).__name__}") from None
    with response, tempfile.TemporaryFile(dir=folder) as spool:
        if response.status_code >= 400:
            raise BadRequest(f"{mask_text(url)} answered HTTP {response.status_code}")
        try:
            name = ddl.file_name(url, response, None)
        except ddl.DdlFailed as exc:
            raise BadRequest(str(exc)) from None
        size = 0
        try:
            for chunk in response.iter_content(ddl.CHUNK):
                size += len(chunk)
                if size > ddl.MAX_BYTES:
                    raise BadRequest(f"{name} is larger than {ddl.MAX_BYTES >> 30} GiB")
                spool.write(chunk)
                ctx.check_cancelled()
                ctx.progress(size, int(response.headers.get("Content-Length") or 0) or None, name)
        except requests.RequestException as exc:
            raise BadRequest(f"downloading {mask_text(url)} failed: {type(exc).__name__}") from None
        spool.seek(0)
        try:
            book = receive_upload(spool, name, UploadFields(category_id=category_id), user,
                                  curator=curator)
        except UploadRejected as exc:
            raise BadRequest(str(exc)) from None
    return {"success": 1, "id": book.arcid, "url": url, "title": split_filename(book.filename)[0],
            "category": category_id or ""}
