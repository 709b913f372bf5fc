"""PDF comics through ``pypdfium2`` (PDFium, Apache-2.0/BSD-3-Clause).

PDFium is Chrome's renderer: maintained, fast, self-contained in the wheel,
and permissively licensed, where PyMuPDF/MuPDF would put the whole server
under the AGPL and poppler bindings need system libraries.

Each PDF page is listed as ``0001.jpg``, ``0002.jpg``…  Reading a page gives
JPEG bytes: the page's own JPEG, untouched, when the page is just one full-page
JPEG image (how scanned comics are made into PDFs: lossless and ~100x faster
than rendering), otherwise a rendering at :data:`RENDER_LONG_SIDE` pixels.
A ComicInfo.xml (or MetronInfo.xml, CoMet.xml) embedded as a PDF attachment,
as comicbox writes it, is an entry too, so :meth:`find_metadata` finds it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from . import tools
from .base import METADATA_FILES, ArchiveFacts, ArchiveLimits, ComicArchive, Member
from .errors import CorruptArchiveError, EmptyArchiveError, EncryptedArchiveError

#: Long side of a rendered page in pixels: sharp on a tablet, cheap to send.
RENDER_LONG_SIDE = 2000
JPEG_QUALITY = 90

# PDFium keeps global state and is not thread-safe: every call, for every
# document in the process, goes through this lock (a real one: PDF work runs
# on gevent's native threads, where a green lock serialises nothing).
_PDFIUM_LOCK = tools.native_rlock()

_PASSTHROUGH_COLORSPACES = frozenset(
    {
        pdfium_c.FPDF_COLORSPACE_DEVICEGRAY,
        pdfium_c.FPDF_COLORSPACE_DEVICERGB,
        pdfium_c.FPDF_COLORSPACE_CALGRAY,
        pdfium_c.FPDF_COLORSPACE_CALRGB,
        pdfium_c.FPDF_COLORSPACE_ICCBASED,
    }
)
_BOX_TOLERANCE = 1.0  # points


class PdfArchive(ComicArchive):
    """A PDF whose pages are the comic's pages."""

    format = "pdf"

    def __init__(
        self, path: Path, *, sub_format: str, limits: ArchiveLimits, cache_dir: Path
    ) -> None:
        super().__init__(path, sub_format=sub_format, limits=limits, cache_dir=cache_dir)
        with _PDFIUM_LOCK:
            try:
                self._pdf = pdfium.PdfDocument(path)
            except pdfium.PdfiumError as error:
                if error.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
                    raise EncryptedArchiveError(
                        "the PDF is password-protected", path=path
                    ) from error
                raise CorruptArchiveError(f"broken PDF: {error}", path=path) from error
            try:
                self._list()
            except BaseException:
                self._pdf.close()
                raise

    def _list(self) -> None:
        count = len(self._pdf)
        if count == 0:
            raise EmptyArchiveError("the PDF has no pages", path=self.path)
        width = max(4, len(str(count)))
        for index in range(count):
            self._add_member(Member(f"{index + 1:0{width}d}.jpg", None, None, ("page", index)))
        # Only metadata attachments become entries: another attached image
        # must not turn into a page.
        for index in range(self._pdf.count_attachments()):
            name = self._pdf.get_attachment(index).get_name()
            if name.casefold() in METADATA_FILES and name not in self._members:
                self._add_member(Member(name, None, None, ("attachment", index)))
        version = self._pdf.get_version()
        self._version = f"pdf-{version // 10}.{version % 10}" if version else "pdf"

    @property
    def facts(self) -> ArchiveFacts:
        return ArchiveFacts(
            format=self.format,
            sub_format=self._version,
            solid=False,
            entry_count=len(self._members),
            has_comment=False,
        )

    def _read(self, member: Member) -> bytes:
        kind, index = member.ref
        with _PDFIUM_LOCK:
            try:
                if kind == "attachment":
                    return bytes(self._pdf.get_attachment(index).get_data())
                page = self._pdf[index]
                try:
                    jpeg = _embedded_jpeg(page)
                    if jpeg is not None:
                        return jpeg
                    width, height = page.get_size()
                    bitmap = page.render(scale=RENDER_LONG_SIDE / max(width, height, 1.0))
                    image = bitmap.to_pil().convert("RGB")  # a copy, independent of PDFium's buffer
                    bitmap.close()
                finally:
                    page.close()
            except pdfium.PdfiumError as error:
                raise CorruptArchiveError(
                    f"cannot read {member.name!r}: {error}", path=self.path
                ) from error
        buffer = io.BytesIO()  # encode outside the lock: other documents may render meanwhile
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue()

    def _close(self) -> None:
        with _PDFIUM_LOCK:
            self._pdf.close()


def _embedded_jpeg(page: pdfium.PdfPage) -> bytes | None:
    """The page's JPEG stream if the page is exactly one upright, full-page RGB/gray JPEG."""
    if page.get_rotation():
        return None
    objects = list(page.get_objects(max_depth=1))
    if len(objects) != 1 or objects[0].type != pdfium_c.FPDF_PAGEOBJ_IMAGE:
        return None
    image: pdfium.PdfImage = objects[0]
    if image.get_filters() != ["DCTDecode"]:
        return None
    metadata = image.get_metadata()
    if metadata.colorspace not in _PASSTHROUGH_COLORSPACES or metadata.bits_per_pixel not in (
        8,
        24,
    ):
        return None
    a, b, c, d, _, _ = image.get_matrix().get()
    if b or c or a <= 0 or d <= 0:  # rotated, skewed or mirrored on the page
        return None
    box = page.get_cropbox()
    bounds = image.get_bounds()
    if any(abs(edge - limit) > _BOX_TOLERANCE for edge, limit in zip(bounds, box)):
        return None
    data = bytes(image.get_data(decode_simple=False))
    return data if data.startswith(b"\xff\xd8") else None
