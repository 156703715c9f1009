"""Load a demo business into a database: only into an empty one or an earlier demo, in one transaction.

Every row the demo writes has source ``demo``; that is how a database is recognised as an earlier
demo. A database holding anything else (customers, orders, products or staff from another source,
or tables that are not ravingfans's) is refused, so the demo can never mix into real data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Integer, Table, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ravingfans.db import write_transaction
from ravingfans.db.migrate import upgrade
from ravingfans.db.models import Base
from ravingfans.demo.model import SOURCE, DemoBusiness
from ravingfans.errors import DatabaseError, ValidationFailed

# Tables whose rows say where they came from; any row here not from the demo makes a database "real".
SOURCED_TABLES = ("customers", "orders", "products", "employees")
_CHUNK = 20_000


class NotADemoDatabase(ValidationFailed):
    """The target database holds data that did not come from the demo; the demo leaves it alone."""

    code = "not_a_demo_database"


class DemoAlreadyLoaded(ValidationFailed):
    """The target already holds a demo business and replacing it was not asked for."""

    code = "demo_already_loaded"


@dataclass
class TargetState:
    """What a database holds, as far as the demo is concerned."""

    kind: Literal["empty", "demo", "foreign"]
    url: str
    demo_customers: int = 0
    foreign_rows: dict[str, int] = field(default_factory=dict)
    foreign_tables: list[str] = field(default_factory=list)

    def refuse_if_foreign(self) -> None:
        """Raise NotADemoDatabase unless the database is empty or an earlier demo."""
        if self.kind != "foreign":
            return
        if self.foreign_tables:
            shown = ", ".join(self.foreign_tables[:5]) + (" ..." if len(self.foreign_tables) > 5 else "")
            what = f"tables that are not a ravingfans database ({shown})"
        else:
            what = ", ".join(f"{n:,} {table}" for table, n in self.foreign_rows.items()) + " that are not from the demo"
        raise NotADemoDatabase(
            f"Refusing to build the demo in {self.url}: it holds {what}.",
            field="database_url",
            hint="The demo only writes to an empty database or to one an earlier `ravingfans demo` built. "
                 "Leave out --database-url to use ./ravingfans-demo.db, or name a new, empty database.",
        )


def inspect_target(engine: Engine) -> TargetState:
    """Classify the database at ``engine`` as empty, an earlier demo, or foreign (someone's real data)."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        tables = set(inspect(engine).get_table_names())
        if not tables:
            return TargetState(kind="empty", url=url)
        unknown = tables - set(Base.metadata.tables) - {"alembic_version"}
        if "alembic_version" not in tables or unknown:
            return TargetState(kind="foreign", url=url, foreign_tables=sorted(unknown or tables))
        foreign: dict[str, int] = {}
        demo = 0
        with engine.connect() as conn:
            for table in SOURCED_TABLES:
                if table not in tables:
                    continue
                n = conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE source <> :s"), {"s": SOURCE}).scalar_one()
                if n:
                    foreign[table] = int(n)
            if "customers" in tables:
                demo = int(conn.execute(text("SELECT COUNT(*) FROM customers WHERE source = :s"),
                                        {"s": SOURCE}).scalar_one())
    except SQLAlchemyError as exc:
        raise DatabaseError(f"Cannot open the demo database {url}: {_reason(exc)}") from None
    if foreign:
        return TargetState(kind="foreign", url=url, demo_customers=demo, foreign_rows=foreign)
    return TargetState(kind="demo" if demo else "empty", url=url, demo_customers=demo)


def _reason(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", None) or exc).strip()[:500]


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(rows), _CHUNK):
        yield rows[i:i + _CHUNK]


def _insert(conn: Connection, name: str, rows: list[dict[str, Any]]) -> None:
    table = Base.metadata.tables[name]
    for chunk in _chunks(rows):
        conn.execute(table.insert(), chunk)


def _next_id(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _wipe(conn: Connection) -> None:
    """Delete every row of every ravingfans table (children first); the schema stays."""
    for table in reversed(Base.metadata.sorted_tables):
        conn.execute(table.delete())


def _reset_sequences(conn: Connection) -> None:
    """On PostgreSQL, move each id sequence past the ids inserted explicitly."""
    for table in Base.metadata.sorted_tables:
        if "id" not in table.c or not isinstance(table.c.id.type, Integer):  # web_sessions' id is a hash
            continue
        highest = f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1"
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence(:t, 'id'), {highest}, false)"), {"t": table.name})


def _write(conn: Connection, b: DemoBusiness) -> None:
    """Insert the whole business with explicit ids (so no id has to be read back)."""
    tables = {name: Base.metadata.tables[name] for name in Base.metadata.tables}
    demo = SOURCE

    first = _next_id(conn, tables["employees"])
    employee_id = {e.key: first + i for i, e in enumerate(b.employees)}
    _insert(conn, "employees", [
        {"id": employee_id[e.key], "name": e.name, "email": e.email, "role": e.role, "active": e.active,
         "source": demo, "external_id": e.key, "created_at": e.created_at}
        for e in b.employees])

    first = _next_id(conn, tables["products"])
    product_id = {p.key: first + i for i, p in enumerate(b.products)}
    _insert(conn, "products", [
        {"id": product_id[p.key], "source": demo, "external_id": p.key, "name": p.name, "category": p.category,
         "brand": p.brand, "created_at": p.created_at}
        for p in b.products])

    first = _next_id(conn, tables["product_variants"])
    variant_id = {v.sku: first + i for i, v in enumerate(b.variants)}
    _insert(conn, "product_variants", [
        {"id": variant_id[v.sku], "product_id": product_id[v.product_key], "sku": v.sku, "size": v.size,
         "colour": v.colour, "price": v.price, "stock": v.stock, "row_hash": None, "updated_at": v.updated_at}
        for v in b.variants])

    first = _next_id(conn, tables["customers"])
    customer_id = {c.key: first + i for i, c in enumerate(b.customers)}
    _insert(conn, "customers", [
        {"id": customer_id[c.key], "first_name": c.first_name, "last_name": c.last_name, "email": c.email,
         "phone": c.phone, "address_line1": c.address_line1, "address_line2": c.address_line2, "city": c.city,
         "region": c.region, "postal_code": c.postal_code, "country": c.country, "birthday": c.birthday,
         "language": c.language, "personal_details": c.personal_details, "likes": c.likes, "dislikes": c.dislikes,
         "sizes": c.sizes, "attributes": {}, "tags": c.tags, "notes": c.notes, "email_consent": c.email_consent,
         "referred_by_id": customer_id[c.referred_by] if c.referred_by else None, "source": demo,
         "external_id": c.key, "row_hash": None, "created_at": c.created_at, "updated_at": c.updated_at}
        for c in b.customers])
    _insert(conn, "customer_identities", [
        {"customer_id": customer_id[c.key], "source": demo, "external_id": c.key} for c in b.customers])
    _insert(conn, "consents", [
        {"customer_id": customer_id[c.customer_key], "purpose": c.purpose, "channel": c.channel, "granted": c.granted,
         "at": c.at, "source": c.source, "wording": c.wording}
        for c in b.consents])
    _insert(conn, "notes", [
        {"customer_id": customer_id[n.customer_key], "author": n.author, "body": n.body, "created_at": n.created_at}
        for n in b.notes])

    first = _next_id(conn, tables["orders"])
    order_id = {o.key: first + i for i, o in enumerate(b.orders)}
    _insert(conn, "orders", [
        {"id": order_id[o.key], "source": demo, "external_id": o.key, "customer_id": customer_id[o.customer_key],
         "employee_id": employee_id[o.employee_key] if o.employee_key else None, "placed_at": o.placed_at,
         "channel": o.channel, "location": o.location, "financial_status": o.financial_status,
         "cancelled_at": o.cancelled_at, "total": o.total, "content_hash": None}
        for o in b.orders])
    _insert(conn, "order_lines", [
        {"order_id": order_id[ln.order_key], "line_no": ln.line_no, "kind": ln.kind,
         "variant_id": variant_id.get(ln.sku) if ln.sku else None, "sku": ln.sku, "product_name": ln.product_name,
         "quantity": ln.quantity, "unit_price": ln.unit_price, "discount": ln.discount, "amount": ln.amount}
        for ln in b.lines])
    _insert(conn, "interactions", [
        {"customer_id": customer_id[i.customer_key],
         "employee_id": employee_id[i.employee_key] if i.employee_key else None, "occurred_at": i.occurred_at,
         "channel": i.channel, "kind": i.kind, "rating": i.rating, "note": i.note, "created_at": i.occurred_at}
        for i in b.interactions])
    _write_survey(conn, b, customer_id, employee_id)
    _insert(conn, "business_settings", [  # as if the owner had filled in the settings page
        {"key": key, "value": value, "updated_at": b.now, "updated_by": None}
        for key, value in (("business_name", b.business_name), ("business_address", b.business_address),
                           ("time_zone", b.time_zone), ("currency", b.currency))])


def _write_survey(conn: Connection, b: DemoBusiness, customer_id: dict[str, int], employee_id: dict[str, int]) -> None:
    """The demo's answers to the default survey ("How are we doing?" 0-10, "How can we do better?")."""
    from ravingfans.services.surveys import default_survey

    with Session(bind=conn) as session:  # the load's own transaction: the survey is made in it when missing
        survey = default_survey(session, clock=lambda: b.now)
        session.flush()
    by_kind = {q.kind: q.id for q in survey.questions}
    first = _next_id(conn, Base.metadata.tables["survey_invitations"])
    invited = [a for a in b.survey_answers if a.channel == "email"]
    invitation_id = {a.customer_key: first + i for i, a in enumerate(invited)}
    _insert(conn, "survey_invitations", [
        {"id": invitation_id[a.customer_key], "survey_id": survey.id, "customer_id": customer_id[a.customer_key],
         "channel": "email", "sent_at": _utc(a.sent_epoch), "expires_at": None,
         "reminded_at": _utc(a.reminded_epoch) if a.reminded_epoch else None,
         "answered_at": _utc(a.answered_epoch) if a.answered_epoch else None, "sent_by": None}
        for a in invited])
    _insert(conn, "survey_responses", [
        {"survey_id": survey.id, "customer_id": customer_id[a.customer_key],
         "invitation_id": invitation_id.get(a.customer_key), "channel": "web" if a.channel == "email" else "store",
         "answers": {str(by_kind["nps"]): a.answer.score, str(by_kind["text"]): a.answer.text},
         "nps": a.answer.score, "employee_id": employee_id[a.employee_key] if a.employee_key else None,
         "segment": None, "entered_by": None, "first_submitted_at": _utc(a.answered_epoch or a.sent_epoch),
         "submitted_at": _utc(a.answered_epoch or a.sent_epoch), "changes": 0}
        for a in b.survey_answers if a.answer is not None])


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def load(business: DemoBusiness, engine: Engine, *, replace: bool = False) -> dict[str, int]:
    """Migrate the database and insert ``business`` in one transaction; returns rows written per table.

    Refuses (NotADemoDatabase) a database with data from anywhere else, and (DemoAlreadyLoaded) an
    earlier demo unless ``replace`` is true, in which case the old demo is deleted in the same
    transaction, so a failure leaves it as it was.
    """
    state = inspect_target(engine)
    state.refuse_if_foreign()
    if state.kind == "demo" and not replace:
        raise DemoAlreadyLoaded(
            f"{state.url} already holds a demo business ({state.demo_customers:,} customers).",
            field="database_url", hint="Pass --fresh to rebuild it from scratch.")
    upgrade(engine)
    try:
        with write_transaction(engine) as conn:
            inside = inspect_target_in(conn)
            if inside:
                raise NotADemoDatabase(f"Refusing to build the demo in {state.url}: data from elsewhere arrived "
                                       f"while it was being prepared ({inside}).", field="database_url")
            if replace:
                _wipe(conn)
            _write(conn, business)
            if conn.dialect.name == "postgresql":
                _reset_sequences(conn)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"Loading the demo failed; nothing was written: {_reason(exc)}") from None
    return business.counts()


def inspect_target_in(conn: Connection) -> str:
    """Inside the load's transaction: a description of any non-demo rows, or "" when there are none."""
    found = []
    for table in SOURCED_TABLES:
        n = conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE source <> :s"), {"s": SOURCE}).scalar_one()
        if n:
            found.append(f"{n:,} {table}")
    return ", ".join(found)
