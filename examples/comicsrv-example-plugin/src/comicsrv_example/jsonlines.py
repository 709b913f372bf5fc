"""A notifier that appends each notification to a JSON-lines file.

Settings: ``path`` (required, absolute) and ``max_bytes``: when the file has
grown past it, it is renamed to ``<path>.1`` (replacing an older one) before
the next line is written, so a server that runs for years keeps at most two
files of that size.
"""
from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone

from comicsrv.hookspecs import IntegrationError, Notification, Notifier, TestResult


class JsonLinesNotifier(Notifier):
    kind = "jsonlines"
    label = "JSON lines file"
    settings_fields = [
        {"name": "path", "label": "File", "type": "path", "required": True},
        {"name": "max_bytes", "label": "Rotate after (bytes)", "type": "number",
         "required": False},
    ]

    # comicsrv delivers to each target in a thread of its own, and a target
    # may get two notifications at once: one line is written at a time.
    _lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        path = self.settings["path"]
        line = json.dumps({
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "event": notification.event,
            "title": notification.title,
            "message": notification.message,
            "data": notification.data,
        }, default=str, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self._rotate(path)
                with open(path, "a", encoding="utf-8") as out:
                    out.write(line)
        except OSError as exc:
            # An IntegrationError's message is shown on the target as its last error.
            raise IntegrationError(f"cannot write {path}: {exc.strerror or exc}") from None

    def _rotate(self, path: str) -> None:
        limit = self.settings.get("max_bytes")
        if limit and os.path.exists(path) and os.path.getsize(path) >= limit:
            os.replace(path, f"{path}.1")

    def test(self) -> TestResult:
        try:
            self.send(Notification("test", "comicsrv test", "This is a test notification."))
        except IntegrationError as exc:
            return TestResult(False, str(exc))
        return TestResult(True, f"appended a line to {self.settings['path']}")
