"""Remote path mappings: add, change and remove them.

A mapping says which local folder a download client's folder is (see
``comicsrv.automation.paths``, which applies them). As Sonarr checks its
own, the local folder must exist, so a typo shows when it is typed rather
than when the first import cannot find its files; the remote folder is
taken as the client reports it, Windows paths included.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from ..errors import BadRequest, Conflict, NotFound
from ..extensions import db
from ..models.automation import DownloadClientConfig, RemotePathMapping
from .integrations import InvalidFields
from .paths import is_windows_path, map_remote_path

MAX_ID = 2**31 - 1
MAX_PATH = 4096

__all__ = ["get_mapping", "list_mappings", "create_mapping", "update_mapping", "delete_mapping"]


def mappings_query(download_client_id: int | None = None):
    """Mappings by remote folder: the ``/api/v1/path-mappings`` list."""
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


def list_mappings() -> list[RemotePathMapping]:
    return list(db.session.execute(db.select(RemotePathMapping).order_by(
        RemotePathMapping.download_client_id.is_not(None), RemotePathMapping.download_client_id,
        RemotePathMapping.remote_path)).scalars())


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    remote = data.get("remote_path")
    local = data.get("local_path")
    client_id = data.get("download_client_id")
    if not isinstance(remote, str) or not remote.strip():
        errors["remote_path"] = "The folder as the download client reports it is required"
    elif len(remote) > MAX_PATH or "\x00" in remote:
        errors["remote_path"] = "Not a path"
    elif not (remote.strip().startswith("/") or is_windows_path(remote.strip())):
        errors["remote_path"] = ("The client's folder is an absolute path (/downloads, "
                                 "D:\\Downloads or \\\\nas\\share)")
    if not isinstance(local, str) or not local.strip():
        errors["local_path"] = "The folder as comicsrv sees it is required"
    elif len(local) > MAX_PATH or "\x00" in local or not os.path.isabs(local.strip()):
        errors["local_path"] = "The local folder is an absolute path"
    elif not os.path.isdir(local.strip()):
        errors["local_path"] = f"{local.strip()} is not a folder on this server"
    if client_id is not None:
        if isinstance(client_id, bool) or not isinstance(client_id, int) or \
                db.session.get(DownloadClientConfig, client_id) is None:
            errors["download_client_id"] = "No such download client"
    if errors:
        raise InvalidFields(errors)
    return {"remote_path": remote.strip(), "local_path": os.path.normpath(local.strip()),
            "download_client_id": client_id}


def _folder_key(path: str) -> str:
    """What makes two remote folders the same: Windows paths compare without
    case and with either separator; a trailing separator never counts."""
    if is_windows_path(path):
        return path.replace("\\", "/").rstrip("/").casefold()
    return path.rstrip("/") or "/"


def _check_unique(values: Mapping[str, Any], exclude_id: int | None = None) -> None:
    """Two mappings of one remote folder for one client would make the
    answer depend on row order: a conflict."""
    rows = db.session.execute(db.select(RemotePathMapping.id, RemotePathMapping.remote_path).where(
        RemotePathMapping.download_client_id.is_(None) if values["download_client_id"] is None
        else RemotePathMapping.download_client_id == values["download_client_id"])).all()
    key = _folder_key(values["remote_path"])
    if any(found != exclude_id and _folder_key(path) == key for found, path in rows):
        raise Conflict(f"{values['remote_path']} is mapped already for this client",
                       code="duplicate_mapping")


def create_mapping(data: Mapping[str, Any]) -> RemotePathMapping:
    """A new mapping; ``download_client_id`` None applies it to every client."""
    values = _clean(data)
    _check_unique(values)
    row = RemotePathMapping(**values)
    db.session.add(row)
    db.session.commit()
    return row


def update_mapping(mapping_id: int, data: Mapping[str, Any]) -> RemotePathMapping:
    row = get_mapping(mapping_id)
    values = _clean({"remote_path": row.remote_path, "local_path": row.local_path,
                     "download_client_id": row.download_client_id, **data})
    _check_unique(values, exclude_id=row.id)
    for key, value in values.items():
        setattr(row, key, value)
    db.session.commit()
    return row


def delete_mapping(mapping_id: int) -> None:
    db.session.delete(get_mapping(mapping_id))
    db.session.commit()


def try_path(path: str, download_client_id: int | None = None) -> dict[str, Any]:
    """Where comicsrv would look for ``path`` reported by a client, and
    whether that exists here: what a user checks after adding a mapping."""
    if download_client_id is not None and (
            not 0 < download_client_id <= MAX_ID
            or db.session.get(DownloadClientConfig, download_client_id) is None):
        raise BadRequest(f"download_client_id: no download client {download_client_id}",
                         code="unknown_download_client")
    local = map_remote_path(path, download_client_id)
    return {"remote_path": path, "local_path": local, "mapped": local != path,
            "exists": os.path.exists(local)}
