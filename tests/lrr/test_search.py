"""LANraragi's filter syntax, term by term (``comicsrv.lrr.search.parse_filter``)."""
import pytest

from comicsrv.lrr.search import Term, parse_filter


@pytest.mark.parametrize(("text", "terms"), [
    ("", []),
    (None, []),
    ("  ,, ", []),
    ("saga", [Term("saga")]),
    ("Saga, Artist:Fiona Staples", [Term("saga"), Term("artist:fiona staples")]),
    ("-genre:horror", [Term("genre:horror", negative=True)]),
    ("artist:wood$", [Term("artist:wood", exact=True)]),
    ("artist:wood $", [Term("artist:wood", exact=True)]),
    ('"space, opera"', [Term("space, opera", exact=True)]),
    ('"space opera"$, x', [Term("space opera", exact=True), Term("x")]),
    ('-"writer:alan moore", watchmen', [Term("writer:alan moore", negative=True, exact=True),
                                        Term("watchmen")]),
    # As LANraragi: text between a closing quote and the comma is its own term.
    ('"a" b, c', [Term("a", exact=True), Term("b"), Term("c")]),
    ("sa*ga, s?ga", [Term("sa%ga"), Term("s_ga")]),
    ("50%", [Term("50%")]),
    ("back\\slash", [Term("back\\\\slash")]),
    ('"unclosed', [Term("unclosed", exact=True)]),
    ("-", []),
])
def test_parse_filter(text, terms):
    assert parse_filter(text) == terms
