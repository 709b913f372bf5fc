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

from ... import __version__
from ...auth import changes_state_on_get, require
from ...automation import callbacks, providers
from ...errors import BadRequest
from ...updates import version_info
from .common import SECURITY, EnvelopeSchema, ok

blp = Blueprint("legacy_mylar", __name__, url_prefix="/api",
                description="Mylar's command API, as Prowlarr's Mylar application syncs indexers")

COMMANDS = ("getVersion", "listProviders", "addProvider", "changeProvider", "delProvider",
            "forceProcess")
_TRUE = {"true", "1", "yes", "on"}


class CommandArgs(Schema):
    cmd = fields.String(required=True, validate=validate.OneOf(COMMANDS))
    name = fields.String(validate=validate.Length(min=1, max=200))
    providertype = fields.String(validate=validate.OneOf(tuple(providers.PROVIDER_TYPES)))
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


def _fields(args: dict[str, Any]) -> dict[str, Any]:
    return {"host": args["host"], "api_key": args.get("prov_apikey"),
            "enabled": args.get("enabled"), "categories": args.get("categories")}


def get_version(_args: dict[str, Any]) -> dict[str, Any]:
    return ok({**version_info(), "version": __version__})


def list_providers(_args: dict[str, Any]) -> dict[str, Any]:
    rows = providers.list_providers()
    return ok({"newznabs": [providers.listed(r) for r in rows if r.kind == "newznab"],
               "torznabs": [providers.listed(r) for r in rows if r.kind == "torznab"]})


def add_provider(args: dict[str, Any]) -> dict[str, Any]:
    _need(args, "name", "providertype", "host")
    row = providers.add_provider(args["name"], args["providertype"], **_fields(args))
    return ok(providers.listed(row))


def change_provider(args: dict[str, Any]) -> dict[str, Any]:
    _need(args, "name", "providertype", "host")
    row = providers.change_provider(args["name"], args["providertype"], new_name=args.get("altername"),
                                    **_fields(args))
    return ok(providers.listed(row))


def del_provider(args: dict[str, Any]) -> dict[str, Any]:
    _need(args, "name", "providertype")
    providers.delete_provider(args["name"], args["providertype"])
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
