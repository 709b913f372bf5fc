"""Codex condition filters compiled to SQL, table-tested against real rows."""
import pytest
from sqlalchemy import select

from comicsrv.errors import BadRequest
from comicsrv.extensions import db
from comicsrv.library import reading
from comicsrv.library.filters import (
    BOOK_FIELDS, MAX_CONDITIONS, MAX_DEPTH, SERIES_FIELDS, FilterContext, compile_condition,
)
from comicsrv.models import Book, Series
from tests.factories import (
    BookFactory, BookTagFactory, LibraryFactory, PublisherFactory, SeriesFactory, TagFactory,
    UserFactory,
)


@pytest.fixture
def shelf(app):
    """Five series in two libraries, with genres, tags, languages and one
    user's reading:

    ==============  ====  ======  ===============  =====  ====  ===========
    series          lib   pub     genres           tags   lang  reading
    ==============  ====  ======  ===============  =====  ====  ===========
    Spider-Man      one   Marvel  Action           hero   en    in progress
    Batman          one   DC      Action, Horror   dark   en    read; ended
    Sandman         two   DC      Horror           -      fr    unread
    Empty Tags      two   -       -                -      -     in progress
    Half_Off 50%    two   -       -                -      -     unread
    ==============  ====  ======  ===============  =====  ====  ===========

    Spider-Man also has a missing book tagged Romance, which must not count,
    and Sandman an errored book.
    """
    one, two = LibraryFactory(name="one"), LibraryFactory(name="two")
    marvel, dc = PublisherFactory(name="Marvel"), PublisherFactory(name="DC")
    tags = {key: TagFactory(namespace=ns, name=name) for key, (ns, name) in {
        "action": ("genre", "Action"), "horror": ("genre", "Horror"),
        "romance": ("genre", "Romance"), "hero": ("", "hero"), "dark": ("", "dark"),
        "writer": ("writer", "Horror Writer")}.items()}

    def series(name, library, publisher=None):
        return SeriesFactory(name=name, library=library, publisher_id=publisher and publisher.id)

    def book(name, s, *tag_keys, **values):
        row = BookFactory(library=s.library if s else two, series=s, filename=name,
                          title=values.pop("title", None), **values)
        for key in tag_keys:
            BookTagFactory(book=row, tag=tags[key])
        return row

    spider = series("Spider-Man", one, marvel)
    batman = series("Batman", one, dc)
    sandman = series("Sandman", two, dc)
    empty = series("Empty Tags", two)
    half = series("Half_Off 50%", two)
    books = {
        "b1": book("b1", spider, "action", "hero", language="en", title="Amazing Spider"),
        "b2": book("b2", spider, language="en", title="Spider Returns"),
        "b7": book("b7", spider, "romance", state="missing"),
        "b3": book("b3", batman, "action", "horror", "dark", "writer", language="en", count=12,
                   title="Dark Knight"),
        "b4": book("b4", sandman, "horror", language="fr"),
        "b5": book("b5", sandman, state="error", page_count=0),
        "b6": book("b6", empty),
        "b9": book("b9", half),
        "b8": book("b8", None, title="Loose Issue"),
    }
    user = UserFactory()
    reading.mark_read(user.id, books["b1"])
    reading.mark_read(user.id, books["b3"])
    reading.save_progress(user.id, books["b6"], reading.ProgressUpdate(page=1))
    return {"one": one, "two": two, "spider": spider, "user": user, "books": books}


def series_names(condition, user=None):
    clause = compile_condition(condition, SERIES_FIELDS, FilterContext(user.id if user else None))
    return set(db.session.execute(select(Series.name).where(clause)).scalars())


def book_names(condition, user=None):
    clause = compile_condition(condition, BOOK_FIELDS, FilterContext(user.id if user else None))
    return set(db.session.execute(
        select(Book.filename).where(Book.state != "missing", clause)).scalars())


def leaf(field, operator, value=None):
    body = {"operator": operator}
    if value is not None:
        body["value"] = value
    return {field: body}


ALL_SERIES = {"Spider-Man", "Batman", "Sandman", "Empty Tags", "Half_Off 50%"}

SERIES_CASES = [
    (None, ALL_SERIES),
    ({}, ALL_SERIES),
    ({"allOf": []}, ALL_SERIES),
    (leaf("libraryId", "is", "$one"), {"Spider-Man", "Batman"}),
    (leaf("libraryId", "isNot", "$one"), {"Sandman", "Empty Tags", "Half_Off 50%"}),
    (leaf("genre", "is", "action"), {"Spider-Man", "Batman"}),
    ({"allOf": [leaf("genre", "is", "Action"), leaf("genre", "isNot", "Horror")]}, {"Spider-Man"}),
    (leaf("genre", "isNull"), {"Empty Tags", "Half_Off 50%"}),
    (leaf("genre", "isNotNull"), {"Spider-Man", "Batman", "Sandman"}),
    (leaf("genre", "contains", "ORR"), {"Batman", "Sandman"}),
    # Only the missing book is tagged Romance.
    (leaf("genre", "beginsWith", "Rom"), set()),
    # A writer tag named "Horror Writer" is no genre.
    (leaf("genre", "is", "Horror Writer"), set()),
    (leaf("tag", "is", "hero"), {"Spider-Man"}),
    (leaf("tag", "isNot", "hero"), ALL_SERIES - {"Spider-Man"}),
    (leaf("status", "is", "ended"), {"Batman"}),
    (leaf("status", "isNot", "ended"), ALL_SERIES - {"Batman"}),
    (leaf("status", "beginsWith", "on"), ALL_SERIES - {"Batman"}),
    (leaf("publisher", "is", "dc"), {"Batman", "Sandman"}),
    (leaf("publisher", "isNot", "DC"), {"Spider-Man", "Empty Tags", "Half_Off 50%"}),
    (leaf("publisher", "isNull"), {"Empty Tags", "Half_Off 50%"}),
    (leaf("publisher", "contains", "arv"), {"Spider-Man"}),
    (leaf("language", "is", "FR"), {"Sandman"}),
    (leaf("language", "isNull"), {"Empty Tags", "Half_Off 50%"}),
    (leaf("name", "beginsWith", "s"), {"Spider-Man", "Sandman"}),
    (leaf("name", "contains", "MAN"), {"Spider-Man", "Batman", "Sandman"}),
    (leaf("name", "is", "batman"), {"Batman"}),
    (leaf("name", "isNotNull"), ALL_SERIES),
    # LIKE wildcards in a value are literal characters.
    (leaf("name", "contains", "%"), {"Half_Off 50%"}),
    (leaf("name", "contains", "f_o"), {"Half_Off 50%"}),
    (leaf("name", "contains", "n_m"), set()),
    (leaf("readStatus", "is", "read"), {"Batman"}),
    (leaf("readStatus", "is", "unread"), {"Sandman", "Half_Off 50%"}),
    (leaf("readStatus", "is", "in_progress"), {"Spider-Man", "Empty Tags"}),
    (leaf("readStatus", "isNot", "read"), ALL_SERIES - {"Batman"}),
    ({"anyOf": [leaf("name", "is", "Batman"), leaf("name", "is", "Sandman")]},
     {"Batman", "Sandman"}),
    ({"allOf": [leaf("libraryId", "is", "$one"),
                {"anyOf": [leaf("genre", "is", "Horror"), leaf("tag", "is", "hero")]}]},
     {"Spider-Man", "Batman"}),
    ({"anyOf": [{"allOf": [leaf("genre", "is", "Horror"), leaf("publisher", "is", "DC"),
                           leaf("libraryId", "is", "$two")]},
                leaf("readStatus", "is", "read")]},
     {"Sandman", "Batman"}),
]


def _resolve(condition, shelf):
    """Replace "$one"/"$two" with the libraries' ids (they differ per run)."""
    if isinstance(condition, dict):
        return {k: _resolve(v, shelf) for k, v in condition.items()}
    if isinstance(condition, list):
        return [_resolve(v, shelf) for v in condition]
    if isinstance(condition, str) and condition.startswith("$"):
        return shelf[condition[1:]].id
    return condition


@pytest.mark.parametrize("condition, expected", SERIES_CASES)
def test_series_conditions(shelf, condition, expected):
    assert series_names(_resolve(condition, shelf), shelf["user"]) == expected


ALL_BOOKS = {"b1", "b2", "b3", "b4", "b5", "b6", "b8", "b9"}

BOOK_CASES = [
    (None, ALL_BOOKS),
    (leaf("seriesId", "is", "$spider"), {"b1", "b2"}),
    (leaf("seriesId", "isNot", "$spider"), ALL_BOOKS - {"b1", "b2"}),
    (leaf("seriesId", "isNull"), {"b8"}),
    (leaf("libraryId", "is", "$one"), {"b1", "b2", "b3"}),
    (leaf("genre", "is", "Horror"), {"b3", "b4"}),
    (leaf("genre", "isNull"), {"b2", "b5", "b6", "b8", "b9"}),
    (leaf("tag", "isNot", "hero"), ALL_BOOKS - {"b1"}),
    (leaf("tag", "contains", "ar"), {"b3"}),
    (leaf("title", "contains", "spider"), {"b1", "b2"}),
    (leaf("title", "beginsWith", "dark"), {"b3"}),
    (leaf("title", "isNull"), {"b4", "b5", "b6", "b9"}),
    (leaf("title", "isNot", "Dark Knight"), ALL_BOOKS - {"b3"}),
    (leaf("hasError", "is", True), {"b5"}),
    (leaf("hasError", "is", "false"), ALL_BOOKS - {"b5"}),
    (leaf("hasError", "isNot", True), ALL_BOOKS - {"b5"}),
    (leaf("readStatus", "is", "read"), {"b1", "b3"}),
    (leaf("readStatus", "is", "in_progress"), {"b6"}),
    (leaf("readStatus", "is", "unread"), ALL_BOOKS - {"b1", "b3", "b6"}),
    ({"allOf": [leaf("libraryId", "is", "$one"), leaf("readStatus", "isNot", "read")]}, {"b2"}),
]


@pytest.mark.parametrize("condition, expected", BOOK_CASES)
def test_book_conditions(shelf, condition, expected):
    assert book_names(_resolve(condition, shelf), shelf["user"]) == expected


def test_read_status_is_per_user(shelf):
    other = UserFactory()
    assert series_names(leaf("readStatus", "is", "unread"), other) == ALL_SERIES
    assert book_names(leaf("readStatus", "is", "read"), other) == set()
    assert book_names(leaf("readStatus", "is", "unread")) == ALL_BOOKS  # nobody asking


@pytest.mark.parametrize("condition, fields, message", [
    (leaf("colour", "is", "red"), SERIES_FIELDS, "condition.colour: unknown field 'colour'"),
    (leaf("title", "is", "x"), SERIES_FIELDS, "unknown field 'title'"),
    (leaf("status", "is", "ended"), BOOK_FIELDS, "unknown field 'status'"),
    (leaf("name", "equals", "x"), SERIES_FIELDS, "unknown operator 'equals'"),
    ({"name": {"value": "x"}}, SERIES_FIELDS, "unknown operator None"),
    (leaf("libraryId", "contains", "1"), SERIES_FIELDS, "operator 'contains' does not apply to libraryId"),
    (leaf("readStatus", "isNull"), BOOK_FIELDS, "operator 'isNull' does not apply to readStatus"),
    (leaf("name", "is"), SERIES_FIELDS, "value must be a non-empty string"),
    (leaf("name", "is", 5), SERIES_FIELDS, "value must be a non-empty string"),
    (leaf("name", "is", "x" * 501), SERIES_FIELDS, "longer than 500"),
    (leaf("libraryId", "is", "one"), SERIES_FIELDS, "value must be an integer id"),
    (leaf("libraryId", "is", True), SERIES_FIELDS, "value must be an integer id"),
    (leaf("libraryId", "is", 2**70), SERIES_FIELDS, "out of range"),
    (leaf("hasError", "is", "maybe"), BOOK_FIELDS, "true or false"),
    (leaf("readStatus", "is", "skimmed"), SERIES_FIELDS, "readStatus is one of read, unread, in_progress"),
    ({"allOf": leaf("name", "is", "x")}, SERIES_FIELDS, "condition.allOf: expected a list"),
    ({"allOf": [{"name": "x"}]}, SERIES_FIELDS, "condition.allOf[0].name: expected {"),
    ({"anyOf": [leaf("name", "is", "x"), "name"]}, SERIES_FIELDS, "condition.anyOf[1]: expected an object"),
    ({"name": {"operator": "is", "value": "x"}, "genre": {"operator": "isNull"}}, SERIES_FIELDS,
     "expected an object with one key"),
    ([leaf("name", "is", "x")], SERIES_FIELDS, "expected an object"),
])
def test_bad_conditions_name_what_is_wrong(app, condition, fields, message):
    with pytest.raises(BadRequest) as caught:
        compile_condition(condition, fields, FilterContext())
    assert caught.value.code == "invalid_filter"
    assert message in caught.value.message


def test_depth_and_size_are_bounded(app):
    deep = leaf("name", "is", "x")
    for _ in range(MAX_DEPTH):
        deep = {"allOf": [deep]}
    with pytest.raises(BadRequest, match=f"at most {MAX_DEPTH} deep"):
        compile_condition(deep, SERIES_FIELDS)
    wide = {"anyOf": [leaf("name", "is", str(i)) for i in range(MAX_CONDITIONS + 1)]}
    with pytest.raises(BadRequest, match=f"at most {MAX_CONDITIONS} conditions"):
        compile_condition(wide, SERIES_FIELDS)
    # The limits themselves are allowed.
    compile_condition({"anyOf": wide["anyOf"][:MAX_CONDITIONS]}, SERIES_FIELDS)
