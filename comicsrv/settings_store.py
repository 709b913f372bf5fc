"""Typed settings: the admin's server-wide settings and each user's preferences.

Both are a table of known keys, each with a type, a default, a description and
a validator. A value is checked before it is stored, so a bad one is refused
with a message naming the key (a 400), never saved to trip up a reader later;
a key never set reads as its default, and later changes of a default reach
everyone who never chose otherwise.

Other modules read a setting with ``get_setting("auth.allow_registration")``
and a preference with ``get_preference(user_id, "api_browse_mode")``. Every
admin change writes a ``SettingChange`` row (old value, new value, who, when).
"""
from __future__ import annotations

import copy
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from . import naming
from .errors import BadRequest, Conflict, NotFound
from .extensions import db
from .models import Setting, SettingChange, User, UserPreference, utcnow
from .redact import MASK

log = logging.getLogger(__name__)

BOOLEAN, INTEGER, STRING, PATH_LIST = "boolean", "integer", "string", "path_list"
MAX_STRING_LENGTH = 200
# How a stored secret is shown; sent back unchanged, it keeps the stored value.
SECRET_MASK = MASK
MAX_PATHS = 100


class UnknownSetting(NotFound):
    code = "unknown_setting"


class UnknownPreference(BadRequest):
    code = "unknown_preference"


class InvalidValue(BadRequest):
    code = "invalid_value"


@dataclass(frozen=True)
class Option:
    """One known key: its type, default, meaning and limits."""

    key: str
    type: str
    default: Any
    description: str
    choices: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None
    # What a value matching ``pattern`` looks like, for the error message.
    pattern_hint: str = ""
    # None is a value too ("not chosen"), beside those of the type.
    nullable: bool = False
    # A credential: stored as given, never shown again (reads as "********").
    secret: bool = False
    # A last check of a value that passed the others: returns the value to
    # store or raises ValueError (the rename template's language).
    check: Callable[[Any], Any] | None = None

    def clean(self, value: Any) -> Any:
        """The value as stored, or ``ValueError`` with a message for a person."""
        if value is None and self.nullable:
            return None
        if self.type == BOOLEAN:
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if self.type == INTEGER:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("must be a whole number")
            if self.minimum is not None and value < self.minimum or (
                    self.maximum is not None and value > self.maximum):
                raise ValueError(f"must be between {self.minimum} and {self.maximum}")
            return value
        if self.type == STRING:
            if not isinstance(value, str):
                raise ValueError("must be a string")
            value = value.strip()
            if self.choices is not None and value not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}")
            if len(value) > MAX_STRING_LENGTH:
                raise ValueError(f"must be at most {MAX_STRING_LENGTH} characters")
            if self.pattern is not None and not re.fullmatch(self.pattern, value):
                raise ValueError(f"must be {self.pattern_hint}, not {value!r}")
            return self.check(value) if self.check is not None else value
        if self.type == PATH_LIST:
            return _clean_paths(value)
        raise AssertionError(f"unknown option type {self.type}")  # a bug in the tables below

    def fresh_default(self) -> Any:
        """A copy, so a caller changing a list default cannot change the table."""
        return copy.deepcopy(self.default)

    def describe(self) -> dict[str, Any]:
        return {"type": self.type, "description": self.description,
                "default": self.fresh_default(),
                "choices": list(self.choices) if self.choices else None,
                "minimum": self.minimum, "maximum": self.maximum, "nullable": self.nullable,
                "secret": self.secret}


def _clean_paths(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError("must be a list of absolute paths")
    if len(value) > MAX_PATHS:
        raise ValueError(f"must have at most {MAX_PATHS} paths")
    paths: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError("every entry must be a non-empty path")
        if "\x00" in item:
            raise ValueError("a path cannot contain a NUL character")
        if not os.path.isabs(item):
            raise ValueError(f"{item!r} is not an absolute path")
        path = os.path.normpath(item)
        if path not in paths:
            paths.append(path)
    return paths


def _crontab(value: str) -> str:
    """A five-field crontab expression, or empty (off)."""
    if not value:
        return value
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        raise ValueError(f"must be a crontab expression such as '30 3 * * *' ({exc})") from None
    return value


def _rename_template(value: str) -> str:
    """Only the closed template language of ``comicsrv.naming`` is stored:
    a Python format string once put the SECRET_KEY into file names."""
    try:
        return naming.validate_template(value)
    except naming.NamingError as exc:
        raise ValueError(exc.message) from None


def _table(*options: Option) -> dict[str, Option]:
    return {option.key: option for option in options}


# Server-wide settings, changed by a SystemAdmin through /api/v1/admin/settings.
SETTINGS: dict[str, Option] = _table(
    Option("auth.allow_registration", BOOLEAN, False,
           "Let anyone create an account with POST /api/v1/auth/register."),
    Option("library.public_reading", BOOLEAN, False,
           "Let the LANraragi archive API answer read requests without an API key "
           "(writes always need one)."),
    Option("library.recent_days", INTEGER, 30,
           "How many days after it was first indexed a book counts as recently added.",
           minimum=1, maximum=3650),
    Option("opds.enabled", BOOLEAN, True,
           "Serve the OPDS catalogues (/opds/v1.2 with page streaming, /opds/v2.0) to "
           "reader apps such as Panels, Chunky, KyBook, Moon+ Reader and Thorium."),
    Option("komga.enabled", BOOLEAN, True,
           "Serve the Komga-compatible API (/komga) to Mihon's Komga extension, Komelia, "
           "Paperback and Tachidesk."),
    Option("koreader.enabled", BOOLEAN, True,
           "Serve KOReader's progress sync (/koreader) to KOReader devices."),
    Option("covers.size", INTEGER, 400,
           "Default edge of a cover thumbnail, in pixels.", minimum=64, maximum=2000),
    Option("lrr.archives_per_page", INTEGER, 100,
           "Archives per page of the LANraragi search API.", minimum=1, maximum=1000),
    Option("lrr.upload_library_id", INTEGER, None,
           "Library that archives uploaded through the LANraragi API go to; empty: the "
           "first enabled library.", minimum=1, maximum=2**31 - 1, nullable=True),
    Option("email.smtp_host", STRING, "",
           "SMTP server that sends comicsrv's mail (verification codes); empty: no mail."),
    Option("email.smtp_port", INTEGER, 587, "Port of the SMTP server.", minimum=1,
           maximum=65535),
    Option("email.smtp_security", STRING, "starttls",
           "starttls (port 587), ssl (TLS from the start, port 465) or none.",
           choices=("starttls", "ssl", "none")),
    Option("email.smtp_username", STRING, "", "User name for the SMTP server; empty: no login."),
    Option("email.smtp_password", STRING, "", "Password for the SMTP server.", secret=True),
    Option("email.from_address", STRING, "", "The address comicsrv's mail comes from.",
           pattern=r"([^@\s]+@[^@\s]+\.[^@\s]+)?", pattern_hint="an email address"),
    Option("email.verification_enabled", BOOLEAN, False,
           "Mail a verification code to the address of each new account (and on request), "
           "so users can prove their address (Codex's email verification)."),
    Option("system.check_updates", BOOLEAN, False,
           "Ask the package index a few times a day whether a newer comicsrv is released "
           "(shown by /api/system/version); off: no call leaves the server for it."),
    Option("wizard.completed", BOOLEAN, False,
           "The first-run setup wizard was completed; its endpoints then answer 403."),
    # --- automation (the *arr pipeline) ---
    Option("automation.enabled", BOOLEAN, True,
           "Run the scheduled automation: RSS checks, searches for wanted issues, "
           "download monitoring and metadata refreshes."),
    Option("automation.rss_interval_minutes", INTEGER, 15,
           "Minutes between RSS checks of every indexer and feed.", minimum=5, maximum=1440),
    Option("automation.search_interval_minutes", INTEGER, 360,
           "Minutes between searches for every wanted issue.", minimum=30, maximum=10080),
    Option("automation.search_spacing_seconds", INTEGER, 10,
           "Pause between two searches against the same indexer, so a backlog search "
           "is never a burst.", minimum=0, maximum=600),
    Option("automation.monitor_interval_seconds", INTEGER, 60,
           "Seconds between polls of the download clients.", minimum=5, maximum=3600),
    Option("automation.metadata_refresh_hours", INTEGER, 24,
           "Hours between metadata refreshes of watched series (new issues become "
           "wanted).", minimum=1, maximum=720),
    Option("automation.default_library_id", INTEGER, None,
           "Library that imported downloads go to when the watched series names none; "
           "empty: the first enabled library.", minimum=1, maximum=2**31 - 1,
           nullable=True),
    Option("automation.preferred_formats", STRING, "cbz,cbr,cb7,pdf",
           "Formats in order of preference, comma-separated.",
           pattern=r"[a-z0-9]+(,[a-z0-9]+)*", pattern_hint="a list such as cbz,cbr"),
    Option("metadata.comicvine_api_key", STRING, "", "ComicVine API key.", secret=True),
    Option("metadata.metron_username", STRING, "", "Metron user name."),
    Option("metadata.metron_password", STRING, "", "Metron password.", secret=True),
    Option("metadata.comicvine_requests_per_hour", INTEGER, None,
           "ComicVine requests per resource and hour, for all of comicsrv's processes "
           "together; empty: 200, ComicVine's limit. Lower it when another tool (Mylar, "
           "ComicTagger) uses the same API key.",
           minimum=1, maximum=10_000, nullable=True),
    Option("metadata.metron_requests_per_minute", INTEGER, None,
           "Metron requests per minute, for all of comicsrv's processes together; empty: "
           "30, Metron's limit (which also allows 10,000 a day). Lower it when another "
           "tool uses the same account.", minimum=1, maximum=1000, nullable=True),
    Option("metadata.max_wait_seconds", INTEGER, None,
           "Longest a metadata request waits for the provider's quota before the job "
           "stops (the next run goes on); empty: 60 s for ComicVine, 90 s for Metron.",
           minimum=0, maximum=3600, nullable=True),
    Option("metadata.default_provider", STRING, "metron",
           "Provider used when adding a series without naming one.",
           choices=("metron", "comicvine")),
    Option("postprocess.rename_template", STRING, naming.DEFAULT_TEMPLATE,
           "Where an imported file goes inside its library, without the extension; / "
           "separates folders. Fields: {series} {year} {volume} {issue} (or {number}) "
           "{title} {publisher}. A number field (issue, number, year, volume) may take a "
           f"zero-padded width of at most {naming.MAX_WIDTH}, as in {{issue:03}}. Nothing "
           "else: no attributes, indexing, conversions or other formats.",
           check=_rename_template),
    Option("postprocess.transfer_mode", STRING, "move",
           "How a finished usenet, NZB blackhole or direct download reaches the library. "
           "Move deletes the source only after the copy is verified; hardlink falls back "
           "to copy across file systems. Torrents follow postprocess.torrent_transfer_mode.",
           choices=("move", "copy", "hardlink")),
    Option("postprocess.torrent_transfer_mode", STRING, "hardlink_or_copy",
           "How a finished torrent reaches the library. The client keeps seeding from its "
           "files, so by default they are hard-linked (copied across file systems) and "
           "removal is left to the client's seeding limits, as Sonarr does. Move first "
           "removes the torrent from its client (keeping the files), then moves them.",
           choices=("hardlink_or_copy", "copy", "move")),
    Option("postprocess.convert_to_cbz", BOOLEAN, False,
           "Convert CBR and CB7 downloads to CBZ."),
    Option("postprocess.write_comicinfo", BOOLEAN, True,
           "Write ComicInfo.xml from the provider's metadata into imported CBZ files."),
    Option("postprocess.file_mode", STRING, "0644", "Permissions of imported files (octal).",
           pattern=r"0?[0-7]{3}", pattern_hint="an octal mode such as 0644"),
    Option("postprocess.folder_mode", STRING, "0755",
           "Permissions of folders created for imports (octal).",
           pattern=r"0?[0-7]{3}", pattern_hint="an octal mode such as 0755"),
    # Empty means automatic (comicsrv.library.libraries.library_roots): the
    # Docker image's media volumes and the existing libraries, never the
    # server user's home or the whole system.
    Option("filesystem.allowed_roots", PATH_LIST, [],
           "Folders libraries may be added from through the API, and browsed. Empty: "
           "/comics and /downloads where they exist, and the folder of every library."),
    Option("backup.schedule", STRING, "30 3 * * *",
           "When to back up the database and the configuration: a crontab expression "
           "in UTC (default: daily at 03:30). Empty: no scheduled backups.",
           check=_crontab),
    Option("backup.keep", INTEGER, 7,
           "How many scheduled backups to keep; older ones are deleted (manual and "
           "pre-restore backups are kept until deleted by hand).", minimum=1, maximum=1000),
)

# Per-user preferences, changed by each user through /api/v1/user/preferences.
PREFERENCES: dict[str, Option] = _table(
    Option("theme", STRING, "system", "Colour theme of the web UI.",
           choices=("system", "light", "dark")),
    Option("language", STRING, "en", "Interface language, as a BCP 47 tag (en, pt-BR).",
           pattern=r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*",
           pattern_hint="a language tag such as en or pt-BR"),
    Option("reader_direction", STRING, "ltr",
           "Page order in the reader: left to right, right to left (manga) or vertical "
           "(webtoon).", choices=("ltr", "rtl", "vertical")),
    Option("reader_page_fit", STRING, "screen", "How the reader fits a page.",
           choices=("screen", "width", "height", "original")),
    Option("api_browse_mode", STRING, "metadata",
           "How the CLU library endpoints browse when a request names no mode.",
           choices=("metadata", "filesystem")),
)


def _option(table: Mapping[str, Option], key: str, unknown: type[Exception]) -> Option:
    option = table.get(key)
    if option is None:
        raise unknown(f"Unknown {'setting' if table is SETTINGS else 'preference'} {key!r}")
    return option


def _in_table_order(table: Mapping[str, Option], keys: Iterable[str] | None,
                    unknown: type[Exception]) -> list[Option]:
    if keys is None:
        return list(table.values())
    wanted = {_option(table, key, unknown).key for key in keys}
    return [option for option in table.values() if option.key in wanted]


def _clean(option: Option, value: Any) -> Any:
    try:
        return option.clean(value)
    except ValueError as exc:
        raise InvalidValue(f"{option.key}: {exc}", details={option.key: str(exc)}) from None


def _effective(option: Option, stored: Any, has_row: bool) -> Any:
    """A stored value that no longer passes validation (a limit tightened in a
    later release) reads as the default rather than breaking its readers."""
    if not has_row:
        return option.fresh_default()
    try:
        return option.clean(stored)
    except ValueError:
        log.warning("stored value %r of %s is no longer valid; using the default",
                    stored, option.key)
        return option.fresh_default()


def _shown(option: Option, value: Any) -> Any:
    """A value as the API and the change history may show it."""
    return SECRET_MASK if option.secret and value else value


def settings_values() -> dict[str, Any]:
    """Every admin setting as ``{key: value}`` (secrets masked): the whole
    configuration as the config endpoints show it."""
    return {item["key"]: item["value"] for item in settings_state()}


def without_masked_secrets(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` minus secrets sent back as the mask they were shown as, so
    a client that saves the whole configuration it read keeps them."""
    return {key: value for key, value in values.items()
            if not (value == SECRET_MASK and getattr(SETTINGS.get(key), "secret", False))}


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("The value was changed at the same moment by another request; "
                       "try again") from None


# -- admin settings -----------------------------------------------------------


def get_setting(key: str) -> Any:
    """The effective value of an admin setting (its default when never set)."""
    option = _option(SETTINGS, key, UnknownSetting)
    row = db.session.get(Setting, key)
    return _effective(option, row.value if row else None, row is not None)


def setting_state(key: str) -> dict[str, Any]:
    return settings_state([key])[0]


def settings_state(keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every setting (or those in ``keys``) with its value, default and who last
    set it, in table order; one query."""
    options = _in_table_order(SETTINGS, keys, UnknownSetting)
    rows = {setting.key: (setting, username) for setting, username in db.session.execute(
        select(Setting, User.username).outerjoin(User, User.id == Setting.updated_by)
        .where(Setting.key.in_([o.key for o in options])))}
    items = []
    for option in options:
        setting, username = rows.get(option.key, (None, None))
        value = _effective(option, setting.value if setting else None, setting is not None)
        value = _shown(option, value)
        items.append({"key": option.key, "value": value, "is_default": setting is None,
                      **option.describe(),
                      "updated_at": setting.updated_at if setting else None,
                      "updated_by": username})
    return items


def _write_setting(option: Option, value: Any, user_id: int | None) -> None:
    """Store an already clean value and record the change; no commit."""
    row = db.session.get(Setting, option.key, with_for_update=True)
    old = _effective(option, row.value if row else None, row is not None)
    if row is not None and old == value:
        return
    if row is None:
        if value == option.default:
            return
        db.session.add(Setting(key=option.key, value=value, updated_by=user_id))
    else:
        row.value, row.updated_by, row.updated_at = value, user_id, utcnow()
    db.session.add(SettingChange(key=option.key, old_value=_shown(option, old),
                                 new_value=_shown(option, value),
                                 changed_by=user_id))


def set_setting(key: str, value: Any, user_id: int | None) -> dict[str, Any]:
    """Validate and store one setting; returns its new state. Setting the value
    it already has writes nothing (no history row)."""
    option = _option(SETTINGS, key, UnknownSetting)
    _write_setting(option, _clean(option, value), user_id)
    _commit()
    return setting_state(key)


def set_settings(values: Mapping[str, Any], user_id: int | None) -> list[dict[str, Any]]:
    """Several settings at once: all are validated first, and either every one
    is stored or none (the details name each bad key)."""
    if not values:
        raise BadRequest("No settings given")
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        option = SETTINGS.get(key)
        if option is None:
            errors[key] = "unknown setting"
            continue
        try:
            cleaned[key] = option.clean(value)
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        summary = "; ".join(f"{key}: {message}" for key, message in errors.items())
        raise InvalidValue(f"No setting was changed: {summary}", details=errors)
    for key, value in cleaned.items():
        _write_setting(SETTINGS[key], value, user_id)
    _commit()
    return settings_state(cleaned)


def reset_setting(key: str, user_id: int | None) -> dict[str, Any]:
    """Back to the default: the row goes, so later default changes apply."""
    option = _option(SETTINGS, key, UnknownSetting)
    row = db.session.get(Setting, key, with_for_update=True)
    if row is not None:
        old = _effective(option, row.value, True)
        db.session.delete(row)
        if old != option.default:
            db.session.add(SettingChange(key=key, old_value=_shown(option, old),
                                         new_value=_shown(option, option.fresh_default()),
                                         changed_by=user_id))
        _commit()
    return setting_state(key)


def history_query(key: str):
    """A SELECT of a setting's changes, newest first (page it in SQL)."""
    _option(SETTINGS, key, UnknownSetting)
    return (select(SettingChange).where(SettingChange.key == key)
            .order_by(SettingChange.changed_at.desc(), SettingChange.id.desc()))


def describe_changes(changes: list[SettingChange]) -> list[dict[str, Any]]:
    """History rows with the changer's username (one query for the page)."""
    ids = {c.changed_by for c in changes if c.changed_by is not None}
    names = dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids)))
                 .all()) if ids else {}
    return [{"id": c.id, "key": c.key, "old_value": c.old_value, "new_value": c.new_value,
             "changed_at": c.changed_at, "changed_by": names.get(c.changed_by),
             "changed_by_id": c.changed_by} for c in changes]


# -- user preferences ---------------------------------------------------------


def get_preference(user_id: int, key: str) -> Any:
    """A user's effective preference (the default when never set)."""
    option = _option(PREFERENCES, key, UnknownPreference)
    row = db.session.get(UserPreference, (user_id, key))
    return _effective(option, row.value if row else None, row is not None)


def user_preferences(user_id: int, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every known preference of a user, defaults filled in; one query."""
    options = _in_table_order(PREFERENCES, keys, UnknownPreference)
    rows = {row.key: row for row in db.session.execute(
        select(UserPreference).where(UserPreference.user_id == user_id,
                                     UserPreference.key.in_([o.key for o in options]))
    ).scalars()}
    items = []
    for option in options:
        row = rows.get(option.key)
        items.append({"key": option.key,
                      "value": _effective(option, row.value if row else None, row is not None),
                      "is_default": row is None, **option.describe(),
                      "updated_at": row.updated_at if row else None})
    return items


def set_preference(user_id: int, key: str, value: Any) -> dict[str, Any]:
    option = _option(PREFERENCES, key, UnknownPreference)
    value = _clean(option, value)
    row = db.session.get(UserPreference, (user_id, key), with_for_update=True)
    if row is None:
        db.session.add(UserPreference(user_id=user_id, key=key, value=value))
    elif row.value != value:
        row.value, row.updated_at = value, utcnow()
    _commit()
    return user_preferences(user_id, [key])[0]


def reset_preference(user_id: int, key: str) -> None:
    _option(PREFERENCES, key, UnknownPreference)
    db.session.execute(delete(UserPreference).where(UserPreference.user_id == user_id,
                                                    UserPreference.key == key))
    db.session.commit()
