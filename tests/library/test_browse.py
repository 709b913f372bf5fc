"""The browse service under CLU's endpoints: folder resolution inside the
library roots, folder listings with catalogue counts, volumes, and facets."""
import os

import pytest

from comicsrv.extensions import db
from comicsrv.library import browse
from tests.factories import BookFactory, LibraryFactory, PublisherFactory, UserFactory


@pytest.fixture
def tree(app, tmp_path):
    """Folders on disk plus catalogue rows (no scan): two libraries with a
    publisher folder of the same name."""
    one, two = tmp_path / "one", tmp_path / "two"
    folders = ["Pub/Batman/v2", "Pub/Batman Beyond", "Pub/Batman0", "Pub/Empty", "Solo"]
    for folder in folders:
        (one / folder).mkdir(parents=True)
    (two / "Pub" / "Robin").mkdir(parents=True)
    first = LibraryFactory(name="One", path=str(one))
    second = LibraryFactory(name="Two", path=str(two))
    books = {}
    for library, path in [(first, "Pub/Batman/Batman 001.cbz"),
                          (first, "Pub/Batman/v2/Batman 001.cbz"),
                          (first, "Pub/Batman Beyond/Beyond 001.cbz"),
                          (first, "Pub/Batman0/Zero 001.cbz"), (second, "Pub/Robin/Robin 001.cbz")]:
        full = os.path.join(library.path, path)
        open(full, "wb").close()
        books[path] = BookFactory(library=library, path=full)
    return {"one": str(one), "two": str(two), "books": books, "first": first, "second": second}


def test_counts_are_per_folder_tree_not_per_name_prefix(tree):
    entries = browse.list_folders(None, [f"{tree['one']}/Pub"])
    assert [(e.name, e.count, e.volumes) for e in entries] == [
        ("Batman", 2, None), ("Batman Beyond", 1, None), ("Batman0", 1, None), ("Empty", 0, None)]
    by_count = browse.list_folders(None, [f"{tree['one']}/Pub"], sort="count")
    assert [e.name for e in by_count] == ["Batman", "Batman Beyond", "Batman0", "Empty"]


def test_volumes_only_without_comics_on_top(tree):
    os.remove(tree["books"]["Pub/Batman/Batman 001.cbz"].path)
    db.session.delete(tree["books"]["Pub/Batman/Batman 001.cbz"])
    db.session.commit()
    batman = browse.list_folders(None, [f"{tree['one']}/Pub"], search="BATMAN")[0]
    assert (batman.name, batman.count, batman.volumes) == ("Batman", 1, ["v2"])


def test_a_name_resolves_in_every_library_and_paths_stay_inside(tree, tmp_path):
    assert browse.resolve_folders(None, ["Pub"]) == [f"{tree['one']}/Pub", f"{tree['two']}/Pub"]
    assert browse.resolve_folders(None, ["Pub", "Robin"]) == [f"{tree['two']}/Pub/Robin"]
    assert browse.resolve_folders(None, [f"{tree['two']}/Pub"]) == [f"{tree['two']}/Pub"]
    assert browse.resolve_folders(None, ["Nope"]) == []
    for parts in (["../one"], ["Pub", ".."], [str(tmp_path)], ["/etc"], ["Pub", "/etc"]):
        with pytest.raises(browse.InvalidPath):
            browse.resolve_folders(None, parts)
    os.symlink("/etc", f"{tree['one']}/Link")
    assert browse.resolve_folders(None, ["Link"]) == []
    # a user scoped to library Two never reaches One
    scoped = UserFactory(library_ids=[tree["second"].id])
    assert browse.resolve_folders(scoped, ["Pub"]) == [f"{tree['two']}/Pub"]
    with pytest.raises(browse.InvalidPath):
        browse.resolve_folders(scoped, [f"{tree['one']}/Pub"])


def test_publisher_folders_of_several_libraries(tree):
    entries = browse.list_folders(None, browse.visible_roots(None))
    assert [(e.path, e.count) for e in entries] == [
        (f"{tree['one']}/Pub", 4), (f"{tree['two']}/Pub", 1), (f"{tree['one']}/Solo", 0)]


def test_folder_issues_skip_missing_and_unindexed_files(tree):
    folder = f"{tree['one']}/Pub/Batman"
    open(f"{folder}/Batman 002.cbz", "wb").close()  # on disk, not indexed
    assert [r.filename for r in browse.folder_issues(None, [folder])] == ["Batman 001.cbz"]
    tree["books"]["Pub/Batman/Batman 001.cbz"].state = "missing"
    db.session.commit()
    assert browse.folder_issues(None, [folder]) == []


def test_volumes_of_series_folders_only(tree):
    os.remove(tree["books"]["Pub/Batman/Batman 001.cbz"].path)
    db.session.delete(tree["books"]["Pub/Batman/Batman 001.cbz"])
    db.session.commit()
    pub, batman = f"{tree['one']}/Pub", f"{tree['one']}/Pub/Batman"
    # The publisher folder has comic-holding subfolders too, but they are series.
    assert browse.volumes_of(None, [pub, batman, "/elsewhere"]) == {batman: ["v2"]}


def test_facets_group_and_search_in_sql(tree):
    marvel = PublisherFactory(name="Marvel", sort_name="marvel")
    for book in tree["books"].values():
        book.publisher_id, book.series_name = marvel.id, "100% Batman"
    tree["books"]["Pub/Robin/Robin 001.cbz"].series_name = "1000 Batman"
    db.session.commit()
    rows, total = browse.publisher_facets(None, sort="alpha", page=1, page_size=10)
    assert [(r.name, r.count) for r in rows] == [("Marvel", 5)] and total == 1
    rows, total = browse.series_facets(None, publisher=None, search="100%", sort="count",
                                       page=1, page_size=10)
    assert [(r.name, r.count) for r in rows] == [("100% Batman", 4)] and total == 1
