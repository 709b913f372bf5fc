"""Secrets out of what we show and log: API keys, passkeys, tokens and
passwords inside URLs and messages.

Indexer and feed URLs carry their secret in the query (Newznab's and
Prowlarr's ``apikey=``, trackers' ``passkey=``/``authkey=``/``torrent_pass=``)
or as ``user:password@``; plugins put those URLs into their error messages,
which end up in ``last_error`` columns and in log lines. ``mask_text``
replaces every such value with ``MASK``, the same mask the settings and the
download clients show, so a client that sends a masked value back can be
recognised (``unmask_url`` puts the stored secret back).

``SecretsFilter`` applies it to log records; ``install_log_filter`` (called
by ``create_app``) masks every record the process logs, whichever handler
writes it. A leaf module: no Flask, no database.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Callable

MASK = "********"

# Query and form parameter names whose values are secrets: exact names, and
# any name ending in one of them after a separator ("torrent_pass",
# "x-api-key"). "key" alone is LANraragi's ?key=.
_SECRET_NAMES = (r"api[_-]?key|apikey|passkey|authkey|rsskey|key|access[_-]?token|token"
                 r"|auth|password|passwd|pass|pwd|secret|signature|sig|session|sid")
_SECRET_NAME = re.compile(rf"(?i)(?:[\w-]*[_-])?(?:{_SECRET_NAMES})")
# name=value; the name is judged by _SECRET_NAME.
_PARAM = re.compile(r"(?<![\w-])([\w-]+=)([^&\s#'\"<>;,]+)")
# scheme://user:password@host
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s/@:?#]*:)([^\s/@?#]+)(@)")
# Headers written out: "X-Api-Key: abc", "Authorization: Bearer abc".
_HEADER = re.compile(
    r"(?i)\b((?:x-api-key|authorization|proxy-authorization)\s*[:=]\s*"
    r"(?:(?:bearer|basic|token)\s+)?)([^\s,;'\"]+)")
# Mapping reprs and JSON: 'api_key': 'abc', "password": "abc".
_QUOTED = re.compile(
    rf"(?i)(['\"](?:[\w-]*[_-])?(?:{_SECRET_NAMES})['\"]\s*:\s*)(['\"])((?:(?!\2).)+)(\2)")


def _is_secret_param(name_with_equals: str) -> bool:
    return _SECRET_NAME.fullmatch(name_with_equals[:-1]) is not None


def _mask_param(match: re.Match) -> str:
    return match.group(1) + MASK if _is_secret_param(match.group(1)) else match.group(0)


def mask_text(text: str) -> str:
    """``text`` with every secret value replaced by ``MASK``; names, hosts
    and paths stay readable. Idempotent. Each pattern runs only when the
    characters it needs are there: most log lines cost a few ``in`` tests."""
    if not text:
        return text
    if "@" in text and "://" in text:
        text = _USERINFO.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    if "=" in text:
        text = _PARAM.sub(_mask_param, text)
    lowered = text.lower()
    if "authoriz" in lowered or "api-key" in lowered:
        text = _HEADER.sub(lambda m: m.group(1) + MASK, text)
    if ("'" in text or '"' in text) and ":" in text:
        text = _QUOTED.sub(lambda m: m.group(1) + m.group(2) + MASK + m.group(4), text)
    return text


def mask_url(url: str | None) -> str | None:
    """A URL as it may be shown: secret query values and the password masked."""
    return mask_text(url) if url else url


def _secrets_of(url: str) -> tuple[dict[str, str], str | None]:
    params = {m.group(1).lower(): m.group(2) for m in _PARAM.finditer(url)
              if _is_secret_param(m.group(1))}
    userinfo = _USERINFO.search(url)
    return params, userinfo.group(2) if userinfo else None


class MaskedSecretMissing(ValueError):
    """A masked secret was sent back where no stored one can take its place."""


def unmask_url(new: str, stored: str | None) -> str:
    """``new`` with each masked secret (as ``mask_url`` showed it) replaced by
    the stored URL's value of the same parameter or password: a client that
    saves back the URL it was shown keeps the secret. A masked value with no
    stored counterpart raises ``MaskedSecretMissing``."""
    if MASK not in new:
        return new
    params, password = _secrets_of(stored or "")

    def param(match: re.Match) -> str:
        if match.group(2) != MASK or not _is_secret_param(match.group(1)):
            return match.group(0)
        name = match.group(1)
        value = params.get(name.lower())
        if value is None or value == MASK:
            raise MaskedSecretMissing(f"{name[:-1]} is masked and no stored value replaces it; "
                                      "send the real value")
        return name + value

    def userinfo(match: re.Match) -> str:
        if match.group(2) != MASK:
            return match.group(0)
        if password is None or password == MASK:
            raise MaskedSecretMissing("the password is masked and no stored value replaces it; "
                                      "send the real value")
        return match.group(1) + password + match.group(3)

    return _PARAM.sub(param, _USERINFO.sub(userinfo, new))


# -- logging ----------------------------------------------------------------------

class SecretsFilter(logging.Filter):
    """Masks secrets in a record's message, traceback and stack in place;
    never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if getattr(record, "_comicsrv_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it as usual
        return record
    masked = mask_text(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        # Formatters use exc_text when set: the traceback is formatted once, masked.
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    record._comicsrv_redacted = True
    return record


_installed = False
_install_lock = threading.Lock()
_FILTER = SecretsFilter()


def install_log_filter(*handlers: logging.Handler) -> None:
    """Mask every log record of the process from now on: at its creation (a
    record factory, so handlers added later by a WSGI server or a test runner
    see masked text too) and, for records made otherwise, in the root
    logger's handlers and ``handlers``. Idempotent."""
    global _installed
    with _install_lock:
        if not _installed:
            previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

            def masked_record(*args, **kwargs) -> logging.LogRecord:
                return redact_record(previous(*args, **kwargs))

            logging.setLogRecordFactory(masked_record)
            _installed = True
        for handler in (*logging.getLogger().handlers, *handlers):
            if not any(isinstance(f, SecretsFilter) for f in handler.filters):
                handler.addFilter(_FILTER)
