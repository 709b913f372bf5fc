"""Page resizes while password hashes run: where should scrypt run? Prints; never asserts.

    python bench/bench_password_pool.py [--logins 20] [--rounds 3] [--workers 2]

Under gevent, like ``comicsrv serve``: the shared CPU pool has ``--workers``
threads (``CPU_WORKERS``). ``--logins`` greenlets each check a wrong password
(Werkzeug's scrypt, as a wrong HTTP Basic login does) while another greenlet,
a moment later, resizes a full-size comic page to 300 px wide on the shared
pool, as ``/api/v1/books/<id>/pages/1?width=300`` does. Strategies:

- shared: scrypt on the shared pool (comicsrv before its password pool);
- semaphore: scrypt on the shared pool, at most one at a time;
- own pool: scrypt on ``comicsrv.auth.hashing``'s pool of its own (what
  comicsrv does), and the same with two threads.

Figures: the page's latency (median and worst of ``--rounds``) and how long
the burst of logins took to be answered.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.lock import BoundedSemaphore  # noqa: E402
from gevent.threadpool import ThreadPool  # noqa: E402

from comicsrv import images  # noqa: E402
from comicsrv.auth import hashing, secrets  # noqa: E402


def make_page() -> bytes:
    """A 1988x3056 JPEG like a current digital comic page (bench_images')."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_images import make_page as page

    return page(random.Random(1))


def shared(fn, *args):
    return gevent.get_hub().threadpool.apply(fn, args)


_one_at_a_time = BoundedSemaphore(1)


def semaphore(fn, *args):
    with _one_at_a_time:
        return shared(fn, *args)


def own_pool(threads: int):
    pool = ThreadPool(threads)
    return lambda fn, *args: pool.apply(fn, args)


def one_round(run_hash, stored: str, page: bytes, logins: int) -> tuple[float, float]:
    started = time.perf_counter()
    burst = [gevent.spawn(run_hash, secrets.check_password, stored, f"guess {n}")
             for n in range(logins)]
    gevent.sleep(0.05)  # the logins are queued or running
    asked = time.perf_counter()
    shared(images.transform, page, 300, None, None)
    page_seconds = time.perf_counter() - asked
    gevent.joinall(burst)
    return page_seconds, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="threads of the shared CPU pool")
    args = parser.parse_args()
    gevent.get_hub().threadpool.maxsize = args.workers
    stored = secrets.hash_password("the right password")
    page = make_page()
    alone = []
    for _ in range(args.rounds):
        asked = time.perf_counter()
        shared(images.transform, page, 300, None, None)
        alone.append(time.perf_counter() - asked)
    print(f"resize of a {len(page) // 1024} KiB page to 300 px, nothing else running: "
          f"median {statistics.median(alone) * 1000:.0f} ms")
    strategies = [("shared pool (before)", shared), ("semaphore(1) on the shared pool", semaphore),
                  ("own pool, 1 thread (comicsrv)", hashing.run_password_work),
                  ("own pool, 2 threads", own_pool(2))]
    print(f"{args.logins} wrong logins at once, shared pool of {args.workers} threads:")
    print(f"{'strategy':34} {'page median':>12} {'page worst':>11} {'logins done':>12}")
    for name, run_hash in strategies:
        pages, bursts = zip(*(one_round(run_hash, stored, page, args.logins)
                              for _ in range(args.rounds)))
        print(f"{name:34} {statistics.median(pages) * 1000:>9.0f} ms {max(pages) * 1000:>8.0f} ms "
              f"{statistics.median(bursts):>10.2f} s")


if __name__ == "__main__":
    main()
