"""Book analysis: each page's width and height, for readers that lay out
spreads before loading the pages (job type ``library.analyze``, queued by
``/api/v1`` for a book or a series)."""
from __future__ import annotations


from .. import images, services
from ..errors import DomainError
from ..events import BookUpdated
from ..extensions import db
from ..jobs.pool import run_cpu
from ..jobs.runner import JobContext
from ..models import Book, Job
from ..models.library import BOOK_OK

ANALYZE_JOB = "library.analyze"


def analyze_books(ctx: JobContext, book_ids: list[int]) -> dict:
    """Record each page's width and height. Only the image header is decoded
    (``images.image_size``), on the CPU pool; a page that cannot be read is
    counted and skipped, and the books stay browsable throughout."""
    media = services.media()
    bus = services.events()
    total = len(book_ids)
    counts = {"books": 0, "pages": 0, "unreadable_pages": 0, "unreadable_books": 0}
    ctx.progress(0, total, f"analyzing {total} books", force=True)
    for done, book_id in enumerate(book_ids, 1):
        ctx.check_cancelled()
        book = db.session.get(Book, book_id)
        if book is None or book.state != BOOK_OK or not book.page_count:
            continue
        measured = 0
        for page in book.pages:
            try:
                data = media.page(book, page.index + 1).data
                page.width, page.height = run_cpu(images.image_size, data)
                measured += 1
            except images.ImageError:
                counts["unreadable_pages"] += 1
            except DomainError:  # the file itself is gone or unreadable
                counts["unreadable_books"] += 1
                break
        db.session.commit()
        if measured:
            counts["books"] += 1
            counts["pages"] += measured
            bus.publish(BookUpdated(book_id=book.id, series_id=book.series_id,
                                    library_id=book.library_id))
        ctx.progress(done, total, f"analyzed {done} of {total}")
    ctx.progress(total, total, "done", force=True)
    return counts


def active_analysis(target: str) -> Job | None:
    """The queued or running analysis of ``target`` (``book:<id>``, ``series:<id>``)."""
    return services.jobs().active_job(ANALYZE_JOB, target)


def request_analysis(book_ids: list[int], target: str, *, user_id: int | None = None) -> int:
    """Queue an analysis of ``book_ids`` unless one of ``target`` is queued or
    running already; the job id either way."""
    running = active_analysis(target)
    if running is not None:
        return running.id
    return services.jobs().submit(
        ANALYZE_JOB, {"book_ids": book_ids}, target=target, user_id=user_id)
