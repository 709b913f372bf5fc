"""Which API surface owns a URL: a registry on the app, longest prefix wins.

Each surface (``/api/v1``, the LANraragi archive API, the legacy ``/api``,
OPDS) registers its prefix with the function that renders its errors
(``comicsrv.api.surfaces`` installs the handlers that use it). The registry
lives outside ``comicsrv.api`` because more than the API asks it: the
credential resolution in ``comicsrv.auth.principal`` accepts a key in the
query only where the owning surface says its clients send one there, and
``auth`` must not import ``api``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import Flask, Response

ErrorRenderer = Callable[[int, str, str, Any], Response]


@dataclass(frozen=True)
class Surface:
    name: str
    prefix: str
    render_error: ErrorRenderer
    # Only the prefix itself, not the paths below it (LANraragi owns
    # /api/search, the legacy surface owns /api/search/comics).
    exact: bool = False
    # Its clients send the API key as ``?apikey=`` (Mylar-style tools and
    # Prowlarr's Mylar sync); elsewhere keys stay out of URLs.
    api_key_in_query: bool = False
    # Its error body for the OpenAPI document (``api.errors_doc.ErrorEnvelope``);
    # None: the surface documents its errors on each view.
    error_envelope: Any = None


def register_surface(app: Flask, surface: Surface) -> None:
    app.extensions.setdefault("comicsrv.surfaces", []).append(surface)


def surface_for_path(app: Flask, path: str) -> Surface | None:
    best = None
    for surface in app.extensions.get("comicsrv.surfaces", []):
        below = not surface.exact and path.startswith(surface.prefix.rstrip("/") + "/")
        if path == surface.prefix or below:
            if best is None or len(surface.prefix) > len(best.prefix):
                best = surface
    return best
