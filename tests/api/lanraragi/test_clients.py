"""The call sequences of real LANraragi clients, replayed against a scanned
library, checking every field each client parses with the JSON type it
declares (Mihon's kotlinx models are strict about strings vs booleans)."""
import io
import time
from urllib.parse import urlsplit

from PIL import Image
from sqlalchemy import select

from comicsrv.extensions import db
from comicsrv.library.reading import get_progress
from comicsrv.models import Book
from tests.factories import CategoryBookFactory, CategoryFactory, SettingFactory

from .conftest import book_named


def expect_fields(obj: dict, fields: dict) -> None:
    for name, kind in fields.items():
        assert name in obj, name
        assert isinstance(obj[name], kind) and not (kind is int and isinstance(obj[name], bool)), \
            (name, obj[name])


# Mihon/Tachiyomi extension models (keiyoushi/extensions-source, src/all/lanraragi).
MIHON_ARCHIVE = {"arcid": str, "isnew": str, "title": str}
MIHON_NULLABLE = ("tags", "summary")
# Its current category model reads ``pinned: Int?`` (LANraragi's description: 0 or 1).
MIHON_CATEGORY = {"id": str, "name": str, "pinned": int}


def is_image(response) -> bool:
    Image.open(io.BytesIO(response.data)).verify()
    return response.status_code == 200 and response.content_type.startswith("image/")


def test_mihon_extension_sequence(client, app, scanned_library, lrr_admin):
    SettingFactory(key="lrr.archives_per_page", value=3)
    favourites = CategoryFactory(name="Favourites", pinned=True)
    CategoryBookFactory(category=favourites, book=book_named("Captain Science #001.cbz"))

    # 1. Source init: categories.
    categories = client.get("/api/categories", headers=lrr_admin).json
    for category in categories:
        expect_fields(category, MIHON_CATEGORY)
    assert categories[0]["pinned"] == 1

    # 2. Browse, page by page: start = (page - 1) * largest page seen.
    seen, start, page_size = [], 0, 0
    while True:
        response = client.get("/api/search", query_string={"start": start}, headers=lrr_admin)
        body = response.json
        expect_fields(body, {"data": list, "recordsFiltered": int, "recordsTotal": int})
        for item in body["data"]:
            expect_fields(item, MIHON_ARCHIVE)
            assert all(item[name] is None or isinstance(item[name], str) for name in MIHON_NULLABLE)
            assert item["isnew"] in ("true", "false")
        seen.extend(item["arcid"] for item in body["data"])
        page_size = max(page_size, len(body["data"]))
        if start + len(body["data"]) >= body["recordsFiltered"]:
            break
        start += page_size
    assert page_size == 3 and len(seen) == len(set(seen)) == 8

    # "Latest": new archives, newest first; a category filter.
    latest = client.get("/api/search?newonly=true&sortby=date_added&order=desc&start=0",
                        headers=lrr_admin).json
    assert latest["recordsFiltered"] == 8
    in_category = client.get(f"/api/search?category={favourites.id}&start=0", headers=lrr_admin).json
    assert [item["title"] for item in in_category["data"]] == [
        "Captain Science #1 - The Beginning; The End"]

    # 3. First page with several results: the "Random" entry.
    random = client.get("/api/search/random?count=1&start=0", headers=lrr_admin).json
    assert len(random["data"]) == 1
    expect_fields(random["data"][0], MIHON_ARCHIVE)

    # 4. Covers: always an image, placeholder included.
    for arcid in seen:
        assert is_image(client.get(f"/api/archives/{arcid}/thumbnail", headers=lrr_admin))

    # 5-6. Details and chapter list of one archive, clearing "new".
    arcid = book_named("Captain Science #001.cbz").arcid
    archive = client.get(f"/api/archives/{arcid}/metadata", headers=lrr_admin).json
    expect_fields(archive, {**MIHON_ARCHIVE, "pagecount": int, "toc": list})
    tags = [tag.strip() for tag in archive["tags"].split(",")]
    date_added = [tag.split(":", 1)[1] for tag in tags if tag.startswith("date_added:")]
    assert len(date_added) == 1 and int(date_added[0]) > 0
    assert "artist:Wally Wood" in tags
    assert archive["isnew"] == "true"
    assert client.delete(f"/api/archives/{arcid}/isnew", headers=lrr_admin).status_code == 200

    # 7. Pages: baseUrl + url.trimStart('.'), each fetched.
    files = client.get(f"/api/archives/{arcid}/files", headers=lrr_admin).json
    expect_fields(files, {"pages": list})
    assert len(files["pages"]) == archive["pagecount"] == 5
    for url in files["pages"]:
        assert url.startswith("/api/")
        assert is_image(client.get(url.lstrip("."), headers=lrr_admin))
    assert client.get(f"/api/archives/{arcid}/metadata", headers=lrr_admin).json["isnew"] == "false"


def test_mihon_behind_a_url_base(make_app, scanned_library, lrr_admin):
    """Mihon strips its base URL's path from a page URL, then prepends the base."""
    proxied = make_app(URL_BASE="/comics").test_client()
    base_url = "http://nas.local/comics"
    arcid = book_named("rar4.cbr").arcid
    files = proxied.get(f"{base_url}/api/archives/{arcid}/files", headers=lrr_admin).json
    assert files["pages"][0].startswith("/comics/api/")
    for url in files["pages"]:
        resolved = base_url + url.replace(urlsplit(base_url).path, "", 1).lstrip(".")
        assert is_image(proxied.get(resolved, headers=lrr_admin))


# LRReader models (Guerra24/LRReader, LRReader.Shared).
LRREADER_INFO = {"name": str, "motd": str, "version": str, "has_password": bool,
                 "debug_mode": bool, "nofun_mode": bool, "archives_per_page": int,
                 "server_resizes_images": bool, "server_tracks_progress": bool,
                 "total_pages_read": int, "total_archives": int, "cache_last_cleared": int}
LRREADER_ARCHIVE = {"arcid": str, "isnew": str, "tags": str, "title": str, "extension": str,
                    "pagecount": int, "progress": int, "lastreadtime": int}


def test_lrreader_sequence(client, app, scanned_library, admin, lrr_admin):
    # 1. Server info and its version window.
    info = client.get("/api/info", headers=lrr_admin).json
    expect_fields(info, LRREADER_INFO)
    version = tuple(int(p) for p in "".join(c for c in info["version"] if c.isdigit() or c == ".").split("."))
    assert (0, 9, 10) <= version <= (0, 9, 80)

    # 2. From 0.9.40: the bookmark link.
    link = client.get("/api/categories/bookmark_link", headers=lrr_admin).json
    expect_fields(link, {"operation": str, "success": int, "category_id": str})

    # 3. A changed cache_last_cleared: the whole index, then the tag statistics.
    archives = client.get("/api/archives", headers=lrr_admin).json
    assert len(archives) == info["total_archives"] == 8
    for item in archives:
        expect_fields(item, LRREADER_ARCHIVE)
    stats = client.get("/api/database/stats", headers=lrr_admin).json
    for item in stats:
        expect_fields(item, {"namespace": str, "text": str, "weight": int})

    # 4. Search, as LRReader builds it.
    search = client.get("/api/search", query_string={
        "start": 0, "newonly": "false", "untaggedonly": "false", "filter": "captain",
        "category": "", "sortby": "title", "order": "asc"}, headers=lrr_admin).json
    expect_fields(search, {"data": list, "recordsFiltered": int, "recordsTotal": int})
    assert search["recordsFiltered"] == 3
    arcid = search["data"][0]["arcid"]

    # 5. Thumbnail with no_fallback, polling the Minion job every 100 ms.
    for attempt in range(20):
        response = client.get(f"/api/archives/{arcid}/thumbnail?no_fallback=true&page=0",
                              headers=lrr_admin)
        if response.status_code == 200:
            break
        assert response.status_code == 202
        job = response.json["job"]
        assert isinstance(job, int)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = client.get(f"/api/minion/{job}", headers=lrr_admin).json["state"]
            if state in ("finished", "failed"):
                break
            time.sleep(0.1)
        assert state == "finished"
    assert attempt == 1, "the second request, after the job, has the image"
    assert is_image(response)

    # 6. Reading: files (no job to wait for), pages, clear "new", progress.
    files = client.get(f"/api/archives/{arcid}/files", headers=lrr_admin).json
    assert files.get("job", 0) == 0
    for url in files["pages"]:
        assert is_image(client.get(url, headers=lrr_admin))
    cleared = client.delete(f"/api/archives/{arcid}/isnew", headers=lrr_admin).json
    assert cleared["success"] == 1
    assert info["server_tracks_progress"]
    for page in (1, 2, 3):
        saved = client.put(f"/api/archives/{arcid}/progress/{page}", headers=lrr_admin)
        assert saved.status_code == 200 and saved.json["success"] == 1
    book = db.session.execute(select(Book).where(Book.arcid == arcid)).scalar_one()
    assert get_progress(admin.id, book.id).page == 3
    again = client.get(f"/api/archives/{arcid}/metadata", headers=lrr_admin).json
    assert (again["progress"], again["isnew"]) == (3, "false")
    assert client.get("/api/info", headers=lrr_admin).json["total_pages_read"] == 3
