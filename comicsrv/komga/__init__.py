"""The Komga-compatible API at ``/komga``: Komga's REST API (``/api/v1``,
``/api/v2/users/me``, ``/actuator/info``) over the one library, users, keys
and progress table, for the apps that speak only Komga (Mihon's Komga
extension, Komelia, Paperback, Tachidesk).

Modules: ``common`` (blueprint, switch, paging, errors), ``catalog``
(queries), ``dto`` (Komga's JSON and its schemas), ``views`` (routes).
"""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from ..api.surfaces import Surface, register_surface
from .common import KOMGA_ENVELOPE, KOMGA_SURFACE, PREFIX, render_error


def register(api: Api, app: Flask) -> None:
    from . import views  # noqa: F401 (routes)
    from .common import blp

    register_surface(app, Surface(KOMGA_SURFACE, PREFIX, render_error,
                                  error_envelope=KOMGA_ENVELOPE))
    api.register_blueprint(blp)
