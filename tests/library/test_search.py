"""Full-text search of series and books: what matches, and in which order."""
import pytest
from sqlalchemy import select

from comicsrv.errors import BadRequest
from comicsrv.extensions import db
from comicsrv.library.search import MAX_TERMS, search_books, search_series, terms_of
from comicsrv.models import Book, Series
from tests.factories import (
    BookFactory, BookTagFactory, LibraryFactory, PublisherFactory, SeriesFactory, TagFactory,
)


@pytest.fixture
def catalog(app):
    library = LibraryFactory()
    marvel = PublisherFactory(name="Marvel Spider Press")
    venom = TagFactory(namespace="character", name="Venom Symbiote")

    def series(name, publisher=None, summary=None):
        return SeriesFactory(name=name, library=library, summary=summary,
                             publisher_id=publisher and publisher.id)

    def book(s, filename, **values):
        return BookFactory(library=library, series=s, series_name=s.name, filename=filename,
                           **values)

    spider = series("Spider")
    amazing = series("The Amazing Spider-Man")
    spider_woman = series("Spider-Woman")
    batman = series("Batman", summary="The spider in the bat cave")
    publisher_only = series("Web Tales", publisher=marvel)
    tagged = series("Symbiotes")
    titled = series("Anthology")
    gone = series("Vanished")
    fifty = series("50% Off")
    book(spider, "s1.cbz")
    book(amazing, "a1.cbz", title="Amazing Fantasy", summary="Peter is bitten")
    book(spider_woman, "w1.cbz")
    book(batman, "b1.cbz")
    book(publisher_only, "p1.cbz", publisher_id=marvel.id)
    BookTagFactory(book=book(tagged, "t1.cbz"), tag=venom)
    book(titled, "an1.cbz", title="A Spider's Tale")
    book(gone, "g1.cbz", title="Spider Ghost", state="missing")
    book(fifty, "f1.cbz")
    return library


def found_series(query):
    search = search_series(query)
    return db.session.execute(select(Series.name).where(search.where)
                              .order_by(search.rank.desc(), Series.sort_name)).scalars().all()


def found_books(query):
    search = search_books(query)
    return db.session.execute(select(Book.filename).where(search.where, Book.state != "missing")
                              .order_by(search.rank.desc(), Book.filename)).scalars().all()


def test_series_name_matches_come_first(catalog):
    names = found_series("spider")
    # Exact name, then names starting with it, then names containing it...
    assert names[:4] == ["Spider", "Spider-Woman", "The Amazing Spider-Man", "Web Tales"]
    # ...then publisher (Web Tales, above) and summary matches, then matches
    # only through a book's title; a missing book's title matches nothing.
    assert names[4:] == ["Batman", "Anthology"]


def test_every_word_must_match_somewhere(catalog):
    assert found_series("amazing spider") == ["The Amazing Spider-Man"]
    # "bitten" is in a book's summary, "amazing" in the series name.
    assert found_series("Amazing BITTEN") == ["The Amazing Spider-Man"]
    assert found_series("amazing batman") == []


def test_tag_and_publisher_names_match(catalog):
    assert found_series("symbiote") == ["Symbiotes"]  # its name, and its book's tag
    assert found_series("venom") == ["Symbiotes"]  # only through the tag
    assert found_series("press") == ["Web Tales"]


def test_like_wildcards_are_literal(catalog):
    assert found_series("50%") == ["50% Off"]
    assert found_series("%") == ["50% Off"]
    assert found_series("_") == []


def test_book_search_ranks_series_name_hits_above_titles(catalog):
    assert found_books("spider") == ["s1.cbz", "w1.cbz", "a1.cbz", "an1.cbz", "p1.cbz"]
    assert found_books("venom") == ["t1.cbz"]
    assert found_books("fantasy amazing") == ["a1.cbz"]


@pytest.mark.parametrize("query", ["", "   ", None, "x" * 201,
                                   "spider\x00man", "\x03", "half \udc00 surrogate"])
def test_empty_huge_or_unstorable_queries_are_refused(app, query):
    """NUL and lone surrogates cannot be sent to PostgreSQL (a 500 there)."""
    with pytest.raises(BadRequest) as caught:
        search_series(query)
    assert caught.value.code == "invalid_query"


def test_terms_are_lower_cased_distinct_and_capped():
    assert terms_of("  Spider  spider MAN ") == ("spider", "man")
    assert terms_of("spider\tman\n") == ("spider", "man")  # whitespace controls split words
    assert len(terms_of(" ".join(f"w{i}" for i in range(20)))) == MAX_TERMS
