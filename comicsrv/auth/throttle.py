"""Brute-force protection for every password check, shared across processes.

Two counts, each in a window that starts at its first failure:

- per (user name, client address) pair: ``PAIR`` (5 failures within 5
  minutes lock that pair out for 5 minutes). This is the lock-out a person
  meets after mistyping; because the address is part of the key, a client
  guessing (or mistyping) another user's name locks only itself out, never
  that user on their own devices.
- per client address, across user names: ``ADDRESS`` (20 failures within 15
  minutes lock the address out for 15 minutes), so one address cannot spray
  one password at many accounts. 20 leaves room for a household behind one
  NAT address, each person mistyping a few times, and still caps an address
  at 80 guesses an hour in all.

A locked-out attempt is refused before its password is hashed, even with the
right password: a guesser learns nothing during a lock-out.

Every attempt is counted as a failure *before* its (slow, by design)
password hash runs and refunded if the password was right. So attempts still
being checked count too, and a burst of parallel guesses cannot slip past the
limit while the hashes run. A success clears its pair's count; the address
keeps the failures of its other user names.

The counts are rows of ``login_throttle``, changed by single atomic
statements (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on PostgreSQL
and SQLite alike), so any number of processes on one database keep one limit
(they share ``SECRET_KEY``, as their sessions need anyway: it keys the rows).
IPv6 clients are counted per /64, the block one host can hop around in.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, update

from ..errors import TooManyRequests
from ..extensions import db
from ..models import LoginThrottleEntry, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    scope: str
    limit: int  # failures within ``window`` that lock out
    window: timedelta
    lockout: timedelta

    @property
    def description(self) -> str:
        return (f"{self.limit} failed passwords within {_minutes(self.window)}; "
                f"refused for {_minutes(self.lockout)}")


PAIR = Rule("pair", limit=5, window=timedelta(minutes=5), lockout=timedelta(minutes=5))
ADDRESS = Rule("address", limit=20, window=timedelta(minutes=15),
               lockout=timedelta(minutes=15))

# Expired rows are deleted at most this often per process.
PRUNE_INTERVAL_SECONDS = 600
_last_prune = {"at": -math.inf}
_prune_lock = threading.Lock()
_table = LoginThrottleEntry.__table__
MAX_FIELD = 256  # of a user name or address kept for the key and the log


def _minutes(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"


def client_key(address: str | None) -> str:
    """The address an attempt is counted under: IPv4-mapped IPv6 as IPv4, an
    IPv6 address as its /64, anything unparsable as it is."""
    text = (address or "-").strip()[:MAX_FIELD]
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return text
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass
class Attempt:
    """One password check between ``begin`` and ``failed``/``succeeded``."""

    username: str
    address: str
    keys: dict[Rule, str]


def _key(rule: Rule, address: str, username: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    name = username if rule is PAIR else ""
    message = "\0".join(("login-throttle", rule.scope, address, name)).encode("utf-8", "replace")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _insert():
    # Each dialect's insert is imported for the database in use only: the
    # PostgreSQL dialect's modules are ~2 MB a SQLite server never needs.
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(_table)
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(_table)
    raise RuntimeError(f"The login throttle needs PostgreSQL or SQLite, not {dialect}")


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def begin(username: str, address: str | None, *, now: datetime | None = None) -> Attempt:
    """Count an attempt as a failure up front, or refuse it.

    Raises ``TooManyRequests`` (with the seconds to wait) when the pair or
    the address is locked out, or when attempts still being checked already
    fill the limit; the caller must then not check the password. Otherwise
    the caller checks it and calls ``succeeded`` or ``failed``.
    """
    now = now or utcnow()
    _prune_now_and_then(now)
    username = (username or "").strip().casefold()[:MAX_FIELD]
    counted_as = client_key(address)
    attempt = Attempt(username, counted_as, {rule: _key(rule, counted_as, username)
                                            for rule in (PAIR, ADDRESS)})
    statement = _insert().values([
        {"key": key, "failures": 1, "window_ends_at": now + rule.window, "locked_until": None}
        for rule, key in attempt.keys.items()])
    locked = _table.c.locked_until > now
    expired = _table.c.window_ends_at <= now
    statement = statement.on_conflict_do_update(index_elements=[_table.c.key], set_={
        # A locked row stays as it is; an expired one starts a new window.
        "failures": case((locked, _table.c.failures), (expired, 1),
                         else_=_table.c.failures + 1),
        "window_ends_at": case((locked, _table.c.window_ends_at),
                               (expired, statement.excluded.window_ends_at),
                               else_=_table.c.window_ends_at),
        "locked_until": case((expired, None), else_=_table.c.locked_until),
    }).returning(_table.c.key, _table.c.failures, _table.c.locked_until)
    rows = {row.key: row for row in db.session.execute(statement)}
    wait, charged = 0, []
    for rule, key in attempt.keys.items():
        row = rows[key]
        if row.locked_until is not None and row.locked_until > now:
            wait = max(wait, _seconds_until(row.locked_until, now))
            continue
        charged.append(key)
        if row.failures > rule.limit:
            wait = max(wait, 1)  # attempts in flight fill the limit; they decide within seconds
    if wait:
        _refund(charged)
        db.session.commit()
        raise TooManyRequests("Too many failed logins; try again later", retry_after=wait)
    db.session.commit()
    return attempt


def _refund(keys: list[str]) -> None:
    if keys:
        db.session.execute(update(_table).where(_table.c.key.in_(keys), _table.c.failures > 0)
                           .values(failures=_table.c.failures - 1))


def succeeded(attempt: Attempt) -> None:
    """The password was right: clear the pair's count, refund the address's."""
    pair, address = attempt.keys[PAIR], attempt.keys[ADDRESS]
    db.session.execute(update(_table).where(_table.c.key == pair)
                       .values(failures=0, locked_until=None))
    _refund([address])
    db.session.commit()


def failed(attempt: Attempt, *, now: datetime | None = None) -> None:
    """The password was wrong (already counted by ``begin``): lock out each
    count that has reached its limit, and log each lock-out once."""
    now = now or utcnow()
    for rule, key in attempt.keys.items():
        until = now + rule.lockout
        result = db.session.execute(
            update(_table).where(_table.c.key == key, _table.c.failures >= rule.limit,
                                 (_table.c.locked_until.is_(None)) | (_table.c.locked_until <= now))
            .values(locked_until=until, window_ends_at=until))
        if result.rowcount:
            _log_lockout(rule, attempt)
    db.session.commit()


def _log_lockout(rule: Rule, attempt: Attempt) -> None:
    # %r: a user name comes from the client and may hold line breaks.
    if rule is PAIR:
        log.warning("Login locked out for user name %r from %s: %s", attempt.username,
                    attempt.address, rule.description)
    else:
        log.warning("Logins from %s locked out for every user name (the last tried: %r): %s",
                    attempt.address, attempt.username, rule.description)


def _prune_now_and_then(now: datetime) -> None:
    """Delete rows whose window has passed, at most every few minutes."""
    with _prune_lock:
        if time.monotonic() - _last_prune["at"] < PRUNE_INTERVAL_SECONDS:
            return
        _last_prune["at"] = time.monotonic()
    db.session.execute(delete(_table).where(_table.c.window_ends_at <= now))
    db.session.commit()
