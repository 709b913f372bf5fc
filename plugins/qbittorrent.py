"""qBittorrent download client over its Web API v2 (qBittorrent 4.1 to 5.x).

Settings: ``url``, ``username``, ``password``, ``category`` and an optional
``save_path``. The client's id for a download is the torrent's info-hash
(v1, lower-case hex), computed here from the magnet link or the .torrent.

qBittorrent bans an IP after a few failed logins, so a rejected login is
never retried by itself: the refusal is remembered per URL and credentials
until the settings change. ``.torrent`` URLs are fetched here and uploaded,
because qBittorrent may not reach the indexer (another container, a VPN).
qBittorrent 5 renamed ``pause``/``resume`` to ``stop``/``start`` and the
``paused*`` states to ``stopped*``; both spellings are handled.
"""
from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import PureWindowsPath
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urljoin, urlsplit

from comicsrv.hookspecs import (
    DownloadClient, DownloadStatus, IntegrationAuthError, IntegrationError, Release, TestResult,
    hookimpl,
)

if TYPE_CHECKING:
    import requests

# qBittorrent state -> DownloadStatus.state. A finished torrent still being
# checked is not complete yet (the check may fail), as Sonarr reads it.
STATES = {
    "error": "failed", "missingFiles": "failed",
    "pausedDL": "paused", "stoppedDL": "paused",
    "queuedDL": "queued", "checkingDL": "queued", "checkingUP": "queued",
    "checkingResumeData": "queued",
    "downloading": "downloading", "stalledDL": "downloading", "metaDL": "downloading",
    "forcedMetaDL": "downloading", "forcedDL": "downloading", "allocating": "downloading",
    "moving": "downloading",
    "uploading": "completed", "stalledUP": "completed", "forcedUP": "completed",
    "queuedUP": "completed", "pausedUP": "completed", "stoppedUP": "completed",
}
STATE_ERRORS = {
    "error": "qBittorrent reports an error for this torrent",
    "missingFiles": "qBittorrent reports the torrent's files are missing",
}
# Seeding has ended (or was never going on): the torrent may be removed.
SEEDING_DONE_STATES = frozenset({"pausedUP", "stoppedUP"})
# webapiVersion from which pause/resume are called stop/start (qBittorrent 5.0).
STOP_START_API = (2, 11)
MAX_REDIRECTS = 5


# --- info-hashes ----------------------------------------------------------------

def _bdecode_span(data: bytes, pos: int) -> int:
    """The end offset of the bencoded value starting at ``pos``."""
    head = data[pos:pos + 1]
    if head == b"i":
        end = data.index(b"e", pos)
        return end + 1
    if head in (b"l", b"d"):
        pos += 1
        while data[pos:pos + 1] != b"e":
            if not data[pos:pos + 1]:
                raise ValueError("truncated")
            pos = _bdecode_span(data, pos)
        return pos + 1
    if head.isdigit():
        colon = data.index(b":", pos)
        end = colon + 1 + int(data[pos:colon])
        if end > len(data):
            raise ValueError("truncated")
        return end
    raise ValueError(f"unexpected byte {head!r} at {pos}")


def torrent_info_hash(torrent: bytes) -> str:
    """The v1 info-hash of a .torrent: SHA-1 of its bencoded ``info`` dict,
    hashed exactly as stored."""
    try:
        if torrent[:1] != b"d":
            raise ValueError("not a dictionary")
        pos = 1
        while torrent[pos:pos + 1] != b"e":
            key_end = _bdecode_span(torrent, pos)
            key = torrent[torrent.index(b":", pos) + 1:key_end]
            value_end = _bdecode_span(torrent, key_end)
            if key == b"info":
                return hashlib.sha1(torrent[key_end:value_end]).hexdigest()
            pos = value_end
    except (ValueError, IndexError) as exc:
        raise IntegrationError(f"the download is not a valid .torrent file ({exc})") from None
    raise IntegrationError("the .torrent file has no info dictionary")


def magnet_info_hash(magnet: str) -> str:
    for topic in parse_qs(urlsplit(magnet).query).get("xt", []):
        if topic.lower().startswith("urn:btih:"):
            value = topic[9:]
            if len(value) == 40:
                return value.lower()
            if len(value) == 32:
                return base64.b32decode(value.upper()).hex()
    raise IntegrationError("the magnet link has no BitTorrent v1 info-hash (xt=urn:btih:)")


# --- paths ----------------------------------------------------------------------

def _is_absolute(path: str) -> bool:
    return path.startswith("/") or PureWindowsPath(path).is_absolute()


def _join(folder: str, name: str) -> str:
    separator = "\\" if "\\" in folder or PureWindowsPath(folder).drive else "/"
    return folder.rstrip("/\\") + separator + name


def content_path(torrent: dict[str, Any]) -> str | None:
    """Where the torrent's content lies as qBittorrent sees it: the file of a
    single-file torrent, the top folder of a multi-file one."""
    save_path = torrent.get("save_path") or None
    content = torrent.get("content_path") or None
    if content and _is_absolute(content):
        return content
    if save_path and (content or torrent.get("name")):
        return _join(save_path, content or torrent["name"])
    return save_path


class QBittorrent(DownloadClient):
    kind = "qbittorrent"
    label = "qBittorrent"
    protocol = "torrent"
    settings_fields = [
        {"name": "url", "label": "Web UI URL", "type": "url", "required": True},
        {"name": "username", "label": "Username", "type": "text", "required": False},
        {"name": "password", "label": "Password", "type": "password", "required": False},
        {"name": "category", "label": "Category", "type": "text", "required": False},
        {"name": "save_path", "label": "Save path (as qBittorrent sees it)", "type": "text",
         "required": False},
    ]

    # Refused logins by (url, username, password digest): never tried again
    # by any instance until the settings differ.
    _rejected: ClassVar[dict[tuple[str, str, str], str]] = {}
    _rejected_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        self.url = str(self.settings.get("url") or "").rstrip("/")
        self._session: requests.Session | None = None
        self._login_lock = threading.Lock()
        self._api_version: tuple[int, ...] | None = None

    # -- session -----------------------------------------------------------

    def _credentials_key(self) -> tuple[str, str, str]:
        password = str(self.settings.get("password") or "")
        return (self.url, str(self.settings.get("username") or ""),
                hashlib.sha256(password.encode()).hexdigest())

    def _headers(self) -> dict[str, str]:
        # qBittorrent's CSRF check compares Referer/Origin with its own host.
        return {"Referer": self.url + "/", "Origin": self.url,
                "User-Agent": self.context.user_agent}

    def _refuse(self, message: str) -> None:
        with self._rejected_lock:
            self._rejected[self._credentials_key()] = message
        raise IntegrationAuthError(message)

    def _login(self) -> requests.Session:
        import requests

        if not self.url:
            raise IntegrationError("qBittorrent has no URL configured")
        with self._login_lock:
            with self._rejected_lock:
                refused = self._rejected.get(self._credentials_key())
            if refused:
                raise IntegrationAuthError(
                    f"{refused} (not retried until the qBittorrent settings change)")
            session = requests.Session()
            session.headers.update(self._headers())
            try:
                response = session.post(
                    f"{self.url}/api/v2/auth/login", timeout=self.context.timeout,
                    data={"username": self.settings.get("username") or "",
                          "password": self.settings.get("password") or ""})
            except requests.RequestException as exc:
                raise IntegrationError(f"cannot reach qBittorrent at {self.url}: {exc}") from None
            if response.status_code == 403:
                self._refuse("qBittorrent refused this address after too many failed logins "
                             "(banned); check the credentials, then wait or restart qBittorrent")
            if response.status_code == 200 and response.text.strip() == "Fails.":
                self._refuse("qBittorrent rejected the username or password")
            if response.status_code not in (200, 204):
                raise IntegrationError(f"qBittorrent login answered HTTP {response.status_code}")
            self._session = session
            return session

    def _request(self, method: str, endpoint: str, *, retry_login: bool = True,
                 **kwargs: Any) -> requests.Response:
        import requests

        session = self._session or self._login()
        try:
            response = session.request(method, f"{self.url}/api/v2/{endpoint}",
                                       timeout=self.context.timeout, **kwargs)
        except requests.RequestException as exc:
            raise IntegrationError(f"cannot reach qBittorrent at {self.url}: {exc}") from None
        if response.status_code == 403 and retry_login:
            # The session expired (qBittorrent restarted): log in once more.
            self._session = None
            return self._request(method, endpoint, retry_login=False, **kwargs)
        if response.status_code == 403:
            raise IntegrationAuthError("qBittorrent refused the request (403) after logging in")
        return response

    def api_version(self) -> tuple[int, ...]:
        if self._api_version is None:
            response = self._request("GET", "app/webapiVersion")
            if not response.ok:
                raise IntegrationError(f"qBittorrent webapiVersion answered HTTP {response.status_code}")
            try:
                self._api_version = tuple(int(p) for p in response.text.strip().split("."))
            except ValueError:
                raise IntegrationError(
                    f"qBittorrent gave an unreadable API version {response.text[:50]!r}") from None
        return self._api_version

    # -- the DownloadClient API ----------------------------------------------

    def test(self) -> TestResult:
        try:
            version = self._request("GET", "app/version")
            api = self.api_version()
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        return TestResult(True, f"qBittorrent {version.text.strip()} (Web API "
                                f"{'.'.join(map(str, api))})")

    def categories(self) -> dict[str, Any]:
        response = self._request("GET", "torrents/categories")
        if not response.ok:
            raise IntegrationError(f"qBittorrent categories answered HTTP {response.status_code}")
        return response.json() or {}

    def ensure_category(self, category: str) -> None:
        if category in self.categories():
            return
        response = self._request("POST", "torrents/createCategory", data={
            "category": category, "savePath": self.settings.get("save_path") or ""})
        if not response.ok and category not in self.categories():
            raise IntegrationError(f"qBittorrent could not create the category {category!r} "
                                   f"(HTTP {response.status_code}: {response.text[:200]})")

    def _fetch_torrent(self, url: str) -> tuple[bytes | None, str | None]:
        """The .torrent bytes behind ``url``, or the magnet it redirects to."""
        import requests

        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = requests.get(url, timeout=self.context.timeout, allow_redirects=False,
                                        headers={"User-Agent": self.context.user_agent})
            except requests.RequestException as exc:
                raise IntegrationError(f"could not fetch the .torrent from {url}: {exc}") from None
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                if url.startswith("magnet:"):
                    return None, url
                continue
            if not response.ok:
                raise IntegrationError(f"fetching the .torrent answered HTTP {response.status_code}")
            return response.content, None
        raise IntegrationError(f"too many redirects fetching the .torrent from {url}")

    def add(self, release: Release, category: str | None = None) -> str:
        category = category or self.settings.get("category") or None
        url = release.download_url or ""
        torrent, magnet = (None, url) if url.startswith("magnet:") else self._fetch_torrent(url)
        info_hash = magnet_info_hash(magnet) if magnet else torrent_info_hash(torrent)
        if category:
            self.ensure_category(category)
        # Both spellings: qBittorrent 5 reads "stopped", 4.x "paused".
        form: dict[str, str] = {"paused": "false", "stopped": "false"}
        if category:
            form["category"] = category
        if self.settings.get("save_path"):
            form.update(savepath=self.settings["save_path"], autoTMM="false")
        if magnet:
            response = self._request("POST", "torrents/add", data={**form, "urls": magnet})
        else:
            name = f"{info_hash}.torrent"
            response = self._request("POST", "torrents/add", data=form,
                                     files={"torrents": (name, torrent, "application/x-bittorrent")})
        refused = response.status_code >= 400 or response.text.strip() == "Fails."
        # "Fails."/409 may only mean the torrent is already there.
        if refused and not self._find(info_hash):
            raise IntegrationError(f"qBittorrent refused the torrent {release.title!r} "
                                   f"(HTTP {response.status_code}: {response.text[:200]})")
        return info_hash

    def _torrents(self, ids: list[str] | None) -> list[dict[str, Any]]:
        params = {"hashes": "|".join(h.lower() for h in ids)} if ids else {}
        response = self._request("GET", "torrents/info", params=params)
        if not response.ok:
            raise IntegrationError(f"qBittorrent torrents/info answered HTTP {response.status_code}")
        torrents = response.json() or []
        if ids is None and self.settings.get("category"):
            # Filtered here: an unknown filter makes some versions return everything.
            torrents = [t for t in torrents if t.get("category") == self.settings["category"]]
        return torrents

    def _find(self, info_hash: str) -> dict[str, Any] | None:
        found = [t for t in self._torrents([info_hash]) if t.get("hash", "").lower() == info_hash]
        return found[0] if found else None

    def status(self, ids: list[str] | None = None) -> list[DownloadStatus]:
        if ids is not None and not ids:
            return []
        return [self._status(t) for t in self._torrents(ids)]

    @staticmethod
    def _status(torrent: dict[str, Any]) -> DownloadStatus:
        raw = str(torrent.get("state") or "")
        return DownloadStatus(
            id=str(torrent.get("hash") or "").lower(), name=str(torrent.get("name") or ""),
            state=STATES.get(raw, "downloading"), progress=float(torrent.get("progress") or 0.0),
            size=torrent.get("size") or torrent.get("total_size"),
            save_path=content_path(torrent), category=torrent.get("category") or None,
            error=STATE_ERRORS.get(raw))

    def raw_state(self, download_id: str) -> str | None:
        """qBittorrent's own state name of one torrent (None when unknown)."""
        torrent = self._find(download_id.lower())
        return torrent.get("state") if torrent else None

    def seeding_done(self, download_id: str) -> bool:
        """Whether the torrent has stopped seeding (reached its ratio or time
        limit, or was paused), so removing it takes nothing from the swarm."""
        return self.raw_state(download_id) in SEEDING_DONE_STATES

    def remove(self, download_id: str, delete_files: bool = False) -> None:
        response = self._request("POST", "torrents/delete", data={
            "hashes": download_id.lower(), "deleteFiles": "true" if delete_files else "false"})
        if not response.ok:
            raise IntegrationError(f"qBittorrent delete answered HTTP {response.status_code}")

    def _pause_or_resume(self, download_id: str, stop: bool) -> None:
        new_api = self.api_version() >= STOP_START_API
        endpoint = ("stop" if stop else "start") if new_api else ("pause" if stop else "resume")
        response = self._request("POST", f"torrents/{endpoint}", data={"hashes": download_id.lower()})
        if response.status_code == 404:
            # A build whose version number misled us: the other spelling.
            fallback = {"stop": "pause", "start": "resume", "pause": "stop", "resume": "start"}
            response = self._request("POST", f"torrents/{fallback[endpoint]}",
                                     data={"hashes": download_id.lower()})
        if not response.ok:
            raise IntegrationError(f"qBittorrent {endpoint} answered HTTP {response.status_code}")

    def pause(self, download_id: str) -> None:
        self._pause_or_resume(download_id, stop=True)

    def resume(self, download_id: str) -> None:
        self._pause_or_resume(download_id, stop=False)


@hookimpl
def comicsrv_download_clients():
    return [QBittorrent]
