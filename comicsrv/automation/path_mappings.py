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

from ..errors import Conflict, NotFound
from ..extensions import db
from ..models.automation import DownloadClientConfig, RemotePathMapping
from .integrations import InvalidFields
from .paths import is_windows_path

MAX_ID = 2**31 - 1
MAX_PATH = 4096

__all__ = ["get_mapping", "list_mappings", "create_mapping", "update_mapping", "delete_mapping"]


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


def _check_unique(values: Mapping[str, Any], exclude_id: int | None = None) -> None:
    same = db.session.execute(db.select(RemotePathMapping.id).where(
        RemotePathMapping.remote_path == values["remote_path"],
        RemotePathMapping.download_client_id.is_(None) if values["download_client_id"] is None
        else RemotePathMapping.download_client_id == values["download_client_id"])).scalars()
    if any(found != exclude_id for found in same):
        raise Conflict(f"{values['remote_path']} is mapped already for this client",
                       code="mapping_exists")


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
