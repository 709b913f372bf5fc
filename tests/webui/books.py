"""Real comic archives made for the browser tests: numbered pages a test can
tell apart by colour, optionally a two-page spread scanned as one wide
image, and a ComicInfo.xml, stored in a CBZ like a tagger writes it."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

PAGE_SIZE = (800, 1200)


def page_colour(number: int) -> tuple[int, int, int]:
    """A colour per page number, far enough apart to tell pages apart in a
    screenshot."""
    return ((number * 67) % 200 + 30, (number * 131) % 200 + 30, (number * 29) % 200 + 30)


def page_image(number: int, *, wide: bool = False, quality: int = 90) -> bytes:
    width, height = PAGE_SIZE
    size = (width * 2, height) if wide else PAGE_SIZE
    image = Image.new("RGB", size, page_colour(number))
    draw = ImageDraw.Draw(image)
    # Line art and noise so that a resized page costs what a real one does.
    for y in range(0, size[1], 24):
        draw.line([(0, y), (size[0], (y * 7) % size[1])], fill=(255, 255, 255), width=2)
    font = ImageFont.load_default(size=300)
    draw.text((size[0] // 2, size[1] // 2), str(number), fill=(0, 0, 0), anchor="mm", font=font)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def comicinfo(series: str, number: str, *, title: str = "", manga: str = "",
              story_arc: str = "", arc_number: str = "", publisher: str = "",
              year: int = 2021, writer: str = "") -> bytes:
    fields = {"Title": title, "Series": series, "Number": number, "Year": str(year),
              "Publisher": publisher, "Writer": writer, "Manga": manga,
              "StoryArc": story_arc, "StoryArcNumber": arc_number,
              "Summary": f"Issue {number} of {series}, made for the web UI tests."}
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items() if v)
    return (f'<?xml version="1.0" encoding="utf-8"?><ComicInfo xmlns:xsi="http://www.w3.org/2001/'
            f'XMLSchema-instance">{body}</ComicInfo>').encode()


def make_cbz(path: Path, pages: int, *, wide: frozenset[int] = frozenset(),
             info: bytes | None = None) -> Path:
    """A CBZ of ``pages`` numbered JPEG pages; the page numbers in ``wide``
    are double-width spreads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for number in range(1, pages + 1):
            archive.writestr(f"page{number:03d}.jpg", page_image(number, wide=number in wide))
        if info is not None:
            archive.writestr("ComicInfo.xml", info)
    return path
