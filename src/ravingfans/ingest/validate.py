"""Column mapping and vectorised validation: text cells in, typed columns and row problems out.

Every check names the file line, the column as the file spells it, the bad value and what would be
valid. Checks run on whole batches with Polars expressions (fast enough for million-row ledgers);
the few that need a library per value (phone numbers, lists) run once per distinct value.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import polars as pl

from ravingfans.errors import ImportFailed
from ravingfans.ingest.layouts import FIELDS, KEY, REQUIRED, SHOPIFY_CHANNELS, Kind, Layout
from ravingfans.ingest.normalize import normalize_phone
from ravingfans.ingest.readers import ROW, Source, unique_names

TEXT_LIMITS = {"notes": 20_000}
DEFAULT_TEXT_LIMIT = 200
MONEY_DIGITS = 13
FORMULA_PREFIXES = ("=", "+", "-", "@")

_AWARE = ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z")
_NAIVE = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_BOOL = {"yes": True, "y": True, "true": True, "1": True, "x": True, "subscribed": True,
         "no": False, "n": False, "false": False, "0": False, "not_subscribed": False, "unsubscribed": False}


@dataclass
class Plan:
    """Which column of the file feeds which field, and what was ignored."""

    kind: Kind
    layout: Layout
    source_of: dict[str, str]  # canonical field -> column name in the batch frames
    ignored: list[str] = field(default_factory=list)

    def column(self, name: str) -> str:
        """The file's own spelling of a field's column, for messages."""
        return self.source_of.get(name, name)


@dataclass
class Context:
    """What validation needs to know about the business and the file."""

    zone: ZoneInfo
    region: str = "US"
    comma_decimal: bool = False
    date_format: str | None = None


@dataclass
class Checked:
    """A validated batch: typed canonical columns for every row, and the problems found."""

    frame: pl.DataFrame
    problems: list[tuple[int, str, str, str]]  # (row, column, value, message)
    bad_rows: set[int]
    warnings: list[str] = field(default_factory=list)


def parse_mapping(pairs: list[str], kind: Kind) -> dict[str, str]:
    """``SOURCE=TARGET`` pairs (from --map or a mapping file) as {source header: field}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        text = pair.strip()
        if not text or text.startswith("#"):
            continue
        if "=" not in text:
            raise ImportFailed(f"Mapping {pair!r} is not of the form SOURCE=TARGET.",
                               hint='Example: --map "E-Mail=email".')
        src, _, target = text.rpartition("=")
        target = target.strip()
        if target not in FIELDS[kind]:
            close = difflib.get_close_matches(target, FIELDS[kind], n=1)
            raise ImportFailed(
                f"Mapping {pair!r} names {target!r}, which is not a {kind} field"
                + (f" (did you mean {close[0]!r}?)" if close else "") + ".",
                hint=f"{kind} fields: {', '.join(FIELDS[kind])}.",
            )
        mapping[src.strip()] = target
    return mapping


def plan_columns(source: Source, layout: Layout, kind: Kind, mapping: dict[str, str]) -> Plan:
    """Match the file's header to fields; fail with a clear message when required ones are missing."""
    header = source.header
    names = unique_names(header)
    dupes = sorted({h for h in header if header.count(h) > 1 and h})
    if dupes:
        raise ImportFailed(f"{source.path.name}: the header names {', '.join(repr(d) for d in dupes)} more than once.",
                           hint="Rename or delete the repeated columns so each name appears once.")
    by_lower = {h.strip().lower(): n for h, n in zip(header, names)}
    source_of: dict[str, str] = {}
    for src, target in mapping.items():
        if src.lower() not in by_lower:
            raise ImportFailed(f"--map names column {src!r}, which is not in {source.path.name}.",
                               hint=f"Its columns are: {', '.join(header)}.")
        source_of[target] = by_lower[src.lower()]
    for name, spellings in layout.aliases(kind).items():
        if name in source_of:
            continue
        for spelling in spellings:
            if spelling.lower() in by_lower:
                source_of[name] = by_lower[spelling.lower()]
                break
    if kind == "customers" and layout.name == "shopify" and "customer_id" not in source_of and "email" in source_of:
        source_of["customer_id"] = source_of["email"]  # older Shopify exports have no id column
    missing = [r for r in REQUIRED[kind] if r not in source_of]
    if missing:
        used = set(source_of.values())
        spare = [h for h, n in zip(header, names) if n not in used]
        hints = []
        for m in missing:
            close = difflib.get_close_matches(m, spare, n=1, cutoff=0.5)
            if close:
                hints.append(f'--map "{close[0]}={m}"')
        looks_shopify = layout.name == "generic" and any(h in header for h in ("Lineitem quantity", "First Name", "Name"))
        hint = f"Required columns for {kind} ({layout.name} layout): {', '.join(REQUIRED[kind])}."
        if hints:
            hint += f" If the file names them differently, map them, e.g. {' '.join(hints)}."
        if looks_shopify:
            hint += " This looks like a Shopify export: add --format shopify."
        raise ImportFailed(
            f"{source.path.name} is missing required column(s) {', '.join(repr(m) for m in missing)}. "
            f"Its columns are: {', '.join(header)}.",
            hint=hint,
        )
    used = set(source_of.values())
    ignored = [h for h, n in zip(header, names) if n not in used and h]
    return Plan(kind=kind, layout=layout, source_of=source_of, ignored=ignored)


# ---- converters: (raw non-empty strings) -> (value, error message or null) ----

Converter = Callable[[pl.Series, Context], tuple[pl.Series, pl.Series]]


def _err(ok: pl.Series, message: str) -> pl.Series:
    return pl.select(pl.when(ok).then(None).otherwise(pl.lit(message))).to_series()


def _text_limit(name: str) -> Converter:
    limit = TEXT_LIMITS.get(name, DEFAULT_TEXT_LIMIT)

    def convert(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
        ok = raw.is_null() | (raw.str.len_chars() <= limit)
        return raw, _err(ok, f"is longer than {limit} characters; shorten it")
    return convert


def _email(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
    value = raw.str.to_lowercase().str.strip_prefix("mailto:")
    ok = raw.is_null() | (value.str.contains(r'^[^@\s<>(),;:"\[\]]+@[^@\s<>(),;:"\[\]]+\.[^@\s<>(),;:"\[\]]{2,}$')
                          & ~value.str.contains("..", literal=True) & (value.str.len_chars() <= 254))
    return value, _err(ok, "is not an e-mail address (expected name@example.com)")


def _per_value(fn: Callable[[str, Context], object]) -> Converter:
    """Apply a Python function once per distinct value; ValueError becomes the row's message."""

    def convert(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
        values: dict[str, object] = {}
        errors: dict[str, str] = {}
        for v in raw.drop_nulls().unique().to_list():
            try:
                values[v] = fn(v, ctx)
            except ValueError as exc:
                errors[v] = str(exc)
        out = raw.replace_strict(values, default=None, return_dtype=pl.String) if values else pl.Series(
            [None] * len(raw), dtype=pl.String)
        msg = raw.replace_strict(errors, default=None, return_dtype=pl.String) if errors else pl.Series(
            [None] * len(raw), dtype=pl.String)
        return out, msg
    return convert


def _phone(value: str, ctx: Context) -> str | None:
    return normalize_phone(value, ctx.region)


_NANP_REGIONS = {"US", "CA", "PR", "GU", "VI", "AS", "MP"}


def _phones(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
    """Phone numbers to E.164. North American numbers in the usual shapes are read vectorised (the
    same answer libphonenumber gives, a hundred times faster); everything else goes through
    libphonenumber once per distinct value."""
    digits = raw.str.replace_all(r"[\s().\-]", "")
    if ctx.region in _NANP_REGIONS:
        nanp = digits.str.extract(r"^(?:\+?1)?([2-9]\d{2}[2-9]\d{6})$", 1)
    else:
        nanp = digits.str.extract(r"^\+1([2-9]\d{2}[2-9]\d{6})$", 1)
    fast = pl.select(pl.lit("+1") + nanp).to_series()
    rest = pl.select(pl.when(nanp.is_null()).then(raw).otherwise(None)).to_series()
    slow_value, slow_message = _per_value(_phone)(rest, ctx)
    return pl.select(pl.coalesce(fast, slow_value)).to_series(), slow_message


def _split_list(value: str, ctx: Context) -> str:
    sep = ";" if ";" in value else ","
    items = [p.strip() for p in value.split(sep) if p.strip()]
    if any(len(i) > 100 for i in items):
        raise ValueError("has an item longer than 100 characters")
    return json.dumps(items, ensure_ascii=False)


def _split_mapping(value: str, ctx: Context) -> str:
    pairs = {}
    for part in value.replace(",", ";").split(";"):
        if not part.strip():
            continue
        if "=" not in part and ":" not in part:
            raise ValueError(f"part {part.strip()!r} is not name=value (expected e.g. 'shoe=42; shirt=M')")
        key, _, val = part.replace(":", "=", 1).partition("=")
        if not key.strip() or not val.strip():
            raise ValueError(f"part {part.strip()!r} needs both a name and a value (e.g. 'shoe=42')")
        pairs[key.strip().lower()] = val.strip()
    return json.dumps(pairs, ensure_ascii=False)


def _country(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
    value = raw.str.to_uppercase()
    ok = raw.is_null() | value.str.contains(r"^[A-Z]{2}$")
    return value, _err(ok, "is not a 2-letter country code (e.g. US, DE, GB)")


def _bool(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
    value = raw.str.to_lowercase().replace_strict(_BOOL, default=None, return_dtype=pl.Boolean)
    ok = raw.is_null() | value.is_not_null()
    return value, _err(ok, "is not yes or no")


def _int(positive: bool) -> Converter:
    def convert(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
        text = raw.str.replace(r"\.0+$", "")
        shaped = text.str.contains(r"^[+-]?\d{1,9}$")
        value = pl.select(pl.when(shaped).then(text).otherwise(None)).to_series().cast(pl.Int64)
        if positive:
            ok = raw.is_null() | (value > 0).fill_null(False)
            message = "must be a whole number above 0 (record a return as a positive quantity with kind=return)"
        else:
            ok = raw.is_null() | value.is_not_null()
            message = "is not a whole number"
        return value, _err(ok, message)
    return convert


def _money(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
    text = raw.str.replace_all(r"[\s$€£¥]", "")
    if ctx.comma_decimal:
        text = text.str.replace(r"^(-?\d+),(\d{1,2})$", "${1}.${2}")
    thousands = text.str.contains(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
    text = pl.select(pl.when(thousands).then(text.str.replace_all(",", "", literal=True)).otherwise(text)).to_series()
    parts = text.str.extract_groups(rf"^(-?)(\d{{1,{MONEY_DIGITS}}})(?:\.(\d{{1,2}}))?$")
    sign, whole, frac = parts.struct.field("1"), parts.struct.field("2"), parts.struct.field("3")
    cents = whole.cast(pl.Int64) * 100 + frac.fill_null("0").str.pad_end(2, "0").cast(pl.Int64)
    value = pl.select(pl.when(sign == "-").then(-cents).otherwise(cents)).to_series()
    too_precise = text.str.contains(r"^-?\d+\.\d{3,}$")
    ok = raw.is_null() | value.is_not_null()
    message = pl.select(
        pl.when(ok).then(None)
        .when(too_precise).then(pl.lit("has more than 2 decimal places; round it to cents"))
        .otherwise(pl.lit("is not an amount of money (expected e.g. 19.99)"))
    ).to_series()
    return value, message


def _date(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
    fmts = (ctx.date_format,) if ctx.date_format else ("%Y-%m-%d", "%Y/%m/%d")
    value = pl.select(pl.coalesce([raw.str.to_date(f, strict=False) for f in fmts])).to_series()
    ok = raw.is_null() | value.is_not_null()
    expected = ctx.date_format or "YYYY-MM-DD"
    return value, _err(ok, f"is not a date (expected {expected}, or give --date-format)")


def _datetime(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
    # Lines of one order repeat its time: parse each distinct text once, and stop trying formats
    # as soon as every value has been read (files keep to one format).
    distinct = raw.drop_nulls().unique()
    text = (distinct.str.replace(r"^(\d{4}-\d\d-\d\d)[T ]+", "${1} ")
            .str.replace(r"\s*(Z|UTC|GMT)$", "+0000").str.replace(r"\s*([+-]\d\d):?(\d\d)$", "${1}${2}"))
    naive_fmts = _NAIVE if not ctx.date_format else (ctx.date_format,)
    attempts = [(f, True) for f in _AWARE] + [(f, False) for f in naive_fmts]
    if not ctx.date_format and len(text) and not text.str.contains(r"[+-]\d{4}$").any():
        attempts = [a for a in attempts if not a[1]]  # no offsets in this batch: skip the aware formats
    parsed = pl.Series([None] * len(text), dtype=pl.Datetime("us", "UTC"))
    for fmt, aware in attempts:
        if not parsed.is_null().any():
            break
        if aware:
            got = text.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
        else:
            got = (text.str.to_datetime(fmt, strict=False, time_unit="us")
                   .dt.replace_time_zone(str(ctx.zone), ambiguous="earliest", non_existent="null")
                   .dt.convert_time_zone("UTC"))
        parsed = pl.select(pl.coalesce(parsed, got)).to_series()
    lookup = pl.DataFrame({"raw": distinct, "value": parsed})
    value = pl.DataFrame({"raw": raw}).join(lookup, on="raw", how="left", maintain_order="left")["value"]
    ok = raw.is_null() | value.is_not_null()
    expected = ctx.date_format or "YYYY-MM-DD HH:MM[:SS] with an optional offset such as +01:00"
    return value, _err(ok, f"is not a date and time (expected {expected}, or give --date-format)")


def _choice(options: tuple[str, ...], shopify_channel: bool) -> Converter:
    def convert(raw: pl.Series, ctx: Context) -> tuple[pl.Series, pl.Series]:
        value = raw.str.to_lowercase()
        if shopify_channel:
            value = value.replace_strict(SHOPIFY_CHANNELS, default="other", return_dtype=pl.String)
            value = pl.select(pl.when(raw.is_null()).then(None).otherwise(value)).to_series()
        ok = raw.is_null() | value.is_in(list(options))
        return value, _err(ok, f"is not one of: {', '.join(options)}")
    return convert


def converter_for(name: str, type_name: str, layout: Layout) -> Converter:
    """The converter for a field of the given type."""
    if type_name == "text":
        return _text_limit(name)
    if type_name.startswith("choice:"):
        return _choice(tuple(type_name[7:].split("|")), layout.name == "shopify" and name == "channel")
    return {
        "email": _email,
        "phone": _phones,
        "date": _date,
        "datetime": _datetime,
        "money": _money,
        "int": _int(False),
        "posint": _int(True),
        "bool": _bool,
        "list": _per_value(_split_list),
        "mapping": _per_value(_split_mapping),
        "country": _country,
    }[type_name]


def check_batch(frame: pl.DataFrame, plan: Plan, ctx: Context) -> Checked:
    """Validate one batch: typed canonical columns for every row, plus every problem found."""
    rows = frame[ROW]
    columns: dict[str, pl.Series] = {ROW: rows}
    problems: list[tuple[int, str, str, str]] = []
    bad = pl.Series([False] * len(frame))
    warnings: list[str] = []
    required = set(REQUIRED[plan.kind])
    if plan.kind == "orders" and plan.layout.name == "shopify":
        required.discard("ordered_at")  # continuation rows leave it empty; checked per order later
    if plan.kind == "products" and plan.layout.name == "shopify":
        required -= {"name", "sku"}  # variant rows leave the title empty; SKUs are optional in Shopify
    for name, type_name in FIELDS[plan.kind].items():
        src = plan.source_of.get(name)
        if src is None:
            continue
        raw_full = frame[src].str.strip_chars()
        raw = pl.select(pl.when(raw_full == "").then(None).otherwise(raw_full)).to_series()
        value, message = converter_for(name, type_name, plan.layout)(raw, ctx)
        if name in required:
            message = pl.select(pl.when(raw.is_null()).then(pl.lit("is required; this row leaves it empty"))
                                .otherwise(message)).to_series()
        columns[name] = value.alias(name)
        failed = message.is_not_null()
        if failed.any():
            bad = bad | failed
            picked = pl.DataFrame({"r": rows, "v": raw_full, "m": message}).filter(failed)
            problems.extend((r, src, v, m) for r, v, m in picked.iter_rows())
        if type_name == "text" and name in ("first_name", "last_name", "notes", "product_name", "name", "customer_name"):
            formula = raw.str.starts_with("=") | raw.str.starts_with("@") | raw.str.starts_with("+")
            count = int(formula.fill_null(False).sum())
            if count:
                warnings.append(f"{count} value(s) in column {src!r} look like spreadsheet formulas; stored as text, "
                                "and neutralised when exported to CSV or XLSX")
    bad_rows = set(rows.filter(bad).to_list()) if bad.any() else set()
    return Checked(frame=pl.DataFrame(columns), problems=problems, bad_rows=bad_rows, warnings=warnings)


def key_field(kind: Kind) -> str:
    """The field that identifies a record of ``kind`` in its source."""
    return KEY[kind]
