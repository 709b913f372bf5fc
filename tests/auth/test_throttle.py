"""The login throttle's arithmetic, on the real database, at moments the
test chooses (``now=``)."""
from datetime import datetime, timedelta

import pytest

from comicsrv.auth import throttle
from comicsrv.auth.throttle import ADDRESS, PAIR, client_key
from comicsrv.errors import TooManyRequests
from comicsrv.extensions import db
from comicsrv.models import LoginThrottleEntry

T0 = datetime(2026, 12, 5, 12, 0, 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fail(username, address, when):
    throttle.failed(throttle.begin(username, address, now=when), now=when)


def refused(username, address, when) -> int:
    """The Retry-After of a refused attempt; fails the test if it is let through."""
    with pytest.raises(TooManyRequests) as refusal:
        throttle.begin(username, address, now=when)
    return refusal.value.retry_after


def allowed(username, address, when) -> bool:
    """Whether an attempt may go ahead (settled as a success, so it leaves
    no failure behind)."""
    try:
        attempt = throttle.begin(username, address, now=when)
    except TooManyRequests:
        return False
    throttle.succeeded(attempt)
    return True


def failures(rule, username, address):
    key = throttle._key(rule, client_key(address), username)
    row = db.session.get(LoginThrottleEntry, key)
    db.session.expire_all()
    return row.failures if row is not None else None


def test_five_failures_lock_the_pair_out_until_the_lockout_has_passed(app):
    for n in range(5):
        fail("alice", "10.0.0.1", at(n * 10))
    assert refused("alice", "10.0.0.1", at(40)) == 300  # locked at t=40 for 5 minutes
    assert refused("alice", "10.0.0.1", at(339.5)) == 1
    assert allowed("alice", "10.0.0.1", at(340))


def test_failures_further_apart_than_the_window_do_not_add_up(app):
    for n in range(4):
        fail("alice", "10.0.0.1", at(n))
    # The window began with the first failure and ends 5 minutes later.
    for n in range(4):
        fail("alice", "10.0.0.1", at(300 + n))
    assert allowed("alice", "10.0.0.1", at(304))


def test_the_pair_is_the_user_name_and_the_address(app):
    for n in range(5):
        fail("alice", "10.0.0.1", at(n))
    assert refused("ALICE ", "10.0.0.1", at(5)) == 299  # user names match case-insensitively
    assert allowed("alice", "10.0.0.2", at(6)), "alice elsewhere is not locked out"
    assert allowed("bob", "10.0.0.1", at(6)), "one address may fail 20 times"


def test_twenty_failures_from_one_address_lock_it_out_for_every_user_name(app):
    for n in range(19):
        fail(f"user{n}", "203.0.113.5", at(n))
    assert allowed("someone", "203.0.113.5", at(19))
    fail("user19", "203.0.113.5", at(19))
    assert refused("someone", "203.0.113.5", at(20)) == 899  # locked at t=19 for 15 minutes
    assert allowed("someone", "203.0.113.6", at(20))
    assert allowed("someone", "203.0.113.5", at(19 + 900))


def test_attempts_being_checked_count_so_a_parallel_burst_is_capped(app):
    attempts = [throttle.begin("alice", "10.0.0.1", now=at(0)) for _ in range(PAIR.limit)]
    assert refused("alice", "10.0.0.1", at(0)) == 1  # decided within a second or so
    # The refused attempt was not counted, against the pair or the address.
    assert failures(PAIR, "alice", "10.0.0.1") == PAIR.limit
    assert failures(ADDRESS, "", "10.0.0.1") == PAIR.limit
    for attempt in attempts:
        throttle.failed(attempt, now=at(1))
    assert refused("alice", "10.0.0.1", at(2)) == 299


def test_a_success_clears_the_pair_and_refunds_the_address(app):
    for n in range(4):
        fail("alice", "10.0.0.1", at(n))
    for n in range(3):
        fail(f"other{n}", "10.0.0.1", at(n))
    assert allowed("alice", "10.0.0.1", at(10))
    assert failures(PAIR, "alice", "10.0.0.1") == 0
    assert failures(ADDRESS, "", "10.0.0.1") == 7, "the other user names' failures stay"


def test_a_lockout_is_logged_once_with_user_name_and_address(app, caplog):
    caplog.set_level("WARNING", logger="comicsrv.auth.throttle")
    attempts = [throttle.begin("alice\nforged line", "10.0.0.1", now=at(0)) for _ in range(5)]
    for attempt in attempts:
        throttle.failed(attempt, now=at(1))
    [record] = caplog.records
    assert record.levelname == "WARNING"
    message = record.getMessage()
    assert "'alice\\nforged line'" in message and "10.0.0.1" in message and "\n" not in message


def test_ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") \
        == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "-"
    assert client_key("not an address") == "not an address"


def test_expired_rows_are_pruned(app, monkeypatch):
    fail("alice", "10.0.0.1", at(0))
    assert db.session.query(LoginThrottleEntry).count() == 2
    monkeypatch.setitem(throttle._last_prune, "at", float("-inf"))
    fail("bob", "10.0.0.2", at(3600))
    db.session.expire_all()
    assert failures(PAIR, "alice", "10.0.0.1") is None
    assert failures(PAIR, "bob", "10.0.0.2") == 1


def test_processes_count_into_the_same_rows(make_app):
    """Two apps on one database stand for two server processes."""
    first, second = make_app(SECRET_KEY="shared"), make_app(SECRET_KEY="shared")
    for n in range(5):
        with (first if n % 2 else second).app_context():
            fail("alice", "10.0.0.1", at(n))
    with first.app_context():
        assert refused("alice", "10.0.0.1", at(5)) == 299
