"""The web UI: server-rendered pages over the same services the APIs use.

One blueprint, ``web``, with its templates in ``web/templates/web/`` and its
own assets in ``web/static/web/`` (third-party ones, vendored from npm, in
``web/static/vendor/``): nothing to build, so ``pip install`` gives a
working UI. Pages are plain HTML forms and links first; htmx swaps parts of
them (mark read, favourites, the next page of covers) and its SSE extension
streams scan progress; the reader is one ES module talking to ``/api/v1``.

Modules: ``shell`` (layout, navigation, guards, errors), ``account`` (login,
logout, first-run set-up, theme), ``library`` (home, series, books, browsing),
``libraries`` (scans with live progress), ``reader``; the *arr pages:
``arr`` (what they share), ``watchlist`` (Series and story arcs), ``wanted``,
``activity``, ``settings_pages``, ``system``, ``live`` (toasts and badge).
"""
from __future__ import annotations

from flask import Blueprint

blp = Blueprint("web", __name__)

from . import account, libraries, library, reader, shell  # noqa: E402,F401  (routes)
from . import activity, arr, live, settings_pages, system, wanted, watchlist  # noqa: E402,F401

__all__ = ["blp"]
