"""Benchmark the secrets filter every log record passes through. Prints; never asserts.

    python bench/bench_redact.py [--records 100000]

(with comicsrv installed, e.g. ``pip install -e .``). ``create_app`` masks every
log record of the process (``comicsrv.redact``), so what matters is the cost
added to a record: for the usual line without a URL, and for an indexer's
failure line that names its feed URL, ``apikey=`` and all.
"""

from __future__ import annotations

import argparse
import logging
import time

from comicsrv.redact import mask_text, redact_record

LINES = {
    "plain line": ("scan of library %s finished: %d files, %d new in %.1f s", (3, 1204, 3, 2.1)),
    "URL with a secret": ("indexer %s failed: %s", (
        "Zone", "http://127.0.0.1:9696/12/api?t=search&q=saga&apikey=0123456789abcdef: "
                "HTTP 500; backing off")),
    "mapping repr": ("settings %s", ({"url": "http://h", "api_key": "abc", "categories": [7030]},)),
}


def per_record(make, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        make()
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    count = parser.parse_args().records
    print(f"{count} records each; microseconds per record")
    for name, (msg, args) in LINES.items():
        def bare():
            return logging.LogRecord("comicsrv", logging.WARNING, __file__, 1, msg, args, None)

        def masked():
            return redact_record(bare())

        text = msg % args
        base, total = per_record(bare, count), per_record(masked, count)
        print(f"{name:18}  record {base:6.2f}  + redact {total - base:6.2f}  "
              f"mask_text alone {per_record(lambda: mask_text(text), count):6.2f}")


if __name__ == "__main__":
    main()
