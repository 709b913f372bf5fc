"""Remote path mappings: a download client's paths as comicsrv sees them.

A client in another container or on another machine reports where it saved
a download in its own terms ("/downloads/comics/x", "D:\\Downloads\\x",
"\\\\nas\\share\\x"). A ``RemotePathMapping`` row says which local folder a
remote folder is; the longest matching remote prefix wins, and mappings of
the download's own client win over global ones (no client) of equal length.
Windows paths compare case-insensitively and with either separator, since
Windows clients report both; POSIX paths compare exactly.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from sqlalchemy import or_, select

from ..extensions import db
from ..models.automation import RemotePathMapping

_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")


def is_windows_path(path: str) -> bool:
    return bool(_DRIVE.match(path)) or path.startswith("\\\\") or (
        "\\" in path and "/" not in path)


@dataclass(frozen=True)
class _Parts:
    windows: bool
    parts: tuple[str, ...]

    def key(self) -> tuple[str, ...]:
        return tuple(p.lower() for p in self.parts) if self.windows else self.parts


def _split(path: str) -> _Parts:
    if is_windows_path(path):
        root = ("\\\\",) if path.startswith("\\\\") or path.startswith("//") else ()
        return _Parts(True, root + tuple(p for p in re.split(r"[\\/]+", path) if p))
    root = ("/",) if path.startswith("/") else ()
    return _Parts(False, root + tuple(p for p in path.split("/") if p))


def _mappings(download_client_id: int | None) -> list[RemotePathMapping]:
    query = select(RemotePathMapping)
    if download_client_id is None:
        query = query.where(RemotePathMapping.download_client_id.is_(None))
    else:
        query = query.where(or_(RemotePathMapping.download_client_id == download_client_id,
                                RemotePathMapping.download_client_id.is_(None)))
    return list(db.session.execute(query).scalars())


def apply_mappings(path: str, mappings: list[tuple[str, str, bool]]) -> str:
    """``path`` through ``(remote, local, own_client)`` mappings."""
    reported = _split(path)
    best: tuple[int, int, str, tuple[str, ...]] | None = None
    for remote, local, own in mappings:
        prefix = _split(remote)
        if not prefix.parts or prefix.windows != reported.windows:
            continue
        size = len(prefix.parts)
        if reported.key()[:size] != prefix.key():
            continue
        rank = (size, 1 if own else 0)
        if best is None or rank > best[:2]:
            best = (size, rank[1], local, reported.parts[size:])
    if best is None:
        return path
    _, _, local, rest = best
    return os.path.join(local, *rest) if rest else local


def map_remote_path(path: str, download_client_id: int | None) -> str:
    """Where comicsrv finds ``path``, as reported by the download client
    ``download_client_id``; the path unchanged when no mapping applies."""
    if not path:
        return path
    rows = _mappings(download_client_id)
    return apply_mappings(path, [(r.remote_path, r.local_path,
                                  r.download_client_id is not None) for r in rows])
