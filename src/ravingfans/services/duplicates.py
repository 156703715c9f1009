"""Find customers who are the same person seen twice, and merge one record into the other.

Two records are candidates when they share a normalised e-mail address or phone number. A merge
keeps everything: every row in any table that points at the merged customer is moved to the kept
one (found from the schema's foreign keys, so tables added later are moved too), its source ids
move so re-imports find the kept record, empty fields are filled, lists are united and mappings
combined; where both records hold different values the kept record wins and the difference is
written into its notes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Column, CursorResult, Table, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import (Base, CampaignMember, Customer, CustomerIdentity, Hold, SurveyInvitation, SurveyLink,
                                  SurveyResponse)
from ravingfans.db.models.customers import name_as_said
from ravingfans.errors import NotFound, ValidationFailed

SAME_EMAIL = "same e-mail"
SAME_PHONE = "same phone"

NAME_FIELDS = ("first_name", "last_name")
CONTACT_FIELDS = ("email", "phone", "birthday", "language")
ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "region", "postal_code", "country")
LIST_FIELDS = ("tags", "likes", "dislikes")
DICT_FIELDS = ("sizes", "attributes", "personal_details")

# How moved rows are named to a person; other tables are named after the table.
_LABELS = {
    "orders": "orders",
    "interactions": "interactions",
    "notes": "notes",
    "consents": "consents",
    "customer_identities": "source identities",
    "customers": "referred customers",
    "campaign_members": "campaign memberships",
    "stock_waits": "stock waits",
    "mentions": "mentions",
}


@dataclass(frozen=True)
class DuplicatePair:
    """Two customer records that look like one person: merge ``merge_id`` into ``keep_id``."""

    keep_id: int
    keep_name: str
    merge_id: int
    merge_name: str
    reasons: tuple[str, ...]
    email: str | None
    phone: str | None

    @property
    def reason(self) -> str:
        """The reasons as one phrase, e.g. 'same e-mail, same phone'."""
        return ", ".join(self.reasons)


@dataclass
class MergeResult:
    """What a merge moved, filled and found in conflict (``applied`` is False for a preview)."""

    keep_id: int
    keep_name: str
    merge_id: int
    merge_name: str
    moved: dict[str, int] = field(default_factory=dict)
    filled: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    applied: bool = False

    def summary(self) -> list[str]:
        """Lines a person reads: what was (or would be) moved, filled and kept on conflict."""
        verb = "Merged" if self.applied else "Would merge"
        lines = [f"{verb} customer #{self.merge_id} ({self.merge_name}) into #{self.keep_id} ({self.keep_name})."]
        moved = [_counted(count, label) for label, count in self.moved.items() if count]
        lines.append(("Moved: " if self.applied else "To move: ") + (", ".join(moved) if moved else "nothing"))
        if self.filled:
            lines.append("Filled from the other record: " + ", ".join(self.filled))
        if self.conflicts:
            lines.append(f"Kept #{self.keep_id}'s value on {len(self.conflicts)} conflict(s), noted on the customer:")
            lines.extend(f"  {conflict}" for conflict in self.conflicts)
        return lines


def _counted(count: int, label: str) -> str:
    """'1 order', '2 orders', '1 source identity'."""
    if count != 1:
        return f"{count} {label}"
    if label.endswith("ies"):
        return f"1 {label[:-3]}y"
    return f"1 {label[:-1]}" if label.endswith("s") else f"1 {label}"


def find_duplicates(session: Session) -> list[DuplicatePair]:
    """Candidate pairs sharing a normalised e-mail or phone; the older record (lower id) is kept."""
    reasons: dict[tuple[int, int], list[str]] = {}
    for reason, column in ((SAME_EMAIL, func.lower(func.trim(Customer.email))), (SAME_PHONE, Customer.phone)):
        shared = (
            select(column.label("value"))
            .where(column.is_not(None), column != "")
            .group_by(column)
            .having(func.count() > 1)
            .subquery()
        )
        rows = session.execute(
            select(Customer.id, column).join(shared, column == shared.c.value).order_by(column, Customer.id)
        )
        keep: tuple[str, int] | None = None
        for cid, value in rows:
            if keep is None or keep[0] != value:
                keep = (value, cid)
                continue
            reasons.setdefault((keep[1], cid), []).append(reason)
    if not reasons:
        return []
    people = _people(session, {cid for pair in reasons for cid in pair})
    pairs = []
    for (keep_id, merge_id), why in sorted(reasons.items()):
        keep_row, merge_row = people[keep_id], people[merge_id]
        pairs.append(DuplicatePair(
            keep_id=keep_id,
            keep_name=keep_row[0],
            merge_id=merge_id,
            merge_name=merge_row[0],
            reasons=tuple(why),
            email=keep_row[1] if SAME_EMAIL in why else None,
            phone=keep_row[2] if SAME_PHONE in why else None,
        ))
    return pairs


def _people(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str | None, str | None]]:
    """Name, e-mail and phone of each customer id, fetched in chunks."""
    found: dict[int, tuple[str, str | None, str | None]] = {}
    wanted = sorted(ids)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        rows = session.execute(
            select(Customer.id, Customer.first_name, Customer.last_name, Customer.email, Customer.phone)
            .where(Customer.id.in_(chunk))
        )
        for cid, first, last, email, phone in rows:
            found[cid] = (name_as_said(first, last, email, phone, cid), email, phone)
    return found


def preview_merge(session: Session, keep_id: int, merge_id: int) -> MergeResult:
    """What :func:`merge_customers` would do, without writing anything."""
    keep, other = _load_pair(session, keep_id, merge_id, lock=False)
    plan = _plan(keep, other)
    result = _result(keep, other, plan)
    result.moved = _count_children(session, keep_id, merge_id)
    if other.external_id and not _identity_exists(session, other.source, other.external_id):
        result.moved["source identities"] = result.moved.get("source identities", 0) + 1
    return result


def merge_customers(session: Session, keep_id: int, merge_id: int, *, clock: Clock = utcnow) -> MergeResult:
    """Merge customer ``merge_id`` into ``keep_id`` in the caller's write transaction, then delete it.

    Every row pointing at the merged customer moves to the kept one; empty fields are filled from
    it, lists united, mappings combined (the kept record wins; conflicts are appended to its notes).
    Raises ValidationFailed for a self-merge and NotFound for a missing id.
    """
    keep, other = _load_pair(session, keep_id, merge_id, lock=True)
    plan = _plan(keep, other)
    result = _result(keep, other, plan)
    now = clock()

    for name, value in plan.updates.items():
        setattr(keep, name, value)
    if plan.conflicts:
        stamp = now.date().isoformat()
        text = f"Merged with customer #{merge_id} ({result.merge_name}) on {stamp}; kept this record's values:\n" + \
            "\n".join(f"- {conflict}" for conflict in plan.conflicts)
        keep.notes = f"{keep.notes}\n\n{text}" if keep.notes else text
    keep.updated_at = now
    session.flush()

    if other.external_id and not _identity_exists(session, other.source, other.external_id):
        session.add(CustomerIdentity(customer_id=keep_id, source=other.source, external_id=other.external_id))
        session.flush()
        result.moved["source identities"] = 1

    _fold_surveys(session, keep_id, merge_id)
    _fold_actions(session, keep_id, merge_id)
    for table, column in _customer_references():
        label = _LABELS.get(table.name, table.name.replace("_", " "))
        stmt = update(table).where(column == merge_id).values({column.name: keep_id})
        if table.name == Customer.__tablename__:
            stmt = stmt.where(table.c.id != keep_id)
        try:
            moved = cast(CursorResult[Any], session.execute(stmt)).rowcount
        except IntegrityError as exc:
            raise ValidationFailed(
                f"Cannot merge #{merge_id} into #{keep_id}: its {label} clash with #{keep_id}'s ({exc.orig}).",
            ) from None
        result.moved[label] = result.moved.get(label, 0) + (moved or 0)

    session.expunge(other)
    session.execute(delete(Customer).where(Customer.id == merge_id), execution_options={"synchronize_session": False})
    result.moved = {label: count for label, count in result.moved.items() if count}
    result.applied = True
    return result


@dataclass
class _Plan:
    """Field changes for the kept record, what they fill, and what conflicts."""

    updates: dict[str, Any] = field(default_factory=dict)
    filled: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def _load_pair(session: Session, keep_id: int, merge_id: int, *, lock: bool) -> tuple[Customer, Customer]:
    """Both customers (locked in id order when writing), or a clear error."""
    if keep_id == merge_id:
        raise ValidationFailed(f"Cannot merge customer #{keep_id} with itself.", field="merge_id",
                               hint="Give two different customer ids: the one to keep, then the one to merge into it.")
    loaded: dict[int, Customer] = {}
    for cid in sorted((keep_id, merge_id)):
        customer = session.get(Customer, cid, with_for_update=True if lock else None)
        if customer is None:
            raise NotFound(f"Customer #{cid} not found.",
                           hint="`ravingfans customers duplicates` lists candidate pairs with their ids.")
        if customer.erased_at is not None:
            raise NotFound(f"Customer #{cid} was erased; an erased record is never merged.")
        loaded[cid] = customer
    return loaded[keep_id], loaded[merge_id]


def _blank(value: Any) -> bool:
    """True for None, blank strings and empty containers."""
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value
    return value is None


def _same(a: Any, b: Any) -> bool:
    """Equal, ignoring case and surrounding blanks for text."""
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    return bool(a == b)


def _plan(keep: Customer, other: Customer) -> _Plan:
    """How ``other``'s fields combine into ``keep``'s."""
    plan = _Plan()
    for name in (*NAME_FIELDS, *CONTACT_FIELDS):
        mine, theirs = getattr(keep, name), getattr(other, name)
        if _blank(theirs):
            continue
        if _blank(mine):
            plan.updates[name] = theirs
            plan.filled.append(name)
        elif not _same(mine, theirs):
            plan.conflicts.append(f"{name}: kept {_show(mine)}, other record had {_show(theirs)}")

    mine_addr = [getattr(keep, name) for name in ADDRESS_FIELDS]
    theirs_addr = [getattr(other, name) for name in ADDRESS_FIELDS]
    if not all(_blank(v) for v in theirs_addr):
        if all(_blank(v) for v in mine_addr):
            plan.updates.update(zip(ADDRESS_FIELDS, theirs_addr, strict=True))
            plan.filled.append("address")
        elif not all(_same(a or "", b or "") for a, b in zip(mine_addr, theirs_addr, strict=True)):
            plan.conflicts.append(f"address: kept {_address(mine_addr)!r}, other record had {_address(theirs_addr)!r}")

    _plan_consent(plan, keep.email_consent, other.email_consent)
    _plan_referrer(plan, keep, other)

    for name in LIST_FIELDS:
        mine_list, theirs_list = list(getattr(keep, name) or []), list(getattr(other, name) or [])
        united = list(dict.fromkeys([*mine_list, *theirs_list]))
        if united != mine_list:
            plan.updates[name] = united
            plan.filled.append(name)

    for name in DICT_FIELDS:
        mine_map, theirs_map = dict(getattr(keep, name) or {}), dict(getattr(other, name) or {})
        combined = {**theirs_map, **mine_map}
        for key in sorted(set(mine_map) & set(theirs_map), key=str):
            if not _same(mine_map[key], theirs_map[key]):
                plan.conflicts.append(f"{name}.{key}: kept {_show(mine_map[key])}, "
                                      f"other record had {_show(theirs_map[key])}")
        if combined != mine_map:
            plan.updates[name] = combined
            plan.filled.append(name)

    if not _blank(other.notes) and not _same(keep.notes or "", other.notes):
        plan.updates["notes"] = f"{keep.notes}\n\n{other.notes}" if not _blank(keep.notes) else other.notes
        plan.filled.append("notes")

    if other.created_at and keep.created_at and other.created_at < keep.created_at:
        plan.updates["created_at"] = other.created_at
    return plan


def _plan_consent(plan: _Plan, mine: bool | None, theirs: bool | None) -> None:
    """E-mail consent: fill when unknown; when the records disagree, the withdrawal wins."""
    if theirs is None or mine == theirs:
        return
    if mine is None:
        plan.updates["email_consent"] = theirs
        plan.filled.append("email_consent")
        return
    if mine:
        plan.updates["email_consent"] = False
    plan.conflicts.append("email_consent: one record had withdrawn e-mail consent, so it is now withdrawn")


def _plan_referrer(plan: _Plan, keep: Customer, other: Customer) -> None:
    """Who referred the kept customer, never the customer itself after the merge."""
    mine, theirs = keep.referred_by_id, other.referred_by_id
    if theirs == keep.id:
        theirs = None
    if mine == other.id:  # the merged record referred the kept one: take its referrer instead
        plan.updates["referred_by_id"] = theirs
        return
    if theirs is None:
        return
    if mine is None:
        plan.updates["referred_by_id"] = theirs
        plan.filled.append("referred_by")
    elif mine != theirs:
        plan.conflicts.append(f"referred_by: kept customer #{mine}, other record had customer #{theirs}")


def _show(value: Any) -> str:
    """A value as quoted in a conflict note."""
    return repr(value.isoformat()) if hasattr(value, "isoformat") else repr(value)


def _address(parts: list[str | None]) -> str:
    """An address block as one line."""
    return ", ".join(p.strip() for p in parts if p and p.strip())


def _result(keep: Customer, other: Customer, plan: _Plan) -> MergeResult:
    """A MergeResult for the pair and plan (nothing moved yet)."""
    return MergeResult(keep_id=keep.id, keep_name=keep.display_name, merge_id=other.id,
                       merge_name=other.display_name, filled=list(plan.filled), conflicts=list(plan.conflicts))


def _fold_surveys(session: Session, keep_id: int, merge_id: int) -> None:
    """Where both records were asked the same survey, make one invitation and keep the newer answer.

    A customer has one invitation and one response per survey (unique), so the generic move would clash:
    the merged record's links move to the kept invitation (so its e-mailed link still works), the
    earlier sending and any reminder or answer times are kept, and of two answers the later one stays.
    """
    keep_invites = {i.survey_id: i for i in session.scalars(
        select(SurveyInvitation).where(SurveyInvitation.customer_id == keep_id))}
    for other in session.scalars(select(SurveyInvitation).where(SurveyInvitation.customer_id == merge_id)).all():
        kept = keep_invites.get(other.survey_id)
        if kept is None:
            continue
        session.execute(update(SurveyLink).where(SurveyLink.invitation_id == other.id).values(invitation_id=kept.id))
        session.execute(update(SurveyResponse).where(SurveyResponse.invitation_id == other.id)
                        .values(invitation_id=kept.id))
        kept.sent_at = min(kept.sent_at, other.sent_at)
        kept.reminded_at = kept.reminded_at or other.reminded_at
        kept.answered_at = max((t for t in (kept.answered_at, other.answered_at) if t is not None), default=None)
        if kept.expires_at is not None and other.expires_at is not None:
            kept.expires_at = max(kept.expires_at, other.expires_at)
        session.delete(other)
    keep_answers = {r.survey_id: r for r in session.scalars(
        select(SurveyResponse).where(SurveyResponse.customer_id == keep_id))}
    for other in session.scalars(select(SurveyResponse).where(SurveyResponse.customer_id == merge_id)).all():
        kept = keep_answers.get(other.survey_id)
        if kept is not None:
            session.delete(other if kept.submitted_at >= other.submitted_at else kept)
    session.flush()


def _fold_actions(session: Session, keep_id: int, merge_id: int) -> None:
    """Where both records are in one campaign or hold one restock's unit, keep the kept record's row.

    A campaign counts a person once, in one group (the hold-out must stay untouched by the gift), and a
    restock holds one unit per person: the merged record's duplicate membership or hold is dropped.
    """
    kept = select(CampaignMember.campaign_id).where(CampaignMember.customer_id == keep_id).scalar_subquery()
    session.execute(delete(CampaignMember).where(CampaignMember.customer_id == merge_id,
                                                 CampaignMember.campaign_id.in_(kept)))
    held = select(Hold.restock_id).where(Hold.customer_id == keep_id, Hold.restock_id.is_not(None)).scalar_subquery()
    session.execute(delete(Hold).where(Hold.customer_id == merge_id, Hold.restock_id.in_(held)))


def _customer_references() -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) holding a foreign key to customers.id, except derived data (score snapshots).

    Derived rows are not moved: the merged record's scores go with it, and the next scoring run scores
    the kept record on the combined history.
    """
    customers = Customer.__table__
    found = []
    for table in Base.metadata.sorted_tables:
        if table.info.get("derived"):
            continue
        for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
            if fk.column.table is customers and fk.column.name == "id":
                found.append((table, fk.parent))
    return found


def _count_children(session: Session, keep_id: int, merge_id: int) -> dict[str, int]:
    """How many rows of each referencing table point at ``merge_id`` (what a merge would move)."""
    counts: dict[str, int] = {}
    for table, column in _customer_references():
        label = _LABELS.get(table.name, table.name.replace("_", " "))
        stmt = select(func.count()).select_from(table).where(column == merge_id)
        if table.name == Customer.__tablename__:
            stmt = stmt.where(table.c.id != keep_id)
        counts[label] = counts.get(label, 0) + int(session.scalar(stmt) or 0)
    return {label: count for label, count in counts.items() if count}


def _identity_exists(session: Session, source: str, external_id: str) -> bool:
    """Whether some customer already holds this source id."""
    found = session.scalar(select(CustomerIdentity.id).where(
        CustomerIdentity.source == source, CustomerIdentity.external_id == external_id))
    return found is not None
