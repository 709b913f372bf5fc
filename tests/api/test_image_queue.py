"""A saturated image pool answers 503 with Retry-After at once instead of
queueing (``IMAGE_QUEUE``), through a real ``comicsrv serve``."""
from __future__ import annotations

import io
import random
import threading
import zipfile

from PIL import Image

from comicsrv.extensions import db
from comicsrv.models import Book
from tests.factories import api_key_for
from tests.serving import live_server  # noqa: F401

CLIENTS = 12


def _noise_png(edge: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (edge, edge), random.Random(edge).randbytes(edge * edge * 3)
                    ).save(out, "PNG", compress_level=1)
    return out.getvalue()


def test_resizes_past_the_queue_are_refused_with_retry_after(app, tmp_path, reader,
                                                              live_server):  # noqa: F811
    from comicsrv.library.libraries import create_library
    from comicsrv.library.scanner import SCAN_JOB

    root = tmp_path / "big"
    root.mkdir()
    with zipfile.ZipFile(root / "Big 001.cbz", "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("01.png", _noise_png(1400))
    library = create_library("Big", str(root))
    assert app.extensions["comicsrv.jobs"].run_now(
        SCAN_JOB, {"library_id": library.id}).state == "finished"
    book_id = db.session.execute(db.select(Book.id)).scalar_one()
    headers = {"X-API-Key": api_key_for(reader, ["PagesRead"])}
    server = live_server(image_queue=1, cpu_workers=1, render_cache_mb=0)
    url = f"{server.url}/api/v1/books/{book_id}/pages/1"

    start = threading.Barrier(CLIENTS)
    answers: list = [None] * CLIENTS

    def resize(slot: int) -> None:
        import requests

        with requests.Session() as session:
            start.wait()
            # Each width is its own rendition: no client gets another's result.
            answers[slot] = session.get(f"{url}?width={300 + slot}&format=webp",
                                        headers=headers, timeout=60)

    threads = [threading.Thread(target=resize, args=(slot,)) for slot in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) == {200, 503}, statuses
    for refused in (a for a in answers if a.status_code == 503):
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["error"] == "busy" and "busy" in refused.json()["message"]
    # Nothing stays taken: alone, every rendition is made.
    for slot, answer in enumerate(answers):
        if answer.status_code == 503:
            again = server.get(f"/api/v1/books/{book_id}/pages/1?width={300 + slot}"
                               f"&format=webp", headers=headers)
            assert again.status_code == 200 and again.headers["Content-Type"] == "image/webp"
