"""Tests of comicsrv.images on real images: generated with Pillow here, plus
JPEG pages from a real comic archive fixture."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageSequence, features

from comicsrv import images
from comicsrv.images import ImageError, ImageTooLargeError, UnsupportedImageError

FIXTURE = Path(__file__).parent / "fixtures/archives/comicbox/Captain Science #001.cbz"
RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    im.save(out, format=fmt, **options)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def halves(
    size: tuple[int, int], left: tuple[int, ...], right: tuple[int, ...], mode: str = "RGB"
) -> Image.Image:
    """An image whose left half is ``left`` and right half ``right``."""
    im = Image.new(mode, size, left)
    im.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return im


def pixel(im: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = im.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def grey(im: Image.Image, xy: tuple[int, int]) -> int:
    value = im.getpixel(xy)
    assert isinstance(value, int)
    return value


def close(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def comic_page(size: tuple[int, int] = (1988, 3056)) -> bytes:
    """A JPEG the size of a digital comic page, with texture so it is not trivial."""
    noise = Image.effect_noise((size[0] // 8, size[1] // 8), 48).resize(size)
    return encode(
        Image.merge("RGB", (noise, noise.rotate(90, expand=False), noise)), "JPEG", quality=85
    )


def png_bomb(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of any size, made in a fraction of a second.

    30000x30000 compresses to about 110 kB: the shape of a decompression bomb.
    """

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    block = row * 1000
    idat = b"".join(compressor.compress(block) for _ in range(height // 1000))
    idat += compressor.compress(row * (height % 1000)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def fixture_pages() -> list[bytes]:
    with zipfile.ZipFile(FIXTURE) as archive:
        names = sorted(n for n in archive.namelist() if n.lower().endswith(".jpg"))
        return [archive.read(name) for name in names]


@pytest.fixture(scope="module")
def big_page() -> bytes:
    return comic_page()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return png_bomb(30000, 30000)


@pytest.fixture
def pixel_limit() -> Iterator[None]:
    yield
    images.set_max_image_pixels(images.DEFAULT_MAX_IMAGE_PIXELS)


# sniff / mime_type


@pytest.mark.parametrize(
    ("pil_format", "expected"),
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("GIF", "gif"),
        ("WEBP", "webp"),
        ("BMP", "bmp"),
        ("TIFF", "tiff"),
    ],
)
def test_sniff_names_formats_pillow_writes(pil_format: str, expected: str) -> None:
    data = encode(Image.new("RGB", (8, 8), RED), pil_format)
    assert images.sniff(data) == expected
    assert images.mime_type(expected) == f"image/{expected}"


@pytest.mark.skipif(not features.check("avif"), reason="Pillow built without AVIF")
def test_sniff_avif() -> None:
    assert images.sniff(encode(Image.new("RGB", (8, 8), RED), "AVIF")) == "avif"
    assert images.mime_type("avif") == "image/avif"


@pytest.mark.parametrize(
    "data",
    [b"\xff\x0a\xfa\x7f\x01\x90\x08", b"\x00\x00\x00\x0cJXL \r\n\x87\n\x00\x00\x00\x14ftypjxl "],
    ids=["codestream", "container"],
)
def test_sniff_jpeg_xl(data: bytes) -> None:
    assert images.sniff(data) == "jxl"
    assert images.mime_type("jxl") == "image/jxl"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"BM but only text",
        b"<html>",
        b"PK\x03\x04",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
    ],
    ids=["empty", "bm-text", "html", "zip", "heic"],
)
def test_sniff_rejects_other_bytes(data: bytes) -> None:
    assert images.sniff(data) is None
    assert images.mime_type(images.sniff(data)) == "application/octet-stream"


# image_size


def test_image_size_of_real_pages(fixture_pages: list[bytes]) -> None:
    assert [images.image_size(page) for page in fixture_pages] == [
        (114, 160),
        (110, 160),
        (112, 160),
        (112, 160),
        (112, 160),
    ]


def test_image_size_reads_only_the_header(big_page: bytes) -> None:
    assert images.image_size(big_page[:2048]) == (1988, 3056)
    assert images.image_size(png_bomb(10000, 10000)[:64]) == (10000, 10000)


def test_image_size_honours_exif_orientation() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    data = encode(Image.new("RGB", (300, 200), RED), "JPEG", exif=exif)
    assert images.image_size(data) == (200, 300)


# thumbnail


def test_thumbnail_of_a_full_size_page(big_page: bytes) -> None:
    thumb = images.thumbnail(big_page)
    assert images.sniff(thumb) == "jpeg"
    assert decode(thumb).size == (260, 400)


def test_thumbnail_without_draft_has_the_same_size(big_page: bytes) -> None:
    assert decode(images.thumbnail(big_page, draft=False)).size == (260, 400)


def test_thumbnail_of_real_pages_never_upscales(fixture_pages: list[bytes]) -> None:
    assert decode(images.thumbnail(fixture_pages[0])).size == (114, 160)
    assert decode(images.thumbnail(fixture_pages[0], max_edge=80)).size == (57, 80)


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_thumbnail_formats(fixture_pages: list[bytes], fmt: str) -> None:
    thumb = images.thumbnail(fixture_pages[1], max_edge=100, fmt=fmt)
    assert images.sniff(thumb) == fmt
    assert decode(thumb).size == (69, 100)


def test_thumbnail_turns_exif_orientation_6_upright() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored rotated 90° anticlockwise
    data = encode(halves((600, 400), RED, BLUE), "JPEG", exif=exif, quality=95)
    thumb = decode(images.thumbnail(data, max_edge=300))
    assert thumb.size == (200, 300)
    # Rotating clockwise brings the stored left half to the top.
    assert close(pixel(thumb, (100, 40)), RED)
    assert close(pixel(thumb, (100, 260)), BLUE)
    assert ExifTags.Base.Orientation not in thumb.getexif()


def test_thumbnail_of_cmyk_jpeg_is_rgb() -> None:
    data = encode(Image.new("CMYK", (400, 600), (0, 255, 255, 0)), "JPEG")
    thumb = decode(images.thumbnail(data, max_edge=150))
    assert (thumb.mode, thumb.size) == ("RGB", (100, 150))
    assert close(pixel(thumb, (50, 75)), RED)


def test_thumbnail_flattens_alpha_on_white() -> None:
    im = halves((400, 400), (255, 0, 0, 255), (0, 0, 255, 0), mode="RGBA")
    thumb = decode(images.thumbnail(encode(im, "PNG"), max_edge=100))
    assert thumb.mode == "RGB"
    assert close(pixel(thumb, (10, 50)), RED)
    assert close(pixel(thumb, (90, 50)), WHITE)


def test_thumbnail_keeps_alpha_in_png() -> None:
    im = halves((400, 400), (255, 0, 0, 255), (0, 0, 255, 0), mode="RGBA")
    thumb = decode(images.thumbnail(encode(im, "PNG"), max_edge=100, fmt="png"))
    assert thumb.mode == "RGBA"
    assert pixel(thumb, (90, 50))[3] == 0


def test_thumbnail_of_palette_gif_with_transparency() -> None:
    im = halves((200, 300), RED, BLUE).quantize(colors=4)
    transparent = im.getpixel((150, 10))
    data = encode(im, "GIF", transparency=transparent)
    thumb = decode(images.thumbnail(data, max_edge=150))
    assert thumb.size == (100, 150)
    assert close(pixel(thumb, (10, 75)), RED)
    assert close(pixel(thumb, (90, 75)), WHITE)


@pytest.mark.parametrize("pil_format", ["GIF", "WEBP"])
def test_thumbnail_of_an_animation_is_its_first_frame(pil_format: str) -> None:
    frames = [Image.new("RGB", (300, 300), colour) for colour in (RED, BLUE, WHITE)]
    data = encode(
        frames[0], pil_format, save_all=True, append_images=frames[1:], duration=100, loop=0
    )
    assert len(list(ImageSequence.Iterator(Image.open(io.BytesIO(data))))) == 3
    thumb = decode(images.thumbnail(data, max_edge=100))
    assert thumb.size == (100, 100)
    assert close(pixel(thumb, (50, 50)), RED)


def test_thumbnail_scales_16_bit_grey_instead_of_clipping() -> None:
    ramp = b"".join(struct.pack("<H", x * 257) for _ in range(64) for x in range(256))
    data = encode(Image.frombytes("I;16", (256, 64), ramp), "PNG")
    assert decode(data).mode == "I;16"
    thumb = decode(images.thumbnail(data, max_edge=256, fmt="png"))
    assert thumb.mode == "L"
    assert abs(grey(thumb, (128, 32)) - 128) <= 2
    assert grey(thumb, (255, 32)) >= 250


# transform


def test_transform_without_arguments_passes_bytes_through(fixture_pages: list[bytes]) -> None:
    page = fixture_pages[0]
    data, mime = images.transform(page)
    assert data is page
    assert mime == "image/jpeg"


def test_transform_to_the_same_format_passes_bytes_through(fixture_pages: list[bytes]) -> None:
    page = fixture_pages[0]
    assert images.transform(page, fmt="jpeg")[0] is page


def test_transform_never_upscales(fixture_pages: list[bytes]) -> None:
    page = fixture_pages[0]
    data, mime = images.transform(page, width=1000, height=1000)
    assert data is page
    assert mime == "image/jpeg"


def test_transform_fits_within_width_and_height(big_page: bytes) -> None:
    data, mime = images.transform(big_page, width=800)
    assert (mime, decode(data).size) == ("image/jpeg", (800, 1230))
    data, _ = images.transform(big_page, width=800, height=600)
    assert decode(data).size == (390, 600)


def test_transform_clamps_the_long_edge_to_64(fixture_pages: list[bytes]) -> None:
    data, _ = images.transform(fixture_pages[0], width=10)
    assert decode(data).size == (46, 64)


def test_transform_clamps_the_long_edge_to_2000() -> None:
    page = comic_page((1500, 2400))
    data, _ = images.transform(page, height=3000)
    assert decode(data).size == (1250, 2000)


def test_transform_to_webp(fixture_pages: list[bytes]) -> None:
    data, mime = images.transform(fixture_pages[2], width=56, fmt="webp")
    assert (images.sniff(data), mime) == ("webp", "image/webp")
    assert decode(data).size == (56, 80)


def test_transform_reencodes_without_resizing(fixture_pages: list[bytes]) -> None:
    data, mime = images.transform(fixture_pages[0], fmt="png")
    assert (mime, decode(data).size) == ("image/png", (114, 160))


def test_transform_fits_the_displayed_orientation() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    data = encode(halves((600, 400), RED, BLUE), "JPEG", exif=exif, quality=95)
    page = decode(images.transform(data, width=100)[0])
    assert page.size == (100, 150)
    assert close(pixel(page, (50, 20)), RED)


def test_transform_of_a_gif_defaults_to_png_when_transparent() -> None:
    im = halves((200, 300), RED, BLUE).quantize(colors=4)
    data = encode(im, "GIF", transparency=im.getpixel((150, 10)))
    out, mime = images.transform(data, width=100)
    assert (mime, images.sniff(out)) == ("image/png", "png")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"fmt": "gif"}, "cannot encode to 'gif'"),
        ({"width": 0}, "width must be positive"),
        ({"height": -5}, "height must be positive"),
        ({"width": 100, "quality": 0}, "quality must be within"),
    ],
    ids=["format", "width", "height", "quality"],
)
def test_transform_rejects_bad_arguments(
    fixture_pages: list[bytes], arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        images.transform(fixture_pages[0], **arguments)  # type: ignore[arg-type]


# errors


GARBAGE = b"this is no image at all" * 10


@pytest.mark.parametrize(
    "call",
    [
        images.image_size,
        images.thumbnail,
        images.transform,
        lambda d: images.transform(d, width=100),
    ],
    ids=["image_size", "thumbnail", "transform", "transform-resize"],
)
def test_garbage_is_unsupported(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedImageError, match="not an image"):
        call(GARBAGE)


def test_corrupt_jpeg_body_is_unsupported(big_page: bytes) -> None:
    corrupt = big_page[:600] + bytes(range(256)) * 40
    with pytest.raises(UnsupportedImageError, match="cannot decode jpeg"):
        images.thumbnail(corrupt)


def test_truncated_png_is_unsupported() -> None:
    data = encode(Image.effect_noise((200, 200), 60), "PNG")
    with pytest.raises(UnsupportedImageError, match="cannot decode png"):
        images.thumbnail(data[: len(data) // 2])


def test_jpeg_xl_without_plugin_says_so() -> None:
    with pytest.raises(UnsupportedImageError, match="jxl"):
        images.thumbnail(b"\xff\x0a\xfa\x7f\x01\x90\x08" + bytes(64))


def test_image_errors_share_a_base() -> None:
    assert issubclass(UnsupportedImageError, ImageError)
    assert issubclass(ImageTooLargeError, ImageError)


# decompression bombs


def test_png_bomb_is_too_large(bomb: bytes) -> None:
    assert len(bomb) < 200_000
    with pytest.raises(ImageTooLargeError, match="limit"):
        images.thumbnail(bomb)
    with pytest.raises(ImageTooLargeError):
        images.image_size(bomb)
    with pytest.raises(ImageTooLargeError):
        images.transform(bomb, width=100)


@pytest.mark.usefixtures("pixel_limit")
def test_pillow_bomb_warning_becomes_an_error() -> None:
    images.set_max_image_pixels(10_000)
    data = encode(Image.new("RGB", (120, 100), RED), "PNG")  # 12,000 pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageTooLargeError):
            images.thumbnail(data)


@pytest.mark.usefixtures("pixel_limit")
def test_limit_holds_where_pillow_only_warns() -> None:
    images.set_max_image_pixels(10_000)
    data = encode(Image.new("RGB", (120, 100), RED), "PNG")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(ImageTooLargeError, match="12,000 pixels"):
            images.image_size(data)


@pytest.mark.usefixtures("pixel_limit")
def test_pixel_limit_is_configurable(bomb: bytes) -> None:
    images.set_max_image_pixels(1_000_000_000)
    assert images.max_image_pixels() == Image.MAX_IMAGE_PIXELS == 1_000_000_000
    assert images.image_size(bomb) == (30000, 30000)
    with pytest.raises(ValueError, match="positive"):
        images.set_max_image_pixels(0)


# placeholder


def test_placeholder_is_a_cover_shaped_jpeg() -> None:
    data = images.placeholder(400)
    assert images.sniff(data) == "jpeg"
    assert decode(data).size == (267, 400)


def test_placeholder_with_a_long_title() -> None:
    title = "The Amazing Adventures of an Extraordinarily Long Series Title " * 3
    data = images.placeholder(600, title)
    assert decode(data).size == (400, 600)
    assert data != images.placeholder(600)
    assert images.placeholder(600, title) is data  # cached


# -- what a decode will cost -----------------------------------------------------

def test_transform_cost_is_what_the_decoder_allocates():
    """A JPEG scaled down by the decoder costs its draft size; a PNG costs
    every pixel, however small the result; a page served untouched costs 0."""
    photo = encode(Image.new("RGB", (4000, 6000), RED), "JPEG")
    png = encode(Image.new("RGB", (4000, 6000), RED), "PNG")
    assert images.transform_cost(png, 500) == 4000 * 6000
    assert images.transform_cost(photo, 500) == 1000 * 1500  # 1/4 leaves room for Lanczos
    assert images.transform_cost(photo) == images.transform_cost(photo, fmt="jpeg") == 0
    small = encode(Image.new("RGB", (1000, 1500), RED), "PNG")  # asked larger: never upscaled
    assert images.transform_cost(small, 2000) == images.transform_cost(small, 2000, fmt="png") == 0
    assert images.transform_cost(png, 8000) == 4000 * 6000  # the long edge is clamped to 2000
    assert images.transform_cost(png, fmt="jpeg") == 4000 * 6000
    assert images.thumbnail_cost(photo, 400) == 500 * 750
    assert images.thumbnail_cost(photo, 400, draft=False) == images.thumbnail_cost(png) == 4000 * 6000


def test_cost_of_bad_input_raises_what_the_transform_would():
    with pytest.raises(UnsupportedImageError):
        images.transform_cost(b"not an image", 100)
    with pytest.raises(ValueError):
        images.transform_cost(encode(Image.new("RGB", (8, 8)), "PNG"), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # Pillow's own, below 2x
        with pytest.raises(ImageTooLargeError):
            images.thumbnail_cost(png_bomb(20_000, 20_000))
