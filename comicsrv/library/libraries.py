"""Creating and choosing libraries."""
from __future__ import annotations

import os
from pathlib import Path

from flask import current_app

from ..errors import BadRequest, Conflict, NotFound
from ..events import LibraryCreated
from ..extensions import db
from ..models import Library


def create_library(name: str, path: str, *, scan_cron: str | None = None,
                   scan_on_start: bool = True) -> Library:
    name = (name or "").strip()
    if not name:
        raise BadRequest("A library needs a name")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise BadRequest(f"{path} is not a folder")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise BadRequest(f"{path} is not readable by the server")
    folder = folder.resolve()
    if db.session.execute(db.select(Library.id).where(Library.name == name)).first():
        raise Conflict(f"A library named {name!r} already exists")
    for other in db.session.execute(db.select(Library)).scalars():
        other_path = Path(other.path)
        if folder == other_path or other_path in folder.parents or folder in other_path.parents:
            raise Conflict(f"{folder} overlaps library {other.name!r} at {other.path}")
    if scan_cron:
        _check_cron(scan_cron)
    library = Library(name=name, path=str(folder), scan_cron=scan_cron, scan_on_start=scan_on_start)
    db.session.add(library)
    db.session.commit()
    current_app.extensions["comicsrv.events"].publish(LibraryCreated(library_id=library.id))
    return library


def _check_cron(expression: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression)
    except ValueError as exc:
        raise BadRequest(f"Not a valid cron expression {expression!r}: {exc}") from None


def libraries_to_scan(name: str | None = None) -> list[Library]:
    query = db.select(Library).where(Library.enabled.is_(True)).order_by(Library.name)
    if name is not None:
        library = db.session.execute(db.select(Library).where(Library.name == name)).scalar()
        if library is None:
            raise NotFound(f"No library named {name!r}")
        return [library]
    return list(db.session.execute(query).scalars())
