"""Covers of watched series and search results, from the metadata providers.

The browser never loads a provider's image itself: a NAS behind a strict
firewall, or a reverse proxy with a content security policy, would show
broken images, and every page view would tell the provider who is looking.
The server fetches each image once (a short timeout, a size limit, only
images), makes a small JPEG of it and keeps that in its cache folder.

Only URLs the server itself put into a page may be fetched: the page links
to ``?u=<url>&s=<signature>``, an HMAC of the URL under ``SECRET_KEY``, so
the cover route cannot be used to make the server request arbitrary
addresses.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app

from .. import __version__
from ..images import ImageError, sniff, thumbnail
from ..jobs.pool import run_cpu

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
EDGE = 360
TIMEOUT = (5, 15)
# A cover that could not be fetched is not asked for again before this.
RETRY_AFTER_SECONDS = 3600


def _key() -> bytes:
    return current_app.config["SECRET_KEY"].encode()


def signature(url: str) -> str:
    return hmac.new(_key(), b"cover\0" + url.encode(), hashlib.sha256).hexdigest()[:32]


def is_signed(url: str, sig: str) -> bool:
    return bool(url) and hmac.compare_digest(signature(url), sig or "")


def _cache_path(url: str) -> Path:
    digest = hashlib.sha256(url.encode()).hexdigest()
    return Path(current_app.config["CACHE_DIR"]) / "provider-covers" / digest[:2] / f"{digest}.jpg"


def cached_cover(url: str) -> bytes | None:
    """The cover's JPEG: from the cache, else fetched and cached; None when
    the provider has no usable image (or failed within the last hour)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    path = _cache_path(url)
    if path.exists():
        return path.read_bytes()
    failed = path.with_suffix(".failed")
    if failed.exists() and time.time() - failed.stat().st_mtime < RETRY_AFTER_SECONDS:
        return None
    data = _fetch(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is None:
        failed.touch()
        return None
    temp = path.with_suffix(f".{os.getpid()}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)
    failed.unlink(missing_ok=True)
    return data


def _fetch(url: str) -> bytes | None:
    import requests

    try:
        with requests.get(url, stream=True, timeout=TIMEOUT, allow_redirects=True,
                          headers={"User-Agent": f"comicsrv/{__version__}"}) as response:
            if response.status_code != 200:
                log.info("cover %s answered HTTP %s", url, response.status_code)
                return None
            body = b""
            for chunk in response.iter_content(1 << 16):
                body += chunk
                if len(body) > MAX_BYTES:
                    log.info("cover %s is larger than %d bytes", url, MAX_BYTES)
                    return None
    except requests.RequestException as exc:
        log.info("cover %s cannot be fetched: %s", url, type(exc).__name__)
        return None
    if sniff(body) is None:
        return None
    try:
        return run_cpu(thumbnail, body, EDGE)
    except ImageError as exc:
        log.info("cover %s is not a usable image: %s", url, exc)
        return None
