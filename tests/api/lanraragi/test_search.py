"""``/api/search``: LANraragi's filter syntax, sorting, paging and options."""
from datetime import datetime

import pytest

from comicsrv.library.reading import ProgressUpdate, save_progress
from tests.factories import (
    BookFactory,
    BookTagFactory,
    CategoryBookFactory,
    CategoryFactory,
    LibraryFactory,
    SettingFactory,
    TagFactory,
)


@pytest.fixture
def shelf(app):
    """Five books with known tags, dates and titles."""
    library = LibraryFactory()
    tags = {}

    def tag(namespace, name):
        if (namespace, name) not in tags:
            tags[namespace, name] = TagFactory(namespace=namespace, name=name)
        return tags[namespace, name]

    def book(name, series, number, tags, day, **kw):
        row = BookFactory(library=library, path=f"{library.path}/{name}.cbz", title=kw.pop("title", None),
                          series_name=series, number=number,
                          number_sort=float(number) if number else None,
                          created_at=datetime(2024, 1, day), **kw)
        for namespace, value in tags:
            BookTagFactory(book=row, tag=tag(namespace, value))
        return row

    books = {
        "saga1": book("Saga 001", "Saga", "1", [("writer", "Brian K. Vaughan"),
                                                 ("penciller", "Fiona Staples"),
                                                 ("genre", "Science Fiction"), ("", "space opera")],
                      day=1),
        "saga10": book("Saga 010", "Saga", "10", [("writer", "Brian K. Vaughan"),
                                                   ("genre", "Science Fiction")], day=5),
        "saga2": book("Saga 002", "Saga", "2", [("writer", "Brian K. Vaughan"),
                                                 ("genre", "Fantasy")], day=3, is_new=False),
        "hellboy": book("Hellboy 001", "Hellboy", "1", [("writer", "Mike Mignola"),
                                                         ("penciller", "Mike Mignola"),
                                                         ("genre", "Horror")], day=2),
        "oneshot": book("Untitled Oneshot", None, None, [], day=4, title="A Quiet Place"),
    }
    return books


def titles(client, headers, **query):
    response = client.get("/api/search", query_string=query, headers=headers)
    assert response.status_code == 200, response.json
    return [item["title"] for item in response.json["data"]]


def test_default_order_is_by_title_with_issue_numbers_as_numbers(client, shelf, lrr_admin):
    assert titles(client, lrr_admin) == [
        "A Quiet Place", "Hellboy #1", "Saga #1", "Saga #2", "Saga #10"]
    assert titles(client, lrr_admin, order="desc") == [
        "Saga #10", "Saga #2", "Saga #1", "Hellboy #1", "A Quiet Place"]


def test_result_envelope(client, shelf, lrr_admin):
    body = client.get("/api/search?filter=saga", headers=lrr_admin).json
    assert set(body) == {"data", "draw", "recordsFiltered", "recordsTotal"}
    assert (body["recordsFiltered"], body["recordsTotal"], body["draw"]) == (3, 5, 0)


@pytest.mark.parametrize(("query", "expected"), [
    ("saga", {"Saga #1", "Saga #2", "Saga #10"}),                       # series tag and title
    ("SAGA", {"Saga #1", "Saga #2", "Saga #10"}),                       # case does not matter
    ("artist:fiona", {"Saga #1"}),                                       # penciller is artist
    ("artist:mike mignola$", {"Hellboy #1"}),                           # exact
    ("artist:mike$", set()),                                             # exact is whole
    ('"writer:brian k. vaughan", -genre:fantasy', {"Saga #1", "Saga #10"}),
    ("genre:science fiction, saga", {"Saga #1", "Saga #10"}),          # AND
    ("-saga", {"Hellboy #1", "A Quiet Place"}),                        # exclusion
    ("space opera$", {"Saga #1"}),                                      # plain tag, exact
    ("opera", {"Saga #1"}),                                              # inside a tag
    ("genre:*fi*", {"Saga #1", "Saga #10"}),                            # wildcards
    ("genre:horr?r", {"Hellboy #1"}),
    ("genre:h_rror", {"Hellboy #1"}),
    ("quiet", {"A Quiet Place"}),                                        # title
    ("series:saga", {"Saga #1", "Saga #2", "Saga #10"}),               # derived tag
    ("pages:>19", {"Saga #1", "Saga #2", "Saga #10", "Hellboy #1", "A Quiet Place"}),
    ("pages:<20", set()),
    ("nothing-like-this", set()),
    ("100%", set()),
])
def test_filter_syntax(client, shelf, lrr_admin, query, expected):
    assert set(titles(client, lrr_admin, filter=query)) == expected


def test_date_added_tag_is_searchable(client, shelf, lrr_admin):
    stamp = int(datetime(2024, 1, 2).timestamp() - datetime(1970, 1, 1).timestamp())
    assert titles(client, lrr_admin, filter=f"date_added:{stamp}$") == ["Hellboy #1"]


def test_paging_uses_archives_per_page_and_start(client, shelf, lrr_admin):
    SettingFactory(key="lrr.archives_per_page", value=2)
    assert titles(client, lrr_admin, start=0) == ["A Quiet Place", "Hellboy #1"]
    assert titles(client, lrr_admin, start=2) == ["Saga #1", "Saga #2"]
    assert titles(client, lrr_admin, start=4) == ["Saga #10"]
    assert titles(client, lrr_admin, start=9) == []
    assert len(titles(client, lrr_admin, start=-1)) == 5
    assert client.get("/api/info", headers=lrr_admin).json["archives_per_page"] == 2


def test_sort_by_date_added_and_by_namespace(client, shelf, lrr_admin):
    assert titles(client, lrr_admin, sortby="date_added", order="desc") == [
        "Saga #10", "A Quiet Place", "Saga #2", "Hellboy #1", "Saga #1"]
    # By the first writer; books without one go last (first when descending).
    assert titles(client, lrr_admin, sortby="writer") == [
        "Saga #1", "Saga #2", "Saga #10", "Hellboy #1", "A Quiet Place"]
    assert titles(client, lrr_admin, sortby="writer", order="desc")[0] == "A Quiet Place"


def test_sort_by_lastread_keeps_only_read_books(client, shelf, admin, lrr_admin):
    save_progress(admin.id, shelf["hellboy"], ProgressUpdate(page=2))
    save_progress(admin.id, shelf["saga2"], ProgressUpdate(page=3))
    assert titles(client, lrr_admin, sortby="lastread") == ["Saga #2", "Hellboy #1"]


def test_read_counts_unicode_quoted_commas_and_exclusions_only(client, shelf, admin, lrr_admin):
    """LANraragi's ``read:`` counts the caller's pages read; its tags are
    unicode; a quoted term keeps its comma; a filter of exclusions only
    starts from everything."""
    saga = shelf["saga1"]
    extra = BookFactory(library=saga.library, path=f"{saga.library.path}/Astérix 001.cbz",
                        title=None, series_name="Astérix", number="1", number_sort=1.0,
                        created_at=datetime(2024, 1, 6))
    for namespace, name in (("writer", "René Goscinny"), ("", "日本語"), ("", "war, peace")):
        BookTagFactory(book=extra, tag=TagFactory(namespace=namespace, name=name))
    save_progress(admin.id, shelf["saga2"], ProgressUpdate(page=5))
    save_progress(admin.id, shelf["hellboy"], ProgressUpdate(page=2))

    assert set(titles(client, lrr_admin, filter="read:>=5")) == {"Saga #2"}
    assert set(titles(client, lrr_admin, filter="read:>0")) == {"Saga #2", "Hellboy #1"}
    assert set(titles(client, lrr_admin, filter="read:2")) == {"Hellboy #1"}
    assert set(titles(client, lrr_admin, filter="read:<1, saga")) == {"Saga #1", "Saga #10"}
    assert titles(client, lrr_admin, filter="writer:rené") == ["Astérix #1"]
    assert titles(client, lrr_admin, filter="日本語$") == ["Astérix #1"]
    assert titles(client, lrr_admin, filter='"war, peace"') == ["Astérix #1"]
    assert titles(client, lrr_admin, filter="war$") == []          # the comma was quoted
    assert set(titles(client, lrr_admin, filter="-saga, -hellboy")) == {"A Quiet Place",
                                                                        "Astérix #1"}


def test_new_untagged_and_completed_filters(client, shelf, admin, lrr_admin):
    assert "Saga #2" not in titles(client, lrr_admin, newonly="true")
    assert len(titles(client, lrr_admin, newonly="false")) == 5
    assert titles(client, lrr_admin, untaggedonly="true") == ["A Quiet Place"]
    save_progress(admin.id, shelf["hellboy"], ProgressUpdate(page=20))
    assert "Hellboy #1" not in titles(client, lrr_admin, hidecompleted="true")
    assert "Hellboy #1" in titles(client, lrr_admin, hidecompleted="yes-not-a-flag")


def test_static_and_dynamic_categories(client, shelf, lrr_admin):
    static = CategoryFactory()
    CategoryBookFactory(category=static, book=shelf["hellboy"])
    CategoryBookFactory(category=static, book=shelf["saga2"])
    dynamic = CategoryFactory(search="genre:science fiction")
    assert titles(client, lrr_admin, category=static.id) == ["Hellboy #1", "Saga #2"]
    assert titles(client, lrr_admin, category=dynamic.id) == ["Saga #1", "Saga #10"]
    assert titles(client, lrr_admin, category=dynamic.id, filter="-saga") == []
    assert len(titles(client, lrr_admin, category="SET_9999999999")) == 5


def test_ids_variant(client, shelf, lrr_admin):
    body = client.get("/api/search/ids?filter=hellboy", headers=lrr_admin).json
    assert body == {"data": [shelf["hellboy"].arcid], "draw": 0, "recordsFiltered": 1,
                    "recordsTotal": 5}


def test_random_picks_among_matches(client, shelf, lrr_admin):
    body = client.get("/api/search/random?count=2&filter=saga", headers=lrr_admin).json
    assert body["recordsTotal"] == 2 and len(body["data"]) == 2
    assert {item["title"] for item in body["data"]} <= {"Saga #1", "Saga #2", "Saga #10"}
    everything = client.get("/api/search/random?count=50", headers=lrr_admin).json
    assert everything["recordsTotal"] == 5
    default = client.get("/api/search/random", headers=lrr_admin).json
    assert len(default["data"]) == 5


def test_clearing_the_cache_moves_cache_last_cleared(client, shelf, lrr_admin, monkeypatch):
    import comicsrv.lrr.stats as stats

    before = client.get("/api/info", headers=lrr_admin).json["cache_last_cleared"]
    monkeypatch.setattr(stats.time, "time", lambda: before + 100)
    response = client.delete("/api/search/cache", headers=lrr_admin)
    assert response.json == {"operation": "clear_cache", "error": "", "success": 1,
                             "successMessage": ""}
    assert client.get("/api/info", headers=lrr_admin).json["cache_last_cleared"] == before + 100


def test_legacy_search_paths_keep_their_own_error_shape(client, lrr_admin):
    legacy = client.get("/api/search/comics-not-here")
    assert legacy.json["success"] is False and legacy.json["error"]["code"] == 404
    lrr = client.get("/api/search?start=x", headers=lrr_admin)
    assert "success" not in lrr.json and lrr.json["status"] == 400
