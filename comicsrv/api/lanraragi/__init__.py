"""The LANraragi archive API (seed 002): ``/api/archives``, ``/api/search``,
``/api/categories``, ``/api/minion``, ``/api/info``, ``/api/database``.

Paths, parameters, field names, JSON types and status codes are LANraragi's,
so its clients (the Mihon/Tachiyomi extension, LRReader, Python clients)
work unchanged. ``register`` wires the blueprints, the job types behind
``/api/minion`` and the error envelope of each of these prefixes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

from ... import services
from ...lrr import maintenance, plugins, uploads
from ...lrr.thumbnails import (
    PAGE_THUMBNAILS_JOB,
    THUMBNAIL_JOB,
    run_page_thumbnails_job,
    run_thumbnail_job,
)
from ..surfaces import Surface, register_surface
from . import admin, archives, categories, info, minion, opds, search, stamps, tankoubons
from .common import ARCHIVE_SURFACE, SEARCH_PATHS, render_error, render_search_error

if TYPE_CHECKING:
    from .. import DeferredDocsApi

PREFIXES = ("/api/archives", "/api/minion", "/api/info", "/api/categories", "/api/database",
            "/api/tankoubons", "/api/shinobu", "/api/regen_thumbs", "/api/tempfolder",
            "/api/stamps", "/api/plugins", "/api/download_url", "/api/opds")


def register(api: DeferredDocsApi, app: Flask) -> None:
    api.document(lambda api: api.spec.components.security_scheme("LanraragiKey", {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": "Bearer <base64(api key)> (the raw key and ?key= work too)"}))
    for module in (archives, search, categories, minion, info, tankoubons, admin, stamps, opds):
        api.register_blueprint(module.blp)
    for prefix in PREFIXES:
        register_surface(app, Surface(ARCHIVE_SURFACE, prefix, render_error))
    # Exact paths: the legacy /api owns the other /api/search/* paths.
    for path in SEARCH_PATHS:
        register_surface(app, Surface(ARCHIVE_SURFACE, path, render_search_error, exact=True))
    runner = services.jobs(app)
    runner.register(THUMBNAIL_JOB, run_thumbnail_job)
    runner.register(PAGE_THUMBNAILS_JOB, run_page_thumbnails_job)
    runner.register(maintenance.BACKUP_JOB, maintenance.run_backup_job)
    runner.register(maintenance.RESTORE_JOB, maintenance.run_restore_job)
    runner.register(maintenance.REGEN_THUMBNAILS_JOB, maintenance.run_regen_thumbnails_job)
    runner.register(maintenance.STAT_HASHES_JOB, maintenance.run_stat_hashes_job)
    runner.register(plugins.PLUGIN_JOB, plugins.run_plugin_job)
    runner.register(uploads.DOWNLOAD_JOB, uploads.run_download_job)
