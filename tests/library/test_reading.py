import pytest

from comicsrv.errors import NotFound
from comicsrv.extensions import db
from comicsrv.library.access import book_by_path, book_for_user
from comicsrv.library.reading import (
    ProgressUpdate, get_progress, mark_read, mark_unread, save_progress,
)
from comicsrv.models import ReadHistory
from tests.factories import BookFactory, LibraryFactory, UserFactory


def history(user):
    return db.session.execute(db.select(ReadHistory).where(ReadHistory.user_id == user.id)).scalars().all()


def test_progress_is_saved_updated_and_completes_on_the_last_page(app):
    user, book = UserFactory(), BookFactory(page_count=20)
    progress = save_progress(user.id, book, ProgressUpdate(page=5, time_spent=60))
    assert (progress.page, progress.total_pages, progress.completed,
            progress.time_spent) == (5, 20, False, 60)
    assert book.is_new is False
    save_progress(user.id, book, ProgressUpdate(page=12, time_spent=30))
    assert get_progress(user.id, book.id).time_spent == 90
    assert history(user) == []
    done = save_progress(user.id, book, ProgressUpdate(page=20))
    assert done.completed
    save_progress(user.id, book, ProgressUpdate(page=20))
    assert len(history(user)) == 1  # completing again is not a second read


def test_mark_read_and_unread(app):
    user, book = UserFactory(), BookFactory(page_count=32)
    progress = mark_read(user.id, book, time_spent=1800)
    assert (progress.page, progress.completed) == (32, True)
    assert history(user)[0].time_spent == 1800
    mark_unread(user.id, book)
    assert get_progress(user.id, book.id) is None


def test_progress_is_per_user(app):
    alice, bob, book = UserFactory(), UserFactory(), BookFactory()
    save_progress(alice.id, book, ProgressUpdate(page=3))
    assert get_progress(bob.id, book.id) is None


def test_negative_page_is_refused(app):
    with pytest.raises(Exception, match="page must be"):
        save_progress(UserFactory().id, BookFactory(), ProgressUpdate(page=-1))


def test_library_scope_and_disabled_libraries_hide_books(app):
    shown, hidden = LibraryFactory(), LibraryFactory()
    disabled = LibraryFactory(enabled=False)
    a, b, c = BookFactory(library=shown), BookFactory(library=hidden), BookFactory(library=disabled)
    scoped = UserFactory(library_ids=[shown.id])
    everyone = UserFactory()
    assert book_for_user(scoped, a.id).id == a.id
    with pytest.raises(NotFound):
        book_for_user(scoped, b.id)
    assert book_for_user(everyone, b.id).id == b.id
    with pytest.raises(NotFound):
        book_for_user(everyone, c.id)


def test_book_by_path_refuses_traversal_and_missing_books(app):
    book = BookFactory()
    assert book_by_path(None, book.path).id == book.id
    for bad in (book.path.replace("/Book", "/../Book"), "", "/etc/passwd"):
        with pytest.raises(NotFound):
            book_by_path(None, bad)
    book.state = "missing"
    db.session.commit()
    with pytest.raises(NotFound):
        book_by_path(None, book.path)
