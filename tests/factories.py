"""factory_boy factories: tests build rows with these, never by hand."""
from __future__ import annotations

import hashlib
import itertools

import factory
from factory.alchemy import SQLAlchemyModelFactory

from comicsrv.auth.secrets import hash_password, hash_token, new_api_key
from comicsrv.extensions import db
from comicsrv import models

PASSWORD = "correct horse battery"
_password_hash = hash_password(PASSWORD)  # scrypt is slow by design: hash once


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(Base):
    class Meta:
        model = models.User

    username = factory.Sequence(lambda n: f"user{n}")
    password_hash = _password_hash
    is_admin = False


class AdminFactory(UserFactory):
    is_admin = True


_counter = itertools.count()


def api_key_for(user: models.User, permissions: list[str] | None = None,
                name: str = "test") -> str:
    """Create an API key row for ``user``; return the plaintext key."""
    key, prefix = new_api_key()
    db.session.add(models.ApiKey(user_id=user.id, name=name, key_prefix=prefix,
                                 key_hash=hash_token(key), permissions=permissions or []))
    db.session.commit()
    return key


class LibraryFactory(Base):
    class Meta:
        model = models.Library

    name = factory.Sequence(lambda n: f"Library {n}")
    path = factory.Sequence(lambda n: f"/comics/lib{n}")


class PublisherFactory(Base):
    class Meta:
        model = models.Publisher

    name = factory.Sequence(lambda n: f"Publisher {n}")
    sort_name = factory.LazyAttribute(lambda o: o.name.lower())


class SeriesFactory(Base):
    class Meta:
        model = models.Series

    library = factory.SubFactory(LibraryFactory)
    name = factory.Sequence(lambda n: f"Series {n}")
    sort_name = factory.LazyAttribute(lambda o: o.name.lower())


class BookFactory(Base):
    class Meta:
        model = models.Book

    library = factory.SubFactory(LibraryFactory)
    series = None
    path = factory.LazyAttributeSequence(lambda o, n: f"{o.library.path}/Book {n:03d}.cbz")
    folder = factory.LazyAttribute(lambda o: o.path.rsplit("/", 1)[0])
    filename = factory.LazyAttribute(lambda o: o.path.rsplit("/", 1)[1])
    arcid = factory.LazyAttribute(lambda o: hashlib.sha1(o.path.encode()).hexdigest())
    size = 1000
    page_count = 20


class JobFactory(Base):
    class Meta:
        model = models.Job

    type = "test.job"
    state = "queued"



class SettingFactory(Base):
    """An admin setting row: ``SettingFactory(key="library.public_reading", value=True)``."""

    class Meta:
        model = models.Setting

    key = factory.Sequence(lambda n: f"test.setting{n}")
    value = None


class TagFactory(Base):
    class Meta:
        model = models.Tag

    namespace = ""
    name = factory.Sequence(lambda n: f"tag {n}")


class BookTagFactory(Base):
    """``BookTagFactory(book=book, tag=TagFactory(namespace="genre", name="Horror"))``."""

    class Meta:
        model = models.BookTag

    class Params:
        book = factory.SubFactory(BookFactory)

    book_id = factory.LazyAttribute(lambda o: o.book.id)
    tag = factory.SubFactory(TagFactory)
    source = "metadata"


class CategoryFactory(Base):
    """A LANraragi category (``SET_`` + 10 digits); ``search`` makes it dynamic."""

    class Meta:
        model = models.Category

    id = factory.Sequence(lambda n: f"SET_{1700000000 + n:010d}")
    name = factory.Sequence(lambda n: f"Category {n}")
    search = ""
    pinned = False
    bookmark = False


class CategoryBookFactory(Base):
    """``CategoryBookFactory(category=category, book=book)``."""

    class Meta:
        model = models.CategoryBook

    class Params:
        category = factory.SubFactory(CategoryFactory)
        book = factory.SubFactory(BookFactory)

    category_id = factory.LazyAttribute(lambda o: o.category.id)
    book_id = factory.LazyAttribute(lambda o: o.book.id)
    position = factory.Sequence(lambda n: n)


# --- automation ----------------------------------------------------------------

class WatchedSeriesFactory(Base):
    class Meta:
        model = models.WatchedSeries

    provider = "metron"
    provider_id = factory.Sequence(lambda n: str(1000 + n))
    name = factory.Sequence(lambda n: f"Watched {n}")
    sort_name = factory.LazyAttribute(lambda o: o.name.lower())
    year = 2012


class WatchedIssueFactory(Base):
    class Meta:
        model = models.WatchedIssue

    series = factory.SubFactory(WatchedSeriesFactory)
    provider_id = factory.Sequence(lambda n: str(50000 + n))
    number = factory.Sequence(lambda n: str(n + 1))
    number_sort = factory.LazyAttribute(lambda o: float(o.number))
    state = models.automation.WANTED


class IndexerConfigFactory(Base):
    class Meta:
        model = models.IndexerConfig

    name = factory.Sequence(lambda n: f"Indexer {n}")
    kind = "newznab"
    protocol = "usenet"
    settings = factory.LazyFunction(lambda: {"url": "http://127.0.0.1:9/", "api_key": "x"})


class DownloadClientConfigFactory(Base):
    class Meta:
        model = models.DownloadClientConfig

    name = factory.Sequence(lambda n: f"Client {n}")
    kind = "blackhole"
    protocol = "torrent"
    settings = factory.LazyFunction(dict)


class DownloadFactory(Base):
    class Meta:
        model = models.Download

    title = factory.Sequence(lambda n: f"Saga {n:03d} (2012) (digital)")
    protocol = "torrent"
    state = models.automation.DL_QUEUED


class NotificationTargetFactory(Base):
    class Meta:
        model = models.NotificationTarget

    name = factory.Sequence(lambda n: f"Target {n}")
    kind = "webhook"
    settings = factory.LazyFunction(lambda: {"url": "http://127.0.0.1:9/"})
