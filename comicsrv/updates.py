"""This server's version, and whether a newer one is released.

Comicarr's ``/api/system/version`` and Mylar's ``getVersion`` answer
``current_version``, ``latest_version``, ``commits_behind`` and
``install_type``. comicsrv is released on the package index, so "behind" is
counted in releases newer than this one (Mylar counts git commits). Asking
the index is the admin's choice (setting ``system.check_updates``, off by
default: a NAS need not call out); while off, or when the index cannot be
reached, the latest version reported is this one and nothing is behind.
An answer is kept for ``CACHE_SECONDS``, so the page never waits on it twice.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from flask import current_app
from packaging.version import InvalidVersion, Version

from . import __version__
from .redact import mask_text

log = logging.getLogger(__name__)

DEFAULT_INDEX_URL = "https://pypi.org/pypi/comicsrv/json"
CACHE_SECONDS = 6 * 3600
TIMEOUT = (5, 10)

_cache: dict[str, Any] = {}
_lock = threading.Lock()


def install_type() -> str:
    """docker (the image), git (a checkout run in place) or pip."""
    if os.path.exists("/.dockerenv") or Path("/usr/local/bin/comicsrv-entrypoint").exists():
        return "docker"
    if (Path(__file__).resolve().parent.parent / ".git").exists():
        return "git"
    return "pip"


def _newer(releases: dict[str, Any], current: Version) -> list[Version]:
    """Final releases newer than ``current`` that were not all yanked."""
    found = []
    for text, files in releases.items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version.is_prerelease or version <= current:
            continue
        if files and all(f.get("yanked") for f in files if isinstance(f, dict)):
            continue
        found.append(version)
    return sorted(found)


def check_index(url: str) -> dict[str, Any]:
    """Ask the package index (its JSON API) for newer releases."""
    import requests

    current = Version(__version__)
    response = requests.get(url, timeout=TIMEOUT, headers={"User-Agent": f"comicsrv/{__version__}"})
    response.raise_for_status()
    data = response.json()
    newer = _newer(data.get("releases") or {}, current)
    latest = str(newer[-1]) if newer else __version__
    return {"latest_version": latest, "commits_behind": len(newer)}


def _latest(enabled: bool, url: str) -> dict[str, Any]:
    import requests

    if not enabled:
        return {"latest_version": __version__, "commits_behind": 0, "update_check": "off"}
    now = time.monotonic()
    with _lock:
        cached = _cache.get(url)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    try:
        found = {**check_index(url), "update_check": "ok"}
    except (requests.RequestException, ValueError, InvalidVersion) as exc:
        log.warning("update check at %s failed: %s", mask_text(url), exc)
        # Not cached: the next look asks again.
        return {"latest_version": __version__, "commits_behind": 0,
                "update_check": f"failed: {type(exc).__name__}"}
    with _lock:
        _cache[url] = (now, found)
    return found


def forget() -> None:
    """Drop cached answers (a changed setting, tests)."""
    with _lock:
        _cache.clear()


def version_info() -> dict[str, Any]:
    """Comicarr's version fields (inside an app context)."""
    from .settings_store import get_setting

    url = current_app.config.get("UPDATE_CHECK_URL") or DEFAULT_INDEX_URL
    latest = _latest(bool(get_setting("system.check_updates")), url)
    return {"current_version": __version__, "current_version_name": f"v{__version__}",
            "current_release_name": f"comicsrv {__version__}",
            "latest_version": latest["latest_version"],
            "commits_behind": latest["commits_behind"], "install_type": install_type(),
            "current_branch": None, "update_check": latest["update_check"]}
