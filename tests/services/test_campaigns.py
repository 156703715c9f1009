"""Campaigns: the audience, the hold-out split, giving the gift once, redemptions, and the report after the window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from helpers_campaigns import T0, add_customer, add_order, add_run, campaign_settings
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ravingfans.clock import fixed
from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Campaign, CampaignMember, Interaction, OutboxMessage, Task
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services.campaigns import (
    HELD_OUT_NOTE,
    close_campaign,
    close_due_campaigns,
    create_campaign,
    get_campaign,
    list_campaigns,
    record_redemption,
    start_campaign,
    window_end,
)
from ravingfans.services.gifts import add_gift, retire_gift


@pytest.fixture
def conf(database_url: str) -> Settings:
    return campaign_settings(database_url)


@pytest.fixture
def world(db: Database) -> dict[str, Any]:
    """60 lost customers with consent, a few who cannot be reached, 10 champions, a slipping fan, a gift."""
    with db.session(write=True) as s:
        lost = [add_customer(s, f"Lost{n}") for n in range(60)]
        no_consent = add_customer(s, "Shy", consent=False)
        unknown = add_customer(s, "Maybe", consent=None)
        no_email = add_customer(s, "Paper", email="")
        erased = add_customer(s, "Gone", erased=True)
        champions = [add_customer(s, f"Champ{n}") for n in range(10)]
        slipper = add_customer(s, "Slipper")
        placed = {cid: "Lost" for cid in lost} | {no_consent: "Lost", unknown: "Lost", no_email: "Lost",
                                                   erased: "Lost", slipper: "Loyal"}
        placed |= {cid: "Champions" for cid in champions}
        add_run(s, placed, slipping=[slipper])
        gift = add_gift(s, name="Ten off", kind="discount_code", code="BACK10", value="10", clock=fixed(T0)).id
    return {"lost": lost, "no_consent": no_consent, "unknown": unknown, "no_email": no_email, "erased": erased,
            "champions": champions, "slipper": slipper, "gift": gift}


def _campaign(db: Database, conf: Settings, world: dict[str, Any], **extra: Any) -> int:
    values: dict[str, Any] = {"name": "Come back", "kind": "win_back", "gift_id": world["gift"],
                              "segments": ["Lost"], "holdout_share": 0.25, "seed": 7, "window_days": 28}
    values.update(extra)
    with db.session(write=True) as s:
        return create_campaign(s, conf, clock=fixed(T0), **values).id


def _members(s: Session, campaign_id: int) -> dict[int, CampaignMember]:
    rows = s.scalars(select(CampaignMember).where(CampaignMember.campaign_id == campaign_id))
    return {m.customer_id: m for m in rows}


# --- making -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("extra", "message"), [
    ({"kind": "raffle"}, "Kind: choose one of"),
    ({"segments": ["Champions"]}, "does not fit a win-back campaign"),
    ({"kind": "appreciation", "segments": [], "slipping": True}, "slipping fans are for win-back"),
    ({"segments": []}, "choose at least one segment or the slipping fans"),
    ({"holdout_share": 0.6}, "Hold-out share: from 0 to 0.5"),
    ({"window_days": 3}, "Window: from 7 to 366 days"),
    ({"delivery": "pigeon"}, "Delivery: choose one of"),
    ({"seed": -1}, "Seed: a whole number"),
    ({"name": "  "}, "Name: write something"),
])
def test_bad_campaigns_are_refused_naming_the_field(db: Database, conf: Settings, world: dict[str, Any],
                                                    extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        _campaign(db, conf, world, **extra)


def test_a_campaign_starts_as_a_draft_with_the_settings_share_and_a_seed(db: Database, conf: Settings,
                                                                         world: dict[str, Any]) -> None:
    with db.session(write=True) as s:
        made = create_campaign(s, conf, name="Thanks", kind="appreciation", gift_id=world["gift"],
                               segments=["champions", "Loyal", "Champions"], clock=fixed(T0))
        assert made.status == "draft" and made.segments == ("Champions", "Loyal")
        assert made.holdout_share == conf.campaign_holdout_share and 0 <= made.seed < 2**31
        assert made.audience_text == "Champions, Loyal" and made.report is None and made.treated == 0
        with pytest.raises(Conflict, match="already a campaign called 'thanks'"):
            create_campaign(s, conf, name="thanks", kind="appreciation", gift_id=world["gift"],
                            segments=["Loyal"])
        note = add_gift(s, name="A card", kind="note", description="Handwritten").id
        with pytest.raises(ValidationFailed, match="handwritten note is given by staff"):
            create_campaign(s, conf, name="Card", kind="appreciation", gift_id=note, segments=["Loyal"])
        retire_gift(s, world["gift"])
        with pytest.raises(ValidationFailed, match="retired"):
            create_campaign(s, conf, name="Later", kind="win_back", gift_id=world["gift"], slipping=True)
        with pytest.raises(NotFound, match="no gift number 999"):
            create_campaign(s, conf, name="Later", kind="win_back", gift_id=999, slipping=True)


# --- starting ---------------------------------------------------------------------------------------------------


def test_dry_run_counts_groups_and_who_is_left_out_and_writes_nothing(db: Database, conf: Settings,
                                                                      world: dict[str, Any]) -> None:
    cid = _campaign(db, conf, world)
    with db.session(write=True) as s:
        dry = start_campaign(s, conf, cid, dry_run=True, clock=fixed(T0))
        assert dry.dry_run and not dry.already_started
        assert dry.audience == 63  # 60 lost + no consent + unknown consent + no e-mail; never the erased one
        assert dry.left_out == {"no_email": 1, "no_consent": 2, "suppressed": 0}
        assert (dry.treated, dry.holdout) == (45, 15)
        assert "Would start campaign" in dry.summary()[0]
        assert s.scalar(select(func.count()).select_from(CampaignMember)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert s.get(Campaign, cid).status == "draft"  # type: ignore[union-attr]


def test_start_splits_the_reachable_audience_and_mails_only_the_treated(db: Database, conf: Settings,
                                                                         world: dict[str, Any]) -> None:
    cid = _campaign(db, conf, world)
    with db.session(write=True) as s:
        dry = start_campaign(s, conf, cid, dry_run=True, clock=fixed(T0))
        report = start_campaign(s, conf, cid, clock=fixed(T0))
        assert (report.treated, report.holdout) == (dry.treated, dry.holdout) == (45, 15)
        assert report.delivered == {"e-mail queued": 45}
    with db.session() as s:
        members = _members(s, cid)
        treated = {c for c, m in members.items() if m.group == "treated"}
        held = {c for c, m in members.items() if m.group == "holdout"}
        assert treated | held == set(world["lost"]) and not treated & held
        for left_out in ("no_consent", "unknown", "no_email", "erased"):
            assert world[left_out] not in members
        mails = {m.key: m for m in s.scalars(select(OutboxMessage))}
        assert set(mails) == {f"campaign:{cid}:gift:{c}" for c in treated}
        assert all(m.purpose == "marketing" and m.template == "gift" for m in mails.values())
        assert all(members[c].delivered_at == T0 and members[c].delivery_note == "e-mail queued" for c in treated)
        assert all(members[c].delivered_at is None and members[c].delivery_note == HELD_OUT_NOTE for c in held)
        assert all(float(m.value_at_start or 0) == 80.0 for m in members.values())
        gifts_logged = set(s.scalars(select(Interaction.customer_id).where(Interaction.kind == "gift")))
        assert gifts_logged == treated
        campaign = get_campaign(s, cid)
        assert campaign.status == "running" and campaign.started_at == T0
        assert campaign.ends_at == window_end(T0, 28, conf) == T0.replace(hour=0) + timedelta(days=28)
        assert (campaign.treated, campaign.holdout, campaign.delivered) == (45, 15, 45)


def test_starting_twice_assigns_and_sends_nothing_more(db: Database, conf: Settings, world: dict[str, Any]) -> None:
    cid = _campaign(db, conf, world)
    with db.session(write=True) as s:
        start_campaign(s, conf, cid, clock=fixed(T0))
    with db.session(write=True) as s:
        before = {c: m.group for c, m in _members(s, cid).items()}
        # New lost customers appear in a later run: a running campaign does not take them in.
        newcomer = add_customer(s, "Newcomer")
        add_run(s, {**{c: "Lost" for c in world["lost"]}, newcomer: "Lost"})
        again = start_campaign(s, conf, cid, clock=fixed(T0 + timedelta(days=1)))
        assert again.already_started and (again.treated, again.holdout) == (45, 15)
        assert "already running" in again.summary()[0]
    with db.session() as s:
        assert {c: m.group for c, m in _members(s, cid).items()} == before
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 45


def test_the_same_seed_and_audience_give_the_same_split(db: Database, conf: Settings,
                                                        world: dict[str, Any]) -> None:
    first = _campaign(db, conf, world, name="A", seed=12345)
    second = _campaign(db, conf, world, name="B", seed=12345)
    third = _campaign(db, conf, world, name="C", seed=54321)
    with db.session(write=True) as s:
        for cid in (first, second, third):
            start_campaign(s, conf, cid, clock=fixed(T0))
    with db.session() as s:
        held = [{c for c, m in _members(s, cid).items() if m.group == "holdout"} for cid in (first, second, third)]
        assert held[0] == held[1] and held[0] != held[2] and len(held[2]) == 15


def test_outbox_refusals_are_recorded_on_the_member(db: Database, conf: Settings, world: dict[str, Any]) -> None:
    from ravingfans.db.models import ErasureSuppression
    from ravingfans.ingest.suppression import suppression_digests

    cid = _campaign(db, conf, world, holdout_share=0.0)
    victim = world["lost"][0]
    with db.session(write=True) as s:
        # The outbox has the last word: an address an erased customer had is refused even with consent.
        for digest in suppression_digests(conf.secret_key.get_secret_value(), email="lost0@example.com", phone=None):
            s.add(ErasureSuppression(digest=digest))
        report = start_campaign(s, conf, cid, clock=fixed(T0))
        assert report.holdout == 0 and report.delivered == {"e-mail queued": 59,
                                                            "not sent: address suppressed or erased": 1}
        member = _members(s, cid)[victim]
        assert member.delivered_at is None and member.delivery_note == "not sent: address suppressed or erased"


def test_suppressed_addresses_are_left_out_before_the_split(db: Database, conf: Settings,
                                                            world: dict[str, Any]) -> None:
    from ravingfans.mail import suppress

    cid = _campaign(db, conf, world)
    with db.session(write=True) as s:
        suppress(s, "LOST1@example.com", reason="unsubscribed")
    with db.session(write=True) as s:
        report = start_campaign(s, conf, cid, clock=fixed(T0))
        assert report.left_out["suppressed"] == 1 and report.treated + report.holdout == 59
        assert world["lost"][1] not in _members(s, cid)


def test_marketing_mail_needs_the_postal_address_before_anything_starts(db: Database, database_url: str,
                                                                        world: dict[str, Any]) -> None:
    bare = campaign_settings(database_url, business_address="")
    cid = _campaign(db, bare, world)
    with db.session(write=True) as s, pytest.raises(ValidationFailed, match="postal address"):
        start_campaign(s, bare, cid, dry_run=True, clock=fixed(T0))
    with db.session() as s:
        assert s.get(Campaign, cid).status == "draft"  # type: ignore[union-attr]


def test_slipping_fans_and_appreciation_audiences(db: Database, conf: Settings, world: dict[str, Any]) -> None:
    slip = _campaign(db, conf, world, name="Slip", segments=[], slipping=True, holdout_share=0.0)
    thanks = _campaign(db, conf, world, name="Thanks", kind="appreciation", segments=["Champions", "Loyal"])
    missing = _campaign(db, conf, world, name="Nobody", segments=["Hibernating"])
    with db.session(write=True) as s:
        assert set(_members(s, slip)) == set() and start_campaign(s, conf, slip, clock=fixed(T0)).treated == 1
        assert set(_members(s, slip)) == {world["slipper"]}
        report = start_campaign(s, conf, thanks, clock=fixed(T0))
        assert set(_members(s, thanks)) == set(world["champions"]) | {world["slipper"]}
        assert (report.treated, report.holdout) == (8, 3)  # a quarter of 11, rounded
        assert start_campaign(s, conf, missing, clock=fixed(T0)).audience == 0  # nobody is Hibernating now


def test_nobody_scored_yet_is_a_clear_error(db: Database, conf: Settings) -> None:
    with db.session(write=True) as s:
        gift = add_gift(s, name="Socks", kind="free_item", description="A pair of socks").id
        cid = create_campaign(s, conf, name="Early", kind="win_back", gift_id=gift, slipping=True).id
        with pytest.raises(NotFound, match="Nobody has been scored yet"):
            start_campaign(s, conf, cid, dry_run=True)


# --- tasks --------------------------------------------------------------------------------------------------------


def test_task_delivery_makes_one_task_per_treated_customer_once(db: Database, conf: Settings,
                                                                world: dict[str, Any]) -> None:
    cid = _campaign(db, conf, world, delivery="task", message="Hand over the code with a smile.")
    with db.session(write=True) as s:
        report = start_campaign(s, conf, cid, clock=fixed(T0))
        assert report.left_out == {} and report.audience == 63
        assert report.treated + report.holdout == 63  # tasks reach everyone, e-mail or not
    with db.session(write=True) as s:
        assert start_campaign(s, conf, cid, clock=fixed(T0)).already_started
        tasks = list(s.scalars(select(Task).where(Task.campaign_id == cid)))
        treated = {c for c, m in _members(s, cid).items() if m.group == "treated"}
        assert {t.customer_id for t in tasks} == treated and len(tasks) == len(treated)
        assert {t.dedupe_key for t in tasks} == {f"campaign:{cid}:gift:{c}" for c in treated}
        assert all(t.rule == "campaign" and t.kind == "gift" and t.due_on == T0.date() for t in tasks)
        assert all(t.script == "Hand over the code with a smile." and "Ten off" in t.reason for t in tasks)
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0


# --- redemption ---------------------------------------------------------------------------------------------------


def test_redemptions_are_for_treated_members_once(db: Database, conf: Settings, world: dict[str, Any]) -> None:
    cid = _campaign(db, conf, world)
    with db.session(write=True) as s:
        with pytest.raises(Conflict, match="is draft"):
            record_redemption(s, cid, world["lost"][0])
        start_campaign(s, conf, cid, clock=fixed(T0))
        members = _members(s, cid)
        treated = next(c for c, m in members.items() if m.group == "treated")
        held = next(c for c, m in members.items() if m.group == "holdout")
        old = add_order(s, treated, T0 - timedelta(days=3), "50.00")
        order = add_order(s, treated, T0 + timedelta(days=2), "80.00")
        other = add_order(s, held, T0 + timedelta(days=2), "80.00")
        with pytest.raises(ValidationFailed, match="before the campaign started"):
            record_redemption(s, cid, treated, order_id=old)
        with pytest.raises(ValidationFailed, match="not an order of customer"):
            record_redemption(s, cid, treated, order_id=other)
        with pytest.raises(Conflict, match="hold-out group"):
            record_redemption(s, cid, held)
        with pytest.raises(NotFound, match="not in campaign"):
            record_redemption(s, cid, world["champions"][0])
        done = record_redemption(s, cid, treated, order_id=order, clock=fixed(T0 + timedelta(days=2)))
        assert not done.already and done.order_id == order
        again = record_redemption(s, cid, treated, clock=fixed(T0 + timedelta(days=5)))
        assert again.already and again.redeemed_at == T0 + timedelta(days=2) and again.order_id == order
        with pytest.raises(Conflict, match="already redeemed the gift with order"):
            record_redemption(s, cid, treated, order_id=add_order(s, treated, T0 + timedelta(days=3), "5.00"))
        assert get_campaign(s, cid).redeemed == 1


# --- the window and the report -------------------------------------------------------------------------------------


def test_frozen_clock_walk_closes_on_the_right_day_and_reports_once(db: Database, conf: Settings,
                                                                    world: dict[str, Any]) -> None:
    cid = _campaign(db, conf, world)  # window 28 days from 2 March 09:00 UTC: closes at 30 March 00:00
    with db.session(write=True) as s:
        start_campaign(s, conf, cid, clock=fixed(T0))
        members = _members(s, cid)
    treated = sorted(c for c, m in members.items() if m.group == "treated")
    held = sorted(c for c, m in members.items() if m.group == "holdout")
    # Over four weeks: 18 of 45 treated buy (some twice, one only returns), 3 of 15 held out buy.
    plan: dict[int, list[tuple[int, int, str]]] = {}
    for n, c in enumerate(treated[:18]):
        plan.setdefault(n % 27, []).append((c, 9 + n % 5, "40.00"))
    plan.setdefault(5, []).append((treated[0], 12, "25.00"))
    plan.setdefault(6, []).append((treated[20], 10, "-15.00"))  # a return alone is not a purchase
    plan.setdefault(7, []).append((treated[21], 10, "99.00"))  # cancelled: does not count
    for n, c in enumerate(held[:3]):
        plan.setdefault(3 + n * 7, []).append((c, 15, "40.00"))
    closed_on = None
    for day in range(0, 40):
        now = T0.replace(hour=0) + timedelta(days=day, hours=6)
        with db.session(write=True) as s:
            for customer, hour, amount in plan.get(day, []):
                add_order(s, customer, now.replace(hour=hour), amount, cancelled=amount == "99.00")
            if day == 29:  # after the window: must not count
                add_order(s, treated[30], now, "500.00")
                add_order(s, held[5], now, "500.00")
            closed = close_due_campaigns(s, conf, clock=fixed(now))
            if closed:
                assert closed_on is None, "closed twice"
                closed_on = now.date()
    assert closed_on == (T0 + timedelta(days=28)).date()
    with db.session() as s:
        campaign = get_campaign(s, cid)
        report = campaign.report
        assert report is not None and campaign.status == "closed"
        assert campaign.closed_at == T0.replace(hour=6) + timedelta(days=28)
        lift = report["lift"]
        assert (lift["treated"]["customers"], lift["treated"]["returned"]) == (45, 18)
        assert (lift["holdout"]["customers"], lift["holdout"]["returned"]) == (15, 3)
        assert lift["treated"]["revenue"] == 18 * 40 + 25 - 15 and lift["holdout"]["revenue"] == 120
        assert lift["return_rate"]["estimate"] == pytest.approx(18 / 45 - 3 / 15, abs=1e-6)
        assert lift["verdict"] == "too_few"  # 15 held out is below the 30 needed for a verdict
        assert report["window"]["closed_early"] is False and report["window"]["end"].startswith("2026-03-30T00:00")
        assert report["attributed"]["treated_revenue"] == 730.0
        assert report["attributed"]["incremental_revenue"]["estimate"] == pytest.approx((730 / 45 - 8) * 45, abs=0.01)
        assert report["delivery"]["emailed"] == 45 and report["currency"] == "EUR"
        assert campaign.headline == lift["headline"] and "Revenue per customer: €" in report["revenue_text"]
    with db.session(write=True) as s:  # closing again, by hand or by the job, changes nothing
        later = T0 + timedelta(days=45)
        assert close_due_campaigns(s, conf, clock=fixed(later)) == 0
        again = close_campaign(s, conf, cid, clock=fixed(later))
        assert again.closed_at == campaign.closed_at and again.report == report


def test_closing_early_cuts_the_window_and_a_draft_cannot_close(db: Database, conf: Settings,
                                                                world: dict[str, Any]) -> None:
    cid = _campaign(db, conf, world)
    with db.session(write=True) as s:
        with pytest.raises(Conflict, match="only a running campaign"):
            close_campaign(s, conf, cid)
        start_campaign(s, conf, cid, clock=fixed(T0))
        buyer = next(c for c, m in _members(s, cid).items() if m.group == "treated")
        add_order(s, buyer, T0 + timedelta(days=3), "30.00")
        add_order(s, buyer, T0 + timedelta(days=12), "70.00")  # after the early close
        info = close_campaign(s, conf, cid, clock=fixed(T0 + timedelta(days=10)))
        assert info.status == "closed" and info.report is not None
        assert info.report["window"]["closed_early"] is True and info.report["window"]["days"] == 10.0
        assert info.report["lift"]["treated"]["revenue"] == 30.0
        with pytest.raises(Conflict, match="is closed"):
            record_redemption(s, cid, buyer)
        with pytest.raises(Conflict, match="only a draft can start"):
            start_campaign(s, conf, cid)


def test_a_planted_lift_in_the_database_is_reported_in_words(db: Database, conf: Settings) -> None:
    import numpy as np

    with db.session(write=True) as s:
        ids = [add_customer(s, f"C{n}") for n in range(800)]
        add_run(s, {c: "At Risk" for c in ids})
        gift = add_gift(s, name="Voucher", kind="voucher", value="15").id
        cid = create_campaign(s, conf, name="Big", kind="win_back", gift_id=gift, segments=["At Risk"],
                              holdout_share=0.5, seed=99, window_days=30, delivery="task", clock=fixed(T0)).id
        start_campaign(s, conf, cid, clock=fixed(T0))
        members = _members(s, cid)
        assert sum(m.group == "holdout" for m in members.values()) == 400
        rng = np.random.default_rng(1)
        for c, m in sorted(members.items()):  # in a fixed order: the same draws on every database
            if rng.random() < (0.40 if m.group == "treated" else 0.20):
                add_order(s, c, T0 + timedelta(days=int(rng.integers(1, 29))), "50.00")
        info = close_campaign(s, conf, cid, clock=fixed(T0 + timedelta(days=31)))
    lift = info.report["lift"]  # type: ignore[index]
    low, high = lift["return_rate"]["low"], lift["return_rate"]["high"]
    assert low <= 0.20 <= high and low > 0 and lift["verdict"] == "lift"
    assert lift["headline"].startswith("Won back ") and "more customers per 100" in lift["headline"]
    rev = lift["revenue_per_customer"]
    assert rev["low"] <= 10.0 <= rev["high"]  # 20 more buyers per 100 at 50 each


def test_no_holdout_claims_no_lift(db: Database, conf: Settings, world: dict[str, Any]) -> None:
    cid = _campaign(db, conf, world, holdout_share=0.0)
    with db.session(write=True) as s:
        start_campaign(s, conf, cid, clock=fixed(T0))
        add_order(s, world["lost"][3], T0 + timedelta(days=1), "20.00")
        info = close_campaign(s, conf, cid, clock=fixed(T0 + timedelta(days=30)))
    assert info.verdict == "no_holdout" and info.report is not None
    assert info.report["lift"]["return_rate"] is None and info.report["attributed"]["incremental_revenue"] is None
    assert "no lift can be claimed: 1 of 60" in str(info.headline)
    with db.session() as s:
        listed = list_campaigns(s)
        assert [c.id for c in listed] == [cid] and listed[0].verdict == "no_holdout"


def test_two_closers_store_one_report(db: Database, conf: Settings, world: dict[str, Any]) -> None:
    cid = _campaign(db, conf, world)
    with db.session(write=True) as s:
        start_campaign(s, conf, cid, clock=fixed(T0))
    after = fixed(T0 + timedelta(days=29))
    with db.session(write=True) as s:
        assert close_due_campaigns(s, conf, clock=after) == 1
        first = get_campaign(s, cid).report
    with db.session(write=True) as s:
        assert close_due_campaigns(s, conf, clock=fixed(T0 + timedelta(days=30))) == 0
        assert get_campaign(s, cid).report == first


def test_two_starts_at_once_assign_and_send_once(db: Database, conf: Settings, world: dict[str, Any]) -> None:
    import threading

    cid = _campaign(db, conf, world)
    barrier = threading.Barrier(2)
    reports: list[Any] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait(timeout=10)
            with db.session(write=True) as s:
                reports.append(start_campaign(s, conf, cid, clock=fixed(T0)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(reports) == 2
    assert sorted(r.already_started for r in reports) == [False, True]
    with db.session() as s:
        assert len(_members(s, cid)) == 60
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 45
