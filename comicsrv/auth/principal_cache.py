"""Resolved principals, remembered for a few seconds.

A reader app sends the same API key (or JWT) with every page it turns;
checking it was a hash, a look-up joining the user, and the permissions
worked out again, on every request: 19 % of a page request's time under
load. Here the outcome of that check is kept for ``PRINCIPAL_CACHE_SECONDS``
(5 by default), keyed on the SHA-256 of the credential, and never past the
key's or token's own expiry.

Cached: API keys (``X-API-Key``, Bearer, ``?apikey=``), client tokens and
JWTs (Bearer or the session cookie), each as the user's row as it was read,
the permissions and the key's id. Never cached: a password (HTTP Basic runs
through the login throttle on every request), a failed check (a client
trying keys would only fill the cache), and what depends on the request: the
session cookie's CSRF check and the refusal of a GET that changes state
still run every time.

Forgetting: whatever the ORM flushes to a user's standing (active, admin,
permissions, libraries, password, token generation, user name) or to one of
their API keys or client tokens (permissions, expiry, owner, deletion) is
noted on the session; once committed, that user's entries are dropped here
and a ``CredentialsChanged`` event goes on the bus, which carries it to the
other processes of a deployment. The short lifetime bounds what a missed
event can do (a change made in raw SQL, a process that was not listening):
a revoked key goes on working for at most that many seconds in that process.
"""
from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from .. import services
from ..events import CredentialsChanged, Event
from ..models import ApiKey, ClientToken, User

EXTENSION = "comicsrv.principals"
ALL_USERS = 0  # a change whose user could not be told: forget everyone
DEFAULT_SIZE = 1024
CREDENTIAL_FIELDS = {ApiKey: ("permissions", "expires_at", "user_id", "key_hash"),
                     ClientToken: ("user_id", "token_hash")}
_CHANGED = "comicsrv.credentials_changed"
_COLUMNS = tuple(attr.key for attr in inspect(User).column_attrs)
# A change to any column the entries hold makes a user's cached principals
# wrong (a view reads the user from them: a verified address, a new e-mail),
# except the times stamped as the user goes about (never read for a decision).
_STAMPS = {"last_login_at", "last_seen_at", "updated_at"}
USER_FIELDS = tuple(name for name in _COLUMNS if name not in _STAMPS)
_MANAGER = inspect(User).class_manager


@dataclass(slots=True)
class Entry:
    """One resolved credential. ``user`` holds the user's column values as
    read, never an ORM object: each request gets its own (``user_for``)."""

    user: dict[str, Any]
    method: str
    permissions: frozenset[str]
    api_key_id: int | None
    # The row whose ``last_used_at`` the hits keep stamped: (model, id).
    used_row: tuple[type, int] | None
    expires: float
    stamped: float

    @property
    def user_id(self) -> int:
        return self.user["id"]


class PrincipalCache:
    """A small LRU map of credential hash -> :class:`Entry` with a lifetime."""

    def __init__(self, ttl: float, size: int = DEFAULT_SIZE) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key: tuple[str, str]) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[str, str], user: User, method: str, permissions: frozenset[str],
            *, api_key_id: int | None = None, used_row: tuple[type, int] | None = None,
            valid_for: float | None = None) -> None:
        """Remember a successful check for ``ttl`` seconds (less when the
        credential expires sooner: ``valid_for``)."""
        if not self.enabled:
            return
        lifetime = self.ttl if valid_for is None else min(self.ttl, valid_for)
        if lifetime <= 0:
            return
        now = time.monotonic()
        entry = Entry({name: getattr(user, name) for name in _COLUMNS}, method, permissions,
                      api_key_id, used_row, now + lifetime, now)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget_user(self, user_id: int) -> None:
        """Drop ``user_id``'s entries (every entry for ``ALL_USERS``)."""
        if user_id == ALL_USERS:
            self.clear()
            return
        with self._lock:
            for key in [k for k, e in self._entries.items() if e.user_id == user_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def user_for(entry: Entry, session: Session) -> User:
    """The entry's user as a persistent object of ``session``, made without
    a query; the session's own copy when it has one already (it may be newer)."""
    values = entry.user
    existing = session.identity_map.get(inspect(User).identity_key_from_primary_key(
        [values["id"]]))
    if existing is not None:
        return existing
    # Filled in as a query would fill it (no constructor, no change
    # events, so nothing to write back); JSON lists are copied, so a view
    # that changed one in place cannot change what the next request gets.
    user = _MANAGER.new_instance()
    inspect(user).dict.update({name: copy.copy(value) if isinstance(value, (list, dict))
                               else value for name, value in values.items()})
    make_transient_to_detached(user)
    session.add(user)
    return user


def cache() -> PrincipalCache | None:
    return current_app.extensions.get(EXTENSION) if has_app_context() else None


# -- forgetting ------------------------------------------------------------------

def _changed(obj: Any, fields: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _owners(obj: Any) -> set[int]:
    """The user (or users, when it changed hands) a key or token belongs to,
    read without loading anything: a deleted row cannot be refreshed."""
    state = inspect(obj)
    history = state.attrs.user_id.load_history()
    owners = {v for v in (*history.added, *history.unchanged, *history.deleted) if v}
    return owners or {ALL_USERS}


def _note_changes(session: Session, flush_context: Any) -> None:
    """After a flush: note the users whose cached principals it made wrong."""
    users: set[int] = set()
    for obj in session.dirty:
        if isinstance(obj, User):
            if _changed(obj, USER_FIELDS):
                users.add(inspect(obj).identity[0])
        elif type(obj) in CREDENTIAL_FIELDS and _changed(obj, CREDENTIAL_FIELDS[type(obj)]):
            users |= _owners(obj)
    for obj in session.deleted:
        if isinstance(obj, User):
            users.add(inspect(obj).identity[0])
        elif type(obj) in CREDENTIAL_FIELDS:
            users |= _owners(obj)
    if users:
        session.info.setdefault(_CHANGED, set()).update(users)


def _after_commit(session: Session) -> None:
    # Notes of a flush that was rolled back stay until the next commit: an
    # entry forgotten for nothing is only read again.
    users = session.info.pop(_CHANGED, None)
    if not users or not has_app_context():
        return
    local = cache()
    bus = current_app.extensions.get("comicsrv.events")
    for user_id in sorted(users):
        if local is not None:
            local.forget_user(user_id)
        if bus is not None:
            bus.publish(CredentialsChanged(user_id=user_id))


_hooks_installed = False
_hooks_lock = threading.Lock()


def _install_session_hooks() -> None:
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        event.listen(Session, "after_flush", _note_changes)
        event.listen(Session, "after_commit", _after_commit)
        _hooks_installed = True


def install(app: Flask) -> PrincipalCache:
    """Give ``app`` its cache, forgetting on every ``CredentialsChanged``
    the bus delivers (this process's and, through the bus, the others')."""
    _install_session_hooks()
    principals = PrincipalCache(float(app.config.get("PRINCIPAL_CACHE_SECONDS", 5.0)))
    app.extensions[EXTENSION] = principals

    def on_event(published: Event) -> None:
        if isinstance(published, CredentialsChanged):
            principals.forget_user(published.user_id)

    services.events(app).add_listener(on_event, everywhere=True)
    return principals
