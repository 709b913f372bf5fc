"""NZBGet download client over JSON-RPC (``POST {url}/jsonrpc``, basic auth).

Settings: ``url``, ``username``, ``password`` and ``category``. The client's
id for a download is NZBGet's ``NZBID``. The NZB is fetched here and sent
base64-encoded to ``append`` (NZBGet may not reach the indexer). Items live
in the queue (``listgroups``) while downloading and post-processing, then in
the history with a ``KIND/DETAIL`` status such as ``SUCCESS/UNPACK``.

Method signatures changed between versions (``append`` gained
``AutoCategory`` in the nzbget.com 22 line; ``editqueue`` lost its offset
argument in 18), so ``version`` is asked once per instance.
"""
from __future__ import annotations

import base64
import json
from typing import Any

from comicsrv.hookspecs import (
    DownloadClient, DownloadStatus, IntegrationAuthError, IntegrationError, Release, TestResult,
    hookimpl,
)

# Queue status -> DownloadStatus.state. Post-processing (par check, repair,
# unpack, move, scripts) still changes the files, so it counts as
# downloading; PP_FINISHED is the last instant before the item moves to the
# history, where its final directory and outcome are read.
QUEUE_STATES = {
    "QUEUED": "queued", "FETCHING": "queued", "PAUSED": "paused", "DOWNLOADING": "downloading",
    "PP_QUEUED": "downloading", "LOADING_PARS": "downloading",
    "VERIFYING_SOURCES": "downloading", "REPAIRING": "downloading",
    "VERIFYING_REPAIRED": "downloading", "RENAMING": "downloading",
    "UNPACKING": "downloading", "MOVING": "downloading", "EXECUTING_SCRIPT": "downloading",
    "PP_FINISHED": "downloading",
}
# WARNING/SCRIPT: a post-processing script complained, the files are fine.
# Any other warning (damaged, repairable, health, space, password) needs
# attention, so the download counts as failed.
HISTORY_SUCCESS_WARNINGS = frozenset({"SCRIPT"})


def _size(item: dict[str, Any], prefix: str) -> int:
    hi, lo = int(item.get(f"{prefix}Hi") or 0), int(item.get(f"{prefix}Lo") or 0)
    return (hi << 32) + lo if hi or lo else int(item.get(f"{prefix}MB") or 0) * 1024 * 1024


def history_state(status: str) -> tuple[str, str | None]:
    """``(state, error)`` for a history status such as ``FAILURE/PAR``."""
    kind, _, detail = status.partition("/")
    if kind == "SUCCESS" or (kind == "WARNING" and detail in HISTORY_SUCCESS_WARNINGS):
        return "completed", None
    reason = {
        "FAILURE": "NZBGet could not complete the download",
        "WARNING": "NZBGet finished the download with a problem",
        "DELETED": "the download was deleted in NZBGet",
    }.get(kind, "NZBGet reports an unknown outcome")
    return "failed", f"{reason} ({status})"


class Nzbget(DownloadClient):
    kind = "nzbget"
    label = "NZBGet"
    protocol = "usenet"
    settings_fields = [
        {"name": "url", "label": "URL", "type": "url", "required": True},
        {"name": "username", "label": "Username", "type": "text", "required": False},
        {"name": "password", "label": "Password", "type": "password", "required": False},
        {"name": "category", "label": "Category", "type": "text", "required": False},
    ]

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        self.url = str(self.settings.get("url") or "").rstrip("/")
        self._version: tuple[int, ...] | None = None

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; its ``result``, or a clear IntegrationError."""
        import requests

        if not self.url:
            raise IntegrationError("NZBGet has no URL configured")
        auth = (str(self.settings.get("username") or ""), str(self.settings.get("password") or ""))
        try:
            response = requests.post(
                f"{self.url}/jsonrpc", json={"method": method, "params": list(params)},
                auth=auth, timeout=self.context.timeout,
                headers={"User-Agent": self.context.user_agent})
        except requests.RequestException as exc:
            raise IntegrationError(f"cannot reach NZBGet at {self.url}: {exc}") from None
        if response.status_code in (401, 403):
            raise IntegrationAuthError("NZBGet rejected the username or password")
        if not response.ok:
            raise IntegrationError(f"NZBGet {method} answered HTTP {response.status_code}")
        try:
            body = json.loads(response.content.decode("utf-8-sig"))
        except ValueError:
            raise IntegrationError(f"NZBGet {method} answered something that is not JSON: "
                                   f"{response.text[:200]!r}") from None
        error = body.get("error") if isinstance(body, dict) else None
        if error:
            message = error.get("message") if isinstance(error, dict) else error
            raise IntegrationError(f"NZBGet {method} failed: {message}")
        if not isinstance(body, dict) or "result" not in body:
            raise IntegrationError(f"NZBGet {method} answered without a result")
        return body["result"]

    def version(self) -> tuple[int, ...]:
        if self._version is None:
            raw = str(self.call("version"))
            digits = []
            for part in raw.replace("-", ".").split("."):
                if not part.isdigit():
                    break
                digits.append(int(part))
            self._version = tuple(digits) or (0,)
        return self._version

    def test(self) -> TestResult:
        try:
            version = self.version()
            category = self.settings.get("category")
            if category:
                names = {str(o.get("Value")) for o in self.call("config") or []
                         if str(o.get("Name", "")).startswith("Category")
                         and str(o.get("Name", "")).endswith(".Name")}
                if category not in names:
                    return TestResult(False, f"NZBGet has no category {category!r}")
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        return TestResult(True, f"NZBGet {'.'.join(map(str, version))}")

    def _fetch_nzb(self, url: str) -> bytes:
        import requests

        try:
            response = requests.get(url, timeout=self.context.timeout,
                                    headers={"User-Agent": self.context.user_agent})
        except requests.RequestException as exc:
            raise IntegrationError(f"could not fetch the NZB from {url}: {exc}") from None
        if not response.ok:
            raise IntegrationError(f"fetching the NZB answered HTTP {response.status_code}")
        if b"<nzb" not in response.content[:4096]:
            raise IntegrationError("the download is not an NZB file")
        return response.content

    def add(self, release: Release, category: str | None = None) -> str:
        content = base64.b64encode(self._fetch_nzb(release.download_url)).decode()
        category = category or self.settings.get("category") or ""
        # NZBFilename, Content, Category, Priority, AddToTop, AddPaused,
        # DupeKey, DupeScore, DupeMode, [AutoCategory,] PPParameters
        params: list[Any] = [f"{release.title}.nzb", content, category, 0, False, False,
                             "", 0, "SCORE"]
        if self.version() >= (22,):
            params.append(False)
        # NZBGet 21 reads each JSON member as one "name: value" parameter.
        params.append([{"comicsrv": release.guid or release.title}])
        nzb_id = self.call("append", *params)
        if not isinstance(nzb_id, int) or nzb_id <= 0:
            raise IntegrationError(f"NZBGet did not accept {release.title!r} (append gave {nzb_id!r})")
        return str(nzb_id)

    def status(self, ids: list[str] | None = None) -> list[DownloadStatus]:
        if ids is not None and not ids:
            return []
        category = None if ids else self.settings.get("category") or None
        found: dict[str, DownloadStatus] = {}
        for item in self.call("history", False) or []:
            if item.get("Kind", "NZB") == "NZB":
                found[str(item.get("NZBID"))] = self._history_status(item)
        for item in self.call("listgroups", 0) or []:
            found[str(item.get("NZBID"))] = self._queue_status(item)
        return [s for s in found.values()
                if (ids is None or s.id in ids) and (category is None or s.category == category)]

    @staticmethod
    def _queue_status(item: dict[str, Any]) -> DownloadStatus:
        total, left = _size(item, "FileSize"), _size(item, "RemainingSize")
        return DownloadStatus(
            id=str(item.get("NZBID")), name=str(item.get("NZBName") or ""),
            state=QUEUE_STATES.get(str(item.get("Status") or ""), "downloading"),
            progress=(total - left) / total if total else 0.0, size=total or None,
            save_path=item.get("DestDir") or None, category=item.get("Category") or None)

    @staticmethod
    def _history_status(item: dict[str, Any]) -> DownloadStatus:
        state, error = history_state(str(item.get("Status") or ""))
        return DownloadStatus(
            id=str(item.get("NZBID")), name=str(item.get("Name") or item.get("NZBName") or ""),
            state=state, progress=1.0 if state == "completed" else 0.0,
            size=_size(item, "FileSize") or None,
            save_path=item.get("FinalDir") or item.get("DestDir") or None,
            category=item.get("Category") or None, error=error)

    def _edit(self, command: str, nzb_id: str) -> bool:
        try:
            ids = [int(nzb_id)]
        except ValueError:
            raise IntegrationError(f"{nzb_id!r} is not an NZBGet id") from None
        if self.version() >= (18,):
            return bool(self.call("editqueue", command, "", ids))
        return bool(self.call("editqueue", command, 0, "", ids))

    def remove(self, download_id: str, delete_files: bool = False) -> None:
        """Drop the item from the queue or the history. NZBGet's API cannot
        delete a finished download's files; the caller removes those."""
        in_queue = any(str(i.get("NZBID")) == download_id for i in self.call("listgroups", 0) or [])
        if in_queue:
            # Final delete: no DELETED/MANUAL entry left behind in the history.
            if not self._edit("GroupFinalDelete", download_id):
                raise IntegrationError(f"NZBGet could not delete {download_id} from its queue")
        elif not self._edit("HistoryFinalDelete", download_id):
            raise IntegrationError(f"NZBGet could not delete {download_id} from its history")

    def pause(self, download_id: str) -> None:
        if not self._edit("GroupPause", download_id):
            raise IntegrationError(f"NZBGet could not pause {download_id}")

    def resume(self, download_id: str) -> None:
        if not self._edit("GroupResume", download_id):
            raise IntegrationError(f"NZBGet could not resume {download_id}")


@hookimpl
def comicsrv_download_clients():
    return [Nzbget]
