"""``GET /api?cmd=...``: the Mylar command API that Prowlarr's built-in
"Mylar" application calls to sync indexers (``MylarV3Proxy``): getVersion,
listProviders, addProvider, changeProvider, delProvider; and forceProcess,
which Mylar's post-processing scripts (autoProcessComics, ComicRN,
nzbToMylar) send with POST when SABnzbd or NZBGet finishes a job.

Every command is a GET with ``apikey`` and the fields as query parameters,
so the view is declared ``@changes_state_on_get``: the API key (``apikey``
or the ``X-Api-Key`` header) works, the web UI's session cookie never does
(a hostile page could otherwise add or remove indexers through the admin's
browser with a link). The answer is ``{"success": true, "data": ...}`` or
Comicarr's error envelope. Providers are the Newznab/Torznab indexers (``IndexerConfig``
rows); the ones Prowlarr adds are marked ``managed_by="prowlarr"`` and are
searched by the next search like any other.

``listProviders`` shows each provider's API key masked, as Sonarr v4 shows
its indexers' keys (Prowlarr keeps its own copy and sends it again on every
``changeProvider``); ``prov_apikey`` sent back masked keeps the stored key.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from ... import __version__
from ...auth import changes_state_on_get, require
from ...automation import callbacks
from ...errors import BadRequest, Conflict, NotFound
from ...extensions import db
from ...models.automation import IndexerConfig
from ...redact import MASK, mask_url
from ...updates import version_info
from .common import SECURITY, EnvelopeSchema, ok

blp = Blueprint("legacy_mylar", __name__, url_prefix="/api",
                description="Mylar's command API, as Prowlarr's Mylar application syncs indexers")

COMMANDS = ("getVersion", "listProviders", "addProvider", "changeProvider", "delProvider",
            "forceProcess")
PROVIDER_TYPES = {"newznab": "usenet", "torznab": "torrent"}
DEFAULT_CATEGORIES = [7030]
MANAGED_BY = "prowlarr"
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class CommandArgs(Schema):
    cmd = fields.String(required=True, validate=validate.OneOf(COMMANDS))
    name = fields.String(validate=validate.Length(min=1, max=200))
    providertype = fields.String(validate=validate.OneOf(tuple(PROVIDER_TYPES)))
    host = fields.Url(schemes={"http", "https"}, require_tld=False,
                      validate=validate.Length(max=2000))
    prov_apikey = fields.String(validate=validate.Length(max=500))
    enabled = fields.String(validate=validate.Length(max=10))
    categories = fields.String(validate=validate.Length(max=500),
                               metadata={"description": "comma-separated; 7030 when empty"})
    altername = fields.String(validate=validate.Length(min=1, max=200),
                              metadata={"description": "changeProvider: the new name"})
    # forceProcess, as autoProcessComics sends it.
    nzb_name = fields.String(validate=validate.Length(min=1, max=1000),
                             metadata={"description": "forceProcess: the job's name"})
    nzb_folder = fields.String(validate=validate.Length(min=1, max=4096),
                               metadata={"description": "forceProcess: where it was unpacked"})
    failed = fields.String(validate=validate.Length(max=10),
                           metadata={"description": "forceProcess: 1/True when the job failed"})
    issueid = fields.String(validate=validate.Length(min=1, max=64))
    comicid = fields.String(validate=validate.Length(max=64))
    apc_version = fields.String(validate=validate.Length(max=50))
    comicrn_version = fields.String(validate=validate.Length(max=50))


def _need(args: dict[str, Any], *names: str) -> None:
    missing = [name for name in names if not args.get(name)]
    if missing:
        raise BadRequest(f"{args['cmd']}: missing {', '.join(missing)}")


def _enabled(value: str | None) -> bool:
    if value is None or value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise BadRequest(f"enabled must be true or false, not {value!r}")


def _categories(value: str | None) -> list[int]:
    if not value or not value.strip():
        return list(DEFAULT_CATEGORIES)
    found = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 9:
            raise BadRequest(f"categories must be comma-separated numbers, not {value!r}")
        found.append(int(part))
    return found or list(DEFAULT_CATEGORIES)


def _settings(args: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    """Prowlarr's host is ``http://prowlarr:9696/<id>/api``: the indexer's URL
    is the part before ``/api``, its API path ``/api``."""
    host = args["host"].rstrip("/")
    url, path = (host[:-4], "/api") if host.endswith("/api") else (host, "/api")
    settings = dict(old or {})
    settings.update({"url": url, "api_path": path, "host": host,
                     "categories": _categories(args.get("categories"))})
    if args.get("prov_apikey") is not None and args["prov_apikey"] != MASK:
        settings["api_key"] = args["prov_apikey"]
    return settings


def _provider(name: str, kind: str) -> IndexerConfig:
    row = db.session.execute(select(IndexerConfig).where(
        IndexerConfig.name == name, IndexerConfig.kind == kind)).scalar()
    if row is None:
        raise NotFound(f"No {kind} provider named {name!r}")
    return row


def _listed(row: IndexerConfig) -> dict[str, Any]:
    settings = row.settings or {}
    categories = settings.get("categories") or DEFAULT_CATEGORIES
    if isinstance(categories, str):
        categories = categories.split(",")
    host = settings.get("host") or (str(settings.get("url") or "").rstrip("/")
                                    + str(settings.get("api_path") or "/api"))
    return {"id": row.id, "name": row.name, "host": mask_url(host),
            "apikey": MASK if settings.get("api_key") else "",
            "categories": ",".join(str(c) for c in categories), "enabled": bool(row.enabled)}


def get_version(_args: dict[str, Any]) -> dict[str, Any]:
    return ok({**version_info(), "version": __version__})


def list_providers(_args: dict[str, Any]) -> dict[str, Any]:
    rows = db.session.execute(select(IndexerConfig).where(
        IndexerConfig.kind.in_(tuple(PROVIDER_TYPES))).order_by(IndexerConfig.id)).scalars().all()
    return ok({"newznabs": [_listed(r) for r in rows if r.kind == "newznab"],
               "torznabs": [_listed(r) for r in rows if r.kind == "torznab"]})


def add_provider(args: dict[str, Any]) -> dict[str, Any]:
    _need(args, "name", "providertype", "host")
    taken = db.session.execute(select(IndexerConfig.id).where(
        IndexerConfig.name == args["name"])).scalar()
    if taken is not None:
        raise Conflict(f"A provider named {args['name']!r} exists already")
    row = IndexerConfig(name=args["name"], kind=args["providertype"],
                        protocol=PROVIDER_TYPES[args["providertype"]],
                        enabled=_enabled(args.get("enabled")), managed_by=MANAGED_BY,
                        settings=_settings(args))
    db.session.add(row)
    db.session.commit()
    return ok(_listed(row))


def change_provider(args: dict[str, Any]) -> dict[str, Any]:
    _need(args, "name", "providertype", "host")
    row = _provider(args["name"], args["providertype"])
    new_name = args.get("altername") or row.name
    if new_name != row.name and db.session.execute(select(IndexerConfig.id).where(
            IndexerConfig.name == new_name)).scalar() is not None:
        raise Conflict(f"A provider named {new_name!r} exists already")
    row.name, row.enabled = new_name, _enabled(args.get("enabled"))
    row.settings = _settings(args, row.settings)
    # Prowlarr has fixed the indexer: give it its next chance at once.
    row.failure_count, row.disabled_until, row.last_error = 0, None, None
    db.session.commit()
    return ok(_listed(row))


def del_provider(args: dict[str, Any]) -> dict[str, Any]:
    _need(args, "name", "providertype")
    row = _provider(args["name"], args["providertype"])
    db.session.delete(row)
    db.session.commit()
    return ok({"name": args["name"], "deleted": True})


def force_process(args: dict[str, Any]) -> dict[str, Any]:
    """Post-process (or fail) the finished job the script names."""
    if not args.get("nzb_name") and not args.get("nzb_folder"):
        raise BadRequest("forceProcess: missing nzb_folder")
    failed = (args.get("failed") or "").strip().lower() in _TRUE
    result = callbacks.process(args.get("nzb_name"), args.get("nzb_folder"), failed=failed,
                               issue_id=args.get("issueid"))
    return ok(result)


HANDLERS = {"getVersion": get_version, "forceProcess": force_process, "listProviders": list_providers,
            "addProvider": add_provider, "changeProvider": change_provider,
            "delProvider": del_provider}


@blp.route("")
class Command(MethodView):
    @changes_state_on_get
    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(CommandArgs, location="query")
    @blp.response(200, EnvelopeSchema)
    def get(self, args):
        """One Mylar command (``cmd``), as Prowlarr's Mylar application sends it."""
        return HANDLERS[args["cmd"]](args)

    @require("SystemAdmin")
    @blp.doc(security=SECURITY)
    @blp.arguments(CommandArgs, location="query")
    @blp.response(200, EnvelopeSchema)
    def post(self, args):
        """The same commands with POST, as Mylar's post-processing scripts
        send ``cmd=forceProcess`` (the fields in the query string)."""
        return HANDLERS[args["cmd"]](args)
