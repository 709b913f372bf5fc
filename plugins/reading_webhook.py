"""Reading log webhook: a sync target that POSTs each user's reading to a
URL the admin chose (a self-hosted tracker, Home Assistant, n8n, a
spreadsheet script).

System settings (the admin's): ``url`` (required), ``secret`` (signs every
body: ``X-Comicsrv-Signature: sha256=<hex HMAC-SHA256 of the body>``, as
GitHub's webhooks do) and ``timeout`` seconds. User settings (each user's):
``account``, the name the receiver knows them by (their user name when
empty), and ``token``, sent as ``Authorization: Bearer`` when set.

Each sync sends the records changed since the last one, oldest first, in
bodies of at most ``BATCH`` records::

    {"source": "comicsrv", "event": "reading", "account": "alice",
     "records": [{"book_id", "title", "series", "number", "volume", "year",
                  "page", "total_pages", "completed", "updated_at", "arcid",
                  "identifiers"}]}

A test sends ``{"source": "comicsrv", "event": "test", ...}`` and expects a
2xx answer.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict
from typing import Any, Mapping

from comicsrv.hookspecs import (
    IntegrationAuthError, IntegrationError, ReadingRecord, SyncResult, SyncTarget, TestResult,
    hookimpl,
)

BATCH = 200


class ReadingWebhook(SyncTarget):
    kind = "reading_webhook"
    label = "Reading log webhook"
    settings_fields = [
        {"name": "url", "label": "URL", "type": "url", "required": True},
        {"name": "secret", "label": "Signing secret", "type": "password", "required": False},
        {"name": "timeout", "label": "Timeout (s)", "type": "number", "required": False},
    ]
    user_settings_fields = [
        {"name": "account", "label": "Account name at the receiver", "type": "text",
         "required": False},
        {"name": "token", "label": "Token", "type": "password", "required": False},
    ]

    def _post(self, body: dict[str, Any], user_settings: Mapping[str, Any]) -> None:
        import requests

        data = json.dumps(body, separators=(",", ":"), default=str).encode()
        headers = {"Content-Type": "application/json", "User-Agent": self.context.user_agent}
        secret = self.settings.get("secret")
        if secret:
            digest = hmac.new(str(secret).encode(), data, hashlib.sha256).hexdigest()
            headers["X-Comicsrv-Signature"] = f"sha256={digest}"
        if user_settings.get("token"):
            headers["Authorization"] = f"Bearer {user_settings['token']}"
        url = self.settings.get("url")
        if not url:
            raise IntegrationError("reading webhook: no url configured")
        timeout = float(self.settings.get("timeout") or self.context.timeout)
        try:
            response = requests.post(url, data=data, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise IntegrationError(f"reading webhook: {url} cannot be reached "
                                   f"({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise IntegrationAuthError(f"reading webhook: {url} refused the token "
                                       f"(HTTP {response.status_code})")
        if response.status_code >= 300:
            raise IntegrationError(f"reading webhook: {url} answered HTTP {response.status_code}")

    @staticmethod
    def _account(user_settings: Mapping[str, Any]) -> str | None:
        return user_settings.get("account") or user_settings.get("username")

    def sync(self, user_settings: Mapping[str, Any], records: list[ReadingRecord]) -> SyncResult:
        for start in range(0, len(records), BATCH):
            self._post({"source": "comicsrv", "event": "reading",
                        "account": self._account(user_settings),
                        "records": [asdict(r) for r in records[start:start + BATCH]]},
                       user_settings)
        return SyncResult(len(records), f"{len(records)} record(s) sent")

    def _test(self, user_settings: Mapping[str, Any]) -> TestResult:
        try:
            self._post({"source": "comicsrv", "event": "test",
                        "account": self._account(user_settings), "records": []}, user_settings)
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        return TestResult(True, "the receiver answered")

    def test(self) -> TestResult:
        return self._test({})

    def test_user(self, user_settings: Mapping[str, Any]) -> TestResult:
        return self._test(user_settings)


@hookimpl
def comicsrv_sync_targets():
    return [ReadingWebhook]
