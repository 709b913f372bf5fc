"""The OPDS surface: OPDS 1.2 with the Page Streaming Extension at
``/opds/v1.2`` and OPDS 2 with the Readium progression API at ``/opds/v2.0``.

Reader apps that speak OPDS (Panels, Chunky, KyBook, Librera, Moon+ Reader,
Thorium, Readest) browse the same library, as the same users with the same
keys, and read and write the same reading positions as the CLU, LANraragi and
Codex clients of the other surfaces.

Modules, along the seams of the surface:

- ``catalog``: what the feeds list (one fixed set of queries per feed page);
- ``navigation`` and ``acquisition``: the OPDS 1.2 feeds (``atom`` writes them);
- ``pse``: page streaming, which saves the reader's position;
- ``opds2`` and ``progression``: the JSON catalogue and the Readium progression API;
- ``keys``: API keys in URLs, for apps that cannot send HTTP Basic;
- ``common``: links, paging, the ``opds.enabled`` switch, errors.

OPDS 1.2 answers Atom, which the OpenAPI document cannot describe usefully;
only the OPDS 2 JSON routes are in it.
"""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from ..api.errors_doc import OPDS2_ENVELOPE
from ..api.surfaces import Surface, register_surface
from .common import OPDS_SURFACE, render_error
from .keys import OpdsKeyInUrl, mask_keys

__all__ = ["mask_keys", "register"]


def register(api: Api, app: Flask) -> None:
    from . import acquisition, navigation, opds2, progression, pse  # noqa: F401 (routes)

    # Only the OPDS 2 JSON routes are in the OpenAPI document: their envelope.
    register_surface(app, Surface(OPDS_SURFACE, "/opds", render_error,
                                  error_envelope=OPDS2_ENVELOPE))
    for blueprint in (navigation.blp, acquisition.blp, pse.blp):
        app.register_blueprint(blueprint)
    api.register_blueprint(opds2.blp)
    app.wsgi_app = OpdsKeyInUrl(app.wsgi_app)
