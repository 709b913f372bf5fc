"""KOReader's progress sync (the kosync protocol of koreader-sync-server) at
``/koreader``: KOReader's "Progress sync" plugin, pointed at
``http(s)://host/koreader`` as its custom sync server, saves and reads the
reader's position in the one progress table every other surface shares.

- Who: as in Komga, KOReader's *user name* is a comicsrv API key and its
  password is not used (KOReader sends only an MD5 of it, which no stored
  secret of ours can be checked against). The plugin sends them as
  ``X-Auth-User``/``X-Auth-Key``; ``X-API-Key`` and HTTP Basic work too.
- Which book: the ``document`` KOReader sends is its partial MD5 of the file
  (``util.partialMD5``, its default "Binary" matching), which the scan
  stores for every book (``Book.koreader_hash``).
- Where: for a comic or PDF, KOReader's ``progress`` is the page number
  (from 1) and ``percentage`` the fraction read; the page is what is saved,
  so a page read here is the page PSE, Komga, ``/api/v1`` and LANraragi
  report, and back.

Errors answer kosync's ``{"code", "message"}`` (2001 unauthorized, 2003
invalid request), which KOReader shows to the reader.
"""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from ..api.surfaces import Surface, register_surface
from .views import KOREADER_ENVELOPE, PREFIX, blp, render_error

KOREADER_SURFACE = "koreader"


def register(api: Api, app: Flask) -> None:
    register_surface(app, Surface(KOREADER_SURFACE, PREFIX, render_error,
                                  error_envelope=KOREADER_ENVELOPE))
    api.register_blueprint(blp)
