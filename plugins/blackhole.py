"""Blackhole download client: drop .torrent/.nzb/.magnet files into a folder
an external client watches, and pick finished downloads up from another.

Settings: ``watch_folder`` (where the files are dropped), ``completed_folder``
(where the external client puts finished downloads), ``settle_seconds``
(default 15: an entry written to more recently than this is still arriving
and is reported as downloading, so a half-copied file is never imported) and
``magnet_files`` (default true: write magnet links as ``.magnet`` files; when
false a magnet release is refused, for clients that cannot read them).

The id of an added release is the file name it was dropped as, without the
extension; a finished download is recognised by the same name in the
completed folder (a file with any extension, or a folder), as external
clients name them after the release. Files are written under a temporary
name and renamed, so the watching client never reads half a file, and an
existing file is never overwritten.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import unicodedata
from typing import Any, ClassVar

from comicsrv.hookspecs import (
    DownloadClient, DownloadStatus, IntegrationError, Release, TestResult, hookimpl,
)

MAX_FILE_BYTES = 20 * 1024 * 1024  # a .torrent or .nzb of a comic is far smaller
_UNSAFE_RE = re.compile(r'[<>:"/\\|?*\x00-\x1f]+')
_KEY_RE = re.compile(r"[\W_]+")


def safe_name(title: str) -> str:
    """A file name every file system accepts, from a release title."""
    name = _UNSAFE_RE.sub(" ", unicodedata.normalize("NFC", title))
    name = " ".join(name.split()).strip(" .")
    return name[:180] or "release"


def _key(name: str) -> str:
    """Compare names the way clients mangle them (dots for spaces, case)."""
    return _KEY_RE.sub("", name.casefold())


def _stem(entry: os.DirEntry) -> str:
    if entry.is_dir(follow_symlinks=False):
        return entry.name
    stem, dot, _ = entry.name.rpartition(".")
    return stem if dot and stem else entry.name


def _newest_mtime(path: str) -> tuple[float, int]:
    """The newest modification time and the total size under ``path``."""
    if not os.path.isdir(path):
        stat = os.stat(path)
        return stat.st_mtime, stat.st_size
    newest, total = os.stat(path).st_mtime, 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                stat = os.stat(os.path.join(root, name))
            except OSError:
                continue
            newest, total = max(newest, stat.st_mtime), total + stat.st_size
    return newest, total


class BlackholeClient(DownloadClient):
    kind: ClassVar[str] = "blackhole"
    label: ClassVar[str] = "Blackhole folder"
    protocol: ClassVar[str] = "torrent"
    settings_fields: ClassVar[list[dict[str, Any]]] = [
        {"name": "watch_folder", "label": "Folder the client watches", "type": "path",
         "required": True},
        {"name": "completed_folder", "label": "Folder of finished downloads", "type": "path",
         "required": True},
        {"name": "settle_seconds", "label": "Seconds a finished file must be unchanged",
         "type": "number", "required": False},
        {"name": "magnet_files", "label": "Write magnet links as .magnet files",
         "type": "boolean", "required": False},
    ]

    def _folder(self, key: str) -> str:
        folder = self.settings.get(key)
        if not folder:
            raise IntegrationError(f"blackhole: no {key.replace('_', ' ')} configured")
        if not os.path.isdir(folder):
            raise IntegrationError(f"blackhole: the {key.replace('_', ' ')} {folder} does not exist")
        return folder

    # --- adding -------------------------------------------------------------

    def add(self, release: Release, category: str | None = None) -> str:
        watch = self._folder("watch_folder")
        url = release.download_url or ""
        if url.startswith("magnet:"):
            if not self.settings.get("magnet_files", True):
                raise IntegrationError("blackhole: magnet links are turned off for this client; "
                                       "the release has no .torrent file")
            data, extension = url.encode(), ".magnet"
        elif url.startswith(("http://", "https://")):
            data = self._fetch(url)
            extension = self._extension(data, release)
        else:
            raise IntegrationError(f"blackhole: cannot fetch {url[:60]!r}: not an http(s) or magnet URL")
        stem = safe_name(release.title)
        return self._write(watch, stem, extension, data)

    def _fetch(self, url: str) -> bytes:
        import requests

        try:
            with requests.get(url, timeout=self.context.timeout, stream=True,
                              headers={"User-Agent": self.context.user_agent}) as response:
                if response.status_code >= 400:
                    raise IntegrationError(f"blackhole: the indexer answered HTTP "
                                           f"{response.status_code} for the release file")
                chunks, size = [], 0
                for chunk in response.iter_content(65536):
                    size += len(chunk)
                    if size > MAX_FILE_BYTES:
                        raise IntegrationError("blackhole: the release file is larger than "
                                               f"{MAX_FILE_BYTES // 1024 // 1024} MB; not a .torrent or .nzb")
                    chunks.append(chunk)
                return b"".join(chunks)
        except requests.RequestException as exc:
            raise IntegrationError(f"blackhole: cannot fetch the release file: "
                                   f"{type(exc).__name__}") from None

    @staticmethod
    def _extension(data: bytes, release: Release) -> str:
        head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:2048]
        if head.startswith(b"d") and b"4:info" in data:
            return ".torrent"
        if b"<nzb" in head or b"<!DOCTYPE nzb" in head:
            return ".nzb"
        if b"<error" in head:
            match = re.search(rb'description="([^"]*)"', head)
            reason = match.group(1).decode("utf-8", "replace") if match else "an error"
            raise IntegrationError(f"blackhole: the indexer answered with an error instead of "
                                   f"the release file: {reason}")
        kind = "nzb" if release.protocol == "usenet" else "torrent"
        raise IntegrationError(f"blackhole: the downloaded file is not a valid .{kind}")

    @staticmethod
    def _write(folder: str, stem: str, extension: str, data: bytes) -> str:
        fd, temp = tempfile.mkstemp(prefix=".comicsrv-", suffix=".part", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            for attempt in range(1000):
                name = stem if attempt == 0 else f"{stem} ({attempt})"
                target = os.path.join(folder, name + extension)
                try:
                    os.link(temp, target)  # fails if it exists: never overwrite
                except FileExistsError:
                    continue
                return name
            raise IntegrationError(f"blackhole: too many files named {stem!r} in {folder}")
        finally:
            os.unlink(temp)

    # --- status -------------------------------------------------------------

    def status(self, ids: list[str] | None = None) -> list[DownloadStatus]:
        completed = self._folder("completed_folder")
        watch = self.settings.get("watch_folder")
        settle = float(self.settings.get("settle_seconds", 15) or 0)
        now = time.time()
        found: dict[str, DownloadStatus] = {}
        with os.scandir(completed) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                path = os.path.join(completed, entry.name)
                try:
                    newest, size = _newest_mtime(path)
                except OSError:
                    continue
                settled = now - newest >= settle
                found[_key(_stem(entry))] = DownloadStatus(
                    id=_stem(entry), name=entry.name,
                    state="completed" if settled else "downloading",
                    progress=1.0 if settled else 0.0, size=size, save_path=path)
        if ids is None:
            return list(found.values())
        statuses = []
        for item_id in ids:
            status = found.get(_key(item_id))
            if status is not None:
                status.id = item_id
                statuses.append(status)
            elif watch and self._dropped(watch, item_id):
                statuses.append(DownloadStatus(id=item_id, name=item_id, state="queued"))
            else:
                # Picked up by the external client, not finished yet.
                statuses.append(DownloadStatus(id=item_id, name=item_id, state="downloading"))
        return statuses

    @staticmethod
    def _dropped(watch: str, item_id: str) -> str | None:
        for extension in (".torrent", ".nzb", ".magnet"):
            path = os.path.join(watch, item_id + extension)
            if os.path.exists(path):
                return path
        return None

    def remove(self, download_id: str, delete_files: bool = False) -> None:
        watch = self.settings.get("watch_folder")
        if watch and (dropped := self._dropped(watch, download_id)):
            os.unlink(dropped)
        if not delete_files:
            return
        completed = self._folder("completed_folder")
        for status in self.status([download_id]):
            if status.save_path and os.path.dirname(status.save_path) == completed:
                if os.path.isdir(status.save_path) and not os.path.islink(status.save_path):
                    shutil.rmtree(status.save_path)
                else:
                    os.unlink(status.save_path)

    def test(self) -> TestResult:
        try:
            for key in ("watch_folder", "completed_folder"):
                folder = self._folder(key)
                if not os.access(folder, os.W_OK):
                    what = key.replace('_', ' ')
                    return TestResult(False, f"blackhole: cannot write to the {what} {folder}")
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        return TestResult(True, "both folders exist and are writable")


class UsenetBlackholeClient(BlackholeClient):
    """The same folder pair for .nzb files: one kind per protocol, as Sonarr
    offers "Torrent Blackhole" and "Usenet Blackhole"."""

    kind: ClassVar[str] = "blackhole_usenet"
    label: ClassVar[str] = "Blackhole folder (usenet)"
    protocol: ClassVar[str] = "usenet"


@hookimpl
def comicsrv_download_clients():
    return [BlackholeClient, UsenetBlackholeClient]
