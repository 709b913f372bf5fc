"""Apprise notifier: one target reaches any of Apprise's ~100 services.

Settings: ``urls``, a list of Apprise URLs (``tgram://bot/chat``,
``discord://id/token``, ``ntfy://topic``, ``json://host/path`` ...; a
string with one URL per line or comma-separated is accepted too).
Apprise is the library Sonarr, Mylar and Kapowarr users already know these
URLs from, and it is actively maintained.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from comicsrv.hookspecs import Notification, Notifier, TestResult, hookimpl

if TYPE_CHECKING:  # imported by the first notification: ~3 MB most servers never use
    import apprise

# Notification events -> Apprise's message types (colour and icon in most
# services): the values of apprise.NotifyType.
NOTIFY_TYPES = {
    "grabbed": "info",
    "downloaded": "success",
    "failed": "failure",
    "new_issue": "info",
    "test": "info",
}


class AppriseConfigError(ValueError):
    pass


def parse_urls(value: Any) -> list[str]:
    if isinstance(value, str):
        items = re.split(r"[\n,]", value)
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = []
    return [item.strip() for item in items if item and item.strip()]


class AppriseNotifier(Notifier):
    kind = "apprise"
    label = "Apprise"
    settings_fields = [
        {"name": "urls", "label": "Apprise URLs", "type": "list", "required": True,
         # Apprise URLs embed tokens and passwords.
         "secret": True},
    ]

    def _apprise(self) -> apprise.Apprise:
        import apprise

        urls = parse_urls(self.settings.get("urls"))
        if not urls:
            raise AppriseConfigError("no Apprise URLs configured")
        client = apprise.Apprise()
        for url in urls:
            if not client.add(url):
                # Apprise logs the details; the URL itself may hold a secret.
                scheme = url.split("://", 1)[0]
                raise AppriseConfigError(f"Apprise does not understand a {scheme}:// URL "
                                         "in this target's settings")
        return client

    def send(self, notification: Notification) -> None:
        import apprise

        client = self._apprise()
        delivered = client.notify(
            title=notification.title, body=notification.message,
            notify_type=apprise.NotifyType(NOTIFY_TYPES.get(notification.event, "info")))
        if not delivered:
            raise RuntimeError(f"Apprise could not deliver the {notification.event} "
                               f"notification to every URL of this target")

    def test(self) -> TestResult:
        try:
            self.send(Notification("test", "comicsrv test", "This is a test notification."))
        except (AppriseConfigError, RuntimeError) as exc:
            return TestResult(False, str(exc))
        return TestResult(True, "delivered")


@hookimpl
def comicsrv_notifiers():
    return [AppriseNotifier]
