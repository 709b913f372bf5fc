"""Settings, in Sonarr's sections: media management, libraries, metadata,
indexers, download clients (with remote path mappings), RSS feeds and
rules, notifications, general, users.

Every Save checks all its values first and stores all or nothing; a value
that cannot be stored is shown next to its field with the reason, the
others keep what was typed. A stored secret (API key, password, Apprise
URL, header) is never written into a page again: its field is empty with
"saved", and an empty field keeps it. "Test" buttons check the values in
the form, saved or not, and say what the service answered.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

from flask import current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import __version__, naming, settings_store
from ..auth.permissions import PERMISSIONS, USER_PERMISSIONS
from ..auth.users import create_user, delete_user, issue_api_key, update_user
from ..automation import (
    download_clients, feeds, indexers, integrations, notification_targets, path_mappings,
)
from ..automation.integrations import InvalidFields
from ..automation.schedule import apply_setting_changes
from ..config import CONFIG_FILENAME, ENV_PREFIX, normalize_url_base
from ..errors import BadRequest, DomainError, NotFound
from ..extensions import db
from ..hookspecs import TestResult
from ..library.libraries import create_library, delete_library, update_library
from ..models import ApiKey, Library, User
from ..models.automation import DownloadClientConfig, WatchedSeries
from . import blp
from .arr import ADMIN, FormErrors, FormReader, done, field_errors, integration_form
from .shell import is_htmx, login_required, principal

SECTIONS = (
    ("media", "Media management"), ("libraries", "Libraries"), ("metadata", "Metadata"),
    ("indexers", "Indexers"), ("download-clients", "Download clients"),
    ("rss", "RSS feeds and rules"), ("notifications", "Notifications"), ("general", "General"),
    ("users", "Users"),
)
MEDIA_KEYS = ("postprocess.rename_template", "postprocess.transfer_mode",
              "postprocess.torrent_transfer_mode", "postprocess.convert_to_cbz",
              "postprocess.write_comicinfo", "automation.preferred_formats",
              "postprocess.file_mode", "postprocess.folder_mode")
METADATA_KEYS = ("metadata.default_provider", "metadata.comicvine_api_key",
                 "metadata.metron_username", "metadata.metron_password")
GENERAL_KEYS = ("automation.enabled", "automation.rss_interval_minutes",
                "automation.search_interval_minutes", "automation.search_spacing_seconds",
                "automation.monitor_interval_seconds", "automation.metadata_refresh_hours",
                "auth.allow_registration", "library.public_reading")
LABELS = {
    "postprocess.rename_template": "Rename template",
    "postprocess.transfer_mode": "Import usenet and blackhole downloads by",
    "postprocess.torrent_transfer_mode": "Import torrents by",
    "postprocess.convert_to_cbz": "Convert CBR and CB7 to CBZ",
    "postprocess.write_comicinfo": "Write ComicInfo.xml into imported CBZ files",
    "automation.preferred_formats": "Preferred formats",
    "postprocess.file_mode": "File permissions",
    "postprocess.folder_mode": "Folder permissions",
    "metadata.default_provider": "Default provider",
    "metadata.comicvine_api_key": "ComicVine API key",
    "metadata.metron_username": "Metron user name",
    "metadata.metron_password": "Metron password",
    "automation.enabled": "Run the automation on schedule",
    "automation.rss_interval_minutes": "RSS check every (minutes)",
    "automation.search_interval_minutes": "Search wanted issues every (minutes)",
    "automation.search_spacing_seconds": "Pause between two searches (seconds)",
    "automation.monitor_interval_seconds": "Ask the download clients every (seconds)",
    "automation.metadata_refresh_hours": "Refresh metadata every (hours)",
    "auth.allow_registration": "Anyone may create an account",
    "library.public_reading": "The LANraragi archive API reads without an API key",
}
CHOICE_LABELS = {"move": "Move", "copy": "Copy", "hardlink": "Hard link (copy across disks)",
                 "hardlink_or_copy": "Hard link (copy across disks), keep seeding",
                 "metron": "Metron", "comicvine": "ComicVine"}
# The sample issue the rename template's preview renders.
SAMPLE_SERIES = SimpleNamespace(name="Saga", year=2012, volume=1, publisher="Image")
SAMPLE_ISSUE = SimpleNamespace(number="54", title="The War for Phang", cover_date="2018-07-01",
                               store_date="2018-07-04")
# config.yml keys the General page may write (they apply after a restart).
SERVER_KEYS = ("HOST", "PORT", "URL_BASE")
SERVER_KEY_NAME = "server"


def _user():
    return principal().user


def _render(section: str, template: str, status: int = 200, **context: Any):
    html = render_template(f"web/arr/settings_{template}.html", section=section,
                           sections=SECTIONS, **context)
    return html, status


@blp.get("/settings")
@login_required(ADMIN)
def settings():
    return redirect(url_for("web.settings_media"))


# --- options of the settings store, as form fields -----------------------------------------

def option_fields(keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The stored state of ``keys`` with labels, for the form macros."""
    states = {item["key"]: item for item in settings_store.settings_state(keys)}
    return [{**states[key], "label": LABELS.get(key, key), "name": key} for key in keys]


def read_options(keys: tuple[str, ...], reader: FormReader) -> dict[str, Any]:
    """The posted values of ``keys`` in their types; an empty secret keeps
    the stored one (it is left out)."""
    values: dict[str, Any] = {}
    for key in keys:
        option = settings_store.SETTINGS[key]
        if option.type == settings_store.BOOLEAN:
            values[key] = reader.flag(key)
        elif option.type == settings_store.INTEGER:
            value = reader.integer(key, label=LABELS.get(key, key))
            if value is not None or option.nullable:
                values[key] = value
            elif key not in reader.errors:
                reader.errors[key] = f"{LABELS.get(key, key)} is required"
        else:
            raw = reader.form.get(key, "")
            if option.secret and (raw == "" or raw == settings_store.SECRET_MASK):
                continue
            values[key] = raw.strip()
    return values


def save_options(keys: tuple[str, ...], extra_errors: dict[str, str] | None = None) -> dict[str, Any]:
    """Validate every posted value of ``keys`` and store them all or none;
    ``FormErrors``/``InvalidValue`` (details by key) when any is refused."""
    reader = FormReader()
    values = read_options(keys, reader)
    errors = {**(extra_errors or {}), **reader.errors}
    # The store checks what the form could read; its refusals join the others.
    checkable = {k: v for k, v in values.items() if k not in errors}
    for key, value in checkable.items():
        try:
            settings_store.SETTINGS[key].clean(value)
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise FormErrors(errors)
    if values:
        settings_store.set_settings(values, _user().id)
        apply_setting_changes(values)
    return values


# --- media management -----------------------------------------------------------------------

def preview_path(template: str) -> tuple[str | None, str | None]:
    """The path the template gives the sample issue, or the template's error."""
    try:
        path = naming.render_path(template, naming.fields_for(SAMPLE_SERIES, SAMPLE_ISSUE), ".cbz")
    except naming.NamingError as exc:
        return None, exc.message
    return path, None


@blp.route("/settings/media", methods=["GET", "POST"])
@login_required(ADMIN)
def settings_media():
    errors, error, status = {}, None, 200
    if request.method == "POST":
        try:
            save_options(MEDIA_KEYS)
        except DomainError as exc:
            errors, error, status = field_errors(exc), exc.message, exc.status
        else:
            done("Media management saved.")
            return redirect(url_for("web.settings_media"), 303)
    fields = option_fields(MEDIA_KEYS)
    template = request.form.get("postprocess.rename_template") if errors else None
    template = template if template is not None else fields[0]["value"]
    preview, preview_error = preview_path(template)
    return _render("media", "media", status, fields={f["key"]: f for f in fields},
                   errors=errors, error=error, posted=request.form if errors else None,
                   preview=preview, preview_error=preview_error, choice_labels=CHOICE_LABELS)


@blp.post("/settings/media/preview")
@login_required(ADMIN)
def settings_media_preview():
    """The live preview of the rename template on a sample issue."""
    preview, preview_error = preview_path(request.form.get("postprocess.rename_template", ""))
    return render_template("web/arr/_naming_preview.html", preview=preview,
                           preview_error=preview_error)


# --- libraries --------------------------------------------------------------------------------

@blp.route("/settings/libraries", methods=["GET", "POST"])
@login_required(ADMIN)
def settings_libraries():
    errors, error, status, values = {}, None, 200, {}
    if request.method == "POST":
        reader = FormReader()
        values = request.form
        name = reader.text("name", required=True, label="Name", max_length=200)
        path = reader.text("path", required=True, label="Folder", max_length=4096)
        try:
            reader.fail_if_errors()
            library = create_library(name, path, scan_cron=request.form.get("scan_cron") or None)
        except DomainError as exc:
            errors = field_errors(exc) or {_library_field(exc.message): exc.message}
            error, status = exc.message, exc.status
        else:
            done(f"Added the library {library.name}; scan it from Libraries.")
            return redirect(url_for("web.settings_libraries"), 303)
    rows = list(db.session.execute(select(Library).order_by(Library.name)).scalars())
    return _render("libraries", "libraries", status, libraries=rows, errors=errors, error=error,
                   values=values, path=values.get("path", "") if values else "",
                   default_library=settings_store.get_setting("automation.default_library_id"))


def _library_field(message: str) -> str:
    lowered = message.lower()
    if "cron" in lowered:
        return "scan_cron"
    if "name" in lowered and "folder" not in lowered:
        return "name"
    return "path"


@blp.post("/settings/libraries/<int:library_id>")
@login_required(ADMIN)
def settings_library_update(library_id: int):
    library = db.session.get(Library, library_id)
    if library is None:
        raise NotFound(f"There is no library {library_id}.")
    changes = {"name": request.form.get("name", library.name),
               "path": request.form.get("path", library.path),
               "scan_cron": request.form.get("scan_cron") or None,
               "enabled": request.form.get("enabled") == "on"}
    try:
        update_library(library, changes)
    except DomainError as exc:
        done(f"{library.name} was not changed: {exc.message}", "bad")
    else:
        done(f"Saved the library {library.name}.")
    return redirect(url_for("web.settings_libraries"), 303)


@blp.post("/settings/libraries/<int:library_id>/delete")
@login_required(ADMIN)
def settings_library_delete(library_id: int):
    library = db.session.get(Library, library_id)
    if library is None:
        raise NotFound(f"There is no library {library_id}.")
    name = library.name
    try:
        delete_library(library)
    except DomainError as exc:
        done(exc.message, "bad")
    else:
        done(f"Deleted the library {name} from comicsrv; its files are untouched.")
    return redirect(url_for("web.settings_libraries"), 303)


@blp.post("/settings/libraries/default")
@login_required(ADMIN)
def settings_library_default():
    """The library imports go to when a watched series names none."""
    reader = FormReader()
    library_id = reader.integer("library_id", low=1, high=2**31 - 1, label="Library")
    if library_id is not None and db.session.get(Library, library_id) is None:
        reader.errors["library_id"] = "No such library"
    if reader.errors:
        done("; ".join(reader.errors.values()), "bad")
    else:
        settings_store.set_setting("automation.default_library_id", library_id, _user().id)
        done("Saved the library imports go to.")
    return redirect(url_for("web.settings_libraries"), 303)


# --- metadata ---------------------------------------------------------------------------------

@blp.route("/settings/metadata", methods=["GET", "POST"])
@login_required(ADMIN)
def settings_metadata():
    errors, error, status = {}, None, 200
    if request.method == "POST":
        try:
            save_options(METADATA_KEYS)
        except DomainError as exc:
            errors, error, status = field_errors(exc), exc.message, exc.status
        else:
            done("Metadata providers saved.")
            return redirect(url_for("web.settings_metadata"), 303)
    fields = option_fields(METADATA_KEYS)
    return _render("metadata", "metadata", status, fields={f["key"]: f for f in fields},
                   errors=errors, error=error, posted=request.form if errors else None,
                   choice_labels=CHOICE_LABELS)


@blp.post("/settings/metadata/test")
@login_required(ADMIN)
def settings_metadata_test():
    """Check a provider with the saved settings."""
    from ..automation.watchlist import provider as configured_provider

    name = request.form.get("provider") or ""
    try:
        result = configured_provider(name).test()
    except DomainError as exc:
        result = TestResult(False, exc.message)
    except Exception as exc:  # a provider plugin's failure is the test's answer
        result = TestResult(False, f"{type(exc).__name__}: {exc}")
    return _test_answer(result, url_for("web.settings_metadata"))


def _test_answer(result: TestResult, back: str, errors: dict[str, str] | None = None):
    """A test's outcome: the fragment next to the button, or (without
    JavaScript) a message on the page it came from."""
    if is_htmx():
        return render_template("web/arr/_test_result.html", result=result, errors=errors or {})
    done(("Test passed: " if result.ok else "Test failed: ") + result.message,
         "ok" if result.ok else "bad")
    return redirect(back, 303)


# --- indexers, download clients, notifications: one pattern ---------------------------------

@dataclass(frozen=True)
class IntegrationSection:
    """One settings section over a category of configured integrations."""

    section: str
    category: str
    noun: str
    template: str
    listing: Callable[[], list]
    getter: Callable[[int], Any]
    create: Callable[[dict], Any]
    update: Callable[[int, dict], Any]
    delete: Callable[[int], None]
    test_saved: Callable[[int], TestResult]
    test_unsaved: Callable[..., TestResult]
    read_columns: Callable[[FormReader], dict[str, Any]]
    kinds_filter: Callable[[str], bool] = lambda kind: True

    def kinds(self) -> dict[str, type]:
        return {k: v for k, v in sorted(integrations.kinds(self.category).items())
                if self.kinds_filter(k)}

    def endpoint(self, name: str) -> str:
        return f"web.settings_{self.section.replace('-', '_')}_{name}"


def _indexer_columns(reader: FormReader) -> dict[str, Any]:
    return {"name": reader.text("name", required=True, label="Name", max_length=200),
            "enabled": reader.flag("enabled"),
            "priority": reader.integer("priority", low=1, high=50, required=True,
                                       label="Priority"),
            "enable_rss": reader.flag("enable_rss"),
            "enable_search": reader.flag("enable_search")}


def _client_columns(reader: FormReader) -> dict[str, Any]:
    return {"name": reader.text("name", required=True, label="Name", max_length=200),
            "enabled": reader.flag("enabled"),
            "priority": reader.integer("priority", low=1, high=50, required=True,
                                       label="Priority"),
            "category": reader.text("category", label="Category", max_length=200),
            "remove_completed": reader.flag("remove_completed")}


def _target_columns(reader: FormReader) -> dict[str, Any]:
    events = [e for e in reader.form.getlist("events")]
    if not events:
        reader.errors["events"] = "Choose at least one event"
    return {"name": reader.text("name", required=True, label="Name", max_length=200),
            "enabled": reader.flag("enabled"), "events": events}


INDEXERS = IntegrationSection(
    "indexers", indexers.CATEGORY, "indexer", "indexers", indexers.list_indexers,
    indexers.get_indexer, indexers.create_indexer, indexers.update_indexer,
    indexers.delete_indexer, indexers.test_indexer, indexers.test_settings, _indexer_columns,
    kinds_filter=lambda kind: kind != indexers.RSS_KIND)
CLIENTS = IntegrationSection(
    "download-clients", download_clients.CATEGORY, "download client", "clients",
    download_clients.list_clients, download_clients.get_client, download_clients.create_client,
    download_clients.update_client, download_clients.delete_client, download_clients.test_client,
    download_clients.test_settings, _client_columns)
NOTIFICATIONS = IntegrationSection(
    "notifications", notification_targets.CATEGORY, "notification target", "notifications",
    notification_targets.list_targets, notification_targets.get_target,
    notification_targets.create_target, notification_targets.update_target,
    notification_targets.delete_target, notification_targets.test_target,
    notification_targets.test_settings, _target_columns)


def _form_values(kind_specs: list[dict], row: Any | None, posted) -> dict[str, Any]:
    """What the form shows: the posted text after a refusal, else the row's
    values; a secret field is always empty (the template says "saved")."""
    if posted is not None:
        # Never a secret: what was typed into a password field is not sent back.
        secrets = {f"settings.{spec['name']}" for spec in kind_specs
                   if spec.get("type") == "password" or spec.get("secret")}
        return {key: posted.get(key) for key in posted.keys() if key not in secrets} | {
            "events": posted.getlist("events")}
    if row is None:
        return {}
    shown: dict[str, Any] = {col: getattr(row, col, None) for col in (
        "name", "enabled", "priority", "enable_rss", "enable_search", "category",
        "remove_completed", "events")}
    secrets = integrations.secret_fields(_category_of(row), row.kind)
    # Secrets inside other text (a feed URL's apikey=) show masked in place;
    # sent back unchanged, they keep the stored value.
    settings = integrations.masked_settings(_category_of(row), row.kind, row.settings)
    for spec in kind_specs:
        value = settings.get(spec["name"])
        if spec["name"] in secrets or value is None:
            continue
        kind = spec.get("type")
        if kind == "list":
            value = "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)
        elif kind == "mapping" and isinstance(value, dict):
            value = "\n".join(f"{k}: {v}" for k, v in value.items())
        shown[f"settings.{spec['name']}"] = value
    return shown


def _category_of(row: Any) -> str:
    return {"indexers": "indexer", "download_clients": "download_client",
            "notification_targets": "notifier"}[row.__tablename__]


def _saved_secrets(row: Any | None) -> set[str]:
    """The secret settings a row has a value for ("saved" in the form)."""
    if row is None:
        return set()
    secrets = integrations.secret_fields(_category_of(row), row.kind)
    return {name for name in secrets if (row.settings or {}).get(name) not in (None, "", [], {})}


def form_specs(spec: IntegrationSection, kind: str) -> list[dict[str, Any]]:
    """The plugin settings a form shows: a download client's category is
    the row's own field, not a second one among the plugin's settings."""
    specs = integrations.field_specs(spec.category, kind)
    if spec is CLIENTS:
        specs = [s for s in specs if s["name"] != "category"]
    return specs


def _integration_page(spec: IntegrationSection, *, row: Any | None, kind: str, errors=None,
                      error: str | None = None, status: int = 200, posted=None,
                      test: TestResult | None = None, test_errors=None):
    specs = form_specs(spec, kind)
    kind_class = spec.kinds().get(kind)
    return _render(spec.section, "integration_form", status, spec=spec, row=row, kind=kind,
                   kind_label=getattr(kind_class, "label", "") or kind, specs=specs,
                   values=_form_values(specs, row, posted), errors=errors or {}, error=error,
                   saved_secrets=_saved_secrets(row), secrets=integrations.secret_fields(
                       spec.category, kind), test=test, test_errors=test_errors or {},
                   mappings_clients=_client_names(), event_labels=notification_targets.EVENT_LABELS,
                   manager=indexers.manager_label(row) if spec is INDEXERS and row else None)


def _client_names() -> list[tuple[int, str]]:
    return list(db.session.execute(select(DownloadClientConfig.id, DownloadClientConfig.name)
                                   .order_by(DownloadClientConfig.name)).all())


def _read(spec: IntegrationSection, kind: str) -> tuple[dict[str, Any], FormReader]:
    reader = FormReader()
    data = spec.read_columns(reader)
    data["settings"] = integration_form(form_specs(spec, kind), reader=reader)
    if spec is CLIENTS and data.get("category"):
        data["settings"]["category"] = data["category"]
    return data, reader


def _register(spec: IntegrationSection) -> None:
    base = f"/settings/{spec.section}"

    @login_required(ADMIN)
    def listing():
        rows = spec.listing()
        extra = {}
        if spec is CLIENTS:
            extra = {"mappings": path_mappings.list_mappings(), "clients": _client_names(),
                     "mapping_errors": {}, "mapping_values": {}}
        return _render(spec.section, spec.template, spec=spec, rows=rows, kinds=spec.kinds(),
                       manager_label=indexers.manager_label,
                       event_labels=notification_targets.EVENT_LABELS, **extra)

    @login_required(ADMIN)
    def new():
        kind = request.values.get("kind") or ""
        if kind not in spec.kinds():
            raise BadRequest(f"Choose the kind of {spec.noun} to add "
                             f"({', '.join(spec.kinds())}).")
        if request.method == "GET":
            return _integration_page(spec, row=None, kind=kind)
        data, reader = _read(spec, kind)
        try:
            reader.fail_if_errors()
            row = spec.create({**data, "kind": kind})
        except DomainError as exc:
            errors = {**reader.errors, **field_errors(exc)}
            return _integration_page(spec, row=None, kind=kind, errors=errors, error=exc.message,
                                     status=exc.status, posted=request.form)
        done(f"Added the {spec.noun} {row.name}.")
        return redirect(url_for(spec.endpoint("list")), 303)

    @login_required(ADMIN)
    def edit(item_id: int):
        row = spec.getter(item_id)
        if request.method == "GET":
            return _integration_page(spec, row=row, kind=row.kind)
        data, reader = _read(spec, row.kind)
        try:
            reader.fail_if_errors()
            spec.update(row.id, data)
        except DomainError as exc:
            db.session.rollback()
            row = spec.getter(item_id)
            errors = {**reader.errors, **field_errors(exc)}
            return _integration_page(spec, row=row, kind=row.kind, errors=errors,
                                     error=exc.message, status=exc.status, posted=request.form)
        done(f"Saved the {spec.noun} {row.name}.")
        return redirect(url_for(spec.endpoint("list")), 303)

    @login_required(ADMIN)
    def delete(item_id: int):
        row = spec.getter(item_id)
        name = row.name
        spec.delete(row.id)
        done(f"Deleted the {spec.noun} {name}.")
        return redirect(url_for(spec.endpoint("list")), 303)

    @login_required(ADMIN)
    def test_saved(item_id: int):
        row = spec.getter(item_id)
        return _test_answer(spec.test_saved(row.id), url_for(spec.endpoint("list")))

    @login_required(ADMIN)
    def test_unsaved():
        """The form's Test: its values, saved or not (a saved row's secrets
        stand in for empty fields)."""
        kind = request.form.get("kind") or ""
        if kind not in spec.kinds():
            raise BadRequest(f"Choose the kind of {spec.noun} to test.")
        item_id = request.form.get("id")
        row_id = int(item_id) if item_id and item_id.isdigit() else None
        data, reader = _read(spec, kind)
        errors = {k: v for k, v in reader.errors.items() if k.startswith("settings.")}
        result, field_errs = None, {}
        if errors:
            result, field_errs = TestResult(False, "Correct the marked fields first."), errors
        else:
            try:
                result = spec.test_unsaved(kind, data["settings"], row_id)
            except InvalidFields as exc:
                result, field_errs = TestResult(False, "Correct the marked fields first."), \
                    field_errors(exc)
        if is_htmx():
            return render_template("web/arr/_test_result.html", result=result, errors=field_errs)
        row = spec.getter(row_id) if row_id else None
        return _integration_page(spec, row=row, kind=kind, posted=request.form, test=result,
                                 test_errors=field_errs, errors=field_errs)

    name = spec.section.replace("-", "_")
    blp.add_url_rule(base, f"settings_{name}_list", listing, methods=["GET"])
    blp.add_url_rule(f"{base}/new", f"settings_{name}_new", new, methods=["GET", "POST"])
    blp.add_url_rule(f"{base}/test", f"settings_{name}_test", test_unsaved, methods=["POST"])
    blp.add_url_rule(f"{base}/<int:item_id>", f"settings_{name}_edit", edit,
                     methods=["GET", "POST"])
    blp.add_url_rule(f"{base}/<int:item_id>/delete", f"settings_{name}_delete", delete,
                     methods=["POST"])
    blp.add_url_rule(f"{base}/<int:item_id>/test", f"settings_{name}_test_saved", test_saved,
                     methods=["POST"])


for _spec in (INDEXERS, CLIENTS, NOTIFICATIONS):
    _register(_spec)


@blp.post("/settings/indexers/categories")
@login_required(ADMIN)
def settings_indexers_categories():
    """The categories the indexer in the form offers (its ``t=caps``), as
    check boxes for the form's categories field."""
    kind = request.form.get("kind") or ""
    if kind not in INDEXERS.kinds():
        raise BadRequest("Choose the kind of indexer first.")
    item_id = request.form.get("id")
    data, reader = _read(INDEXERS, kind)
    chosen = {str(c) for c in data["settings"].get("categories") or []}
    try:
        caps = indexers.categories(kind, data["settings"],
                                   int(item_id) if item_id and item_id.isdigit() else None)
    except InvalidFields as exc:
        caps = {"categories": [], "comic_categories": [],
                "error": "; ".join(field_errors(exc).values())}
    if not chosen:
        chosen = {str(c) for c in caps["comic_categories"]}
    return render_template("web/arr/_categories.html", caps=caps, chosen=chosen)


# --- remote path mappings -----------------------------------------------------------------------

def _mapping_data(reader: FormReader) -> dict[str, Any]:
    client = reader.integer("download_client_id", low=1, high=2**31 - 1, label="Client")
    return {"download_client_id": client, "remote_path": reader.form.get("remote_path", ""),
            "local_path": reader.form.get("local_path", "")}


def _mappings_page(errors: dict[str, str], error: str, status: int, values):
    return _render("download-clients", "clients", status, spec=CLIENTS, rows=CLIENTS.listing(),
                   kinds=CLIENTS.kinds(), manager_label=indexers.manager_label,
                   event_labels=notification_targets.EVENT_LABELS,
                   mappings=path_mappings.list_mappings(), clients=_client_names(),
                   mapping_errors=errors, mapping_values=values, error=error)


@blp.post("/settings/download-clients/mappings")
@login_required(ADMIN)
def settings_mapping_create():
    reader = FormReader()
    data = _mapping_data(reader)
    try:
        reader.fail_if_errors()
        row = path_mappings.create_mapping(data)
    except DomainError as exc:
        errors = {**reader.errors, **field_errors(exc)}
        if not errors:
            errors = {"remote_path": exc.message}
        return _mappings_page(errors, exc.message, exc.status, request.form)
    done(f"Mapped {row.remote_path} to {row.local_path}.")
    return redirect(url_for("web.settings_download_clients_list") + "#mappings", 303)


@blp.post("/settings/download-clients/mappings/<int:mapping_id>")
@login_required(ADMIN)
def settings_mapping_update(mapping_id: int):
    reader = FormReader()
    data = _mapping_data(reader)
    try:
        reader.fail_if_errors()
        path_mappings.update_mapping(mapping_id, data)
    except DomainError as exc:
        db.session.rollback()
        errors = {**reader.errors, **field_errors(exc)}
        done("The mapping was not changed: " + ("; ".join(errors.values()) or exc.message), "bad")
    else:
        done("Saved the remote path mapping.")
    return redirect(url_for("web.settings_download_clients_list") + "#mappings", 303)


@blp.post("/settings/download-clients/mappings/<int:mapping_id>/delete")
@login_required(ADMIN)
def settings_mapping_delete(mapping_id: int):
    path_mappings.delete_mapping(mapping_id)
    done("Deleted the remote path mapping.")
    return redirect(url_for("web.settings_download_clients_list") + "#mappings", 303)


# --- RSS feeds and rules --------------------------------------------------------------------------

def _rss_page(status: int = 200, errors=None, error=None, values=None, analysis=None):
    feeds_rows = list(db.session.execute(feeds.feeds_query()).scalars())
    rules = list(db.session.execute(select(WatchedSeries).order_by(WatchedSeries.sort_name))
                 .scalars())
    return _render("rss", "rss", status, feeds=feeds_rows, rules=rules, errors=errors or {},
                   error=error, values=values or {}, analysis=analysis,
                   protocols=feeds.PROTOCOLS)


@blp.route("/settings/rss", methods=["GET", "POST"])
@login_required(ADMIN)
def settings_rss():
    """RSS feeds (AutoBangumi's subscriptions) and the release rules they
    are matched with."""
    if request.method == "GET":
        return _rss_page()
    reader = FormReader()
    url = reader.text("url", required=True, label="Feed URL", max_length=2000)
    name = reader.text("name", label="Name", max_length=200)
    protocol = reader.choice("protocol", feeds.PROTOCOLS, default="torrent", label="Protocol")
    priority = reader.integer("priority", low=1, high=50, label="Priority") or 25
    try:
        reader.fail_if_errors()
        row = feeds.add_feed(url, name=name, protocol=protocol, priority=priority)
    except DomainError as exc:
        errors = {**reader.errors, **field_errors(exc)}
        if not errors:
            errors = {"name" if exc.code == "name_taken" else "url": exc.message}
        return _rss_page(exc.status, errors, exc.message, request.form)
    done(f"Added the feed {row.name}; the next RSS check reads it.")
    return redirect(url_for("web.settings_rss"), 303)


@blp.post("/settings/rss/analyse")
@login_required(ADMIN)
def settings_rss_analyse():
    """Read a feed without subscribing: each item parsed, and the watched
    series it names (the "test" of a feed)."""
    url = (request.form.get("url") or "").strip()
    protocol = request.form.get("protocol") if request.form.get("protocol") in feeds.PROTOCOLS \
        else "torrent"
    try:
        analysis = feeds.analyse(url, protocol)
    except DomainError as exc:
        return _rss_page(exc.status, {"url": exc.message}, exc.message, request.form)
    return _rss_page(values=request.form, analysis=analysis)


@blp.post("/settings/rss/<int:feed_id>")
@login_required(ADMIN)
def settings_rss_action(feed_id: int):
    action = request.form.get("action")
    feed = feeds.get_feed(feed_id)
    if action == "delete":
        feeds.delete_feeds([feed.id])
        done(f"Deleted the feed {feed.name}.")
    elif action in ("enable", "disable"):
        feeds.set_enabled([feed.id], action == "enable")
        done(f"{feed.name} is {'on' if action == 'enable' else 'off'}.")
    elif action == "refresh":
        result = feeds.refresh([feed.id])
        errors = "; ".join(f"{k}: {v}" for k, v in result["errors"].items())
        done(f"{feed.name}: {result['new']} new item(s), {result['matched']} matched, "
             f"{len(result['grabbed'])} grabbed" + (f"; {errors}" if errors else "") + ".",
             "bad" if errors else "ok")
    else:
        raise BadRequest("The action is delete, enable, disable or refresh.")
    return redirect(url_for("web.settings_rss"), 303)


# --- general ----------------------------------------------------------------------------------------

def _config_file() -> str:
    return os.path.join(current_app.config["DATA_DIR"], CONFIG_FILENAME)


def server_fields() -> list[dict[str, Any]]:
    """Host, port and URL base: what runs now, what the config file says,
    and whether the environment overrides it (then the file is not read)."""
    from ..config import _read_file
    from pathlib import Path

    try:
        in_file = _read_file(Path(_config_file()))
    except Exception:  # an unreadable file: the page still shows what runs
        in_file = {}
    fields = []
    for key, label in zip(SERVER_KEYS, ("Host (address to listen on)", "Port", "URL base")):
        fields.append({"key": key, "name": key.lower(), "label": label,
                       "running": current_app.config.get(key),
                       "value": in_file.get(key, current_app.config.get(key)),
                       "env": ENV_PREFIX + key in os.environ})
    return fields


def _write_config(values: dict[str, Any]) -> None:
    """Set top-level keys of config.yml, keeping every other line (and the
    comments a NAS user wrote) as it is."""
    import json

    path = _config_file()
    lines = open(path, encoding="utf-8").read().splitlines() if os.path.exists(path) else []
    for key, value in values.items():
        rendered = f"{key.lower()}: {json.dumps(value)}"
        pattern = re.compile(rf"^{key.lower()}\s*:", re.IGNORECASE)
        for index, line in enumerate(lines):
            if pattern.match(line):
                lines[index] = rendered
                break
        else:
            lines.append(rendered)
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(temp, path)


def _read_server(reader: FormReader) -> dict[str, Any]:
    values: dict[str, Any] = {}
    env = {f["key"] for f in server_fields() if f["env"]}
    if "HOST" not in env:
        host = reader.text("host", required=True, label="Host", max_length=255)
        if host and not re.fullmatch(r"[A-Za-z0-9.:\-\[\]]+", host):
            reader.errors["host"] = "The host is an address or name such as 0.0.0.0 or ::"
        values["HOST"] = host
    if "PORT" not in env:
        values["PORT"] = reader.integer("port", low=1, high=65535, required=True, label="Port")
    if "URL_BASE" not in env:
        base = (reader.form.get("url_base") or "").strip()
        if base and not re.fullmatch(r"/?[A-Za-z0-9._~\-/]*", base):
            reader.errors["url_base"] = "The URL base is a path such as /comics"
        values["URL_BASE"] = normalize_url_base(base)
    return values


@blp.route("/settings/general", methods=["GET", "POST"])
@login_required(ADMIN)
def settings_general():
    errors, error, status = {}, None, 200
    if request.method == "POST":
        reader = FormReader()
        server = _read_server(reader)
        try:
            save_options(GENERAL_KEYS, extra_errors=reader.errors)
        except DomainError as exc:
            errors, error, status = field_errors(exc), exc.message, exc.status
        else:
            changed = {k: v for k, v in server.items() if v != _file_value(k)}
            if changed:
                _write_config(changed)
                done("General settings saved. The server's address and URL base apply after "
                     "a restart.")
            else:
                done("General settings saved.")
            return redirect(url_for("web.settings_general"), 303)
    fields = option_fields(GENERAL_KEYS)
    return _render("general", "general", status, fields={f["key"]: f for f in fields},
                   errors=errors, error=error, posted=request.form if errors else None,
                   server=server_fields(), config_file=_config_file(),
                   server_key=_server_key(), new_key=None, version=__version__)


def _file_value(key: str) -> Any:
    for field in server_fields():
        if field["key"] == key:
            return field["value"]
    return None


def _server_key() -> ApiKey | None:
    return db.session.execute(select(ApiKey).where(
        ApiKey.user_id == _user().id, ApiKey.name == SERVER_KEY_NAME)
        .order_by(ApiKey.id.desc())).scalars().first()


@blp.post("/settings/general/api-key")
@login_required(ADMIN)
def settings_general_api_key():
    """A new API key with every permission (for Prowlarr, Komga-style
    readers and scripts), shown once; the previous one stops working."""
    user = _user()
    for old in db.session.execute(select(ApiKey).where(
            ApiKey.user_id == user.id, ApiKey.name == SERVER_KEY_NAME)).scalars():
        db.session.delete(old)
    db.session.commit()
    _row, key = issue_api_key(user, SERVER_KEY_NAME, list(PERMISSIONS))
    fields = option_fields(GENERAL_KEYS)
    html, _ = _render("general", "general", 200, fields={f["key"]: f for f in fields},
                      errors={}, error=None, posted=None, server=server_fields(),
                      config_file=_config_file(), server_key=_server_key(), new_key=key,
                      version=__version__)
    response = current_app.make_response(html)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- users and their API keys ---------------------------------------------------------------------

def _libraries() -> list[Library]:
    return list(db.session.execute(select(Library).order_by(Library.name)).scalars())


def _users_page(status: int = 200, errors=None, error=None, values=None):
    users = list(db.session.execute(select(User).order_by(User.username)).scalars())
    return _render("users", "users", status, users=users, libraries=_libraries(),
                   errors=errors or {}, error=error, values=values or {})


def _library_choice(reader: FormReader) -> list[int] | None:
    if reader.form.get("all_libraries") == "on":
        return None
    return sorted({int(v) for v in reader.form.getlist("library_ids") if v.isdigit()})


def _user_error_field(exc: DomainError) -> str:
    lowered = exc.message.lower()
    if "password" in lowered:
        return "password"
    if "library" in lowered:
        return "library_ids"
    return "username"


@blp.route("/settings/users", methods=["GET", "POST"])
@login_required(ADMIN)
def settings_users():
    if request.method == "GET":
        return _users_page()
    reader = FormReader()
    username = reader.text("username", required=True, label="Username", max_length=150)
    password = request.form.get("password") or ""
    try:
        reader.fail_if_errors()
        user = create_user(username, password, is_admin=reader.flag("is_admin"),
                           library_ids=_library_choice(reader))
    except DomainError as exc:
        errors = field_errors(exc) or {_user_error_field(exc): exc.message}
        values = {k: v for k, v in request.form.items() if k != "password"}
        return _users_page(exc.status, errors, exc.message, values)
    done(f"Added the user {user.username}.")
    return redirect(url_for("web.settings_user", user_id=user.id), 303)


def _get_user(user_id: int) -> User:
    user = db.session.get(User, user_id) if 0 < user_id <= 2**31 - 1 else None
    if user is None:
        raise NotFound(f"There is no user {user_id}.")
    return user


def _user_page(user: User, status: int = 200, errors=None, error=None, new_key=None):
    keys = list(db.session.execute(select(ApiKey).where(ApiKey.user_id == user.id)
                                   .order_by(ApiKey.created_at.desc())).scalars())
    grantable = PERMISSIONS if user.is_admin else [p for p in PERMISSIONS if p in USER_PERMISSIONS]
    return _render("users", "user", status, user=user, keys=keys, libraries=_libraries(),
                   errors=errors or {}, error=error, new_key=new_key, permissions=grantable)


@blp.route("/settings/users/<int:user_id>", methods=["GET", "POST"])
@login_required(ADMIN)
def settings_user(user_id: int):
    user = _get_user(user_id)
    if request.method == "GET":
        return _user_page(user)
    reader = FormReader()
    changes: dict[str, Any] = {"is_admin": reader.flag("is_admin"),
                               "is_active": reader.flag("is_active"),
                               "library_ids": _library_choice(reader)}
    if request.form.get("password"):
        changes["password"] = request.form["password"]
    try:
        update_user(user, changes)
    except DomainError as exc:
        db.session.rollback()
        return _user_page(_get_user(user_id), exc.status,
                          field_errors(exc) or {_user_error_field(exc): exc.message}, exc.message)
    done(f"Saved {user.username}.")
    return redirect(url_for("web.settings_user", user_id=user.id), 303)


@blp.post("/settings/users/<int:user_id>/delete")
@login_required(ADMIN)
def settings_user_delete(user_id: int):
    user = _get_user(user_id)
    if user.id == _user().id:
        done("You cannot delete yourself while signed in as you.", "bad")
        return redirect(url_for("web.settings_user", user_id=user.id), 303)
    name = user.username
    try:
        delete_user(user)
    except DomainError as exc:
        done(exc.message, "bad")
        return redirect(url_for("web.settings_user", user_id=user_id), 303)
    done(f"Deleted the user {name}.")
    return redirect(url_for("web.settings_users"), 303)


@blp.post("/settings/users/<int:user_id>/keys")
@login_required(ADMIN)
def settings_user_key(user_id: int):
    """A new API key for the user, with the chosen permissions; the key is
    shown once, on the page this answers."""
    user = _get_user(user_id)
    reader = FormReader()
    name = reader.text("name", required=True, label="Name", max_length=100)
    chosen = [p for p in request.form.getlist("permissions") if p in PERMISSIONS]
    if not chosen:
        reader.errors["permissions"] = "Choose at least one permission"
    try:
        reader.fail_if_errors()
        _row, key = issue_api_key(user, name, chosen, granter_permissions=principal().permissions)
    except DomainError as exc:
        return _user_page(user, exc.status, field_errors(exc) or {"permissions": exc.message},
                          exc.message)
    html, _ = _user_page(user, new_key=key)
    response = current_app.make_response(html)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.post("/settings/users/<int:user_id>/keys/<int:key_id>/delete")
@login_required(ADMIN)
def settings_user_key_delete(user_id: int, key_id: int):
    user = _get_user(user_id)
    row = db.session.get(ApiKey, key_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"{user.username} has no API key {key_id}.")
    db.session.delete(row)
    db.session.commit()
    done(f"Revoked the key {row.name} of {user.username}.")
    return redirect(url_for("web.settings_user", user_id=user.id), 303)
