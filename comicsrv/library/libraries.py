"""Creating, changing, deleting and choosing libraries.

Every change goes through here so the checks are the same from the CLI and
the API (a readable folder that overlaps no other library, a valid cron
expression) and the scan schedule follows the row: a library with a cron
expression that is enabled has a ``scan:<id>`` schedule, any other has none.

Library roots: through the API a library's folder must lie inside
:func:`library_roots` (the ``filesystem.allowed_roots`` setting), judged
after symlinks and ``..`` are resolved, the same fence as folder browsing.
Whoever holds LibrariesWrite then cannot make ``/etc`` or another user's
home a library and read it through the reader APIs. The CLI is not fenced:
it runs as the server's user on the machine, who can read those folders
anyway, and it is how an admin adds a library outside the roots on purpose.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from flask import current_app

from .. import services
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..events import LibraryCreated, LibraryUpdated
from ..extensions import db
from ..models import Library
from ..settings_store import get_setting
from .scanner import SCAN_JOB
from .scans import active_scan, scan_target, scheduled_scan_params

SCAN_MODES = ("normal", "deep")
# Offered when ``filesystem.allowed_roots`` is empty: the Docker image's media
# volumes (see the Dockerfile), where they exist.
DEFAULT_ROOTS = ("/comics", "/downloads")
# What ``update_library`` may change.
EDITABLE = frozenset({"name", "path", "enabled", "scan_cron", "scan_on_start",
                      "default_scan_mode", "watch_mode"})
# How a library's folder is watched (comicsrv.library.watcher).
WATCH_MODES = ("auto", "native", "poll", "off")


def library_roots() -> list[str]:
    """The folders libraries may be added from (and an admin may browse),
    resolved, none inside another.

    ``filesystem.allowed_roots`` when set. Otherwise the ``LIBRARY_ROOTS``
    the server was started with, else the Docker image's ``/comics`` and
    ``/downloads`` where they exist; and the folder of every existing library
(to browse and re-point inside it). Never the server
    user's home or ``/`` by default: on a plain install the admin names the
    roots (or adds a library with the CLI).
    """
    roots = get_setting("filesystem.allowed_roots")
    if not roots:
        configured = [r.strip() for r in current_app.config.get("LIBRARY_ROOTS", "").split(",")
                      if r.strip()]
        roots = configured or [root for root in DEFAULT_ROOTS if os.path.isdir(root)]
        roots += db.session.execute(db.select(Library.path)).scalars()
    resolved = sorted({os.path.realpath(root) for root in roots})
    return [r for r in resolved if not any(o != r and within(r, [o]) for o in resolved)]


def within(path: str, roots: list[str]) -> bool:
    """``path`` (resolved) is one of ``roots`` or inside one."""
    return any(os.path.commonpath([root, path]) == root for root in roots)


def check_within_roots(folder: Path | str) -> None:
    """``Forbidden`` (``path_not_allowed``) unless the resolved ``folder`` is
    inside the library roots."""
    roots = library_roots()
    if not within(os.path.realpath(folder), roots):
        where = ", ".join(roots) if roots else "none yet: set filesystem.allowed_roots"
        raise Forbidden(f"{folder} is outside the folders libraries may be added from "
                        f"(the filesystem.allowed_roots setting; now {where})",
                        code="path_not_allowed")


def create_library(name: str, path: str, *, scan_cron: str | None = None,
                   scan_on_start: bool = True, enabled: bool = True,
                   default_scan_mode: str = "normal", watch_mode: str = "auto",
                   within_roots: bool = False) -> Library:
    """A new library. ``within_roots`` (every API) fences its folder to the
    library roots; the CLI and internal callers leave it off."""
    name = _check_name(name)
    folder = _check_folder(path)
    if within_roots:
        check_within_roots(folder)
    if db.session.execute(db.select(Library.id).where(Library.name == name)).first():
        raise Conflict(f"A library named {name!r} already exists")
    _check_overlap(folder)
    scan_cron = _check_cron(scan_cron)
    _check_mode(default_scan_mode)
    _check_watch_mode(watch_mode)
    library = Library(name=name, path=str(folder), scan_cron=scan_cron,
                      scan_on_start=scan_on_start, enabled=enabled,
                      default_scan_mode=default_scan_mode, watch_mode=watch_mode)
    db.session.add(library)
    db.session.commit()
    sync_scan_schedule(library)
    _tell_watcher()
    services.events().publish(LibraryCreated(library_id=library.id))
    return library


def update_library(library: Library, changes: Mapping[str, Any], *,
                   within_roots: bool = False) -> Library:
    """Apply ``changes`` (any of ``EDITABLE``) with the checks of
    ``create_library``; re-register the scan schedule when it changed. A new
    path is fenced to the library roots with ``within_roots``. Everything is
    checked before anything changes."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise BadRequest(f"Cannot change {', '.join(sorted(unknown))} of a library")
    checked: dict[str, Any] = {}
    if "name" in changes:
        name = _check_name(changes["name"])
        clash = db.session.execute(db.select(Library.id).where(
            Library.name == name, Library.id != library.id)).first()
        if clash:
            raise Conflict(f"A library named {name!r} already exists")
        checked["name"] = name
    if "path" in changes:
        folder = _check_folder(changes["path"])
        if within_roots:
            check_within_roots(folder)
        _check_overlap(folder, exclude_id=library.id)
        checked["path"] = str(folder)
    if "scan_cron" in changes:
        checked["scan_cron"] = _check_cron(changes["scan_cron"])
    if "default_scan_mode" in changes:
        checked["default_scan_mode"] = _check_mode(changes["default_scan_mode"])
    if "watch_mode" in changes:
        checked["watch_mode"] = _check_watch_mode(changes["watch_mode"])
    for flag in ("enabled", "scan_on_start"):
        if flag in changes:
            checked[flag] = bool(changes[flag])
    for field, value in checked.items():
        setattr(library, field, value)
    db.session.commit()
    if {"scan_cron", "enabled", "default_scan_mode"} & set(changes):
        sync_scan_schedule(library)
    if {"path", "enabled", "watch_mode"} & set(changes):
        _tell_watcher()
    services.events().publish(LibraryUpdated(library_id=library.id))
    return library


def delete_library(library: Library) -> None:
    """Delete a library with its series, books and everyone's progress in it
    (the database cascades). Refused while a scan of it runs."""
    if active_scan(library.id) is not None:
        raise Conflict(f"Library {library.name!r} is being scanned; cancel the scan first",
                       code="scan_running")
    scheduler = services.scheduler()
    scheduler.remove(f"scan:{library.id}")
    db.session.delete(library)
    db.session.commit()
    scheduler.changed(f"library {library.id} deleted")
    _tell_watcher()


def sync_scan_schedule(library: Library) -> None:
    """Make the ``scan:<id>`` schedule match the library row."""
    scheduler = services.scheduler()
    schedule_id = f"scan:{library.id}"
    # Always remove first: while the scheduler is stopped APScheduler keeps
    # re-added jobs as duplicates in its pending list.
    scheduler.remove(schedule_id)
    if library.enabled and library.scan_cron:
        scheduler.cron(schedule_id, library.scan_cron, SCAN_JOB, scheduled_scan_params(library),
                       scan_target(library.id))
    scheduler.changed(f"library {library.id} scan schedule")


def _check_name(name: Any) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise BadRequest("A library needs a name")
    if len(name) > 200:
        raise BadRequest("A library name has at most 200 characters")
    return name


def _check_folder(path: Any) -> Path:
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise BadRequest("A library needs the path of a folder")
    folder = Path(path).expanduser()
    try:
        if not folder.is_dir():
            raise BadRequest(f"{path} is not a folder")
        if not os.access(folder, os.R_OK | os.X_OK):
            raise BadRequest(f"{path} is not readable by the server")
        return folder.resolve()
    except OSError as exc:  # a name too long, a symlink loop...
        raise BadRequest(f"{path[:300]} cannot be a library folder: {exc.strerror}") from None


def _check_overlap(folder: Path, exclude_id: int | None = None) -> None:
    query = db.select(Library)
    if exclude_id is not None:
        query = query.where(Library.id != exclude_id)
    for other in db.session.execute(query).scalars():
        other_path = Path(other.path)
        if folder == other_path or other_path in folder.parents or folder in other_path.parents:
            raise Conflict(f"{folder} overlaps library {other.name!r} at {other.path}")


def _check_cron(expression: str | None) -> str | None:
    """A five-field crontab expression, or None (an empty string is None)."""
    from apscheduler.triggers.cron import CronTrigger

    expression = (expression or "").strip() or None
    if expression is None:
        return None
    if len(expression) > 100:
        raise BadRequest("A cron expression has at most 100 characters")
    try:
        CronTrigger.from_crontab(expression)
    except ValueError as exc:
        raise BadRequest(f"Not a valid cron expression {expression!r}: {exc}") from None
    return expression


def _check_watch_mode(mode: Any) -> str:
    if mode not in WATCH_MODES:
        raise BadRequest(f"The watch mode is one of {', '.join(WATCH_MODES)}, not {mode!r}")
    return mode


def _tell_watcher() -> None:
    from .watcher import library_changed

    library_changed(current_app._get_current_object())


def _check_mode(mode: str) -> str:
    if mode not in SCAN_MODES:
        raise BadRequest(f"The scan mode is one of {', '.join(SCAN_MODES)}, not {mode!r}")
    return mode


def libraries_to_scan(name: str | None = None) -> list[Library]:
    query = db.select(Library).where(Library.enabled.is_(True)).order_by(Library.name)
    if name is not None:
        library = db.session.execute(db.select(Library).where(Library.name == name)).scalar()
        if library is None:
            raise NotFound(f"No library named {name!r}")
        return [library]
    return list(db.session.execute(query).scalars())
