"""Post-processing file work on one large comic. Prints figures; never asserts.

    python bench/bench_postprocess.py [--pages 120] [--page-kib 800]

Builds a CBZ of random "pages" (incompressible, like JPEGs), then times:
writing ComicInfo.xml by copying every entry's raw bytes (what the import
does) against rewriting the archive through zipfile (decompress and
recompress every page); a verified copy (copy, fsync, read back, SHA-256)
against a plain shutil.copyfile; and a move within one file system (a link).
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from comicsrv.automation.comicfiles import embed_comicinfo
from comicsrv.automation.transfer import transfer

COMICINFO = b"<?xml version='1.0'?><ComicInfo><Series>Bench</Series><Number>1</Number></ComicInfo>"


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def rewrite_through_zipfile(source: Path, target: Path) -> None:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in zin.infolist():
            out.writestr(info, zin.read(info))
        out.writestr("ComicInfo.xml", COMICINFO)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=120)
    parser.add_argument("--page-kib", type=int, default=800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        comic = root / "big.cbz"
        with zipfile.ZipFile(comic, "w", zipfile.ZIP_DEFLATED) as zf:
            for n in range(args.pages):
                zf.writestr(f"{n:04d}.jpg", os.urandom(args.page_kib * 1024))
        size_mib = comic.stat().st_size / 2**20
        print(f"comic: {args.pages} pages, {size_mib:.0f} MiB")

        raw = timed(lambda: embed_comicinfo(str(comic), str(root / "tagged.cbz"), COMICINFO))
        slow = timed(lambda: rewrite_through_zipfile(comic, root / "rewritten.cbz"))
        print(f"ComicInfo.xml, raw entry copy:        {raw * 1000:8.1f} ms")
        print(f"ComicInfo.xml, zipfile recompression: {slow * 1000:8.1f} ms ({slow / raw:.1f}x)")

        def verified_copy():
            dest = root / "lib" / "copy.cbz"
            dest.unlink(missing_ok=True)
            transfer(comic, dest, "copy")

        def plain_copy():
            shutil.copyfile(comic, root / "plain.cbz")

        verified = timed(verified_copy)
        plain = timed(plain_copy)
        print(f"verified copy (fsync + read-back hash): {verified * 1000:8.1f} ms "
              f"({size_mib / verified:.0f} MiB/s)")
        print(f"shutil.copyfile:                        {plain * 1000:8.1f} ms "
              f"({size_mib / plain:.0f} MiB/s)")

        source = root / "move-src.cbz"
        shutil.copyfile(comic, source)
        move = timed(lambda: transfer(source, root / "lib" / "moved.cbz", "move"), repeat=1)
        print(f"move on one file system (link + unlink): {move * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
