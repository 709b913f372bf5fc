"""Remote path mappings: add, change, remove, and try one path through them.

A mapping says where comicsrv finds a folder a download client reports in
its own terms (``comicsrv.automation.paths`` applies them). The remote side
is the client's path, POSIX or Windows, stored as typed (less a trailing
separator); the local side must be an absolute path on this machine. Two
mappings of the same remote folder for the same client would make the
answer depend on row order, so that is a conflict.
"""
from __future__ import annotations

import os
from typing import Any

from ..errors import BadRequest, Conflict, NotFound
from ..extensions import db
from ..models.automation import DownloadClientConfig, RemotePathMapping
from .paths import _split, is_windows_path, map_remote_path

MAX_ID = 2**31 - 1


def mappings_query(download_client_id: int | None = None):
    query = db.select(RemotePathMapping).order_by(RemotePathMapping.remote_path,
                                                  RemotePathMapping.id)
    if download_client_id is not None:
        query = query.where(RemotePathMapping.download_client_id == download_client_id)
    return query


def get_mapping(mapping_id: int) -> RemotePathMapping:
    row = db.session.get(RemotePathMapping, mapping_id) if 0 < mapping_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"No remote path mapping {mapping_id}")
    return row


def _remote(path: str) -> str:
    path = path.strip()
    if not (path.startswith("/") or is_windows_path(path)):
        raise BadRequest(f"remote_path: {path!r} is not an absolute path as a download client "
                         "reports it (/downloads, D:\\Downloads or \\\\nas\\share)",
                         code="invalid_path")
    return path.rstrip("/\\") or path  # "/downloads/" is "/downloads"; "/" stays


def _local(path: str) -> str:
    path = path.strip()
    if "\x00" in path or not os.path.isabs(path):
        raise BadRequest(f"local_path: {path!r} is not an absolute path on this machine",
                         code="invalid_path")
    return os.path.normpath(path)


def _client_id(value: int | None) -> int | None:
    if value is None:
        return None
    if not 0 < value <= MAX_ID or db.session.get(DownloadClientConfig, value) is None:
        raise BadRequest(f"download_client_id: no download client {value}",
                         code="unknown_download_client")
    return value


def _check_unique(remote: str, client_id: int | None, exclude_id: int | None = None) -> None:
    key = _split(remote).key()
    for row in db.session.execute(db.select(RemotePathMapping).where(
            RemotePathMapping.download_client_id.is_(None) if client_id is None
            else RemotePathMapping.download_client_id == client_id)).scalars():
        if row.id != exclude_id and _split(row.remote_path).key() == key:
            raise Conflict(f"Mapping {row.id} already maps {row.remote_path!r} for "
                           f"{'every client' if client_id is None else 'this client'}",
                           code="duplicate_mapping")


def create_mapping(data: dict[str, Any]) -> RemotePathMapping:
    remote, local = _remote(data["remote_path"]), _local(data["local_path"])
    client_id = _client_id(data.get("download_client_id"))
    _check_unique(remote, client_id)
    row = RemotePathMapping(remote_path=remote, local_path=local, download_client_id=client_id)
    db.session.add(row)
    db.session.commit()
    return row


def update_mapping(mapping_id: int, data: dict[str, Any]) -> RemotePathMapping:
    row = get_mapping(mapping_id)
    remote = _remote(data["remote_path"]) if "remote_path" in data else row.remote_path
    local = _local(data["local_path"]) if "local_path" in data else row.local_path
    client_id = (_client_id(data["download_client_id"]) if "download_client_id" in data
                 else row.download_client_id)
    _check_unique(remote, client_id, exclude_id=row.id)
    row.remote_path, row.local_path, row.download_client_id = remote, local, client_id
    db.session.commit()
    return row


def delete_mapping(mapping_id: int) -> None:
    db.session.delete(get_mapping(mapping_id))
    db.session.commit()


def try_path(path: str, download_client_id: int | None = None) -> dict[str, Any]:
    """Where comicsrv would look for ``path`` reported by a client, and
    whether that exists here: what a user checks after adding a mapping."""
    client_id = _client_id(download_client_id)
    local = map_remote_path(path, client_id)
    return {"remote_path": path, "local_path": local, "mapped": local != path,
            "exists": os.path.exists(local)}
