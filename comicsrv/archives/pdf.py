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

import atexit
import io
import os
import tempfile
from collections import OrderedDict
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
        if kind == "attachment":
            with _PDFIUM_LOCK:
                try:
                    return bytes(self._pdf.get_attachment(index).get_data())
                except pdfium.PdfiumError as error:
                    raise CorruptArchiveError(
                        f"cannot read {member.name!r}: {error}", path=self.path
                    ) from error
        return self.page_image(index)[0]

    def page_image(self, index: int) -> tuple[bytes, bool]:
        """PDF page ``index`` (from 0) as JPEG bytes, and whether it had to be
        rendered (False: the page's own JPEG, passed through).

        A rendering costs from a few hundred milliseconds to, for a crafted
        vector page, minutes: the server calls this through
        :func:`render_page` in a worker process it can stop."""
        with _PDFIUM_LOCK:
            try:
                page = self._pdf[index]
                try:
                    jpeg = _embedded_jpeg(page)
                    if jpeg is not None:
                        return jpeg, False
                    width, height = page.get_size()
                    bitmap = page.render(scale=RENDER_LONG_SIDE / max(width, height, 1.0))
                    image = bitmap.to_pil().convert("RGB")  # a copy, independent of PDFium's buffer
                    bitmap.close()
                finally:
                    page.close()
            except pdfium.PdfiumError as error:
                raise CorruptArchiveError(
                    f"cannot read page {index + 1}: {error}", path=self.path
                ) from error
        buffer = io.BytesIO()  # encode outside the lock: other documents may render meanwhile
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue(), True

    def _close(self) -> None:
        with _PDFIUM_LOCK:
            self._pdf.close()


#: Documents a worker process keeps open between pages, most recent last.
_WORKER_DOCUMENTS: OrderedDict[tuple[str, int, int], PdfArchive] = OrderedDict()
_WORKER_DOCUMENTS_SIZE = 4


def render_page(path: str, index: int) -> tuple[bytes, bool]:
    """:meth:`PdfArchive.page_image` of the PDF at ``path``, for a worker
    process (``comicsrv.jobs.pool.ProcessWorkers``): the last few documents
    stay open, so a reader turning pages does not reparse the file each
    time, and a file changed on disk is opened afresh."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    archive = _WORKER_DOCUMENTS.get(key)
    if archive is None:
        if not _WORKER_DOCUMENTS:
            # Closed before PDFium's own exit hook, which would complain.
            atexit.register(_close_worker_documents)
        archive = PdfArchive(Path(path), sub_format="pdf", limits=ArchiveLimits(),
                             cache_dir=Path(tempfile.gettempdir()))
        _WORKER_DOCUMENTS[key] = archive
        while len(_WORKER_DOCUMENTS) > _WORKER_DOCUMENTS_SIZE:
            _WORKER_DOCUMENTS.popitem(last=False)[1].close()
    else:
        _WORKER_DOCUMENTS.move_to_end(key)
    if not 0 <= index < len(archive.pages()):
        raise CorruptArchiveError(f"the PDF has no page {index + 1}", path=path)
    return archive.page_image(index)


def _close_worker_documents() -> None:
    while _WORKER_DOCUMENTS:
        _WORKER_DOCUMENTS.popitem()[1].close()
    atexit.unregister(_close_worker_documents)


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
