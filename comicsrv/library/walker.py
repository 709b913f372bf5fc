"""Walking a library folder: what comic files exist, with size and mtime.

Only ``os.scandir`` and the stat data it already carries: nothing is opened,
so a rescan of an unchanged library costs one directory listing per folder.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

COMIC_EXTENSIONS = frozenset({".cbz", ".cbr", ".cb7", ".cbt", ".zip", ".rar", ".7z", ".tar", ".pdf"})
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".jxl", ".bmp"})
# A folder of images counts as a book only with at least this many pages, so
# a lone cover.jpg or folder.jpg next to archives never becomes a book.
MIN_FOLDER_PAGES = 2


@dataclass(frozen=True, slots=True)
class FileStat:
    path: str
    size: int
    mtime: float
    is_folder: bool = False


def _skip(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX" or name.startswith("@eaDir")


def walk_library(root: str, errors: list[tuple[str, str]] | None = None) -> Iterator[FileStat]:
    """Yield every comic file and image folder below ``root``, depth first.

    Unreadable folders are reported in ``errors`` as ``(path, reason)`` and
    skipped; a symlinked folder is not followed (it could loop or lead out of
    the library), a symlinked file is.
    """
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                children = list(entries)
        except OSError as exc:
            if errors is not None:
                errors.append((folder, exc.strerror or str(exc)))
            continue
        images: list[os.DirEntry] = []
        has_comics = False
        subfolders = []
        for entry in children:
            if _skip(entry.name):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append(entry.path)
                    continue
                if not entry.is_file():
                    continue
                ext = os.path.splitext(entry.name)[1].lower()
                if ext in COMIC_EXTENSIONS:
                    stat = entry.stat()
                    has_comics = True
                    yield FileStat(entry.path, stat.st_size, stat.st_mtime)
                elif ext in IMAGE_EXTENSIONS:
                    images.append(entry)
            except OSError as exc:
                if errors is not None:
                    errors.append((entry.path, exc.strerror or str(exc)))
        if (folder != root and not has_comics and not subfolders
                and len(images) >= MIN_FOLDER_PAGES):
            stats = [image.stat() for image in images]
            yield FileStat(folder, sum(s.st_size for s in stats),
                           max(s.st_mtime for s in stats), is_folder=True)
        stack.extend(sorted(subfolders, reverse=True))
