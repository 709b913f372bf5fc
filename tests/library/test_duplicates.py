import shutil

from comicsrv.extensions import db
from comicsrv.library.duplicates import DUPLICATES_JOB, find_duplicates
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import SCAN_JOB
from comicsrv.models import Book, DuplicateGroup
from tests.factories import BookFactory
from tests.library.conftest import FIXTURE_ARCHIVES


def groups():
    db.session.expire_all()
    return {(g.kind, tuple(sorted(m.book_id for m in g.members)), g.dismissed)
            for g in db.session.execute(db.select(DuplicateGroup)).scalars()}


def test_same_file_twice_is_a_content_duplicate(app, tmp_path):
    root = tmp_path / "lib"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    source = FIXTURE_ARCHIVES / "comicbox/Captain Science #001.cbz"
    shutil.copy(source, root / "a" / "Captain Science 001.cbz")
    shutil.copy(source, root / "b" / "copy.cbz")
    shutil.copy(FIXTURE_ARCHIVES / "komga/rar4.rar", root / "a" / "other.cbr")
    library = create_library("Lib", str(root))
    runner = app.extensions["comicsrv.jobs"]
    runner.run_now(SCAN_JOB, {"library_id": library.id})
    job = runner.run_now(DUPLICATES_JOB)
    assert job.state == "finished", job.error
    ids = sorted(b.id for b in db.session.execute(db.select(Book)).scalars()
                 if b.path.endswith((".cbz",)))
    # Same content, and the same issue by metadata (both carry its ComicInfo).
    assert groups() == {("content", tuple(ids), False), ("metadata", tuple(ids), False)}


def test_same_issue_in_two_releases_is_a_metadata_duplicate(app):
    a = BookFactory(series_name="Batman", number="001", year=2016)
    b = BookFactory(series_name="batman", number="1", year=2016, library=a.library)
    BookFactory(series_name="Batman", number="2", year=2016, library=a.library)
    BookFactory(series_name="Batman", number="1", year=1940, library=a.library)
    find_duplicates()
    assert groups() == {("metadata", tuple(sorted([a.id, b.id])), False)}


def test_dismissal_survives_a_rerun_and_groups_dissolve(app):
    a = BookFactory(series_name="Saga", number="1", year=2012)
    b = BookFactory(series_name="Saga", number="1", year=2012, library=a.library)
    find_duplicates()
    group = db.session.execute(db.select(DuplicateGroup)).scalar_one()
    group.dismissed = True
    db.session.commit()
    c = BookFactory(series_name="Saga", number="1", year=2012, library=a.library)
    result = find_duplicates()
    assert result["updated"] == 1
    assert groups() == {("metadata", tuple(sorted([a.id, b.id, c.id])), True)}
    b.state = c.state = "missing"
    db.session.commit()
    assert find_duplicates()["removed"] == 1
    assert groups() == set()
