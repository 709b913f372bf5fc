"""``comicsrv.redact``: secrets out of URLs, messages and log records."""
import logging

import pytest

from comicsrv.redact import (
    MASK, MaskedSecretMissing, SecretsFilter, mask_text, mask_url, unmask_url,
)


@pytest.mark.parametrize("text, shown", [
    # Newznab, Prowlarr and tracker feeds: the key's value goes, the rest stays.
    ("https://api.nzbgeek.info/rss?t=7030&dl=1&r=42&apikey=0123abcd",
     f"https://api.nzbgeek.info/rss?t=7030&dl=1&r=42&apikey={MASK}"),
    ("http://prowlarr:9696/12/api?t=search&q=saga&api_key=k3y&cat=7030",
     f"http://prowlarr:9696/12/api?t=search&q=saga&api_key={MASK}&cat=7030"),
    ("https://tracker.example/rss.php?passkey=abc123&cat=comics",
     f"https://tracker.example/rss.php?passkey={MASK}&cat=comics"),
    ("https://tracker.example/dl/9.torrent?torrent_pass=p4ss&authkey=a1",
     f"https://tracker.example/dl/9.torrent?torrent_pass={MASK}&authkey={MASK}"),
    ("https://hook.example/notify?token=t0k&user=me", f"https://hook.example/notify?token={MASK}&user=me"),
    ("/api/archives?key=lrr-key", f"/api/archives?key={MASK}"),
    ("http://h/api?APIKEY=UPPER&t=caps", f"http://h/api?APIKEY={MASK}&t=caps"),
    # user:password@ in any scheme; the user name stays.
    ("http://nzbget:tegbzn6789@127.0.0.1:6789/jsonrpc",
     f"http://nzbget:{MASK}@127.0.0.1:6789/jsonrpc"),
    ("rss http://u:p@h/feed?passkey=x failed: HTTP 500",
     f"rss http://u:{MASK}@h/feed?passkey={MASK} failed: HTTP 500"),
    # Headers and mappings written into a message.
    ("Authorization: Bearer abc.def.ghi", f"Authorization: Bearer {MASK}"),
    ("X-Api-Key: csrv_1_2", f"X-Api-Key: {MASK}"),
    ("{'url': 'http://h', 'api_key': 'abc', 'password': \"p w\"}",
     f"{{'url': 'http://h', 'api_key': '{MASK}', 'password': \"{MASK}\"}}"),
    # What is no secret is left alone.
    ("http://127.0.0.1:9696/12/api?t=caps", "http://127.0.0.1:9696/12/api?t=caps"),
    ("keywords=batman&monkey=1&t=search", "keywords=batman&monkey=1&t=search"),
    ("Saga 054 (2018): HTTP 500; backing off", "Saga 054 (2018): HTTP 500; backing off"),
    ("", ""),
])
def test_mask_text(text, shown):
    assert mask_text(text) == shown
    assert mask_text(shown) == shown  # idempotent


def test_mask_url_keeps_none():
    assert mask_url(None) is None


def test_a_masked_url_sent_back_gets_the_stored_secrets():
    stored = "https://u:pw@tracker.example/rss?passkey=abc&cat=1&apikey=k"
    assert unmask_url(mask_url(stored), stored) == stored
    # Only the masked parts come from the stored URL; a changed one stays new.
    changed = f"https://u:{MASK}@tracker.example/rss?passkey=NEW&cat=2&apikey={MASK}"
    assert unmask_url(changed, stored) == "https://u:pw@tracker.example/rss?passkey=NEW&cat=2&apikey=k"
    assert unmask_url("https://plain.example/rss", stored) == "https://plain.example/rss"


@pytest.mark.parametrize("new, stored", [
    (f"https://t.example/rss?passkey={MASK}", None),
    (f"https://t.example/rss?passkey={MASK}", "https://t.example/rss?other=1"),
    (f"https://u:{MASK}@t.example/rss", "https://t.example/rss"),
])
def test_a_mask_with_nothing_stored_behind_it_is_refused(new, stored):
    with pytest.raises(MaskedSecretMissing):
        unmask_url(new, stored)


def _record(msg, *args, exc_info=None):
    return logging.LogRecord("comicsrv.test", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_the_filter_masks_message_arguments_and_traceback():
    try:
        raise RuntimeError("fetch http://h/feed?apikey=SECRET1 failed")
    except RuntimeError:
        import sys

        record = _record("indexer %s failed: %s", "feed", "http://h/feed?apikey=SECRET2",
                         exc_info=sys.exc_info())
    assert SecretsFilter().filter(record) is True
    text = logging.Formatter().format(record)
    assert "SECRET" not in text
    assert f"apikey={MASK}" in record.getMessage() and "RuntimeError" in text


def test_a_record_with_a_bad_format_string_is_left_for_the_handler():
    record = _record("%d apples", "not a number")
    assert SecretsFilter().filter(record) is True
    assert record.msg == "%d apples"


def test_every_logger_of_the_process_is_masked(app, caplog):
    """``create_app`` installed the filter: a record from any logger, caught by
    a handler added afterwards (pytest's), carries the masked message."""
    with caplog.at_level(logging.WARNING):
        logging.getLogger("urllib3.somewhere").warning("GET %s", "http://h/x?passkey=SECRET3")
    assert "SECRET3" not in caplog.text and f"passkey={MASK}" in caplog.text
    records = app.extensions["comicsrv.logs"].records("WARNING", 5)
    assert records[0]["message"] == f"GET http://h/x?passkey={MASK}"
