"""The legacy ``/api`` surface: Comicarr's REST API (seed 000), and Mylar's
``/api?cmd=...`` commands that Prowlarr's Mylar application calls.

Auth is an API key in ``X-Api-Key`` (or ``?apikey=``, as Mylar-style tools
send it). Comicarr and Mylar have one user, their admin, and the *arr side
(the watchlist, wanted issues, story arcs, downloads, indexers) is server
state that ignores which libraries a user may see: every route needs
SystemAdmin, except logging in and out and the version. Every answer is
Comicarr's envelope: ``{"success": true, "data": ...}``, lists as
``{"results", "total", "limit", "offset", "has_more"}``, and
errors as ``{"success": false, "error": {"code": <HTTP status>, "message"}}``.

Every module of this package that defines a flask-smorest ``blp`` is
registered, as in ``/api/v1``.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from flask import Flask

from ..errors_doc import LEGACY_ENVELOPE
from ..surfaces import Surface, register_surface
from .common import LEGACY_SURFACE, render_error

if TYPE_CHECKING:
    from .. import DeferredDocsApi


def blueprints() -> list:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "common":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "blp"):
            found.append(module.blp)
    return found


def register(api: DeferredDocsApi, app: Flask) -> None:
    api.document(lambda api: api.spec.components.security_scheme("LegacyApiKey", {
        "type": "apiKey", "in": "header", "name": "X-Api-Key",
        "description": "An API key (also accepted as ?apikey=)"}))
    register_surface(app, Surface(LEGACY_SURFACE, "/api", render_error, api_key_in_query=True,
                                  error_envelope=LEGACY_ENVELOPE))
    for blueprint in blueprints():
        api.register_blueprint(blueprint)
