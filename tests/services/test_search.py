"""The as-you-type customer search: the query normaliser, prefix ranges, typo tolerance, and its fixed cost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlcount import counted

from ravingfans.db import Database
from ravingfans.db.models import Customer
from ravingfans.errors import ValidationFailed
from ravingfans.services.search import (
    EMAIL,
    MAX_QUERY_LENGTH,
    NAME,
    PHONE,
    NameVocabulary,
    Names,
    case_forms,
    next_prefix,
    normalise_query,
    search,
)

AT = datetime(2024, 1, 1, tzinfo=UTC)


def add(db: Database, *people: tuple[str | None, str | None, str | None, str | None]) -> list[int]:
    """Customers from (first, last, email, phone); their ids."""
    with db.session(write=True) as s:
        made = [Customer(first_name=f, last_name=l, email=e, phone=p, created_at=AT, updated_at=AT)
                for f, l, e, p in people]
        s.add_all(made)
        s.flush()
        return [c.id for c in made]


@pytest.fixture
def book(db: Database) -> dict[str, int]:
    ids = add(db,
              ("Ada", "Lovelace", "ada@example.com", "+14155550123"),
              ("Adam", "Smith", "adam.smith@example.org", None),
              ("Grace", "Hopper", "grace@navy.example", "+12025550199"),
              ("Mary Ann", "McDonald", "mam@example.net", None),
              ("Élodie", "Brûlé", None, "+33612345678"),
              ("Linus", "adams", "linus@example.org", None),
              ("Percent", "100%_sure", "odd@example.com", None))
    return dict(zip(("ada", "adam", "grace", "mary", "elodie", "linus", "percent"), ids, strict=True))


def found(db: Database, query: str, vocabulary: NameVocabulary | None = None, limit: int = 10) -> list[int]:
    with db.session() as s:
        result = search(s, query, limit=limit, vocabulary=vocabulary)
    return [hit.id for hit in [*result.hits, *result.similar]]


@pytest.mark.parametrize(("query", "who"), [
    ("ada", ["ada", "adam", "linus"]),  # first names Ada, Adam; last name adams
    ("ADA LOV", ["ada"]),
    ("lovelace, ada", ["ada"]),
    ("lovelace ada", ["ada"]),
    ("hop", ["grace"]),
    ("grace@NAVY", ["grace"]),
    ("adam.s", ["adam"]),
    ("(415) 555-01", ["ada"]),
    ("+1 202 555", ["grace"]),
    ("0033 6 12", ["elodie"]),
    ("mary ann", ["mary"]),
    ("mary ann mcd", ["mary"]),
    ("élo", ["elodie"]),
    ("ÉLODIE", ["elodie"]),
    ("brûlé", ["elodie"]),
    ("100%", ["percent"]),  # LIKE wildcards in names are plain text
    ("100%_s", ["percent"]),
    ("velace", []),  # a prefix search: the middle of a name does not match
    ("", []),
    ("   ", []),
])
def test_prefix_search_by_name_email_or_phone(db: Database, book: dict[str, int], query: str,
                                              who: list[str]) -> None:
    assert sorted(found(db, query)) == sorted(book[w] for w in who)


def test_exact_names_come_first_then_email_and_phone(db: Database, book: dict[str, int]) -> None:
    with db.session() as s:
        result = search(s, "ada")
    assert [h.id for h in result.hits][0] == book["ada"]  # "Ada" itself before Adam and adams
    assert {h.matched for h in result.hits} == {NAME}
    with db.session() as s:
        assert [h.matched for h in search(s, "linus@").hits] == [EMAIL]
        assert [h.matched for h in search(s, "+1415").hits] == [PHONE]


def test_typos_find_similar_names_only_with_a_vocabulary(db: Database, book: dict[str, int]) -> None:
    vocabulary = NameVocabulary()
    assert found(db, "lovlace") == []
    assert found(db, "lovlace", vocabulary) == [book["ada"]]
    assert found(db, "hoper", vocabulary) == [book["grace"]]
    assert found(db, "grcae hopper", vocabulary) == [book["grace"]]  # a swap in the first name, the last exact
    assert found(db, "mcd", vocabulary) == [book["mary"]]  # case: "McDonald" typed "mcd"
    assert found(db, "xqzt", vocabulary) == []
    with db.session() as s:
        result = search(s, "adaa", vocabulary=vocabulary)
    assert result.hits == [] and {h.id for h in result.similar} >= {book["ada"]}


def test_the_limit_and_more(db: Database) -> None:
    add(db, *[(f"Zed{i:02d}", "Zimmer", None, None) for i in range(30)])
    with db.session() as s:
        result = search(s, "zed", limit=5)
    assert [h.name for h in result.hits] == [f"Zed{i:02d} Zimmer" for i in range(5)]
    assert result.more
    with db.session() as s:
        assert len(search(s, "zed", limit=500).hits) == 30  # capped at 50, and there are 30


def test_the_search_costs_the_same_queries_however_many_customers(db: Database) -> None:
    vocabulary = NameVocabulary()
    used = []
    for batch in range(2):
        add(db, *[(f"Kim{batch}{i:03d}", f"Park{i:03d}", f"kim{batch}{i}@example.com", f"+1503555{batch}{i:03d}")
                  for i in range(40 * (batch + 1))])
        counts = []
        for query in ("kim", "park0", "kim@", "+1503555", "kimm park", "zzzzz"):
            with db.session() as s:
                search(s, query, vocabulary=vocabulary)  # warm: the vocabulary loads once
                with counted(db) as statements:
                    search(s, query, vocabulary=vocabulary)
            counts.append(len(statements))
        used.append(counts)
    assert used[0] == used[1] and all(1 <= n <= 3 for n in used[0]), used


def test_the_vocabulary_reloads_when_stale(db: Database) -> None:
    clock = [0.0]
    vocabulary = NameVocabulary(ttl=60, monotonic=lambda: clock[0])
    add(db, ("Quentin", "Quill", None, None))
    with db.session() as s:
        assert "quentin" in vocabulary.names(s).spellings
    add(db, ("Rosalind", "Franklin", None, None))
    with db.session() as s:
        assert "rosalind" not in vocabulary.names(s).spellings  # still fresh
        clock[0] = 61
        assert "rosalind" in vocabulary.names(s).spellings


def test_names_close_to_a_typed_start() -> None:
    names = Names.of(["Lovelace", "Lovell", "Hopper", "McDonald", "Ada", "ada"])
    assert names.close_to("lovl")[:2] == ["Lovell", "Lovelace"]
    assert names.close_to("hpoper") == ["Hopper"]  # a swap is two edits, allowed in six letters
    assert names.close_to("mcd") == ["McDonald"]
    assert names.close_to("ad") == ["Ada", "ada"]  # two letters: exact (case aside), both spellings
    assert names.close_to("zz") == []
    assert names.close_to("") == []


@pytest.mark.parametrize("bad", ["a" * (MAX_QUERY_LENGTH + 1), "nul\x00", "bell\x07"])
def test_bad_queries_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalise_query(bad)
    assert caught.value.field == "q"


typed = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=MAX_QUERY_LENGTH)


@given(typed)
def test_normalised_queries_are_clean_and_stable(raw: str) -> None:
    query = normalise_query(raw)
    assert query.text == query.text.strip() and "  " not in query.text and len(query.text) <= MAX_QUERY_LENGTH
    assert all(word and not any(ch.isspace() or ch in ",;" for ch in word) for word in query.tokens)
    assert len(query.tokens) <= 4
    assert all(p.startswith("+") and p[1:].isdigit() for p in query.phones)
    assert normalise_query(query.text) == query  # normalising again changes nothing
    assert query.email is None or query.email == query.text.lower()


@given(st.text(min_size=1, max_size=20), st.text(max_size=10))
def test_next_prefix_bounds_every_string_with_the_prefix(prefix: str, rest: str) -> None:
    upper = next_prefix(prefix)
    value = prefix + rest
    assert value >= prefix
    if upper is not None:
        assert value < upper and upper > prefix
        assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in upper[-1:])


@given(st.text(min_size=1, max_size=20))
def test_case_forms_hold_the_lower_case_and_the_typed_form(word: str) -> None:
    forms = case_forms(word)
    assert forms[0] == word.lower() and word in forms and len(forms) == len(set(forms)) <= 5
