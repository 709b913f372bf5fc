"""LANraragi "plugins" over comicsrv's metadata providers.

A LANraragi metadata plugin takes an archive and answers tags (and maybe a
title and summary) for it. Here that is a lookup in one of our metadata
providers (ComicVine, Metron, any plugin's): the archive's series is
searched by name (or the provider's series id given as the one-shot
argument), its issue found by number, and the answer made of LANraragi's
``new_tags``, ``title`` and ``summary``. Using a plugin changes nothing;
queuing one (``run_plugin``) writes its answer onto the archive, as
LANraragi's auto-plugins do.

There are no download, login or script plugins here.
"""
from __future__ import annotations

from typing import Any

from flask import current_app

from .. import __version__
from ..automation import integrations, watchlist
from ..errors import BadRequest
from ..extensions import db
from ..jobs.runner import JobContext
from ..models import Book
from .archives import update_metadata
from .tags import add_book_tags

PLUGIN_JOB = "lrr.run_plugin"
TYPES = ("download", "login", "metadata", "script", "all")


def plugin_infos(kind: str) -> list[dict[str, Any]]:
    if kind not in TYPES:
        raise BadRequest(f"Unknown plugin type {kind!r}: one of {', '.join(TYPES)}.")
    if kind not in ("metadata", "all"):
        return []
    found = []
    for name, cls in sorted(integrations.kinds("metadata").items()):
        found.append({
            "name": cls.label or name, "namespace": name, "type": "metadata",
            "author": "comicsrv", "version": __version__, "icon": "",
            "description": (f"Tags, title and summary from {cls.label or name} for the "
                            "archive's series and issue number."),
            "parameters": [{"name": spec.get("name", ""), "type": _param_type(spec),
                            "desc": spec.get("label") or spec.get("name", "")}
                           for spec in cls.settings_fields],
            "oneshot_arg": f"{cls.label or name} series id (else the series is searched by name)",
            "url_regex": None, "login_from": None,
        })
    return found


def _param_type(spec: dict[str, Any]) -> str:
    return {"checkbox": "bool", "bool": "bool", "number": "int", "int": "int"}.get(
        str(spec.get("type", "")), "string")


def _tag(namespace: str, value: Any) -> str | None:
    text = str(value or "").replace(",", " ").strip()
    return f"{namespace}:{text}" if text else None


def lookup(plugin: str, book: Book, arg: str | None) -> dict[str, Any]:
    """What provider ``plugin`` says of the book: ``new_tags`` (LANraragi's
    comma-separated tags), ``title``, ``summary``."""
    if plugin not in integrations.kinds("metadata"):
        raise BadRequest(f"No metadata plugin named {plugin!r}.")
    provider = watchlist.provider(plugin)
    if arg and arg.strip():
        series = watchlist.call("series", provider.get_series, arg.strip())
    else:
        name = book.series_name or book.title or ""
        if not name.strip():
            raise BadRequest("This archive has no series name to search for.")
        found = watchlist.call("series search", provider.search_series, name, book.year)
        if not found:
            raise BadRequest(f"{plugin} knows no series named {name!r}.")
        series = found[0]
    issues = watchlist.call("issues", provider.get_issues, series.provider_id)
    number = (book.number or "").lstrip("0") or "0"
    issue = next((i for i in issues if (i.number or "").lstrip("0") or "0" == number), None)
    tags = [_tag("series", series.name), _tag("publisher", series.publisher)]
    title = summary = ""
    if issue is not None:
        for role, people in (issue.credits or {}).items():
            tags.extend(_tag(role.lower(), person) for person in people)
        if issue.cover_date:
            tags.append(_tag("date", issue.cover_date))
        title = issue.title or ""
        summary = issue.description or ""
    else:
        summary = series.description or ""
    new_tags = ", ".join(dict.fromkeys(tag for tag in tags if tag))
    return {"new_tags": new_tags, "title": title, "summary": summary}


def apply(book: Book, data: dict[str, Any]) -> None:
    """Write a plugin's answer onto the archive: tags added, title and
    summary set when given."""
    if data.get("new_tags"):
        add_book_tags(book, data["new_tags"])
    update_metadata(book, title=data.get("title") or None, tags=None,
                    summary=data.get("summary") or None)


def run_plugin_job(ctx: JobContext, plugin: str, book_id: int, arg: str | None = None) -> dict:
    book = db.session.get(Book, book_id)
    if book is None:
        raise BadRequest("The archive is gone.")
    data = lookup(plugin, book, arg)
    apply(book, data)
    current_app.logger.debug("plugin %s on book %s: %s", plugin, book_id, data)
    return {"success": True, "id": book.arcid, "title": data["title"], "data": data}
