"""Comic page images: sniffing, sizes, cover thumbnails and reader transforms.

Bytes in, bytes out. This module is a leaf (Pillow only, nothing from Flask,
SQLAlchemy or the rest of comicsrv) so the scanner, the thumbnail cache and the
reader APIs can all call it, in any process or thread, with pages read straight
out of an archive.

Every failure leaves as an :class:`ImageError`: :class:`UnsupportedImageError`
for data that is not an image we can decode, :class:`ImageTooLargeError` for a
decompression bomb. Callers turn those into a 415/413 or a placeholder cover;
they never have to know Pillow's zoo of ``OSError``/``SyntaxError``/bomb
warnings. The work is CPU-bound C code that releases the GIL, so callers on an
event loop (gevent) should run it in a real thread pool.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from PIL import ExifTags, Image, ImageDraw, ImageFont

__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "MAX_EDGE",
    "MIN_EDGE",
    "OUTPUT_FORMATS",
    "ImageError",
    "ImageTooLargeError",
    "UnsupportedImageError",
    "image_size",
    "max_image_pixels",
    "mime_type",
    "placeholder",
    "set_max_image_pixels",
    "sniff",
    "thumbnail",
    "thumbnail_cost",
    "transform",
    "transform_cost",
]

#: Pixel budget of one decoded image. 200 MP is ten times a 4K double-page
#: spread, yet an RGB decode of it stays under 600 MB.
DEFAULT_MAX_IMAGE_PIXELS: Final = 200_000_000
#: Bounds of the long edge of a resized reader page: below 64 px nothing is
#: legible, above 2000 px a client asks the server to do its scaling for it.
MIN_EDGE: Final = 64
MAX_EDGE: Final = 2000
#: What thumbnails and transforms may encode to: what every browser displays.
OUTPUT_FORMATS: Final = frozenset({"jpeg", "png", "webp"})

#: Covers are about 2:3 (a US comic page is 6.625 x 10.1875 in).
_COVER_ASPECT: Final = 2 / 3
#: How far above the target the JPEG decoder may stop downscaling. 1 lets
#: libjpeg do almost all of the work (thumbnails); 2 keeps the last step to a
#: Lanczos filter with room to work, which reader pages deserve.
_THUMBNAIL_DRAFT_GAP: Final = 1.0
_PAGE_DRAFT_GAP: Final = 2.0
#: Pillow's resize first box-reduces by an integer factor while the image is
#: more than this many times the target; 3 is visually identical to a pure
#: Lanczos and several times faster on big reductions.
_REDUCING_GAP: Final = 3.0

_MIME_TYPES: Final = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "jxl": "image/jxl",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
}
#: Pillow plugins allowed to open each sniffed format. Naming them keeps
#: Image.open from trying its other forty plugins on hostile bytes (EPS would
#: even start Ghostscript).
_PIL_PLUGINS: Final = {
    "jpeg": ("JPEG", "MPO"),
    "png": ("PNG",),
    "gif": ("GIF",),
    "webp": ("WEBP",),
    "avif": ("AVIF",),
    "jxl": ("JXL",),
    "bmp": ("BMP",),
    "tiff": ("TIFF",),
}
_PIL_ENCODERS: Final = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}

_SIMPLE_MAGIC: Final = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"\xff\x0a", "jxl"),  # bare JPEG XL codestream
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jxl"),  # JPEG XL in its ISO BMFF box
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
)
#: Sizes of the DIB headers a real BMP carries: "BM" alone matches text.
_BMP_DIB_HEADER_SIZES: Final = frozenset({12, 40, 52, 56, 64, 108, 124})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})

#: EXIF orientation -> the transpose that shows the image upright (filled
#: in by ``_pillow``).
_UPRIGHT: Final[dict[int, Image.Transpose]] = {}
_SWAPS_AXES: Final = frozenset({5, 6, 7, 8})

_UNKNOWN_FORMAT: Final = (
    "not an image in a known format (jpeg, png, gif, webp, avif, jxl, bmp, tiff)"
)

_max_pixels = DEFAULT_MAX_IMAGE_PIXELS

Size = tuple[int, int]


_pillow_loaded = False


def _pillow() -> None:
    """Import Pillow, on the first image work of the process rather than
    with this module: a server that only sends stored pages and cached
    covers never decodes an image, and Pillow is ~3 MB of its memory.
    Any thread may call it (the import lock serialises the import; the
    rest is idempotent)."""
    global ExifTags, Image, ImageDraw, ImageFont, _pillow_loaded
    if _pillow_loaded:
        return
    from PIL import ExifTags, Image, ImageDraw, ImageFont

    Image.MAX_IMAGE_PIXELS = _max_pixels
    _UPRIGHT.update({
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    })
    _pillow_loaded = True


class ImageError(Exception):
    """The image cannot be served as asked."""


class UnsupportedImageError(ImageError):
    """The data is not an image in a format this server can decode."""


class ImageTooLargeError(ImageError):
    """The image declares more pixels than the configured budget."""


def set_max_image_pixels(limit: int) -> None:
    """Set the pixel budget of one image, for this module and Pillow alike.

    Pillow's own guard is process-wide and only warns between one and two
    times its limit, so this module also checks every image it opens: past
    ``limit`` pixels it raises :class:`ImageTooLargeError` before decoding.
    """
    global _max_pixels
    if limit < 1:
        raise ValueError(f"the pixel limit must be positive, not {limit}")
    _max_pixels = limit
    if _pillow_loaded:
        Image.MAX_IMAGE_PIXELS = limit


def max_image_pixels() -> int:
    """Return the pixel budget of one image."""
    return _max_pixels


def sniff(data: bytes) -> str | None:
    """Name the image format of ``data`` from its magic bytes, or None.

    Cheap and exact, so the reader can label pages it passes through without
    decoding them, and only the matching Pillow plugin ever sees the bytes.
    """
    for magic, fmt in _SIMPLE_MAGIC:
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if _is_bmp(data):
        return "bmp"
    if _is_avif(data):
        return "avif"
    return None


def mime_type(fmt: str | None) -> str:
    """Return the MIME type of a format named by :func:`sniff`.

    An unknown or missing format is ``application/octet-stream``, the honest
    label for bytes nobody could identify.
    """
    return _MIME_TYPES.get(fmt or "", "application/octet-stream")


def image_size(data: bytes) -> Size:
    """Return the ``(width, height)`` the image is displayed at.

    Only the header is read (Pillow opens lazily), so this costs microseconds
    even for a 3000-pixel page. EXIF orientation is honoured, as browsers do:
    a portrait photo stored sideways reports its portrait size.
    """
    with _opened(data) as im:
        return _displayed(im.size, _orientation(im))


def thumbnail(
    data: bytes,
    max_edge: int = 400,
    fmt: str = "jpeg",
    quality: int = 85,
    *,
    draft: bool = True,
) -> bytes:
    """Encode an upright thumbnail whose long edge is at most ``max_edge``.

    Built for cover caches: the first frame of animations, alpha flattened on
    white for JPEG, never upscaled. ``draft`` lets the JPEG decoder scale by
    1/2..1/8 while decoding, which skips most of the inverse DCT work;
    ``draft=False`` decodes at full size, only to measure what that saves.
    """
    _check_format(fmt)
    _check_quality(quality)
    _check_dimension("max_edge", max_edge)
    with _opened(data) as im:
        orientation = _orientation(im)
        shown = _displayed(im.size, orientation)
        target = _scaled(shown, _fit_scale(shown, max_edge, max_edge))
        gap = _THUMBNAIL_DRAFT_GAP if draft else None
        return _encode(_render(im, target, orientation, gap), fmt, quality)


def transform(
    data: bytes,
    width: int | None = None,
    height: int | None = None,
    fmt: str | None = None,
    quality: int = 85,
) -> tuple[bytes, str]:
    """Resize and/or re-encode a reader page; return ``(bytes, mime type)``.

    The page is fitted inside ``width`` x ``height`` (either may be None),
    keeping its aspect ratio and never upscaling; the long edge of a resized
    page is clamped to ``MIN_EDGE``..``MAX_EDGE`` so a client can neither ask
    for an illegible sliver nor make the server encode posters. ``fmt`` is one
    of ``OUTPUT_FORMATS``; without it a resized page keeps its format when a
    browser can show it. When the result would be the page itself, the input
    object is returned untouched: no decode, no generation loss.
    """
    if fmt is not None:
        _check_format(fmt)
    _check_quality(quality)
    _check_dimension("width", width)
    _check_dimension("height", height)
    source_fmt = sniff(data)
    if source_fmt is None:
        raise UnsupportedImageError(_UNKNOWN_FORMAT)
    if width is None and height is None and fmt in (None, source_fmt):
        return data, mime_type(source_fmt)
    with _opened(data) as im:
        orientation = _orientation(im)
        shown = _displayed(im.size, orientation)
        target = _page_size(shown, width, height)
        out_fmt = fmt or _default_output(source_fmt, im)
        if target == shown and out_fmt == source_fmt:
            return data, mime_type(source_fmt)
        page = _render(im, target, orientation, _PAGE_DRAFT_GAP)
        return _encode(page, out_fmt, quality), mime_type(out_fmt)


def thumbnail_cost(data: bytes, max_edge: int = 400, *, draft: bool = True) -> int:
    """Pixels :func:`thumbnail` with the same arguments will decode.

    Only the header is read. Callers use it to queue the few huge decodes
    (a 14,000-pixel PNG is 780 MB decoded) instead of running them all at
    once, and to cache what they cost.
    """
    _check_dimension("max_edge", max_edge)
    with _opened(data) as im:
        orientation = _orientation(im)
        shown = _displayed(im.size, orientation)
        target = _scaled(shown, _fit_scale(shown, max_edge, max_edge))
        return _decoded_pixels(im, target, orientation, _THUMBNAIL_DRAFT_GAP if draft else None)


def transform_cost(
    data: bytes,
    width: int | None = None,
    height: int | None = None,
    fmt: str | None = None,
) -> int:
    """Pixels :func:`transform` with the same arguments will decode: 0 when
    it returns the page untouched, less than the page for a JPEG the decoder
    can scale down. Only the header is read."""
    _check_dimension("width", width)
    _check_dimension("height", height)
    source_fmt = sniff(data)
    if source_fmt is None:
        raise UnsupportedImageError(_UNKNOWN_FORMAT)
    if width is None and height is None and fmt in (None, source_fmt):
        return 0
    with _opened(data) as im:
        orientation = _orientation(im)
        shown = _displayed(im.size, orientation)
        target = _page_size(shown, width, height)
        if target == shown and (fmt or _default_output(source_fmt, im)) == source_fmt:
            return 0
        return _decoded_pixels(im, target, orientation, _PAGE_DRAFT_GAP)


@lru_cache(maxsize=32)
def placeholder(max_edge: int = 400, text: str | None = None) -> bytes:
    """Return a plain 2:3 JPEG cover, optionally titled, for unreadable books.

    Served where a cover cannot be extracted (LANraragi's API does the same),
    so clients always get an image. Cached: a handful of sizes and titles
    cover every request.
    """
    if max_edge < MIN_EDGE:
        raise ValueError(f"a placeholder needs max_edge >= {MIN_EDGE}, not {max_edge}")
    size = (round(max_edge * _COVER_ASPECT), max_edge)
    _pillow()
    cover = Image.new("RGB", size, (52, 56, 64))
    draw = ImageDraw.Draw(cover)
    margin = max_edge // 24
    draw.rectangle(
        (margin, margin, size[0] - margin, size[1] - margin),
        outline=(120, 126, 138),
        width=max(1, max_edge // 200),
    )
    if text:
        _draw_title(draw, text, size, margin)
    return _encode(cover, "jpeg", 85)


def _is_bmp(data: bytes) -> bool:
    if not data.startswith(b"BM") or len(data) < 18:
        return False
    (dib_header_size,) = struct.unpack_from("<I", data, 14)
    return dib_header_size in _BMP_DIB_HEADER_SIZES


def _is_avif(data: bytes) -> bool:
    """An ISO BMFF ``ftyp`` box whose major or compatible brands say AVIF."""
    if data[4:8] != b"ftyp" or len(data) < 12:
        return False
    (box_size,) = struct.unpack_from(">I", data, 0)
    brands = data[8:12] + data[16 : min(box_size, len(data), 256)]
    return any(brands[i : i + 4] in _AVIF_BRANDS for i in range(0, len(brands), 4))


@contextmanager
def _opened(data: bytes) -> Iterator[Image.Image]:
    """Open ``data`` lazily with the matching plugin, inside the budget.

    Everything done with the image inside the block (decoding is lazy) has
    Pillow's exceptions translated into this module's.
    """
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedImageError(_UNKNOWN_FORMAT)
    _pillow()
    plugins = _available_plugins(fmt)
    with _pillow_errors(fmt), Image.open(io.BytesIO(data), formats=plugins) as im:
        _check_pixels(im.size)
        yield im


def _available_plugins(fmt: str) -> tuple[str, ...]:
    Image.init()
    plugins = tuple(p for p in _PIL_PLUGINS[fmt] if p in Image.OPEN)
    if not plugins:
        raise UnsupportedImageError(f"{fmt} images need a Pillow plugin that is not installed")
    return plugins


@contextmanager
def _pillow_errors(fmt: str) -> Iterator[None]:
    """Translate what Pillow raises on hostile or broken data.

    The bomb *warning* arrives as an exception only when warnings are errors;
    otherwise :func:`_check_pixels` catches that image right after.
    """
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"image is over the {_max_pixels:,}-pixel limit: {exc}") from exc
    except (OSError, ValueError, EOFError, SyntaxError, struct.error) as exc:
        raise UnsupportedImageError(f"cannot decode {fmt} image: {exc}") from exc


def _check_pixels(size: Size) -> None:
    width, height = size
    if width * height > _max_pixels:
        raise ImageTooLargeError(
            f"{width}x{height} image has {width * height:,} pixels, "
            f"over the {_max_pixels:,}-pixel limit"
        )


def _check_format(fmt: str) -> None:
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"cannot encode to {fmt!r}: use one of {sorted(OUTPUT_FORMATS)}")


def _check_quality(quality: int) -> None:
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be within 1..100, not {quality}")


def _check_dimension(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{name} must be positive, not {value}")


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1..8 from the header; 1 when absent or nonsensical.

    Called as the base-class method on purpose: PNG's override decodes the
    whole image hunting for an eXIf chunk stored after the pixels.
    """
    value = Image.Image.getexif(im).get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def _displayed(stored: Size, orientation: int) -> Size:
    """Convert between stored and displayed sizes (the swap is symmetric)."""
    width, height = stored
    return (height, width) if orientation in _SWAPS_AXES else (width, height)


def _scaled(size: Size, scale: float) -> Size:
    if scale >= 1.0:
        return size
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def _fit_scale(size: Size, max_width: int | None, max_height: int | None) -> float:
    """Scale that fits ``size`` in the box (None: unbounded), at most 1."""
    return min(
        1.0,
        max_width / size[0] if max_width else math.inf,
        max_height / size[1] if max_height else math.inf,
    )


def _page_size(shown: Size, width: int | None, height: int | None) -> Size:
    """Target of a reader transform: fitted, then its long edge clamped."""
    if width is None and height is None:
        return shown
    long_edge = max(shown)
    fitted = long_edge * _fit_scale(shown, width, height)
    clamped = min(max(fitted, MIN_EDGE), MAX_EDGE)
    return _scaled(shown, clamped / long_edge)


def _default_output(source_fmt: str, im: Image.Image) -> str:
    if source_fmt in OUTPUT_FORMATS:
        return source_fmt
    return "png" if im.has_transparency_data else "jpeg"


def _draft(
    im: Image.Image, target: Size, orientation: int, draft_gap: float | None
) -> Size:
    """Let the decoder scale down while decoding (JPEG only, by 1/2..1/8);
    return the stored size of the target."""
    stored_target = _displayed(target, orientation)
    if draft_gap is not None and stored_target != im.size:
        # A no-op for anything but JPEG; the result is never below the request.
        request = (
            math.ceil(stored_target[0] * draft_gap),
            math.ceil(stored_target[1] * draft_gap),
        )
        im.draft(None, request)
    return stored_target


def _decoded_pixels(
    im: Image.Image, target: Size, orientation: int, draft_gap: float | None
) -> int:
    _draft(im, target, orientation, draft_gap)  # only sets up the decoder
    return im.width * im.height


def _render(
    im: Image.Image, target: Size, orientation: int, draft_gap: float | None
) -> Image.Image:
    """Decode, resize to the displayed ``target`` and turn upright.

    Resizing happens in stored orientation, before the transpose, so the
    rotation only ever touches the small image.
    """
    stored_target = _draft(im, target, orientation, draft_gap)
    im.load()  # decode here, so broken data is not blamed on the encoder
    im = _working_mode(im)
    if im.size != stored_target:
        im = im.resize(stored_target, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)
    upright = _UPRIGHT.get(orientation)
    return im if upright is None else im.transpose(upright)


def _working_mode(im: Image.Image) -> Image.Image:
    """Bring any decoded mode to 8-bit L, LA, RGB or RGBA.

    Lanczos needs continuous tones (Pillow resizes palette and 1-bit images
    with nearest-neighbour), and 16-bit grey must be scaled, not clipped:
    Pillow's own ``convert("L")`` turns every mid-grey of a 16-bit PNG white.
    """
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I"):
        return im.point(lambda value: value / 256).convert("L")
    if mode == "F":
        return im.convert("L")
    return im.convert("RGBA" if im.has_transparency_data else "RGB")


def _encode(im: Image.Image, fmt: str, quality: int) -> bytes:
    if fmt == "jpeg" and im.mode in ("LA", "RGBA"):
        im = _flatten_on_white(im)
    options = {} if fmt == "png" else {"quality": quality}
    out = io.BytesIO()
    try:
        im.save(out, format=_PIL_ENCODERS[fmt], **options)
    except (OSError, ValueError) as exc:
        raise ImageError(f"cannot encode a {im.width}x{im.height} image as {fmt}: {exc}") from exc
    return out.getvalue()


def _flatten_on_white(im: Image.Image) -> Image.Image:
    """JPEG has no alpha: transparent areas become paper white, not black."""
    opaque_mode = im.mode[:-1]
    base = Image.new(opaque_mode, im.size, "white")
    base.paste(im.convert(opaque_mode), mask=im.getchannel("A"))
    return base


def _draw_title(draw: ImageDraw.ImageDraw, text: str, size: Size, margin: int) -> None:
    width, height = size
    font = ImageFont.load_default(size=max(10, height // 18))
    lines = _wrap(draw, text, font, width - 4 * margin)
    draw.multiline_text(
        (width / 2, height / 2),
        "\n".join(lines),
        fill=(220, 224, 230),
        font=font,
        anchor="mm",
        align="center",
    )


def _wrap(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    max_width: int,
    max_lines: int = 6,
) -> list[str]:
    """Greedy word wrap by rendered width; an overflowing last line gets "…"."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font) <= max_width:
            lines[-1] = candidate
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] += "…"
    return lines


# Pillow's own default (warn at 89 MP, refuse at 179 MP) would contradict ours.
set_max_image_pixels(DEFAULT_MAX_IMAGE_PIXELS)
