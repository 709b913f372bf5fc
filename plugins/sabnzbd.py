"""SABnzbd download client over its HTTP API (``/api?mode=...&output=json``).

Settings: ``url``, ``api_key`` and ``category``. The client's id for a
download is SABnzbd's ``nzo_id``. The NZB is fetched here and uploaded with
``mode=addfile``, as Sonarr does, because SABnzbd may not reach the indexer
and a broken NZB is then reported against the release, not found later.
Items live in the queue while downloading and in the history afterwards;
``status`` reads both.
"""
from __future__ import annotations

import json
from typing import Any

from comicsrv.hookspecs import (
    DownloadClient, DownloadStatus, IntegrationAuthError, IntegrationError, Release, TestResult,
    hookimpl,
)

# SABnzbd status -> DownloadStatus.state. Post-processing stages (verify,
# repair, unpack, move, scripts) are not finished downloads yet.
STATES = {
    "Queued": "queued", "Idle": "queued", "Grabbing": "queued", "Fetching": "downloading",
    "Propagating": "queued", "Paused": "paused",
    "Downloading": "downloading", "Checking": "downloading", "QuickCheck": "downloading",
    "Verifying": "downloading", "Repairing": "downloading", "Extracting": "downloading",
    "Moving": "downloading", "Running": "downloading",
    "Completed": "completed", "Failed": "failed", "Deleted": "failed",
}
HISTORY_LIMIT = 500


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class Sabnzbd(DownloadClient):
    kind = "sabnzbd"
    label = "SABnzbd"
    protocol = "usenet"
    settings_fields = [
        {"name": "url", "label": "URL", "type": "url", "required": True},
        {"name": "api_key", "label": "API key", "type": "password", "required": True},
        {"name": "category", "label": "Category", "type": "text", "required": False},
    ]

    @property
    def url(self) -> str:
        return str(self.settings.get("url") or "").rstrip("/")

    def _call(self, mode: str, *, files: dict | None = None, **params: Any) -> Any:
        import requests

        if not self.url:
            raise IntegrationError("SABnzbd has no URL configured")
        query = {"mode": mode, "output": "json", "apikey": self.settings.get("api_key") or "",
                 **{k: v for k, v in params.items() if v is not None}}
        try:
            if files:
                response = requests.post(f"{self.url}/api", params=query, files=files,
                                         timeout=self.context.timeout,
                                         headers={"User-Agent": self.context.user_agent})
            else:
                response = requests.get(f"{self.url}/api", params=query,
                                        timeout=self.context.timeout,
                                        headers={"User-Agent": self.context.user_agent})
        except requests.RequestException as exc:
            raise IntegrationError(f"cannot reach SABnzbd at {self.url}: {exc}") from None
        text = response.content.decode("utf-8-sig", errors="replace").strip()
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        # Older versions answer a bad key in plain text even with output=json.
        error = (data.get("error") if isinstance(data, dict) and data.get("status") is False
                 else text if data is None else None)
        if error and "api key" in str(error).lower():
            raise IntegrationAuthError(f"SABnzbd rejected the API key ({str(error)[:100]})")
        if not response.ok:
            raise IntegrationError(f"SABnzbd {mode} answered HTTP {response.status_code}")
        if data is None:
            raise IntegrationError(f"SABnzbd {mode} answered something that is not JSON: "
                                   f"{text[:200]!r}")
        if error:
            raise IntegrationError(f"SABnzbd {mode} failed: {error}")
        if isinstance(data, dict) and data.get("status") is False:
            raise IntegrationError(f"SABnzbd {mode} failed: no reason given")
        return data

    def test(self) -> TestResult:
        try:
            version = self._call("version").get("version", "?")
            categories = self._call("get_cats").get("categories") or []
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        category = self.settings.get("category")
        if category and category not in categories:
            return TestResult(False, f"SABnzbd has no category {category!r} "
                                     f"(it has {', '.join(c for c in categories if c != '*')})")
        return TestResult(True, f"SABnzbd {version}")

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
        nzb = self._fetch_nzb(release.download_url)
        data = self._call("addfile", files={"name": (f"{release.title}.nzb", nzb,
                                                      "application/x-nzb")},
                          nzbname=release.title,
                          cat=category or self.settings.get("category") or None)
        ids = data.get("nzo_ids") or [] if isinstance(data, dict) else []
        if not ids:
            raise IntegrationError(f"SABnzbd did not accept {release.title!r}: {data!r:.200}")
        return str(ids[0])

    def status(self, ids: list[str] | None = None) -> list[DownloadStatus]:
        if ids is not None and not ids:
            return []
        wanted = set(ids) if ids else None
        category = None if ids else self.settings.get("category") or None
        queue = self._call("queue", cat=category).get("queue") or {}
        history = (self._call("history", start=0, limit=HISTORY_LIMIT, category=category)
                   .get("history") or {})
        found: dict[str, DownloadStatus] = {}
        for slot in history.get("slots") or []:
            found[str(slot.get("nzo_id"))] = self._history_status(slot)
        # The queue wins: an item retried from the history is in both.
        queue_paused = bool(queue.get("paused"))
        for slot in queue.get("slots") or []:
            found[str(slot.get("nzo_id"))] = self._queue_status(slot, queue_paused)
        return [s for s in found.values() if wanted is None or s.id in wanted]

    @staticmethod
    def _queue_status(slot: dict[str, Any], queue_paused: bool) -> DownloadStatus:
        raw = str(slot.get("status") or "Queued")
        state = STATES.get(raw, "downloading")
        if queue_paused and state in ("queued", "downloading"):
            state = "paused"
        total_mb, left_mb = _number(slot.get("mb")), _number(slot.get("mbleft"))
        progress = (total_mb - left_mb) / total_mb if total_mb else _number(slot.get("percentage")) / 100
        return DownloadStatus(id=str(slot.get("nzo_id")), name=str(slot.get("filename") or ""),
                              state=state, progress=max(0.0, min(1.0, progress)),
                              size=int(total_mb * 1024 * 1024) or None,
                              category=slot.get("cat") or None)

    @staticmethod
    def _history_status(slot: dict[str, Any]) -> DownloadStatus:
        raw = str(slot.get("status") or "")
        state = STATES.get(raw, "downloading")
        error = None
        if state == "failed":
            error = slot.get("fail_message") or f"SABnzbd reports the download {raw.lower()}"
        return DownloadStatus(id=str(slot.get("nzo_id")), name=str(slot.get("name") or ""),
                              state=state, progress=1.0 if state == "completed" else 0.0,
                              size=int(_number(slot.get("bytes"))) or None,
                              save_path=slot.get("storage") or None,
                              category=slot.get("category") or None, error=error)

    def remove(self, download_id: str, delete_files: bool = False) -> None:
        del_files = 1 if delete_files else 0
        # The item is in the queue or the history; deleting where it is not is a no-op.
        self._call("queue", name="delete", value=download_id, del_files=del_files)
        self._call("history", name="delete", value=download_id, del_files=del_files)

    def pause(self, download_id: str) -> None:
        self._call("queue", name="pause", value=download_id)

    def resume(self, download_id: str) -> None:
        self._call("queue", name="resume", value=download_id)


@hookimpl
def comicsrv_download_clients():
    return [Sabnzbd]
