"""Login lock-out arithmetic, on a clock the test moves."""
from comicsrv.auth.throttle import LoginThrottle


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def fail(throttle, username, address):
    keys = throttle.keys(username, address)
    assert throttle.begin(keys) == 0
    throttle.end(keys, failed=True)


def wait_for(throttle, username, address):
    """What ``begin`` answers, without leaving an attempt open."""
    keys = throttle.keys(username, address)
    wait = throttle.begin(keys)
    if wait == 0:
        throttle.end(keys, failed=False)
    return wait


def test_locks_after_limit_failures_until_the_oldest_leaves_the_window():
    clock = Clock()
    throttle = LoginThrottle(limit=5, window=300, clock=clock)
    keys = throttle.keys("Alice", "10.0.0.1")
    for _ in range(4):
        fail(throttle, "Alice", "10.0.0.1")
        clock.now += 10
    fail(throttle, "Alice", "10.0.0.1")  # fifth failure, at t=1040; the first was at t=1000
    assert throttle.begin(keys) == 260
    clock.now = 1299.5
    assert throttle.begin(keys) == 1
    clock.now = 1300.0
    assert throttle.begin(keys) == 0  # the first failure has left the window


def test_username_and_address_count_separately():
    throttle = LoginThrottle(limit=2, window=300, clock=Clock())
    for address in ("10.0.0.1", "10.0.0.2"):
        fail(throttle, "alice", address)
    # Same username from a third address: locked by the username count,
    # and the name is matched case-insensitively.
    assert throttle.begin(throttle.keys("ALICE ", "10.0.0.3")) == 300
    # Another username from one of those addresses: that address has one failure only.
    assert wait_for(throttle, "bob", "10.0.0.1") == 0
    for name in ("carol", "dave"):
        fail(throttle, name, "10.0.0.9")
    assert throttle.begin(throttle.keys("erin", "10.0.0.9")) == 300


def test_success_clears_the_username_not_the_address():
    throttle = LoginThrottle(limit=2, window=300, clock=Clock())
    fail(throttle, "alice", "10.0.0.1")
    keys = throttle.keys("alice", "10.0.0.2")
    assert throttle.begin(keys) == 0
    throttle.end(keys, failed=False)
    fail(throttle, "alice", "10.0.0.1")
    assert wait_for(throttle, "alice", "10.0.0.3") == 0
    assert throttle.begin(throttle.keys("bob", "10.0.0.1")) == 300


def test_attempts_in_flight_count_so_a_parallel_burst_is_capped():
    throttle = LoginThrottle(limit=3, window=300, clock=Clock())
    keys = throttle.keys("alice", "10.0.0.1")
    assert [throttle.begin(keys) for _ in range(5)] == [0, 0, 0, 1, 1]
    for _ in range(3):
        throttle.end(keys, failed=True)
    assert throttle.begin(keys) == 300
    assert throttle._pending == {}


def test_expired_entries_are_pruned_when_the_table_is_large(monkeypatch):
    import comicsrv.auth.throttle as module

    monkeypatch.setattr(module, "PRUNE_AT", 10)
    clock = Clock()
    throttle = LoginThrottle(limit=5, window=300, clock=clock)
    for n in range(10):
        fail(throttle, f"user{n}", f"10.0.0.{n}")
    clock.now += 301
    fail(throttle, "late", "10.0.0.2")
    assert sorted(throttle._failures) == ["ip:10.0.0.2", "user:late"]
