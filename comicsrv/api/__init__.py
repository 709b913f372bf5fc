"""The HTTP surfaces: ``/api/v1``, the archive API and the legacy ``/api``.

``register_api(app)`` builds the one flask-smorest ``Api`` (one OpenAPI
document for every surface) and registers each surface's blueprints and its
error envelope.
"""
from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Callable

import marshmallow as ma
from flask import Flask
from flask_smorest import Api, Blueprint
from webargs.flaskparser import FlaskParser

from ..auth.decorators import install_permission_guard
from .errors_doc import V1_ENVELOPE, document_surface_errors, register_error_schemas
from .request_limits import install_body_checks, install_request_limits
from .surfaces import Surface, default_error, install_error_handlers, register_surface


def _schema_deepcopy(schema: ma.Schema, memo: dict[int, Any]) -> ma.Schema:
    return schema


# flask-smorest keeps each view's documentation in a ``_apidoc`` dict and
# deep-copies it, schema instances included, at every decorator layer, and
# every layer's wrapper keeps its copy: ``errors(blp, 400, 404)`` alone adds
# five layers. That was 2,300 schema instances and 9,000 fields (8 MB of every
# server) copied from ~600. A schema instance holds no per-use state (a load
# or dump never changes it; marshmallow copies a Nested instance shallowly
# before changing it, and copies fields shallowly for the same reason), so a
# copy can be the schema itself. Set here, before any surface module defines
# its views: each of them imports this package first.
setattr(ma.Schema, "__deepcopy__", _schema_deepcopy)  # noqa: B010 (marshmallow declares none to assign)


class SchemaInstanceParser(FlaskParser):
    """flask-smorest's argument parser, with one instance per schema class.

    ``@blp.arguments(SomeSchema)`` hands webargs a class, and webargs builds
    a new instance on every request: 5 % of a page request, for schemas
    that hold no per-request state (a load never changes its schema)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._instances: dict[type, ma.Schema] = {}

    def _get_schema(self, argmap: Any, req: Any) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._instances.get(argmap)
            if schema is None:
                schema = self._instances[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)


class DeferredDocsApi(Api):
    """flask-smorest's ``Api``, writing its OpenAPI document when it is first
    read (``/openapi.json``, ``comicsrv openapi``) rather than at start.

    ``register_blueprint`` registers the routes at once and queues their
    documentation; other changes to the document go through ``document``.
    The first read of ``spec`` runs the queue in the order it was filled:
    the same document as when each step ran at once. Written eagerly, it
    was ~5 MB of every server's memory, and most servers are never asked.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._doc_steps: list[Callable[[Api], None]] | None = []
        self._doc_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def spec(self) -> Any:
        if self._doc_steps:
            with self._doc_lock:
                steps, self._doc_steps = self._doc_steps, None
                for step in steps or ():
                    step(self)
        return self.__dict__.get("_spec")

    @spec.setter
    def spec(self, value: Any) -> None:
        self.__dict__["_spec"] = value

    def document(self, step: Callable[[Api], None]) -> None:
        """Run ``step(api)`` on the document: now if it is written, else
        when it is."""
        if self._doc_steps is None:
            step(self)
        else:
            self._doc_steps.append(step)

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        # flask-smorest's own, with the documentation queued.
        blp_name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][blp_name] = self
        self._app.register_blueprint(blp, **options)

        def document_views(api: Api) -> None:
            blp.register_views_in_doc(api, api._app, api.spec, name=blp_name,
                                      parameters=parameters)
            api.spec.tag({"name": blp_name, "description": blp.description})

        self.document(document_views)


# Set before any route module is imported (they import this package first):
# ``@blp.arguments`` reads it when a view is decorated.
Blueprint.ARGUMENTS_PARSER = SchemaInstanceParser()


def utc_isoformat(value: datetime) -> str:
    """A datetime as RFC 3339 with its offset. Naive datetimes here are UTC
    (``models.utcnow``: every row stores UTC without a zone), and a time
    without an offset is not an OpenAPI ``date-time``: clients parsed it as
    their local time."""
    if value.tzinfo is None:
        return value.isoformat() + "+00:00"  # as with tzinfo=UTC, without a new datetime
    return value.isoformat()


# Every schema's ``fields.DateTime`` (default format "iso") answers with the
# offset; a new dict on the class, so Date and Time keep theirs.
ma.fields.DateTime.SERIALIZATION_FUNCS = {**ma.fields.DateTime.SERIALIZATION_FUNCS,
                                          "iso": utc_isoformat, "iso8601": utc_isoformat}


# What the text validators shared by the schemas refuse, as JSON Schema
# patterns, so the document promises only what the server accepts.
NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
NO_NUL = "^[^\\u0000]*$"


def accepted_values(converter: Any, field: ma.fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function for what its own do not say: a ``pattern``
    for ``plain_text`` and ``clean_text`` (plain functions, which apispec
    cannot read), and the keys a ``Dict`` whose keys are ``OneOf`` takes."""
    from .v1.auth import plain_text
    from .v1.clu_common import clean_text

    if isinstance(field, ma.fields.Dict) and field.key_field is not None:
        for validator in field.key_field.validators:
            if isinstance(validator, ma.validate.OneOf):
                values = converter.field2property(field.value_field) if field.value_field else {}
                return {"properties": {str(name): values for name in validator.choices},
                        "additionalProperties": False}
    if isinstance(field, (ma.fields.Email, ma.fields.Url)):
        return {}  # their format already leaves control characters out
    validators = getattr(field, "validators", None) or []
    if plain_text in validators:
        return {"pattern": NO_CONTROL_CHARACTERS}
    if clean_text in validators:
        return {"pattern": NO_NUL}
    return {}


def _security_schemes(api: Api) -> None:
    api.spec.components.security_scheme("ApiKeyHeader", {"type": "apiKey", "in": "header",
                                                          "name": "X-API-Key"})
    api.spec.components.security_scheme("Bearer", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme("Basic", {"type": "http", "scheme": "basic"})
    api.spec.components.security_scheme("KoreaderUser", {
        "type": "apiKey", "in": "header", "name": "X-Auth-User",
        "description": "KOReader's user name: a comicsrv API key"})
    api.spec.components.security_scheme("SessionCookie", {"type": "apiKey", "in": "cookie",
                                                           "name": "comicsrv_session"})


def register_api(app: Flask) -> DeferredDocsApi:
    from . import system, v1

    install_request_limits(app)  # before any rule is added: the <int:> converter
    api = DeferredDocsApi(app, spec_kwargs={
        "info": {"description": "comicsrv: a self-hosted comic server and *arr. "
                                "Surfaces: /api/v1 (client API), the LANraragi archive API, "
                                "and the legacy /api."},
    })
    app.extensions["comicsrv.api"] = api
    api.ma_plugin.converter.add_attribute_function(accepted_values)
    api.document(_security_schemes)
    api.document(register_error_schemas)
    register_surface(app, Surface("v1", "/api/v1", default_error, error_envelope=V1_ENVELOPE))
    for blueprint in (system.blp, *v1.blueprints()):
        api.register_blueprint(blueprint)
    from . import lanraragi  # LANraragi archive API: blueprints, minion jobs, error envelopes
    lanraragi.register(api, app)
    from . import legacy  # Comicarr's /api and Mylar's cmd API

    legacy.register(api, app)
    from .. import opds  # OPDS 1.2 + page streaming, OPDS 2 + Readium progression

    opds.register(api, app)
    from .. import komga  # Komga's REST API for Mihon, Komelia, Paperback

    komga.register(api, app)
    from .. import koreader  # KOReader's progress sync (kosync)

    koreader.register(api, app)
    api.document(lambda api: document_surface_errors(api, app))
    install_error_handlers(app)
    install_permission_guard(app)
    install_body_checks(app)  # after the credential check
    return api
