"""Indexing one file right away, as post-processing and uploads do."""
import shutil

import pytest

from comicsrv.errors import BadRequest, NotFound
from comicsrv.library.libraries import create_library
from comicsrv.library.scanner import index_file
from comicsrv.models import Book
from comicsrv.extensions import db
from tests.conftest import FIXTURE_ARCHIVES


def test_index_file_creates_then_updates_one_book(app, tmp_path):
    root = tmp_path / "lib"
    (root / "Saga").mkdir(parents=True)
    library = create_library("Comics", str(root))
    path = root / "Saga" / "Captain Science #001.cbz"
    shutil.copy(FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001-cix.cbz", path)
    book = index_file(library.id, str(path))
    assert book.path == str(path) and book.page_count > 0 and book.state == "ok"
    assert book.has_comicinfo and book.arcid
    again = index_file(library.id, str(path))
    assert again.id == book.id
    assert db.session.query(Book).count() == 1


def test_index_file_refuses_paths_outside_the_library(app, tmp_path):
    (tmp_path / "lib").mkdir()
    library = create_library("Comics", str(tmp_path / "lib"))
    outside = tmp_path / "x.cbz"
    shutil.copy(FIXTURE_ARCHIVES / "comicbox" / "Captain Science #001.cbz", outside)
    with pytest.raises(BadRequest, match="not a file inside"):
        index_file(library.id, str(outside))
    with pytest.raises(NotFound):
        index_file(999999, str(outside))
