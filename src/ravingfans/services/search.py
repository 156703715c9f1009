"""Find a customer as you type: prefix search on first and last name, e-mail and phone, tolerant of typos.

Built to stay fast with a million customers on SQLite and on PostgreSQL. Every lookup is a range scan
of an index (``name >= 'ada' AND name < 'adb'``, compared byte by byte: BINARY on SQLite, ``COLLATE
"C"`` on PostgreSQL, see migration 0005) that stops after the first few rows, so a one-letter query
costs the same as a full name. Names are tried as typed, lower-case, Title Case and UPPER CASE; two
or more words are tried as "first last" and "last first". Only when that finds fewer customers than
asked for does the typo-tolerant step run: the query's words are matched against the distinct first
and last names (a vocabulary held in memory, reloaded every few minutes) with a Levenshtein distance
(optimal string alignment: a swap of two letters is one typo; rapidfuzz) on the word's start, and the spellings it finds are looked up by index again.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, func, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

from ravingfans.db.models import Customer, CustomerScore, ScoreRun
from ravingfans.errors import ValidationFailed
from ravingfans.services.customers import phone_prefixes

MAX_QUERY_LENGTH = 100
MAX_TOKENS = 4
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
MAX_SPELLINGS = 8  # corrected spellings looked up per word
SIMILAR_CAP = 500  # customers with a corrected spelling read before sorting the few shown
VOCABULARY_TTL_SECONDS = 600.0
MAX_VOCABULARY = 200_000  # distinct names per field held for typo matching

_SEPARATORS = re.compile(r"[\s,;]+")
_HAS_LETTER = re.compile(r"[^\W\d_]")
_LAST_CODE_POINT = 0x10FFFF

NAME, EMAIL, PHONE, SIMILAR = "name", "email", "phone", "similar"
_RANK = {NAME: 0, EMAIL: 1, PHONE: 2, SIMILAR: 3}
_MATCHED = {rank: matched for matched, rank in _RANK.items()}


# ----------------------------------------------------------------------------------------------
# The query
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What was typed, cleaned, and what to look for: name words, an e-mail start, phone number starts."""

    text: str
    tokens: tuple[str, ...]
    email: str | None
    phones: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """Whether there is nothing to look for."""
        return not (self.tokens or self.email or self.phones)


def normalise_query(raw: str, *, region: str = "US") -> SearchQuery:
    """Clean a typed search: NFC, single spaces, at most 100 characters, no control characters.

    Raises ValidationFailed (field ``q``) for text too long or holding control characters.
    """
    text = " ".join(unicodedata.normalize("NFC", raw).split())
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed(f"Search: at most {MAX_QUERY_LENGTH} characters, please", field="q")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
        raise ValidationFailed("Search: must not contain control characters", field="q")
    words = tuple(word for word in _SEPARATORS.split(text) if word)
    phones = tuple(phone_prefixes(text, region)) if text else ()
    if phones and not _HAS_LETTER.search(text):
        words = ()  # "+1 202 555" is a phone number, not three names
    email = text.lower() if text and " " not in text else None
    return SearchQuery(text=text, tokens=words[:MAX_TOKENS], email=email, phones=phones)


def case_forms(word: str) -> tuple[str, ...]:
    """The spellings a stored name starting with ``word`` is likely to have: lower, Title, Capital, UPPER, as typed."""
    lower = word.lower()
    forms = (lower, lower.title(), lower[:1].upper() + lower[1:], word.upper(), word)
    return tuple(dict.fromkeys(form for form in forms if form))


def next_prefix(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix`` (code-point order), or None."""
    chars = list(prefix)
    while chars:
        point = ord(chars[-1])
        if point < _LAST_CODE_POINT:
            point += 1
            if 0xD800 <= point <= 0xDFFF:  # surrogates cannot be stored; skip to the next character
                point = 0xE000
            chars[-1] = chr(point)
            return "".join(chars)
        chars.pop()
    return None


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A customer found, with what matched: their name, e-mail or phone, or a name close to what was typed."""

    id: int
    name: str
    email: str | None
    phone: str | None
    city: str | None
    segment: str | None
    matched: str


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Customers found for a query: exact prefix matches first, then similar names; ``more`` if some were left out."""

    query: str
    hits: list[SearchHit]
    similar: list[SearchHit]
    more: bool

    @property
    def count(self) -> int:
        """How many customers are shown."""
        return len(self.hits) + len(self.similar)


# ----------------------------------------------------------------------------------------------
# The vocabulary of names, for typos
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """Distinct first and last names: spellings by lower-case key, keys by first and by second letter."""

    spellings: dict[str, tuple[str, ...]]
    by_first: dict[str, list[str]]
    by_second: dict[str, list[str]]

    @classmethod
    def of(cls, names: Iterable[str]) -> Names:
        """The vocabulary of these stored names."""
        spellings: dict[str, set[str]] = {}
        for name in names:
            if name and name.strip():
                spellings.setdefault(name.lower(), set()).add(name)
        by_first: dict[str, list[str]] = {}
        by_second: dict[str, list[str]] = {}
        for key in spellings:
            by_first.setdefault(key[0], []).append(key)
            if len(key) > 1:
                by_second.setdefault(key[1], []).append(key)
        return cls({k: tuple(sorted(v)) for k, v in spellings.items()}, by_first, by_second)

    def close_to(self, word: str, limit: int = MAX_SPELLINGS) -> list[str]:
        """Stored spellings of names whose start is within a typo or two of ``word`` (case ignored), closest first.

        Up to 2 letters must match exactly (case aside); 3 to 5 letters allow one edit, longer words two.
        A typo in both of the first two letters is not found: candidates share the first or the second letter.
        """
        key = word.lower()
        size = len(key)
        if size == 0:
            return []
        allowed = 0 if size < 3 else 1 if size <= 5 else 2
        pool = list(dict.fromkeys(self.by_first.get(key[0], []) + (self.by_second.get(key[1], []) if size > 1 else [])))
        if not pool:
            return []
        best: dict[int, int] = {}
        for cut in sorted({max(1, size - 1), size, size + 1}) if allowed else [size]:
            starts = [candidate[:cut] for candidate in pool]
            for _start, distance, index in process.extract(key, starts, scorer=OSA.distance,
                                                           score_cutoff=allowed, limit=None):
                if distance < best.get(index, allowed + 1):
                    best[index] = int(distance)
        ranked = sorted(best, key=lambda i: (best[i], -fuzz.ratio(key, pool[i]), len(pool[i]), pool[i]))
        found: list[str] = []
        for index in ranked[:limit]:
            found.extend(self.spellings[pool[index]])
        return found


class NameVocabulary:
    """The distinct names of the customer book, loaded on first use and again when older than ``ttl``.

    One loader at a time: while it reads, other requests keep using the names they had (or wait for
    the first load). A name added since the last load is still found by prefix, only not by typo.
    """

    def __init__(self, *, ttl: float = VOCABULARY_TTL_SECONDS, max_names: int = MAX_VOCABULARY,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_names = max_names
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._names: Names | None = None
        self._loaded_at = 0.0

    def names(self, session: Session) -> Names:
        """The vocabulary, (re)loaded through ``session`` when missing or stale."""
        current = self._names
        if current is not None and self._monotonic() - self._loaded_at < self.ttl:
            return current
        if current is not None and not self._lock.acquire(blocking=False):
            return current  # someone else is reloading; the old names do meanwhile
        if current is None:
            self._lock.acquire()
        try:
            if self._names is None or self._monotonic() - self._loaded_at >= self.ttl:
                self._names = Names.of(self._load(session))
                self._loaded_at = self._monotonic()
            return self._names
        finally:
            self._lock.release()

    def forget(self) -> None:
        """Drop the names, so the next typo search reads them afresh."""
        self._names = None

    def _load(self, session: Session) -> list[str]:
        names: list[str] = []
        for column in (Customer.first_name, Customer.last_name):
            names.extend(session.scalars(select(column).where(column.is_not(None)).distinct().limit(self.max_names)))
        return names


# ----------------------------------------------------------------------------------------------
# The search
# ----------------------------------------------------------------------------------------------


# An arm is one index range scan: (what it matches, the column scanned, the column filtered by a
# case-blind prefix or None, whether the range has an upper end). Statements are built once per
# shape of query and cached, with every value a bound parameter, so a search spends its time in the
# database rather than in building SQL.
_Arm = tuple[str, str, str | None, bool]
_COLUMNS = {"first": Customer.__table__.c.first_name, "last": Customer.__table__.c.last_name,
            "email": Customer.__table__.c.email, "phone": Customer.__table__.c.phone}
_THEN = {"first": "last", "last": "first"}


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _byte_order(column: ColumnElement[Any], postgres: bool) -> ColumnElement[Any]:
    """Byte-order comparison on this database: COLLATE "C" on PostgreSQL, SQLite's BINARY as it is."""
    return column.collate("C") if postgres else column


def _like_pattern(prefix: str) -> str:
    """A LIKE pattern (escape ``\\``) for text starting with ``prefix``, lower-cased."""
    return prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@lru_cache(maxsize=512)
def _statement(arms: tuple[_Arm, ...], postgres: bool) -> Select[Any]:
    """One statement for every scan of a query shape; each scan keeps its ORDER BY and LIMIT in a subquery."""
    selects = []
    for number, (matched, scanned, filtered, bounded) in enumerate(arms):
        column = _byte_order(_COLUMNS[scanned], postgres)
        where = [column >= bindparam(f"p{number}")]
        if bounded:
            where.append(column < bindparam(f"u{number}"))
        if filtered is not None:
            where.append(func.lower(_COLUMNS[filtered]).like(bindparam(f"f{number}"), escape="\\"))
        order = [column] + ([_byte_order(_COLUMNS[_THEN[scanned]], postgres)] if scanned in _THEN else [])
        table = Customer.__table__
        part = (select(table.c.id.label("id"), literal_column(str(_RANK[matched])).label("rank"),
                       table.c.first_name.label("first_name"), table.c.last_name.label("last_name"))
                .where(*where).order_by(*order).limit(bindparam("n", type_=Integer)).subquery(f"s{number}"))
        selects.append(select(part.c.id, part.c.rank, part.c.first_name, part.c.last_name))
    return selects[0] if len(selects) == 1 else union_all(*selects)  # type: ignore[return-value]


def _plan(query: SearchQuery) -> tuple[tuple[_Arm, ...], dict[str, Any]]:
    """The index range scans a query needs (its shape) and the values to bind."""
    arms: list[_Arm] = []
    params: dict[str, Any] = {}

    def scan(matched: str, scanned: str, prefix: str, filtered: str | None = None, tail: str = "") -> None:
        number = len(arms)
        upper = next_prefix(prefix)
        params[f"p{number}"] = prefix
        if upper is not None:
            params[f"u{number}"] = upper
        if filtered is not None:
            params[f"f{number}"] = _like_pattern(tail)
        arms.append((matched, scanned, filtered, upper is not None))

    tokens = query.tokens
    if tokens:  # the whole text as one name ("ada", "mary ann", "van der berg")
        for form in case_forms(" ".join(tokens)):
            scan(NAME, "first", form)
            scan(NAME, "last", form)
    for split in range(1, len(tokens)):
        head, tail = " ".join(tokens[:split]), " ".join(tokens[split:])
        for form in case_forms(head):  # "ada lov" as first + last, and "lovelace ada" as last + first
            scan(NAME, "first", form, "last", tail)
            scan(NAME, "last", form, "first", tail)
    if query.email:
        scan(EMAIL, "email", query.email)
    for prefix in query.phones:
        scan(PHONE, "phone", prefix)
    return tuple(arms), params


def _sort_key(word: str, rank: int, first: str | None, last: str | None, customer_id: int) -> tuple[Any, ...]:
    exact = word.lower() in ((first or "").lower(), (last or "").lower())
    return (rank, not exact, (last or "").lower(), (first or "").lower(), customer_id)


def _similar_where(names: Names, tokens: tuple[str, ...], postgres: bool) -> ColumnElement[bool] | None:
    """Customers whose names are close spellings of the words typed (first and last word), or None."""
    first, last = _byte_order(Customer.first_name, postgres), _byte_order(Customer.last_name, postgres)
    heads = names.close_to(tokens[0])
    if not heads:
        return None
    if len(tokens) == 1:
        return or_(first.in_(heads), last.in_(heads))
    tails = names.close_to(tokens[-1])
    if not tails:
        return None
    return or_(and_(first.in_(heads), last.in_(tails)), and_(last.in_(heads), first.in_(tails)))


def search(session: Session, raw: str, *, limit: int = DEFAULT_LIMIT, region: str = "US",
           vocabulary: NameVocabulary | None = None) -> SearchResult:
    """Customers whose first or last name, e-mail or phone starts with what was typed; then similar names.

    At most ``limit`` customers (1 to 50) come back: matches on a name first (an exact name before a
    longer one), then e-mail and phone, each by last and first name; then, if room is left and a
    ``vocabulary`` is given, customers whose names are a typo or two away. Costs two queries (three
    with similar names; two more when the vocabulary is (re)loaded), however many customers there are.
    """
    query = normalise_query(raw, region=region)
    limit = max(1, min(limit, MAX_LIMIT))
    if query.empty:
        return SearchResult(query=query.text, hits=[], similar=[], more=False)
    postgres = _is_postgres(session)
    arms, params = _plan(query)
    params["n"] = limit + 1  # one more than shown, to know whether there are more
    best: dict[int, tuple[tuple[Any, ...], str]] = {}
    word = query.tokens[0] if query.tokens else query.text
    for customer_id, rank, first, last in session.execute(_statement(arms, postgres), params):
        key = _sort_key(word, int(rank), first, last, customer_id)
        if customer_id not in best or key < best[customer_id][0]:
            best[customer_id] = (key, _MATCHED[int(rank)])
    ordered = sorted(best, key=lambda i: best[i][0])
    more = len(ordered) > limit
    chosen = ordered[:limit]
    similar_ids: list[int] = []
    if len(chosen) < limit and query.tokens and vocabulary is not None:
        where = _similar_where(vocabulary.names(session), query.tokens, postgres)
        if where is not None:
            # Look the spellings up first (capped, no order: each is an index lookup), then sort the few found;
            # ordering before the cap would let the database walk a whole name index to fill the page.
            found = select(Customer.id, Customer.first_name, Customer.last_name).where(where)
            if best:
                found = found.where(Customer.id.not_in(list(best)))
            capped = found.limit(SIMILAR_CAP).subquery()
            stmt = (select(capped.c.id).order_by(capped.c.last_name, capped.c.first_name, capped.c.id)
                    .limit(limit - len(chosen)))
            similar_ids = list(session.scalars(stmt))
    hits = _details(session, [*chosen, *similar_ids])
    return SearchResult(
        query=query.text,
        hits=[_hit(hits[i], best[i][1]) for i in chosen if i in hits],
        similar=[_hit(hits[i], SIMILAR) for i in similar_ids if i in hits],
        more=more,
    )


@lru_cache(maxsize=1)
def _details_statement() -> Select[Any]:
    newest = (select(ScoreRun.id).order_by(ScoreRun.observation_end.desc(), ScoreRun.id.desc()).limit(1)
              .scalar_subquery())
    return (select(Customer.id, Customer.first_name, Customer.last_name, Customer.email, Customer.phone,
                   Customer.city, CustomerScore.segment)
            .outerjoin(CustomerScore, and_(CustomerScore.customer_id == Customer.id, CustomerScore.run_id == newest))
            .where(Customer.id.in_(bindparam("ids", expanding=True))))


def _details(session: Session, ids: list[int]) -> dict[int, Any]:
    """Name, contact, city and segment in the newest scoring run of these customers (one query)."""
    if not ids:
        return {}
    return {row.id: row for row in session.execute(_details_statement(), {"ids": ids})}


def _hit(row: Any, matched: str) -> SearchHit:
    name = " ".join(p for p in (row.first_name, row.last_name) if p) or row.email or row.phone or f"Customer #{row.id}"
    return SearchHit(id=row.id, name=name, email=row.email, phone=row.phone, city=row.city, segment=row.segment,
                     matched=matched)
