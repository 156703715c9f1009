"""Tasks for people: create them once per reason, list "my tasks" and the quiet-hour queue, and work them.

A task is *open* until someone does it (``done``: a call logs a moment of truth on the customer's timeline),
snoozes it (``snoozed`` until a day; from that day on it counts as open again, no job needed) or dismisses it.
Its ``dedupe_key`` is unique: :func:`create_task` and the rules' bulk :func:`insert_tasks` write with
``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING``, so two writers at once (two workers on PostgreSQL) still
make one task. Users and employees are linked by e-mail address (``users.email = employees.email``, case
ignored): a user's "my tasks" are those of their employee record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Integer, Table, and_, bindparam, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import TASK_STATUSES, Customer, CustomerScore, Employee, Order, Task, User
from ravingfans.db.models.customers import name_as_said
from ravingfans.db.reads import read_rows
from ravingfans.db.types import to_minor
from ravingfans.db.upsert import insert_for
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services import interactions, moments
from ravingfans.services.common import load_customer
from ravingfans.services.inputs import MAX_ID
from ravingfans.services.runs import latest_run

TASK_KINDS = ("call", "thank", "win_back", "note", "gift")
STATUS_FILTERS = ("open", "snoozed", "done", "dismissed", "all")
INSERT_BATCH = 1000  # rows per INSERT statement: 12 columns, far below SQLite's and PostgreSQL's parameter limits
COPY_BATCH = 20_000  # rows per executemany on SQLite
MAX_SNOOZE_DAYS = 366
MAX_NOTE = moments.MAX_CALL_NOTE
QUEUE_SIZE = 25
# How completing a task shows on the timeline: (channel, kind of moment).
MOMENT_OF = {"call": ("phone", "courtesy_call"), "thank": ("phone", "courtesy_call"),
             "win_back": ("phone", "courtesy_call"), "note": ("other", "other"), "gift": ("other", "gift")}


# --- writing tasks ------------------------------------------------------------------------------------------------


def served_by(customer: Any) -> Any:
    """Who served the customer's latest order (not cancelled, by someone still on the staff): a correlated scalar."""
    served = Order.__table__.alias("served")
    staff = Employee.__table__.alias("staff")
    return (select(served.c.employee_id).join(staff, staff.c.id == served.c.employee_id)
            .where(served.c.customer_id == customer, served.c.cancelled_at.is_(None), staff.c.active.is_(True))
            .order_by(served.c.placed_at.desc()).limit(1).scalar_subquery())


def upsert_ignore(session: Session, table: Table, rows: Sequence[Mapping[str, Any]], key: str) -> int:
    """Insert a few rows, skipping any whose ``key`` is already stored (or being stored by another writer)."""
    written = 0
    for start in range(0, len(rows), INSERT_BATCH):
        stmt = insert_for(session, table).values(list(rows[start:start + INSERT_BATCH]))
        stmt = stmt.on_conflict_do_nothing(index_elements=[key]).returning(*table.primary_key.columns)
        written += len(session.execute(stmt).all())  # RETURNING: rowcount is not reliable for this on psycopg
    return written


_TASK_COLUMNS = ("dedupe_key", "customer_id", "rule", "kind", "reason", "script", "owner_employee_id", "due_on",
                 "priority", "status", "created_at", "outcome_note")


def insert_tasks(session: Session, rows: Sequence[Mapping[str, Any]], *, now: datetime) -> int:
    """Bulk-create tasks (dicts of Task columns; ``priority_cents`` may stand for ``priority``) in key order,
    skipping keys already there; how many were new.

    A rule also gives a customer at most one task a day (two purchases on one day: one call), across passes
    too, so after a merge moved one record's tasks to the other the record kept gets no second task for a day
    it has one for: rows whose rule, customer and due day are taken are left out first.

    Set-based: the values are converted once as the columns' types store them (no ORM object, no statement
    compiled per row); SQLite runs one prepared ``INSERT ... ON CONFLICT DO NOTHING`` over them all
    (``executemany``), PostgreSQL COPYs them into a temporary table and moves them with one ``INSERT ... SELECT
    ... ON CONFLICT DO NOTHING``. Key order makes two concurrent writers take the unique index's locks in the
    same order, so they cannot deadlock.
    """
    taken = _taken_days(session, rows)
    rows = [row for row in rows if (row["rule"], row["customer_id"], row["due_on"]) not in taken]
    if not rows:
        return 0
    dialect = session.get_bind().dialect
    table = Task.__table__
    day = table.c.due_on.type.dialect_impl(dialect).bind_processor(dialect) or (lambda value: value)
    stamp = table.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    created = stamp(now) if stamp is not None else now
    values = [(row["dedupe_key"], row["customer_id"], row["rule"], row["kind"], row["reason"], row.get("script", ""),
               row.get("owner_employee_id"), day(row["due_on"]),
               row["priority_cents"] if "priority_cents" in row else to_minor(row.get("priority") or 0), "open",
               created, "") for row in sorted(rows, key=lambda r: r["dedupe_key"])]
    columns = ", ".join(_TASK_COLUMNS)
    connection = session.connection()
    if dialect.name == "postgresql":
        return _copy_tasks(connection, columns, values)
    sql = f"INSERT INTO tasks ({columns}) VALUES ({', '.join('?' * len(_TASK_COLUMNS))}) " \
          "ON CONFLICT (dedupe_key) DO NOTHING"
    written = 0
    for start in range(0, len(values), COPY_BATCH):
        written += connection.exec_driver_sql(sql, values[start:start + COPY_BATCH]).rowcount or 0
    return written


def _taken_days(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[tuple[str, int, date]]:
    """(rule, customer, due day) of the stored tasks of these rows' rules due in their span of days: one query."""
    if not rows:
        return set()
    days = [row["due_on"] for row in rows]
    stmt = (select(Task.rule, Task.customer_id, Task.due_on)
            .where(Task.status.in_(TASK_STATUSES), Task.due_on >= min(days), Task.due_on <= max(days),
                   Task.rule.in_({row["rule"] for row in rows})))
    return {(rule, customer, due) for rule, customer, due in session.execute(stmt)}


def _copy_tasks(connection: Any, columns: str, values: Sequence[tuple[Any, ...]]) -> int:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT ... SELECT skipping existing keys."""
    raw = connection.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE IF NOT EXISTS new_tasks (dedupe_key varchar(200), customer_id integer, "
                    "rule varchar(40), kind varchar(20), reason text, script text, owner_employee_id integer, "
                    "due_on date, priority bigint, status varchar(12), created_at timestamptz, outcome_note text) "
                    "ON COMMIT DROP")
        cur.execute("TRUNCATE new_tasks")
        with cur.copy(f"COPY new_tasks ({columns}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        cur.execute(f"INSERT INTO tasks ({columns}) SELECT {columns} FROM new_tasks ORDER BY dedupe_key "
                    "ON CONFLICT (dedupe_key) DO NOTHING")
        return max(cur.rowcount, 0)


def customer_value(session: Session, customer_id: int) -> Decimal:
    """The customer's lifetime value in the latest scoring run, to the cent (0 when unscored): a task's priority."""
    run = latest_run(session)
    clv = None if run is None else session.scalar(
        select(CustomerScore.clv).where(CustomerScore.run_id == run.id, CustomerScore.customer_id == customer_id))
    if clv is None or clv != clv or clv < 0:  # NaN or nothing
        return Decimal(0)
    return Decimal(str(round(clv, 2)))


def create_task(session: Session, *, dedupe_key: str, customer_id: int, rule: str, kind: str, reason: str,
                script: str, due_on: date, owner_employee_id: int | None = None, priority: Decimal | None = None,
                campaign_id: int | None = None, clock: Clock = utcnow) -> int | None:
    """Create one task; None when a task with this ``dedupe_key`` exists (safe with concurrent writers).

    The owner defaults to who served the customer's latest order, the priority to the customer's value.
    """
    if not 1 <= len(dedupe_key) <= 200:
        raise ValidationFailed("dedupe_key: 1 to 200 characters, naming the rule, customer and occasion.",
                               field="dedupe_key")
    if kind not in TASK_KINDS:
        raise ValidationFailed(f"kind: must be one of {', '.join(TASK_KINDS)}", field="kind")
    if not 1 <= len(rule) <= 40:
        raise ValidationFailed("rule: 1 to 40 characters (a rule's name, manual or campaign).", field="rule")
    if not reason.strip():
        raise ValidationFailed("reason: say in words why the task is there.", field="reason")
    customer = load_customer(session, customer_id)  # a writer waits for an erasure under way
    if customer is None or customer.erased_at is not None:
        raise NotFound(f"There is no customer number {customer_id} to give a task about.")
    if owner_employee_id is None:
        owner_employee_id = session.scalar(select(served_by(customer_id)))
    row = {"dedupe_key": dedupe_key, "customer_id": customer_id, "rule": rule, "kind": kind, "reason": reason.strip(),
           "script": script, "owner_employee_id": owner_employee_id, "due_on": due_on,
           "priority": customer_value(session, customer_id) if priority is None else priority, "status": "open",
           "campaign_id": campaign_id, "created_at": clock(), "outcome_note": ""}
    stmt = insert_for(session, Task.__table__).values(row).on_conflict_do_nothing(index_elements=["dedupe_key"])
    found = session.execute(stmt.returning(Task.__table__.c.id)).scalar_one_or_none()
    return int(found) if found is not None else None


# --- reading tasks ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRow:
    """A task as staff see it: whom it is about, why, what to say, whose it is, when and how much is at stake."""

    id: int
    customer_id: int
    customer_name: str
    phone: str | None
    rule: str
    kind: str
    reason: str
    script: str
    owner_employee_id: int | None
    owner_name: str | None
    due_on: date
    priority: Decimal
    status: str
    snoozed_until: date | None
    created_at: datetime
    done_at: datetime | None
    outcome_note: str
    interaction_id: int | None

    @property
    def due(self) -> date:
        """The day it is due: the snooze's day for a snoozed task."""
        return self.snoozed_until if self.status == "snoozed" and self.snoozed_until else self.due_on

    def is_open(self, today: date) -> bool:
        """Whether someone should do it now or later (open, or snoozed until a day that has come)."""
        return self.status == "open" or self.status == "snoozed" and self.due <= today

    def is_call(self) -> bool:
        """Whether doing it means a phone call."""
        return MOMENT_OF.get(self.kind, ("other", ""))[0] == "phone"


def _due() -> ColumnElement[Any]:
    return case((Task.status == "snoozed", Task.snoozed_until), else_=Task.due_on)


def _open(today: date | ColumnElement[Any]) -> ColumnElement[bool]:
    """Open, or snoozed until a day that has come (a snooze ends by itself)."""
    return or_(Task.status == "open", and_(Task.status == "snoozed", Task.snoozed_until <= today))


def _status_filter(status: str, today: date) -> ColumnElement[bool] | None:
    if status not in STATUS_FILTERS:
        raise ValidationFailed(f"status: must be one of {', '.join(STATUS_FILTERS)}", field="status")
    if status == "open":
        return _open(today)
    if status == "snoozed":
        return and_(Task.status == "snoozed", Task.snoozed_until > today)
    return None if status == "all" else Task.status == status


# Read as the columns a row shows, not as Task and Customer objects: a customer object decodes its JSON
# columns (sizes, likes, details) for a name.
_ROW_COLUMNS = (Task.id, Task.customer_id, Customer.first_name, Customer.last_name, Customer.email, Customer.phone,
                Task.rule, Task.kind, Task.reason, Task.script, Task.owner_employee_id, Employee.name, Task.due_on,
                Task.priority, Task.status, Task.snoozed_until, Task.created_at, Task.done_at, Task.outcome_note,
                Task.interaction_id)


def _rows(session: Session, stmt: Any, params: Mapping[str, Any] | None = None) -> list[TaskRow]:
    return [TaskRow(id=tid, customer_id=cid, customer_name=name_as_said(first, last, email, phone, cid),
                    phone=phone, rule=rule, kind=kind, reason=reason, script=script, owner_employee_id=owner_id,
                    owner_name=owner, due_on=due_on, priority=priority, status=status, snoozed_until=snoozed_until,
                    created_at=created_at, done_at=done_at, outcome_note=outcome_note, interaction_id=interaction_id)
            for (tid, cid, first, last, email, phone, rule, kind, reason, script, owner_id, owner, due_on, priority,
                 status, snoozed_until, created_at, done_at, outcome_note, interaction_id)
            in read_rows(session, stmt, params or {})]


def _select() -> Any:
    return (select(*_ROW_COLUMNS).join(Customer, Customer.id == Task.customer_id)
            .outerjoin(Employee, Employee.id == Task.owner_employee_id).where(Customer.erased_at.is_(None)))


# One customer's open tasks, for their profile on every view: built once, the day and the customer bound.
_CUSTOMER_OPEN = (_select().where(Task.customer_id == bindparam("customer_id"),
                                  _open(bindparam("today", type_=Date)))
                  .order_by(_due(), Task.priority.desc(), Task.id).limit(bindparam("limit", type_=Integer)))


def list_tasks(session: Session, *, today: date, owner_id: int | None = None, unowned: bool = False,
               due_by: date | None = None, status: str = "open", customer_id: int | None = None,
               limit: int = 200) -> list[TaskRow]:
    """Tasks soonest due first (then by value): of one owner, the unowned or all; open ones by default."""
    if limit < 1:
        raise ValidationFailed("limit must be 1 or more", field="limit")
    if status == "open" and customer_id is not None and owner_id is None and not unowned and due_by is None:
        return _rows(session, _CUSTOMER_OPEN, {"customer_id": customer_id, "today": today, "limit": limit})
    stmt = _select()
    wanted = _status_filter(status, today)
    if wanted is not None:
        stmt = stmt.where(wanted)
    if owner_id is not None:
        stmt = stmt.where(Task.owner_employee_id == owner_id)
    elif unowned:
        stmt = stmt.where(Task.owner_employee_id.is_(None))
    if due_by is not None:
        stmt = stmt.where(_due() <= due_by)
    if customer_id is not None:
        stmt = stmt.where(Task.customer_id == customer_id)
    return _rows(session, stmt.order_by(_due(), Task.priority.desc(), Task.id).limit(limit))


def count_due(session: Session, *, today: date) -> int:
    """How many open tasks are due by today (snoozes ended included)."""
    stmt = (select(func.count()).select_from(Task).join(Customer, Customer.id == Task.customer_id)
            .where(_open(today), _due() <= today, Customer.erased_at.is_(None)))
    return int(session.scalar(stmt) or 0)


def quiet_hour_queue(session: Session, *, today: date, limit: int = QUEUE_SIZE) -> list[TaskRow]:
    """Open tasks due by today for a quiet hour: most valuable first, soonest due next, dealt round the staff.

    Each owner's tasks (the unowned ones count as one owner) are ranked by value and due day; then the queue
    takes every owner's best, then every owner's second best, and so on, so no one gets all the top ones.
    """
    if limit < 1:
        raise ValidationFailed("limit must be 1 or more", field="limit")
    rank = func.row_number().over(partition_by=Task.owner_employee_id,
                                  order_by=(Task.priority.desc(), _due(), Task.id)).label("rank")
    ranked = (select(Task.id, rank).join(Customer, Customer.id == Task.customer_id)
              .where(_open(today), _due() <= today, Customer.erased_at.is_(None)).subquery())
    stmt = _select().join(ranked, ranked.c.id == Task.id).where(ranked.c.rank <= limit)
    # By round (each owner's rank), and within a round by value: the round-robin deal.
    return _rows(session, stmt.order_by(ranked.c.rank, Task.priority.desc(), _due(), Task.id).limit(limit))


# --- who is who ---------------------------------------------------------------------------------------------------


def employee_for_email(session: Session, email: str) -> Employee | None:
    """The employee record with this e-mail address (case ignored; an active one first), or None."""
    address = email.strip().lower()
    if not address:
        return None
    return session.scalar(select(Employee).where(func.lower(Employee.email) == address)
                          .order_by(Employee.active.desc(), Employee.id).limit(1))


def find_employee(session: Session, email: str) -> Employee:
    """The employee with this e-mail address, or NotFound naming the fix."""
    found = employee_for_email(session, email)
    if found is None:
        raise NotFound(f"No employee has the e-mail address {email.strip()!r}.",
                       hint="Employees come with imported orders; give them the address their user signs in with.")
    return found


def active_employees(session: Session) -> list[tuple[int, str]]:
    """(id, name) of everyone on the staff now, by name: who a task may go to."""
    return [(i, n) for i, n in session.execute(select(Employee.id, Employee.name).where(Employee.active.is_(True))
                                               .order_by(Employee.name, Employee.id))]


# --- working tasks ------------------------------------------------------------------------------------------------


def _task(session: Session, task_id: int, *, closed_ok: bool = False) -> Task:
    """The task, locked for the change; NotFound, or Conflict when it is already done or dismissed."""
    task = session.get(Task, task_id, with_for_update=True) if 1 <= task_id <= MAX_ID else None
    if task is None:
        raise NotFound(f"There is no task number {task_id}.", hint="It may have gone with an erased customer.")
    if not closed_ok and task.status in ("done", "dismissed"):
        when = f" on {task.done_at:%Y-%m-%d}" if task.done_at else ""
        raise Conflict(f"Task #{task_id} was already {task.status}{when}; nothing was changed.")
    return task


def get_task(session: Session, task_id: int) -> TaskRow:
    """One task as staff see it; NotFound when there is none."""
    found = _rows(session, _select().where(Task.id == task_id)) if 1 <= task_id <= MAX_ID else []
    if not found:
        raise NotFound(f"There is no task number {task_id}.")
    return found[0]


def _user_employee(session: Session, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    email = session.scalar(select(User.email).where(User.id == user_id))
    employee = employee_for_email(session, email) if email else None
    return employee.id if employee is not None and employee.active else None


def complete_task(session: Session, task_id: int, *, rating: str | None = None, note: str = "",
                  channel: str | None = None, user_id: int | None = None, clock: Clock = utcnow) -> TaskRow:
    """Mark a task done and log the moment of truth it was (a call by phone, rated if a rating is given)."""
    task = _task(session, task_id)
    if len(note.strip()) > MAX_NOTE:
        raise ValidationFailed(f"Note: at most {MAX_NOTE} characters, please (add a longer note on the profile).",
                               field="note")
    default_channel, moment_kind = MOMENT_OF.get(task.kind, ("other", "other"))
    employee_id = _user_employee(session, user_id) or task.owner_employee_id
    moment = moments.parse_interaction({"channel": channel or default_channel, "kind": moment_kind,
                                        "rating": (rating or "").strip() or None, "note": note,
                                        "employee_id": employee_id})
    logged = interactions.log_moment(session, task.customer_id, moment, clock=clock)
    task.status, task.done_at, task.done_by = "done", clock(), user_id
    task.outcome_note, task.interaction_id = moment.note, logged.id
    session.flush()
    return get_task(session, task.id)


def snooze_task(session: Session, task_id: int, until: date, *, zone: tzinfo = UTC,
                clock: Clock = utcnow) -> TaskRow:
    """Put a task away until a later day; on that day it is open again by itself."""
    today = clock().astimezone(zone).date()
    if until <= today:
        raise ValidationFailed(f"Snooze until: pick a day after today ({today.isoformat()}).", field="until")
    if until > today + timedelta(days=MAX_SNOOZE_DAYS):
        raise ValidationFailed("Snooze until: at most a year ahead; dismiss the task if it no longer matters.",
                               field="until")
    task = _task(session, task_id)
    task.status, task.snoozed_until = "snoozed", until
    session.flush()
    return get_task(session, task.id)


def reassign_task(session: Session, task_id: int, employee_id: int | None) -> TaskRow:
    """Give a task to another member of staff (None: to nobody, for whoever has a quiet hour)."""
    if employee_id is not None:
        employee = session.get(Employee, employee_id) if 1 <= employee_id <= MAX_ID else None
        if employee is None or not employee.active:
            raise ValidationFailed(f"Owner: there is no active employee number {employee_id}; choose one from the "
                                   "list.", field="employee_id")
    task = _task(session, task_id)
    task.owner_employee_id = employee_id
    session.flush()
    return get_task(session, task.id)


def dismiss_task(session: Session, task_id: int, *, note: str = "", user_id: int | None = None,
                 clock: Clock = utcnow) -> TaskRow:
    """Close a task that no longer needs doing (nothing is logged on the timeline)."""
    if len(note.strip()) > MAX_NOTE:
        raise ValidationFailed(f"Note: at most {MAX_NOTE} characters, please.", field="note")
    task = _task(session, task_id)
    task.status, task.done_at, task.done_by, task.outcome_note = "dismissed", clock(), user_id, note.strip()
    session.flush()
    return get_task(session, task.id)


def parse_day(text: str, label: str, field: str) -> date:
    """A day typed as YYYY-MM-DD, or ValidationFailed naming the field and the format."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"{label}: {text.strip()[:20]!r} is not a date; use YYYY-MM-DD, e.g. 2026-12-24.",
                               field=field) from None
