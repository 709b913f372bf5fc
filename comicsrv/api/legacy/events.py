"""``/api/events/stream``: Comicarr's live events over SSE: the pipeline
(wanted, grabbed, download progress, post-processing steps, imports,
failures), library changes (books, series, libraries, covers) and the
progress of background tasks (scans, searches, imports).

Admin only: the stream names every library's books and every download.
"""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from ... import services
from ...auth import require
from ...events import (
    KEEPALIVE_SECONDS, LIBRARY_EVENTS, PIPELINE_EVENTS, ScanProgress, TaskProgress, sse_response,
)
from .common import SECURITY

blp = Blueprint("legacy_events", __name__, url_prefix="/api",
                description="Live events: downloads, post-processing, library changes")

STREAM_EVENTS = PIPELINE_EVENTS | LIBRARY_EVENTS | {TaskProgress.name, ScanProgress.name}
SSE_DOC = {"200": {"description": "A text/event-stream: a `connected` event at once, then one "
                                  "event per pipeline step, library change or task progress, "
                                  "and `: keep-alive` comments when idle",
                   "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


@blp.route("/events/stream")
class EventStream(MethodView):
    @require("SystemAdmin")
    @blp.doc(security=SECURITY, responses=SSE_DOC)
    def get(self):
        """Server-sent events for downloads, post-processing, library changes
        and task progress; each ``data`` is the event as JSON."""
        app = current_app._get_current_object()
        keepalive = float(app.config.get("SSE_KEEPALIVE_SECONDS") or KEEPALIVE_SECONDS)
        return sse_response(services.events(app), STREAM_EVENTS,
                            keepalive=keepalive)
