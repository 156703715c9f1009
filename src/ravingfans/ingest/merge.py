"""Set-based merges from a staging table into the real tables, one function pair per kind.

``check_*`` finds the problems only the whole file can show (an id twice, an order whose lines
disagree, an unknown referrer); ``merge_*`` then creates, updates or leaves each record, by
comparing content hashes so a re-import of the same file changes nothing. The SQL runs inside the
database (portable between SQLite and PostgreSQL), so a million lines never pass through Python
twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Constraint, Index, UniqueConstraint, text
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from ravingfans.db.models import Order, OrderLine
from ravingfans.ingest.staging import STAGE_TABLE
from ravingfans.services import restock, restock_holds

Problem = tuple[int, str | None, str | None, str]  # (src_row, column, value, message)


@dataclass
class MergeCounts:
    """What a merge did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    customers_created: int = 0


def _rows(conn: Connection, sql: str, **params: object) -> list[tuple]:
    return [tuple(r) for r in conn.execute(text(sql), params)]


def _scalar(conn: Connection, sql: str, **params: object) -> int:
    return int(conn.execute(text(sql), params).scalar() or 0)


def _json_default(conn: Connection, literal: str) -> str:
    return f"CAST('{literal}' AS JSON)" if conn.dialect.name == "postgresql" else f"'{literal}'"


def db_time(conn: Connection, moment: datetime) -> object:
    """A timestamp as this database stores it (SQLAlchemy's SQLite text form; aware on PostgreSQL)."""
    if conn.dialect.name == "sqlite":
        return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def delete_rows(conn: Connection, kind: str, rows: set[int]) -> None:
    """Drop rejected rows from the staging table (``--skip-invalid``)."""
    if not rows:
        return
    table = STAGE_TABLE[kind]  # type: ignore[index]
    ordered = sorted(rows)
    for i in range(0, len(ordered), 5000):
        chunk = ordered[i:i + 5000]
        conn.execute(text(f"DELETE FROM {table} WHERE src_row IN ({', '.join(str(int(r)) for r in chunk)})"))


# ---------------------------------------------------------------- customers

def check_customers(conn: Connection, source: str, column: dict[str, str], *,
                    skipping: bool = False) -> list[Problem]:
    """Ids repeated in the file, unknown or self referrers, referral circles (``skipping``: as --skip-invalid)."""
    problems: list[Problem] = []
    for row, cid, first in _rows(conn, """
        SELECT s.src_row, s.customer_id, f.r FROM stg_customers s
        JOIN (SELECT customer_id, MIN(src_row) AS r FROM stg_customers GROUP BY customer_id HAVING COUNT(*) > 1) f
          ON s.customer_id = f.customer_id
        WHERE s.src_row <> f.r ORDER BY s.src_row"""):
        problems.append((row, column["customer_id"], cid,
                         f"the same customer_id is already on line {first + 2}; each customer once per file"))
    if "referred_by" in column:
        for row, ref, cid in _rows(conn, """
            SELECT s.src_row, s.referred_by, s.customer_id FROM stg_customers s
            WHERE s.referred_by IS NOT NULL AND (s.referred_by = s.customer_id OR (
              NOT EXISTS (SELECT 1 FROM stg_customers x WHERE x.customer_id = s.referred_by)
              AND NOT EXISTS (SELECT 1 FROM customer_identities ci
                              WHERE ci.source = :src AND ci.external_id = s.referred_by)))
            ORDER BY s.src_row""", src=source):
            message = ("a customer cannot refer themselves" if ref == cid else
                       "is not a customer_id in this file or in earlier imports from this source")
            problems.append((row, column["referred_by"], ref, message))
        left_out = {row for row, *_ in problems}
        problems += referral_circles(conn, source, column["referred_by"], left_out=left_out, skipping=skipping)
    return problems


Node = tuple[str, object]  # ("id", customer id on file) or ("ext", a new customer's id in the file)


def referral_circles(conn: Connection, source: str, column: str, *, left_out: Collection[int] = (),
                     skipping: bool = False) -> list[Problem]:
    """Rows whose referrer would, after the merge, be among their own referrers (A by B, B by A; or longer).

    The forms and the API refuse such a circle (services.word_of_mouth.check_referral); an import must too.
    The ledger has none, so a circle runs through at least one row of the file that names a referrer: from
    each, the chain of referrers is followed as it will stand after the merge, the file's links in place of
    those on file, reading customers' links from the database a level at a time. Rows in ``left_out``
    (already rejected) count as absent. With ``skipping`` the rows of a circle are left out too, which gives
    their customers back the links on file; the walk repeats until no circle remains.
    """
    staged = [r for r in _rows(conn, """SELECT s.src_row, s.customer_id, s.referred_by,
            COALESCE(ci.customer_id, (SELECT MIN(c.id) FROM customers c WHERE c.email = s.email))
        FROM stg_customers s LEFT JOIN customer_identities ci ON ci.source = :src AND ci.external_id = s.customer_id
        WHERE s.referred_by IS NOT NULL
           OR s.customer_id IN (SELECT x.referred_by FROM stg_customers x WHERE x.referred_by IS NOT NULL)
        ORDER BY s.src_row""", src=source) if r[0] not in left_out]
    node_of: dict[str, Node] = {}
    for _, cid, _, cust in staged:  # a repeated customer_id is merged from its first row
        node_of.setdefault(cid, ("id", cust) if cust is not None else ("ext", cid))
    outside = sorted({ref for _, _, ref, _ in staged if ref is not None and ref not in node_of})
    for i in range(0, len(outside), 1000):
        chunk = outside[i:i + 1000]
        marks = ", ".join(f":p{j}" for j in range(len(chunk)))
        for external_id, cust in conn.execute(text(f"""SELECT external_id, customer_id FROM customer_identities
                WHERE source = :src AND external_id IN ({marks})"""), {"src": source, **{f"p{j}": v for j, v in
                                                                                     enumerate(chunk)}}):
            node_of[external_id] = ("id", cust)
    parent: dict[Node, Node | None] = {}
    row_of: dict[Node, tuple[int, str, str]] = {}
    for row, cid, ref, _ in staged:
        node = node_of[cid]
        if ref is not None and ref != cid and ref in node_of and node not in row_of:
            parent[node] = node_of[ref]
            row_of[node] = (row, cid, ref)
    _links_on_file(conn, parent, set(parent.values()))
    problems: list[Problem] = []
    while True:
        circles = _circles(parent, row_of)
        for circle in circles:
            names = [row_of[n][1] if n in row_of else f"customer #{n[1]}" for n in circle]
            told = ", ".join(f"{a} referred by {b}" for a, b in zip(names, names[1:] + names[:1], strict=True))
            problems += [(row_of[n][0], column, row_of[n][2], f"would make a referral circle ({told}); a customer "
                          "cannot be among their own referrers: fix or remove one of these referrals")
                         for n in circle if n in row_of]
        if not circles or not skipping:
            return sorted(problems)
        gone = [n for circle in circles for n in circle if n in row_of]
        for node in gone:  # the row is left out: its customer keeps the link on file, a new one is not created
            del row_of[node], parent[node]
        _links_on_file(conn, parent, set(gone))


def _links_on_file(conn: Connection, parent: dict[Node, Node | None], wanted: set[Node | None]) -> None:
    """Add the stored referrer of each customer reached from ``wanted`` that has no link yet, level by level."""
    frontier = {n for n in wanted if n is not None and n not in parent}
    while frontier:
        parent.update({node: None for node in frontier})
        ids = sorted(cast(int, value) for kind, value in frontier if kind == "id")
        for i in range(0, len(ids), 1000):
            listed = ", ".join(str(v) for v in ids[i:i + 1000])
            for cid, ref_id in conn.execute(text(f"SELECT id, referred_by_id FROM customers WHERE id IN ({listed})")):
                parent[("id", cid)] = ("id", ref_id) if ref_id is not None else None
        frontier = {p for p in parent.values() if p is not None and p not in parent}


def _circles(parent: dict[Node, Node | None], row_of: dict[Node, tuple[int, str, str]]) -> list[list[Node]]:
    """Every circle of referrers reachable from a row of the file (each node has at most one referrer)."""
    circles: list[list[Node]] = []
    done: set[Node] = set()
    for start in row_of:
        path: list[Node] = []
        seen: dict[Node, int] = {}
        node: Node | None = start
        while node is not None and node not in done and node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = parent.get(node)
        if node is not None and node in seen:  # this walk came back to itself: the circle is path[seen[node]:]
            circles.append(path[seen[node]:])
        done.update(path)
    return circles


_CUSTOMER_COLS = ("first_name", "last_name", "email", "phone", "address_line1", "address_line2", "city",
                  "region", "postal_code", "country", "birthday", "language", "tags", "likes", "dislikes",
                  "sizes", "notes")
_JSON_DEFAULTS = {"tags": "[]", "likes": "[]", "dislikes": "[]", "sizes": "{}"}


def merge_customers(conn: Connection, source: str, present: set[str], now: datetime,
                    consent_source: str, consent_column: str | None) -> MergeCounts:
    """Create, update or leave each customer of the file; record consent changes; link referrers."""
    stamp = db_time(conn, now)
    conn.execute(text("ALTER TABLE stg_customers ADD COLUMN cust BIGINT"))
    conn.execute(text("ALTER TABLE stg_customers ADD COLUMN old_hash BIGINT"))
    conn.execute(text("""UPDATE stg_customers SET cust = ci.customer_id, old_hash = ci.row_hash
        FROM customer_identities ci WHERE ci.source = :src AND ci.external_id = stg_customers.customer_id"""),
                 {"src": source})
    # Same e-mail already on file (from another source, or created from orders): the same person.
    conn.execute(text("""UPDATE stg_customers SET cust = (SELECT MIN(c.id) FROM customers c WHERE c.email = stg_customers.email)
        WHERE cust IS NULL AND email IS NOT NULL"""))
    counts = MergeCounts()
    counts.unchanged = _scalar(conn, "SELECT COUNT(*) FROM stg_customers WHERE cust IS NOT NULL AND old_hash = row_hash")
    counts.updated = _scalar(conn, """SELECT COUNT(*) FROM stg_customers
        WHERE cust IS NOT NULL AND (old_hash IS NULL OR old_hash <> row_hash)""")
    counts.created = _scalar(conn, "SELECT COUNT(*) FROM stg_customers WHERE cust IS NULL")

    def value(c: str) -> str:
        if c in _JSON_DEFAULTS:
            return f"COALESCE(s.{c}, {_json_default(conn, _JSON_DEFAULTS[c])})" if c in present else _json_default(
                conn, _JSON_DEFAULTS[c])
        return f"s.{c}"

    cols = [c for c in _CUSTOMER_COLS if c in present]
    if cols:
        sets = ", ".join(f"{c} = {value(c)}" for c in cols)
        conn.execute(text(f"""UPDATE customers SET {sets}, updated_at = :now FROM stg_customers s
            WHERE customers.id = s.cust AND (s.old_hash IS NULL OR s.old_hash <> s.row_hash)"""), {"now": stamp})
    before = _scalar(conn, "SELECT COALESCE(MAX(id), 0) FROM customers")
    values = [value(c) for c in _CUSTOMER_COLS if c in present or c in _JSON_DEFAULTS]
    names = [c for c in _CUSTOMER_COLS if c in present or c in _JSON_DEFAULTS]
    conn.execute(text(f"""INSERT INTO customers ({', '.join(names)}, personal_details, attributes, source, external_id,
            created_at, updated_at)
        SELECT {', '.join(values)}, {_json_default(conn, '{}')}, {_json_default(conn, '{}')}, CAST(:src AS VARCHAR(40)), s.customer_id, :now, :now
        FROM stg_customers s WHERE s.cust IS NULL ORDER BY s.src_row"""), {"src": source, "now": stamp})
    conn.execute(text("""UPDATE stg_customers SET cust = c.id FROM customers c
        WHERE stg_customers.cust IS NULL AND c.id > :before AND c.source = :src AND c.external_id = stg_customers.customer_id"""),
                 {"before": before, "src": source})
    conn.execute(text("""INSERT INTO customer_identities (customer_id, source, external_id, row_hash)
        SELECT s.cust, CAST(:src AS VARCHAR(40)), s.customer_id, s.row_hash FROM stg_customers s
        WHERE NOT EXISTS (SELECT 1 FROM customer_identities ci WHERE ci.source = :src AND ci.external_id = s.customer_id)"""),
                 {"src": source})
    conn.execute(text("""UPDATE customer_identities SET row_hash = s.row_hash FROM stg_customers s
        WHERE customer_identities.source = :src AND customer_identities.external_id = s.customer_id
          AND (customer_identities.row_hash IS NULL OR customer_identities.row_hash <> s.row_hash)"""), {"src": source})
    if "email_consent" in present:
        conn.execute(text("""INSERT INTO consents (customer_id, purpose, channel, granted, at, source, wording)
            SELECT s.cust, 'marketing', 'email', s.email_consent, :now, CAST(:csrc AS VARCHAR(200)),
                   CAST(:wording AS TEXT) || CASE WHEN s.email_consent THEN 'yes' ELSE 'no' END
            FROM stg_customers s JOIN customers c ON c.id = s.cust
            WHERE s.email_consent IS NOT NULL AND (c.email_consent IS NULL OR c.email_consent <> s.email_consent)
            ORDER BY s.src_row"""),
                     {"now": stamp, "csrc": consent_source,
                      "wording": f"Imported from the {source} export; its column {consent_column!r} said "})
        conn.execute(text("""UPDATE customers SET email_consent = s.email_consent FROM stg_customers s
            WHERE customers.id = s.cust AND s.email_consent IS NOT NULL
              AND (customers.email_consent IS NULL OR customers.email_consent <> s.email_consent)"""))
    if "referred_by" in present:
        conn.execute(text("""UPDATE customers SET referred_by_id = ci.customer_id
            FROM stg_customers s JOIN customer_identities ci ON ci.source = :src AND ci.external_id = s.referred_by
            WHERE customers.id = s.cust AND s.referred_by IS NOT NULL"""), {"src": source})
    return counts


# ---------------------------------------------------------------- products

def check_products(conn: Connection, column: dict[str, str]) -> list[Problem]:
    """SKUs repeated in the file; products with no name on any row.

    Variant rows that leave the product's name, brand and category empty (as Shopify's export
    does after a product's first row) take them from that first row.
    """
    for name in ("name", "category", "brand"):
        conn.execute(text(f"""UPDATE stg_products SET {name} = (SELECT x.{name} FROM stg_products x
            WHERE x.product_id = stg_products.product_id AND x.{name} IS NOT NULL ORDER BY x.src_row LIMIT 1)
            WHERE {name} IS NULL AND product_id IS NOT NULL"""))
    problems: list[Problem] = [
        (row, column["sku"], sku, f"the same sku is already on line {first + 2}; each variant once per file")
        for row, sku, first in _rows(conn, """
        SELECT s.src_row, s.sku, f.r FROM stg_products s
        JOIN (SELECT sku, MIN(src_row) AS r FROM stg_products GROUP BY sku HAVING COUNT(*) > 1) f ON s.sku = f.sku
        WHERE s.src_row <> f.r ORDER BY s.src_row""")]
    problems += [(row, column.get("name", "name"), "", "the product has no name on this or any row with its "
                  f"{column.get('product_id', 'product_id')}; name is required")
                 for (row,) in _rows(conn, "SELECT src_row FROM stg_products WHERE name IS NULL ORDER BY src_row")]
    return problems


def merge_products(conn: Connection, source: str, present: set[str], now: datetime) -> MergeCounts:
    """Create or update products (grouped by product_id) and their variants (by SKU)."""
    stamp = db_time(conn, now)
    conn.execute(text("UPDATE stg_products SET product_id = name WHERE product_id IS NULL"))
    conn.execute(text("ALTER TABLE stg_products ADD COLUMN variant_pk BIGINT"))
    conn.execute(text("ALTER TABLE stg_products ADD COLUMN old_hash BIGINT"))
    conn.execute(text("ALTER TABLE stg_products ADD COLUMN product_pk BIGINT"))
    conn.execute(text("""UPDATE stg_products SET variant_pk = v.id, old_hash = v.row_hash
        FROM product_variants v WHERE v.sku = stg_products.sku"""))
    counts = MergeCounts(
        created=_scalar(conn, "SELECT COUNT(*) FROM stg_products WHERE variant_pk IS NULL"),
        unchanged=_scalar(conn, "SELECT COUNT(*) FROM stg_products WHERE variant_pk IS NOT NULL AND old_hash = row_hash"),
        updated=_scalar(conn, """SELECT COUNT(*) FROM stg_products WHERE variant_pk IS NOT NULL
            AND (old_hash IS NULL OR old_hash <> row_hash)"""),
    )
    first = "SELECT MIN(src_row) FROM stg_products GROUP BY product_id"
    conn.execute(text(f"""INSERT INTO products (source, external_id, name, category, brand, created_at)
        SELECT CAST(:src AS VARCHAR(40)), s.product_id, s.name, s.category, s.brand, :now FROM stg_products s
        WHERE s.src_row IN ({first}) AND NOT EXISTS
          (SELECT 1 FROM products p WHERE p.source = :src AND p.external_id = s.product_id)"""),
                 {"src": source, "now": stamp})
    prod_cols = [c for c in ("name", "category", "brand") if c in present]
    conn.execute(text(f"""UPDATE products SET {', '.join(f'{c} = s.{c}' for c in prod_cols)}
        FROM stg_products s WHERE s.src_row IN ({first}) AND products.source = :src
          AND products.external_id = s.product_id"""), {"src": source})
    conn.execute(text("""UPDATE stg_products SET product_pk = p.id FROM products p
        WHERE p.source = :src AND p.external_id = stg_products.product_id"""), {"src": source})
    var_cols = [c for c in ("size", "colour", "price", "stock") if c in present]
    if "stock" in var_cols:  # before the update: stock coming back for a variant someone waits for is a restock
        restock.record_import_restocks(conn, now=now)
    sets = ", ".join([f"{c} = s.{c}" for c in var_cols] + ["product_id = s.product_pk", "row_hash = s.row_hash"])
    conn.execute(text(f"""UPDATE product_variants SET {sets}, updated_at = :now FROM stg_products s
        WHERE product_variants.id = s.variant_pk AND (s.old_hash IS NULL OR s.old_hash <> s.row_hash)"""), {"now": stamp})
    conn.execute(text("""INSERT INTO product_variants (product_id, sku, size, colour, price, stock, row_hash, updated_at)
        SELECT s.product_pk, s.sku, s.size, s.colour, s.price, COALESCE(s.stock, 0), s.row_hash, :now
        FROM stg_products s WHERE s.variant_pk IS NULL ORDER BY s.src_row"""), {"now": stamp})
    return counts


# ---------------------------------------------------------------- orders

def check_orders(conn: Connection, column: dict[str, str]) -> list[Problem]:
    """Orders whose lines disagree on the order's details, or that have no date on any line."""
    problems: list[Problem] = []
    for order_id, first, rows in _rows(conn, """
        SELECT order_id, MIN(src_row), COUNT(*) FROM stg_orders WHERE header_hash IS NOT NULL
        GROUP BY order_id HAVING COUNT(DISTINCT header_hash) > 1"""):
        problems.append((first, column["order_id"], order_id,
                         f"this order's {rows} lines disagree on the order's details (date, customer, employee, "
                         "channel, location, status); every line of one order must carry the same details "
                         "(or, as in Shopify exports, leave them empty after the first line)"))
    for order_id, first in _rows(conn, """
        SELECT order_id, MIN(src_row) FROM stg_orders GROUP BY order_id HAVING COUNT(header_hash) = 0"""):
        problems.append((first, column.get("ordered_at", "ordered_at"), "",
                         f"order {order_id!r} has no date on any of its lines; ordered_at is required"))
    return problems


def order_rows(conn: Connection, order_ids: set[str]) -> set[int]:
    """Every staged row of the given orders (to reject an order whole, never part of it)."""
    if not order_ids:
        return set()
    found: set[int] = set()
    ids = sorted(order_ids)
    for i in range(0, len(ids), 1000):
        chunk = ids[i:i + 1000]
        marks = ", ".join(f":p{j}" for j in range(len(chunk)))
        found.update(r[0] for r in conn.execute(
            text(f"SELECT src_row FROM stg_orders WHERE order_id IN ({marks})"),
            {f"p{j}": v for j, v in enumerate(chunk)}))
    return found


def build_order_heads(conn: Connection) -> None:
    """One row per staged order: its first line's details, line count, summed hashes and total."""
    conn.execute(text("""CREATE TEMPORARY TABLE stg_heads AS
        SELECT h.*, a.n_lines, a.lines_hash, a.lines_total, a.first_row, a.last_row, CAST(NULL AS BIGINT) AS cust,
               CAST(NULL AS BIGINT) AS order_pk, CAST(NULL AS BIGINT) AS old_hash,
               1 AS write_lines
        FROM (SELECT order_id, MIN(CASE WHEN header_hash IS NOT NULL THEN src_row END) AS r, COUNT(*) AS n_lines,
                     SUM(line_hash) AS lines_hash, SUM(amount) AS lines_total,
                     MIN(src_row) AS first_row, MAX(src_row) AS last_row
              FROM stg_orders GROUP BY order_id) a
        JOIN stg_orders h ON h.order_id = a.order_id AND h.src_row = a.r"""))
    conn.execute(text("CREATE INDEX ix_stg_heads_order ON stg_heads (order_id)"))
    analyze(conn, "stg_heads")


def analyze(conn: Connection, table: str) -> None:
    """Give the planner statistics for a fresh temporary table (PostgreSQL never auto-analyzes them)."""
    conn.execute(text(f"ANALYZE {table}"))


def unknown_customers(conn: Connection, source: str, column: dict[str, str]) -> list[Problem]:
    """Orders naming a customer nobody knows (with --no-create-customers)."""
    _resolve_customers(conn, source)
    col = column.get("customer_id") or column.get("email") or "customer"
    return [(row, col, key, "names a customer who is not on file; import customers first, "
             "or import without --no-create-customers to create them from the order")
            for row, key in _rows(conn, """SELECT src_row, COALESCE(customer_id, email) FROM stg_heads
                WHERE cust IS NULL AND COALESCE(customer_id, email) IS NOT NULL ORDER BY src_row""")]


def _resolve_customers(conn: Connection, source: str) -> None:
    conn.execute(text("""UPDATE stg_heads SET cust = ci.customer_id FROM customer_identities ci
        WHERE ci.source = :src AND ci.external_id = COALESCE(stg_heads.customer_id, stg_heads.email)
          AND stg_heads.cust IS NULL"""), {"src": source})
    # Only heads whose e-mail is on file: setting the others' cust to NULL again rewrote every head (~1.4 s per
    # million lines on PostgreSQL, whose UPDATE writes a new row version even for an unchanged value).
    conn.execute(text("""UPDATE stg_heads SET cust = (SELECT MIN(c.id) FROM customers c WHERE c.email = stg_heads.email)
        WHERE cust IS NULL AND email IS NOT NULL
          AND EXISTS (SELECT 1 FROM customers c WHERE c.email = stg_heads.email)"""))


def merge_orders(conn: Connection, source: str, now: datetime, *, prepare: bool = True,
                 skus_staged: bool = False) -> MergeCounts:
    """Create customers, employees and products the orders name; create, replace or leave each order."""
    stamp = db_time(conn, now)
    if prepare:
        build_order_heads(conn)
    counts = MergeCounts()
    _resolve_customers(conn, source)
    # New customers from the order's e-mail / id and name (first line of their first order wins).
    before = _scalar(conn, "SELECT COALESCE(MAX(id), 0) FROM customers")
    conn.execute(text(f"""INSERT INTO customers (first_name, last_name, email, phone, source, external_id, created_at,
            updated_at, personal_details, likes, dislikes, sizes, attributes, tags)
        SELECT s.first_name, s.last_name, s.email, s.phone, CAST(:src AS VARCHAR(40)), COALESCE(s.customer_id, s.email), :now, :now,
               {_json_default(conn, '{}')}, {_json_default(conn, '[]')}, {_json_default(conn, '[]')},
               {_json_default(conn, '{}')}, {_json_default(conn, '{}')}, {_json_default(conn, '[]')}
        FROM stg_heads s WHERE s.src_row IN (
            SELECT MIN(src_row) FROM stg_heads WHERE cust IS NULL AND COALESCE(customer_id, email) IS NOT NULL
            GROUP BY COALESCE(customer_id, email))
        ORDER BY s.src_row"""), {"src": source, "now": stamp})
    counts.customers_created = _scalar(conn, "SELECT COUNT(*) FROM customers WHERE id > :b", b=before)
    conn.execute(text("""INSERT INTO customer_identities (customer_id, source, external_id)
        SELECT c.id, c.source, c.external_id FROM customers c WHERE c.id > :b"""), {"b": before})
    conn.execute(text("""INSERT INTO customer_identities (customer_id, source, external_id)
        SELECT d.cust, CAST(:src AS VARCHAR(40)), d.customer_id
        FROM (SELECT customer_id, MIN(cust) AS cust FROM stg_heads
              WHERE cust IS NOT NULL AND customer_id IS NOT NULL GROUP BY customer_id) d
        LEFT JOIN customer_identities ci ON ci.source = :src AND ci.external_id = d.customer_id
        WHERE ci.id IS NULL"""), {"src": source})
    _resolve_customers(conn, source)

    conn.execute(text("""INSERT INTO employees (name, source, external_id, active, created_at)
        SELECT e.employee, CAST(:src AS VARCHAR(40)), e.employee, :yes, :now FROM (SELECT DISTINCT employee FROM stg_heads
            WHERE employee IS NOT NULL) e
        WHERE NOT EXISTS (SELECT 1 FROM employees x WHERE x.source = :src AND x.external_id = e.employee)"""),
                 {"src": source, "now": stamp, "yes": True})

    before_p = _scalar(conn, "SELECT COALESCE(MAX(id), 0) FROM products")
    # Each SKU once, then looked up, rather than probing the catalogue for every staged line (bench/RESULTS.md);
    # ``skus_staged``: the importer gathered them while staging (stg_skus, the same rule), sparing a sort of
    # every staged line.
    skus = "stg_skus" if skus_staged else """(SELECT s.sku, MAX(COALESCE(s.product_name, s.sku)) AS name
        FROM stg_orders s WHERE s.sku IS NOT NULL GROUP BY s.sku)"""
    conn.execute(text(f"""INSERT INTO products (source, external_id, name, created_at)
        SELECT CAST(:src AS VARCHAR(40)), g.sku, g.name, :now
        FROM {skus} g
        WHERE NOT EXISTS (SELECT 1 FROM product_variants v WHERE v.sku = g.sku)
          AND NOT EXISTS (SELECT 1 FROM products p WHERE p.source = :src AND p.external_id = g.sku)
        ORDER BY g.sku"""), {"src": source, "now": stamp})
    conn.execute(text("""INSERT INTO product_variants (product_id, sku, stock, updated_at)
        SELECT p.id, p.external_id, 0, :now FROM products p WHERE p.id > :b
          AND NOT EXISTS (SELECT 1 FROM product_variants v WHERE v.sku = p.external_id)"""),
                 {"now": stamp, "b": before_p})

    content = "(stg_heads.header_hash + stg_heads.lines_hash + stg_heads.n_lines)"
    # New orders keep write_lines = 1 from build_order_heads; known ones are compared here, in the same pass
    # (a second UPDATE of every head cost ~3 s per million lines on PostgreSQL, which rewrites each row).
    conn.execute(text(f"""UPDATE stg_heads SET order_pk = o.id, old_hash = o.content_hash,
            write_lines = CASE WHEN o.content_hash IS NULL OR o.content_hash <> {content} THEN 1 ELSE 0 END
        FROM orders o WHERE o.source = :src AND o.external_id = stg_heads.order_id"""), {"src": source})
    analyze(conn, "stg_heads")  # the updates above changed what the planner should know
    counts.created = _scalar(conn, "SELECT COUNT(*) FROM stg_heads WHERE order_pk IS NULL")
    counts.updated = _scalar(conn, "SELECT COUNT(*) FROM stg_heads WHERE order_pk IS NOT NULL AND write_lines = 1")
    counts.unchanged = _scalar(conn, "SELECT COUNT(*) FROM stg_heads WHERE write_lines = 0")
    total = "stg_heads.lines_total - COALESCE(stg_heads.refunded_amount, 0)"
    # Each order's employee is looked up where it is written (an UPDATE of every head to note it first cost ~1.6 s
    # per million lines on PostgreSQL); employees are unique per (source, external_id).
    emp = "(SELECT x.id FROM employees x WHERE x.source = :src AND x.external_id = stg_heads.employee)"
    conn.execute(text(f"""UPDATE orders SET customer_id = stg_heads.cust, employee_id = {emp},
            placed_at = stg_heads.ordered_at, channel = stg_heads.channel, location = stg_heads.location,
            financial_status = stg_heads.status, cancelled_at = stg_heads.cancelled_at, total = {total},
            content_hash = {content}
        FROM stg_heads WHERE orders.id = stg_heads.order_pk AND stg_heads.write_lines = 1"""), {"src": source})
    conn.execute(text("""DELETE FROM order_lines WHERE order_id IN
        (SELECT order_pk FROM stg_heads WHERE order_pk IS NOT NULL AND write_lines = 1)"""))
    with _indexes_built_after(conn):
        conn.execute(text(f"""INSERT INTO orders (source, external_id, customer_id, employee_id, placed_at, channel,
                location, financial_status, cancelled_at, total, content_hash)
            SELECT CAST(:src AS VARCHAR(40)), stg_heads.order_id, stg_heads.cust, x.id, stg_heads.ordered_at,
                   stg_heads.channel, stg_heads.location, stg_heads.status, stg_heads.cancelled_at, {total}, {content}
            FROM stg_heads LEFT JOIN employees x ON x.source = :src AND x.external_id = stg_heads.employee
            WHERE stg_heads.order_pk IS NULL ORDER BY stg_heads.src_row"""), {"src": source})
        if conn.dialect.name == "postgresql":  # just filled in this transaction: without fresh statistics
            analyze(conn, "orders")  # PostgreSQL plans one index probe per order for the joins below
        # The lines join their orders directly (not through an order_pk written back into every head: on
        # PostgreSQL that UPDATE rewrote each head, ~3.5 s per million lines). CROSS JOIN fixes SQLite's loop
        # order (its documented way): each staged head finds its order once, then its lines, never starting from
        # every order of the source, which a daily import into a ledger of millions would otherwise scan;
        # PostgreSQL plans it as the inner join it is.
        # An order whose lines sit together in the file (as every till and Shopify export writes them) has
        # exactly the staged rows first_row..last_row, numbered from their row numbers with no sort; only an
        # order whose lines are scattered pays for ROW_NUMBER's sort (SQLite: 3.7-6.3 -> 2.4-2.8 s for this
        # insert of a million lines, bench/RESULTS.md). Both number lines 1..n in file order. SQLite reads each order's
        # lines as a range of row numbers (its rowid); PostgreSQL, which hashes the staged lines by order
        # instead, was slower through a million range probes.
        lines_of_head = ("s.src_row BETWEEN h.first_row AND h.last_row" if conn.dialect.name == "sqlite"
                         else "s.order_id = h.order_id")
        conn.execute(text(f"""INSERT INTO order_lines (order_id, line_no, kind, variant_id, sku, product_name,
                quantity, unit_price, discount, amount)
            SELECT o.id, s.src_row - h.first_row + 1, s.kind, v.id, s.sku,
                   s.product_name, s.quantity, s.unit_price, COALESCE(s.discount, 0), s.amount
            FROM stg_heads h CROSS JOIN orders o CROSS JOIN stg_orders s
            LEFT JOIN product_variants v ON v.sku = s.sku
            WHERE h.write_lines = 1 AND h.last_row - h.first_row + 1 = h.n_lines AND {lines_of_head}
              AND o.source = :src AND o.external_id = h.order_id"""), {"src": source})
        conn.execute(text("""INSERT INTO order_lines (order_id, line_no, kind, variant_id, sku, product_name,
                quantity, unit_price, discount, amount)
            SELECT o.id, ROW_NUMBER() OVER (PARTITION BY s.order_id ORDER BY s.src_row), s.kind, v.id, s.sku,
                   s.product_name, s.quantity, s.unit_price, COALESCE(s.discount, 0), s.amount
            FROM stg_heads h CROSS JOIN orders o CROSS JOIN stg_orders s
            LEFT JOIN product_variants v ON v.sku = s.sku
            WHERE h.write_lines = 1 AND h.last_row - h.first_row + 1 <> h.n_lines
              AND s.order_id = h.order_id AND o.source = :src AND o.external_id = h.order_id"""), {"src": source})
        conn.execute(text("""INSERT INTO order_lines (order_id, line_no, kind, product_name, quantity, unit_price,
                discount, amount)
            SELECT o.id, h.n_lines + 1, 'refund', 'Refund', 1, -h.refunded_amount, 0, -h.refunded_amount
            FROM stg_heads h CROSS JOIN orders o
            WHERE h.write_lines = 1 AND h.refunded_amount IS NOT NULL AND h.refunded_amount <> 0
              AND o.source = :src AND o.external_id = h.order_id"""), {"src": source})
    restock_holds.release_purchased(conn, now=now)  # a purchase ends the buyer's hold and wait for that variant
    return counts


BULK_LINES = 100_000
"""From this many order lines, if also at least as many as the ledger holds, PostgreSQL builds indexes after."""


def _bulk_load(conn: Connection) -> bool:
    """Whether this merge writes enough order lines, against the ledger's size, to build their indexes after.

    PostgreSQL keeps each index in order row by row as rows arrive and checks a foreign key with one trigger
    query per row: about 12 s of a million-line load for the lines' keys alone (bench/RESULTS.md). Its manual's
    advice for bulk loads ("Populating a Database") is to drop indexes and keys and build them once, over the
    whole set. The price is a lock that holds readers of orders, products and lines off until the import
    commits, so it is taken only for a first load or a backfill at least as large as the ledger; everyday
    imports keep the row-by-row upkeep. SQLite gains nothing from it (measured: within the noise, the index
    builds cost what the upkeep saved), so it keeps its indexes.
    """
    if conn.dialect.name != "postgresql":
        return False
    lines = _scalar(conn, "SELECT COALESCE(SUM(n_lines), 0) FROM stg_heads WHERE write_lines = 1")
    if lines < BULK_LINES:
        return False
    held = _scalar(conn, "SELECT COUNT(*) FROM (SELECT 1 FROM order_lines LIMIT :n) x", n=lines + 1)
    return held <= lines


def _by_name(item: Index | Constraint) -> str:
    return str(item.name)


@contextmanager
def _indexes_built_after(conn: Connection) -> Iterator[None]:
    """Around a bulk insert of orders and lines on PostgreSQL: drop their secondary indexes and the lines' unique
    and foreign keys, then build them again, checked, over the whole set.

    Inside the import's transaction: a failure or a kill leaves every index and key as it was. The orders'
    own foreign keys stay (dropping one locks the customers table, which every page reads, against readers)
    and so does their (source, external_id) key, which the lines' insert looks orders up by.
    """
    if not _bulk_load(conn):
        yield
        return
    lines = OrderLine.__table__
    indexes = sorted([*Order.__table__.indexes, *lines.indexes], key=_by_name)
    constraints: list[Constraint] = sorted((c for c in lines.constraints if isinstance(c, UniqueConstraint)),
                                           key=_by_name)
    constraints += sorted(lines.foreign_key_constraints, key=_by_name)  # added last, checked against the others
    for constraint in constraints:
        conn.execute(DropConstraint(constraint))
    for index in indexes:
        conn.execute(DropIndex(index))
    yield
    for index in indexes:
        conn.execute(CreateIndex(index))
    for constraint in constraints:
        conn.execute(AddConstraint(constraint))
