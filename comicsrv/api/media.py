"""Image responses every surface shares: validators before any work, file
bodies for the server to ``sendfile``.

Every page and cover a surface serves is named before anything is opened:
its ETag comes from the book's content (archive id, size, mtime) and what
was asked (page, size, format), its Last-Modified from the file the bytes
come from. A client revalidating (``If-None-Match``, or
``If-Modified-Since`` alone) gets its 304 without a file being touched,
on ``/api/v1``, the LANraragi API and OPDS alike.

``Cache-Control: immutable`` goes only on URLs that name the content they
return, whose bytes can never change under them: ``/api/v1`` page URLs
carrying the book's content version (``?v=``, as the page list and the
book's ``version`` give it). Everything else may change when its file is
rewritten (a cover picked again, a file retagged in place) and is
revalidated: by its ETag, cheaply.
"""
from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Response, request

from .. import services
from ..filebody import FileBody
from ..library.access import BookFile
from ..library.media import Media
from ..models import Book

IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"


def _modified_since(last_modified: float | None) -> bool:
    """False when the client's ``If-Modified-Since`` is at or after
    ``last_modified`` (only consulted without ``If-None-Match``, RFC 9110
    13.1.3)."""
    since = request.if_modified_since
    if since is None or last_modified is None or request.if_none_match:
        return True
    return int(last_modified) > since.timestamp()


def not_modified(etag: str, cache_control: str, last_modified: float | None = None,
                 *, weak: bool = False) -> Response | None:
    """A 304 for a client that holds this version already, else None.
    Cheap: no file is opened."""
    if request.method not in ("GET", "HEAD"):
        return None
    matches = request.if_none_match.contains_weak(etag) if weak else \
        request.if_none_match.contains(etag)
    if not matches and _modified_since(last_modified):
        return None
    response = Response(status=304)
    _validators(response, etag, cache_control, last_modified, weak)
    return response


def image_response(media: Media, etag: str, cache_control: str,
                   last_modified: float | None = None) -> Response:
    """``media`` as the response body, with its validators: a ``FileBody``
    as is (the server sends it with ``sendfile``), bytes in one piece."""
    if media.body is not None:
        response = file_response(media.body, media.mime_type)
    else:
        response = Response(media.data, mimetype=media.mime_type)
    _validators(response, etag, cache_control, last_modified)
    return response


def file_response(body: FileBody, mime_type: str) -> Response:
    response = Response(body, mimetype=mime_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(body.length)
    return response


def _validators(response: Response, etag: str, cache_control: str,
                last_modified: float | None, weak: bool = False) -> None:
    response.set_etag(etag, weak=weak)
    if last_modified is not None:
        response.last_modified = datetime.fromtimestamp(int(last_modified), UTC)
    response.headers["Cache-Control"] = cache_control


THUMBNAIL_CACHE = "private, max-age=86400"


def thumbnail_response(book: Book | BookFile, edge: int,
                       cache_control: str = THUMBNAIL_CACHE) -> Response:
    """A book's cover as a JPEG of long edge ``edge`` (already clamped):
    304 on a matching ETag before anything is opened; a cover made before
    is sent from its cache file, with the file's mtime as Last-Modified."""
    media = services.media()
    etag = media.cover_key(book, edge)
    cached = not_modified(etag, cache_control)
    if cached is not None:
        return cached
    cover = media.cover(book, edge, as_file=True)
    if cover.body is None:  # made just now: dated by the cache file it was saved to
        return image_response(cover, etag, cache_control, _saved_at(cover.path))
    modified = _mtime(cover.body)
    cached = not_modified(etag, cache_control, modified)  # If-Modified-Since alone
    if cached is not None:
        cover.body.close()
        return cached
    return image_response(cover, etag, cache_control, modified)


def _mtime(body: FileBody) -> float:
    return os.fstat(body.fd).st_mtime


def _saved_at(path: str | None) -> float | None:
    try:
        return os.stat(path).st_mtime if path else None
    except OSError:  # not saved (the cache is full or read-only): no date
        return None
