"""Campaigns: give lost and slipping fans (win-back) or kept fans (appreciation) a gift, and prove it worked.

A campaign is made as a draft naming its kind, gift, audience (segments of the current scoring run
and, for win-back, the slipping fans), delivery (e-mail or tasks for staff), window and hold-out share.
:func:`start_campaign` then, in one transaction:

1. gathers the audience (:func:`ravingfans.services.survey_audiences.audience_customer_ids`, so erased
   customers never join) and, for e-mail, leaves out those the gift cannot reach (no address, no
   e-mail consent, address on the suppression list), counting each reason;
2. splits the rest at random into treated and hold-out (:func:`ravingfans.analytics.lift.split_holdout`:
   the campaign's seed makes it reproducible; the unique (campaign, customer) row means nobody is ever
   in both groups);
3. gives the treated group the gift: an e-mail queued in the outbox under ``campaign:<id>:gift:<customer>``
   (purpose ``marketing``: the outbox checks consent again and a refusal is recorded with its reason),
   or a task for staff under the same key (:func:`ravingfans.services.tasks.create_task`).

Only customers who could be reached are split, so the two groups are alike in that too, and the
comparison measures the gift, not the mailing list. Starting a running campaign again changes nothing;
a dry run counts and writes nothing. After the window, :func:`close_due_campaigns` (the worker's
``campaigns`` job) or :func:`close_campaign` measures the lift
(:mod:`ravingfans.services.campaign_report`) and stores it with the campaign, once.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db.models import (
    CAMPAIGN_KINDS,
    DELIVERIES,
    Campaign,
    CampaignMember,
    Customer,
    CustomerScore,
    Order,
    Task,
)
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services.business import effective_settings, get_business
from ravingfans.services.gifts import GiftInfo, get_gift, load_gift
from ravingfans.services.inputs import MAX_ID, clean_text

KIND_LABELS = {"win_back": "Win-back", "appreciation": "Appreciation"}
DELIVERY_LABELS = {"email": "By e-mail", "task": "Tasks for staff"}
WIN_BACK_SEGMENTS = ("At Risk", "Can't Lose Them", "Hibernating", "Lost", "About to Sleep")
APPRECIATION_SEGMENTS = ("Champions", "Loyal", "Potential Loyalist")
SEGMENTS_FOR = {"win_back": WIN_BACK_SEGMENTS, "appreciation": APPRECIATION_SEGMENTS}
LEFT_OUT = {"no_email": "no e-mail address", "no_consent": "no e-mail consent",
            "suppressed": "address unsubscribed or bounced"}
HELD_OUT_NOTE = "held out: no gift, for comparison"
MAX_NAME = 120
MAX_MESSAGE = 2000
MIN_WINDOW, MAX_WINDOW = 7, 366
MAX_HOLDOUT_SHARE = 0.5
MAX_SEED = 2**31 - 1
CHUNK = 500


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """A campaign as pages and commands show it: its set-up, state, group sizes and stored report."""

    id: int
    name: str
    kind: str
    gift: GiftInfo | None
    segments: tuple[str, ...]
    slipping: bool
    holdout_share: float
    seed: int
    delivery: str
    window_days: int
    status: str
    message: str
    created_at: datetime
    started_at: datetime | None
    ends_at: datetime | None
    closed_at: datetime | None
    report: Mapping[str, Any] | None
    treated: int = 0
    holdout: int = 0
    delivered: int = 0
    redeemed: int = 0

    @property
    def kind_label(self) -> str:
        """The kind in words."""
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def audience_text(self) -> str:
        """The audience in words."""
        parts = (["slipping fans"] if self.slipping else []) + list(self.segments)
        return ", ".join(parts) or "nobody"

    @property
    def headline(self) -> str | None:
        """The report's verdict in words, once the campaign is closed."""
        return str(self.report["lift"]["headline"]) if self.report else None

    @property
    def verdict(self) -> str | None:
        """The report's verdict kind (lift, harm, no_effect, too_few, no_holdout, empty), once closed."""
        return str(self.report["lift"]["verdict"]) if self.report else None


@dataclass(frozen=True, slots=True)
class StartReport:
    """What starting did (or, in a dry run, would do): the groups, who was left out and how the gift went."""

    campaign_id: int
    dry_run: bool
    already_started: bool
    audience: int
    treated: int
    holdout: int
    left_out: dict[str, int] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)

    def summary(self) -> list[str]:
        """The report in lines, for the CLI and pages."""
        if self.already_started:
            lines = [f"Campaign {self.campaign_id} is already running: {self.treated} treated, {self.holdout} "
                     "held out; nothing was assigned or sent again."]
        else:
            verb = "Would start" if self.dry_run else "Started"
            lines = [f"{verb} campaign {self.campaign_id}: {self.audience} customers in the audience, "
                     f"{self.treated} treated and {self.holdout} held out."]
        lines += [f"  left out, {LEFT_OUT.get(k, k)}: {v}" for k, v in self.left_out.items() if v]
        lines += [f"  {k}: {v}" for k, v in self.delivered.items() if v]
        return lines


@dataclass(frozen=True, slots=True)
class Redemption:
    """A recorded redemption: who, when, which order, and whether it had been recorded before."""

    campaign_id: int
    customer_id: int
    redeemed_at: datetime
    order_id: int | None
    already: bool


# --- making ---------------------------------------------------------------------------------------------------


def _text(value: object, label: str, field_name: str, limit: int, *, multiline: bool = False,
          required: bool = False) -> str:
    try:
        text = clean_text(value if value is not None else "", multiline=multiline)
    except ValueError as exc:
        raise ValidationFailed(f"{label}: {exc}", field=field_name) from None
    if not isinstance(text, str) or (required and not text):
        raise ValidationFailed(f"{label}: write something", field=field_name)
    if len(text) > limit:
        raise ValidationFailed(f"{label}: at most {limit} characters, please", field=field_name)
    return text


def check_audience(kind: str, segments: Iterable[str], slipping: bool) -> tuple[list[str], bool]:
    """The audience for a campaign of ``kind``: known segments that fit it, once each, and the slipping flag."""
    allowed = SEGMENTS_FOR[kind]
    chosen: list[str] = []
    for raw in segments:
        name = (raw or "").strip()
        if not name:
            continue
        match = next((s for s in allowed if s.lower() == name.lower()), None)
        if match is None:
            raise ValidationFailed(f"Segment: {name!r} does not fit a {KIND_LABELS[kind].lower()} campaign; choose "
                                   f"from {', '.join(allowed)}", field="segments")
        if match not in chosen:
            chosen.append(match)
    if slipping and kind != "win_back":
        raise ValidationFailed("Audience: the slipping fans are for win-back campaigns", field="slipping")
    if not chosen and not slipping:
        raise ValidationFailed("Audience: choose at least one segment" + (" or the slipping fans"
                                                                          if kind == "win_back" else ""),
                               field="segments")
    return chosen, bool(slipping)


def create_campaign(session: Session, settings: Settings, *, name: str, kind: str, gift_id: int,
                    segments: Sequence[str] = (), slipping: bool = False, holdout_share: float | None = None,
                    seed: int | None = None, delivery: str = "email", window_days: int = 60, message: str = "",
                    clock: Clock = utcnow) -> CampaignInfo:
    """Make a campaign as a draft (nobody is assigned or sent anything until it starts)."""
    name = _text(name, "Name", "name", MAX_NAME, required=True)
    kind = (kind or "").strip().lower()
    if kind not in CAMPAIGN_KINDS:
        raise ValidationFailed(f"Kind: choose one of {', '.join(CAMPAIGN_KINDS)}", field="kind")
    gift = load_gift(session, gift_id)
    if not gift.active:
        raise ValidationFailed(f"Gift: {gift.name!r} is retired; choose an active gift", field="gift_id")
    chosen, slipping = check_audience(kind, segments, slipping)
    delivery = (delivery or "").strip().lower()
    if delivery not in DELIVERIES:
        raise ValidationFailed(f"Delivery: choose one of {', '.join(DELIVERIES)}", field="delivery")
    if gift.kind == "note" and delivery != "task":
        raise ValidationFailed("Delivery: a handwritten note is given by staff; choose tasks", field="delivery")
    share = settings.campaign_holdout_share if holdout_share is None else float(holdout_share)
    if not 0 <= share <= MAX_HOLDOUT_SHARE:
        raise ValidationFailed(f"Hold-out share: from 0 to {MAX_HOLDOUT_SHARE} (0.2 holds out one customer in "
                               "five); with 0 no lift can be measured", field="holdout_share")
    if seed is None:
        seed = secrets.randbelow(MAX_SEED) + 1
    if not 0 <= seed <= MAX_SEED:
        raise ValidationFailed(f"Seed: a whole number from 0 to {MAX_SEED}", field="seed")
    if not MIN_WINDOW <= window_days <= MAX_WINDOW:
        raise ValidationFailed(f"Window: from {MIN_WINDOW} to {MAX_WINDOW} days", field="window_days")
    text = _text(message, "Message", "message", MAX_MESSAGE, multiline=True)
    if session.scalar(select(Campaign.id).where(func.lower(Campaign.name) == name.lower())) is not None:
        raise Conflict(f"Name: there is already a campaign called {name!r}.", hint="Choose another name.")
    campaign = Campaign(name=name, kind=kind, gift_id=gift.id, audience={"segments": chosen, "slipping": slipping},
                        holdout_share=share, seed=seed, delivery=delivery, window_days=window_days, status="draft",
                        created_at=clock(), message=text)
    session.add(campaign)
    session.flush()
    return _info(session, campaign)


# --- reading ----------------------------------------------------------------------------------------------------


def load_campaign(session: Session, campaign_id: int, *, lock: bool = False) -> Campaign:
    """The stored campaign with this id (row-locked on PostgreSQL when ``lock``), or NotFound."""
    campaign = None
    if 1 <= campaign_id <= MAX_ID:
        campaign = session.get(Campaign, campaign_id, with_for_update=True if lock else None,
                               populate_existing=lock)
    if campaign is None:
        raise NotFound(f"There is no campaign number {campaign_id}.", hint="List them with: ravingfans campaign list")
    return campaign


def _counts(session: Session, ids: Sequence[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: {"treated": 0, "holdout": 0, "delivered": 0, "redeemed": 0} for i in ids}
    if not ids:
        return out
    m = CampaignMember
    rows = session.execute(select(m.campaign_id, m.group, func.count(), func.count(m.delivered_at),
                                  func.count(m.redeemed_at))
                           .where(m.campaign_id.in_(ids)).group_by(m.campaign_id, m.group))
    for cid, group, members, delivered, redeemed in rows:
        counts = out[cid]
        counts[group] = int(members)
        counts["delivered"] += int(delivered)
        counts["redeemed"] += int(redeemed)
    return out


def _info(session: Session, campaign: Campaign, counts: Mapping[str, int] | None = None) -> CampaignInfo:
    counts = counts if counts is not None else _counts(session, [campaign.id])[campaign.id]
    audience = campaign.audience or {}
    return CampaignInfo(
        id=campaign.id, name=campaign.name, kind=campaign.kind,
        gift=get_gift(session, campaign.gift_id) if campaign.gift_id is not None else None,
        segments=tuple(audience.get("segments") or ()), slipping=bool(audience.get("slipping")),
        holdout_share=float(campaign.holdout_share), seed=campaign.seed, delivery=campaign.delivery,
        window_days=campaign.window_days, status=campaign.status, message=campaign.message or "",
        created_at=campaign.created_at, started_at=campaign.started_at, ends_at=campaign.ends_at,
        closed_at=campaign.closed_at, report=campaign.report, treated=counts["treated"], holdout=counts["holdout"],
        delivered=counts["delivered"], redeemed=counts["redeemed"])


def get_campaign(session: Session, campaign_id: int) -> CampaignInfo:
    """One campaign with its group sizes and (once closed) its report."""
    return _info(session, load_campaign(session, campaign_id))


def list_campaigns(session: Session) -> list[CampaignInfo]:
    """Every campaign, newest first, with group sizes and verdicts."""
    campaigns = list(session.scalars(select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())))
    counts = _counts(session, [c.id for c in campaigns])
    return [_info(session, c, counts[c.id]) for c in campaigns]


def members_of(session: Session, campaign_id: int, *, group: str | None = None,
               limit: int = 200) -> list[tuple[CampaignMember, str]]:
    """Members (with the customer's name), treated first, for the detail page and the redemption form."""
    load_campaign(session, campaign_id)
    stmt = (select(CampaignMember, Customer).join(Customer, Customer.id == CampaignMember.customer_id)
            .where(CampaignMember.campaign_id == campaign_id)
            .order_by(CampaignMember.group.desc(), CampaignMember.customer_id).limit(limit))
    if group is not None:
        stmt = stmt.where(CampaignMember.group == group)
    return [(member, customer.display_name) for member, customer in session.execute(stmt)]


# --- starting ---------------------------------------------------------------------------------------------------


def window_end(started_at: datetime, window_days: int, settings: Settings) -> datetime:
    """When a window opened at ``started_at`` closes: the business's midnight after ``window_days`` days."""
    first = started_at.astimezone(settings.zone).date()
    return datetime.combine(first + timedelta(days=window_days), time.min, tzinfo=settings.zone).astimezone(UTC)


def _audience_ids(session: Session, campaign: Campaign, settings: Settings, clock: Clock) -> list[int]:
    from ravingfans.services.runs import require_run
    from ravingfans.services.survey_audiences import Audience, audience_customer_ids

    audience = campaign.audience or {}
    run = require_run(session)
    known = set((run.segments or {}).keys()) or set(session.scalars(
        select(CustomerScore.segment).distinct().where(CustomerScore.run_id == run.id)))
    ids: set[int] = set()
    for name in audience.get("segments") or ():
        if name in known:  # a segment nobody is in this run has no key: it adds nobody
            ids.update(audience_customer_ids(session, Audience.segment_of(name), settings=settings, clock=clock)[0])
    if audience.get("slipping"):
        ids.update(audience_customer_ids(session, Audience.slipping(), settings=settings, clock=clock)[0])
    return sorted(ids)


def _customers(session: Session, ids: Sequence[int]) -> dict[int, Customer]:
    found: dict[int, Customer] = {}
    for start in range(0, len(ids), CHUNK):
        for customer in session.scalars(select(Customer).where(Customer.id.in_(ids[start:start + CHUNK]))):
            found[customer.id] = customer
    return found


def _reachable(session: Session, campaign: Campaign, customers: Mapping[int, Customer]) -> tuple[list[int],
                                                                                                  dict[str, int]]:
    """Who the gift can reach, and how many were left out for each reason (tasks reach everyone)."""
    if campaign.delivery != "email":
        return sorted(customers), {}
    from ravingfans.mail.unsubscribe import address_digest, suppressions

    left = dict.fromkeys(LEFT_OUT, 0)
    consenting = [c for c in customers.values() if (c.email or "").strip() and c.email_consent is True]
    listed = suppressions(session, [c.email for c in consenting if c.email])
    keep: list[int] = []
    for cid, customer in sorted(customers.items()):
        if not (customer.email or "").strip():
            left["no_email"] += 1
        elif customer.email_consent is not True:
            left["no_consent"] += 1
        elif address_digest(customer.email or "") in listed:
            left["suppressed"] += 1
        else:
            keep.append(cid)
    return keep, left


def _values(session: Session, ids: Sequence[int]) -> dict[int, float]:
    """Each customer's CLV in the current scoring run (their value when assigned)."""
    from ravingfans.services.runs import latest_run

    run = latest_run(session)
    if run is None:
        return {}
    values: dict[int, float] = {}
    for start in range(0, len(ids), CHUNK):
        values.update(session.execute(select(CustomerScore.customer_id, CustomerScore.clv).where(
            CustomerScore.run_id == run.id, CustomerScore.customer_id.in_(ids[start:start + CHUNK]))).all())
    return {k: v for k, v in values.items() if v is not None and math.isfinite(v)}


def start_campaign(session: Session, settings: Settings, campaign_id: int, *, dry_run: bool = False,
                   clock: Clock = utcnow) -> StartReport:
    """Assign the hold-out and give the treated group the gift (see the module); a dry run only counts."""
    from ravingfans.analytics.lift import split_holdout
    from ravingfans.services.campaign_delivery import give_gifts

    campaign = load_campaign(session, campaign_id, lock=not dry_run)
    if campaign.status == "running":
        counts = _counts(session, [campaign.id])[campaign.id]
        return StartReport(campaign_id=campaign.id, dry_run=dry_run, already_started=True,
                           audience=counts["treated"] + counts["holdout"], treated=counts["treated"],
                           holdout=counts["holdout"])
    if campaign.status != "draft":
        raise Conflict(f"Campaign {campaign.id} is {campaign.status}; only a draft can start.",
                       hint="Make a new campaign to give the gift again.")
    if campaign.gift_id is None:
        raise Conflict(f"Campaign {campaign.id} has no gift (it was removed).", hint="Make a new campaign.")
    now = clock()
    shown = effective_settings(settings, get_business(session, settings))
    ids = _audience_ids(session, campaign, shown, lambda: now)
    customers = _customers(session, ids)
    reachable, left_out = _reachable(session, campaign, customers)
    treated, holdout = split_holdout(reachable, float(campaign.holdout_share), campaign.seed)
    if campaign.delivery == "email" and treated and not shown.business_address.strip():
        raise ValidationFailed("business_address: marketing e-mail must carry the business's postal address, "
                               "and none is set.", field="business_address",
                               hint="Set it on the settings page or with RAVINGFANS_BUSINESS_ADDRESS.")
    if dry_run:
        return StartReport(campaign_id=campaign.id, dry_run=True, already_started=False, audience=len(ids),
                           treated=len(treated), holdout=len(holdout), left_out=left_out)
    campaign.status, campaign.started_at = "running", now
    campaign.ends_at = window_end(now, campaign.window_days, shown)
    session.flush()
    values = _values(session, reachable)
    gift = load_gift(session, campaign.gift_id)
    outcomes = give_gifts(session, shown, campaign, gift, [customers[c] for c in treated], values, now)
    rows = [_member_row(campaign.id, cid, "treated", now, values, outcomes[cid]) for cid in treated]
    rows += [_member_row(campaign.id, cid, "holdout", now, values, (None, HELD_OUT_NOTE)) for cid in holdout]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(CampaignMember), rows[start:start + CHUNK])
    delivered: dict[str, int] = {}
    for _at, note in outcomes.values():
        delivered[note] = delivered.get(note, 0) + 1
    session.flush()
    return StartReport(campaign_id=campaign.id, dry_run=False, already_started=False, audience=len(ids),
                       treated=len(treated), holdout=len(holdout), left_out=left_out, delivered=delivered)


def _member_row(campaign_id: int, customer_id: int, group: str, now: datetime, values: Mapping[int, float],
                outcome: tuple[datetime | None, str]) -> dict[str, Any]:
    value = values.get(customer_id)
    return {"campaign_id": campaign_id, "customer_id": customer_id, "group": group, "assigned_at": now,
            "delivered_at": outcome[0], "delivery_note": outcome[1],
            "value_at_start": None if value is None else Decimal(str(round(value, 2)))}


# --- redemption -------------------------------------------------------------------------------------------------


def record_redemption(session: Session, campaign_id: int, customer_id: int, *, order_id: int | None = None,
                      clock: Clock = utcnow) -> Redemption:
    """Record that a treated customer used the gift (optionally with the order); recording again changes nothing."""
    campaign = load_campaign(session, campaign_id)
    if campaign.status != "running":
        raise Conflict(f"Campaign {campaign.id} is {campaign.status}: redemptions are recorded while it runs.",
                       hint="A closed campaign's report is final.")
    member = session.scalar(select(CampaignMember).where(CampaignMember.campaign_id == campaign.id,
                                                         CampaignMember.customer_id == customer_id))
    if member is None:
        raise NotFound(f"Customer #{customer_id} is not in campaign {campaign.id}.",
                       hint=f"See who is with: ravingfans campaign show {campaign.id}")
    if member.group != "treated":
        raise Conflict(f"Customer #{customer_id} is in the hold-out group of campaign {campaign.id}: they were "
                       "given no gift, so they cannot have redeemed it.",
                       hint="If they used someone else's gift, leave it unrecorded: it keeps the comparison fair.")
    if order_id is not None:
        order = session.get(Order, order_id) if 1 <= order_id <= MAX_ID else None
        if order is None or order.customer_id != customer_id:
            raise ValidationFailed(f"Order: #{order_id} is not an order of customer #{customer_id}",
                                   field="order_id")
        if order.cancelled_at is not None:
            raise ValidationFailed(f"Order: #{order_id} was cancelled", field="order_id")
        if campaign.started_at is not None and order.placed_at < campaign.started_at:
            raise ValidationFailed(f"Order: #{order_id} was placed before the campaign started", field="order_id")
    if member.redeemed_at is not None:
        if order_id is not None and member.redeemed_order_id not in (None, order_id):
            raise Conflict(f"Customer #{customer_id} already redeemed the gift with order "
                           f"#{member.redeemed_order_id}.", hint="A gift is redeemed once.")
        if order_id is not None and member.redeemed_order_id is None:
            member.redeemed_order_id = order_id
        return Redemption(campaign.id, customer_id, member.redeemed_at, member.redeemed_order_id, already=True)
    member.redeemed_at = clock()
    member.redeemed_order_id = order_id
    session.flush()
    return Redemption(campaign.id, customer_id, member.redeemed_at, order_id, already=False)


# --- closing ----------------------------------------------------------------------------------------------------


def close_campaign(session: Session, settings: Settings, campaign_id: int, *, clock: Clock = utcnow) -> CampaignInfo:
    """Close a running campaign now (its window ends early if still open) and store its report; once only."""
    from ravingfans.services.campaign_report import build_report

    campaign = load_campaign(session, campaign_id, lock=True)
    if campaign.status == "closed":
        return _info(session, campaign)
    if campaign.status != "running":
        raise Conflict(f"Campaign {campaign.id} is {campaign.status}; only a running campaign can be closed.",
                       hint=f"Start it first with: ravingfans campaign start {campaign.id}")
    now = clock()
    shown = effective_settings(settings, get_business(session, settings))
    campaign.report = build_report(session, shown, campaign, now)
    campaign.status, campaign.closed_at = "closed", now
    session.flush()
    return _info(session, campaign)


def close_due_campaigns(session: Session, settings: Settings, *, clock: Clock = utcnow) -> int:
    """Close every running campaign whose window has ended and store its report; how many were closed.

    Rows are locked with SKIP LOCKED on PostgreSQL, so two workers never close the same campaign.
    """
    now = clock()
    stmt = (select(Campaign.id).where(Campaign.status == "running", Campaign.ends_at <= now)
            .order_by(Campaign.ends_at, Campaign.id))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    closed = 0
    for campaign_id in list(session.scalars(stmt)):
        if close_campaign(session, settings, campaign_id, clock=lambda: now).closed_at == now:
            closed += 1
    return closed


def task_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """The campaign's tasks by status (open, snoozed, done, dismissed)."""
    return {str(status): int(count) for status, count in session.execute(
        select(Task.status, func.count()).where(Task.campaign_id == campaign_id).group_by(Task.status))}
