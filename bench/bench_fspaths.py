"""What storing paths losslessly (comicsrv.fspaths, the FsPath column type)
costs per path, on the forms a library holds. Prints figures.

    python bench/bench_fspaths.py [--count 200000]

Every path column value goes through ``to_storage`` when written and
``from_storage`` when read; API path fields through ``display``.
"""
from __future__ import annotations

import argparse
import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from comicsrv.fspaths import display, from_storage, to_storage  # noqa: E402

PATHS = {
    "ascii": "/comics/Image/Saga (2012)/Saga 001 (2012) (digital) (Son of Ultron-Empire).cbz",
    "utf-8": "/comics/Glénat/Astérix/Astérix 01 - Astérix le Gaulois (1961).cbz",
    "latin-1 bytes": os.fsdecode(b"/comics/Gl\xe9nat/Ast\xe9rix/Ast\xe9rix 01 - le Gaulois.cbz"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200_000)
    count = parser.parse_args().count
    for label, path in PATHS.items():
        stored = to_storage(path)
        figures = []
        for name, call in (("to_storage", lambda: to_storage(path)),
                           ("from_storage", lambda: from_storage(stored)),
                           ("display", lambda: display(path))):
            seconds = min(timeit.repeat(call, number=count, repeat=3))
            figures.append(f"{name} {seconds / count * 1e9:6.0f} ns")
        print(f"{label:14s} " + ", ".join(figures))


if __name__ == "__main__":
    main()
