"""Provider quotas counted in the database (``comicsrv.cluster.limits``).

Two ``DatabaseRateLimits`` on the session database stand for two processes:
each has its own engine (connections) and its own locks.
"""
import threading

import pytest
from sqlalchemy import create_engine, select

from comicsrv.cluster.limits import DatabaseRateLimits
from comicsrv.extensions import db
from comicsrv.hookspecs import IntegrationContext, IntegrationRateLimited, RateWindow
from comicsrv.models import RateLimitHit
from comicsrv_plugins.comicvine import ComicVine


@pytest.fixture
def processes(app):
    """Two quota keepers with engines of their own, as two processes have."""
    url = db.engine.url
    engines = [create_engine(url, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]) for _ in range(2)]
    yield [DatabaseRateLimits(engine) for engine in engines]
    for engine in engines:
        engine.dispose()


def test_a_window_is_one_limit_for_every_process(processes):
    first, second = processes
    windows = [RateWindow("metron", 3, 60.0)]
    for limits in (first, second, first):
        assert limits.acquire(windows, max_wait=0, service="Metron") == 0
    with pytest.raises(IntegrationRateLimited,
                       match=r"Metron request quota is spent \(3 per minute\)") as refused:
        second.acquire(windows, max_wait=5, service="Metron")
    assert 50 < refused.value.retry_after <= 60
    assert first.used("metron", 60) == second.used("metron", 60) == 3


def test_racing_processes_never_take_more_than_the_limit(processes):
    """Twenty threads in two processes race for five slots: five win."""
    windows = [RateWindow("comicvine:volume", 5, 3600.0)]
    won, refused = [], []
    barrier = threading.Barrier(20)

    def race(limits):
        barrier.wait()
        try:
            limits.acquire(windows, max_wait=0, service="ComicVine")
            won.append(1)
        except IntegrationRateLimited:
            refused.append(1)

    threads = [threading.Thread(target=race, args=(processes[i % 2],)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert (len(won), len(refused)) == (5, 15)
    assert processes[0].used("comicvine:volume", 3600) == 5


def test_a_full_window_is_waited_for_when_the_wait_is_short(processes):
    """ComicVine's pacing: one request a second across resources. The second
    request waits for the first to leave the window, then is counted."""
    first, second = processes
    pacing = [RateWindow("comicvine", 1, 1.0)]
    first.acquire([RateWindow("comicvine:volume", 200, 3600.0), *pacing], max_wait=5)
    waited = second.acquire([RateWindow("comicvine:issues", 200, 3600.0), *pacing], max_wait=5)
    assert 0 < waited <= 1.0
    times = sorted(db.session.execute(select(RateLimitHit.at).where(
        RateLimitHit.key == "comicvine")).scalars())
    assert len(times) == 2 and times[1] - times[0] >= 1.0 - 1e-3


def test_the_comicvine_plugin_paces_and_counts_through_the_host(processes, tmp_path):
    """A plugin given the host's quota keeper counts per resource and paces
    across resources; the windows it sends are ComicVine's."""
    windows = ComicVine.limiter.rate_windows("volume")
    assert windows == [RateWindow("comicvine:volume", 200, 3600.0),
                       RateWindow("comicvine", 1, 1.0)]
    plugin = ComicVine({"api_key": "k", "requests_per_hour": 2},
                       IntegrationContext(cache_dir=str(tmp_path), rate_limits=processes[0]))
    limiter = plugin.client.limiter
    assert limiter.rate_windows("volume")[0] == RateWindow("comicvine:volume", 2, 3600.0)
    for _ in range(2):
        limiter.acquire("volume", 5, shared=processes[0])
    with pytest.raises(IntegrationRateLimited, match="quota for 'volume' is spent"):
        limiter.acquire("volume", 5, shared=processes[1])
