"""Webhook notifier: POSTs each notification as JSON to a URL.

The simplest notifier there is, and the one Discord/Gotify/n8n/Home Assistant
users wire up first. Settings: ``url`` (required), ``headers`` (a mapping),
``timeout`` seconds.
"""
from __future__ import annotations

from dataclasses import asdict

from comicsrv.hookspecs import Notification, Notifier, TestResult, hookimpl


class WebhookNotifier(Notifier):
    kind = "webhook"
    label = "Webhook"
    settings_fields = [
        {"name": "url", "label": "URL", "type": "url", "required": True},
        # Headers carry credentials (Authorization, X-Api-Key): a secret.
        {"name": "headers", "label": "Extra headers", "type": "mapping", "required": False,
         "secret": True},
        {"name": "timeout", "label": "Timeout (s)", "type": "number", "required": False},
    ]

    def send(self, notification: Notification) -> None:
        import requests

        response = requests.post(
            self.settings["url"],
            json={"source": "comicsrv", **asdict(notification)},
            headers=self.settings.get("headers") or {},
            timeout=float(self.settings.get("timeout") or 10),
        )
        response.raise_for_status()

    def test(self) -> TestResult:
        import requests

        try:
            self.send(Notification("test", "comicsrv test", "This is a test notification."))
        except requests.RequestException as exc:
            return TestResult(False, str(exc))
        return TestResult(True, "delivered")


@hookimpl
def comicsrv_notifiers():
    return [WebhookNotifier]
