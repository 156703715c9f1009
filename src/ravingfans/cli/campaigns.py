"""`ravingfans gifts add|list|retire` and `ravingfans campaign create|start|list|show|redeem|close`.

Thin adapters over :mod:`ravingfans.services.gifts` and :mod:`ravingfans.services.campaigns`: the
rules (who is reachable, the hold-out split, sending once, the window and the lift) live there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info, stdout
from ravingfans.errors import ValidationFailed

T = TypeVar("T")


class GiftKind(StrEnum):
    """The kinds of gift."""

    discount_code = "discount_code"
    voucher = "voucher"
    free_item = "free_item"
    note = "note"


class CampaignKind(StrEnum):
    """Win back lost and slipping fans, or thank kept ones."""

    win_back = "win_back"
    appreciation = "appreciation"


class Delivery(StrEnum):
    """How the gift reaches the treated customers."""

    email = "email"
    task = "task"


def _say(line: str) -> None:
    stdout.print(line, markup=False, highlight=False, soft_wrap=True)


def _in_session(work: Callable[[Any], T], *, write: bool = True) -> T:
    db = context.database()
    try:
        with db.session(write=write) as session:
            return work(session)
    finally:
        db.dispose()


def register(app: typer.Typer) -> None:
    """Add the `gifts` and `campaign` command groups to the app."""
    gifts = typer.Typer(help="The gift catalog: discount codes, vouchers, free items, handwritten notes.",
                        no_args_is_help=True)
    gifts.command("add")(gift_add)
    gifts.command("list")(gift_list)
    gifts.command("retire")(gift_retire)
    app.add_typer(gifts, name="gifts")
    group = typer.Typer(help="Win-back and thank-you campaigns with a hold-out group that proves the lift.",
                        no_args_is_help=True)
    group.command("create")(create)
    group.command("start")(start)
    group.command("list")(list_)
    group.command("show")(show)
    group.command("redeem")(redeem)
    group.command("close")(close)
    app.add_typer(group, name="campaign")


# --- gifts ------------------------------------------------------------------------------------------------------


def gift_add(
    name: str = typer.Argument(..., help="The gift's name, unique (e.g. \"10 off, come back\")."),
    kind: GiftKind = typer.Option(..., "--kind", help="discount_code, voucher, free_item or note."),
    code: str | None = typer.Option(None, "--code", help="The discount code (or voucher code) customers show."),
    value: str | None = typer.Option(None, "--value", help="Money off or the voucher's amount, e.g. 10 or 12.50."),
    description: str = typer.Option("", "--description", help="What the customer gets, in words."),
) -> None:
    """Add a gift to the catalog."""
    from ravingfans.services.gifts import add_gift

    gift = _in_session(lambda s: add_gift(s, name=name, kind=kind.value, code=code, value=value,
                                          description=description))
    info(f"Gift {gift.id} ({gift.name}, {gift.kind_label.lower()}) added.")
    _say(str(gift.id))


def gift_list(active: bool = typer.Option(False, "--active", help="Only gifts not retired.")) -> None:
    """List the gift catalog."""
    from ravingfans.services.gifts import list_gifts

    gifts = _in_session(lambda s: list_gifts(s, include_retired=not active), write=False)
    if not gifts:
        info("No gifts yet. Add one with: ravingfans gifts add NAME --kind discount_code --code CODE --value 10")
    for g in gifts:
        parts = [f"#{g.id} {g.name}", g.kind_label.lower()]
        parts += [f"code {g.code}"] if g.code else []
        parts += [f"value {g.value}"] if g.value is not None else []
        parts += ["active" if g.active else "retired", f"{g.campaigns} campaign(s)"]
        _say(" · ".join(parts))
        if g.description:
            _say(f"   {g.description}")


def gift_retire(gift_id: int = typer.Argument(..., help="The gift to retire.")) -> None:
    """Retire a gift: past campaigns keep it; new campaigns cannot choose it."""
    from ravingfans.services.gifts import retire_gift

    gift = _in_session(lambda s: retire_gift(s, gift_id))
    info(f"Gift {gift.id} ({gift.name}) is retired.")


# --- campaigns --------------------------------------------------------------------------------------------------


def create(
    name: str = typer.Argument(..., help="The campaign's name, unique."),
    kind: CampaignKind = typer.Option(..., "--kind", help="win_back (lost and slipping fans) or appreciation "
                                                          "(kept fans)."),
    gift_id: int = typer.Option(..., "--gift", help="The gift to give (its number in `ravingfans gifts list`)."),
    segments: list[str] = typer.Option([], "--segment", help="A segment of the current scoring run; repeatable."),
    slipping: bool = typer.Option(False, "--slipping", help="Also the slipping fans (win-back only)."),
    holdout_share: float | None = typer.Option(
        None, "--holdout-share", help="Share held out for comparison, 0 to 0.5 (default RAVINGFANS_CAMPAIGN_"
                                      "HOLDOUT_SHARE)."),
    seed: int | None = typer.Option(None, "--seed", help="The split's seed, to reproduce it (default: random)."),
    delivery: Delivery = typer.Option(Delivery.email, "--delivery", help="email or task (staff give it)."),
    window_days: int = typer.Option(60, "--window-days", help="Days over which the lift is measured (7-366)."),
    message: str = typer.Option("", "--message", help="A personal message in the e-mail, or the task's script."),
) -> None:
    """Make a campaign as a draft; nothing is assigned or sent until it starts."""
    from ravingfans.services.campaigns import create_campaign

    settings = context.settings()
    campaign = _in_session(lambda s: create_campaign(
        s, settings, name=name, kind=kind.value, gift_id=gift_id, segments=segments, slipping=slipping,
        holdout_share=holdout_share, seed=seed, delivery=delivery.value, window_days=window_days, message=message))
    info(f"Campaign {campaign.id} ({campaign.name}) made as a draft: {campaign.audience_text}, "
         f"{campaign.holdout_share:.0%} held out, seed {campaign.seed}. "
         f"Count it first with: ravingfans campaign start {campaign.id} --dry-run")
    _say(str(campaign.id))


def start(
    campaign_id: int = typer.Argument(..., help="The campaign to start."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count the audience, treated, held out and left "
                                                          "out (no consent...); change nothing."),
) -> None:
    """Assign the hold-out group and give the treated group the gift; starting again changes nothing."""
    from ravingfans.services.campaigns import start_campaign

    settings = context.settings()
    report = _in_session(lambda s: start_campaign(s, settings, campaign_id, dry_run=dry_run), write=not dry_run)
    for line in report.summary():
        _say(line)
    if not dry_run and not report.already_started and report.delivered.get("e-mail queued"):
        info("The e-mails are in the outbox; deliver them with: ravingfans outbox send")


def list_() -> None:
    """List the campaigns with their state, groups and verdict."""
    from ravingfans.services.campaigns import list_campaigns

    campaigns = _in_session(list_campaigns, write=False)
    if not campaigns:
        info("No campaigns yet. Make one with: ravingfans campaign create NAME --kind win_back --gift ID --slipping")
    for c in campaigns:
        ends = f" · ends {c.ends_at:%Y-%m-%d %H:%M} UTC" if c.ends_at and c.status == "running" else ""
        _say(f"#{c.id} {c.name} · {c.kind_label.lower()} · {c.status}{ends} · {c.treated} treated, "
             f"{c.holdout} held out · {c.redeemed} redeemed")
        if c.headline:
            _say(f"   {c.headline}")


def show(
    campaign_id: int = typer.Argument(..., help="The campaign to show."),
    as_json: bool = typer.Option(False, "--json", help="Print the campaign and its stored report as JSON."),
) -> None:
    """Show a campaign: its set-up, groups, delivery and (once closed) the report with its lift."""
    from ravingfans.services.campaigns import get_campaign

    c = _in_session(lambda s: get_campaign(s, campaign_id), write=False)
    if as_json:
        _say(json.dumps({"id": c.id, "name": c.name, "kind": c.kind, "status": c.status,
                         "gift": None if c.gift is None else {"id": c.gift.id, "name": c.gift.name},
                         "segments": list(c.segments), "slipping": c.slipping, "holdout_share": c.holdout_share,
                         "seed": c.seed, "delivery": c.delivery, "window_days": c.window_days,
                         "started_at": c.started_at.isoformat() if c.started_at else None,
                         "ends_at": c.ends_at.isoformat() if c.ends_at else None,
                         "closed_at": c.closed_at.isoformat() if c.closed_at else None,
                         "treated": c.treated, "holdout": c.holdout, "delivered": c.delivered,
                         "redeemed": c.redeemed, "report": c.report}, indent=2))
        return
    _say(f"Campaign #{c.id} {c.name} ({c.kind_label.lower()}) · {c.status}")
    _say(f"  gift: {c.gift.name if c.gift else '(removed)'} · delivery: {c.delivery} · audience: {c.audience_text}")
    _say(f"  hold-out share {c.holdout_share:.0%}, seed {c.seed}, window {c.window_days} days")
    if c.started_at:
        _say(f"  started {c.started_at:%Y-%m-%d %H:%M} UTC; window ends {c.ends_at:%Y-%m-%d %H:%M} UTC")
    _say(f"  {c.treated} treated, {c.holdout} held out, {c.delivered} e-mailed, {c.redeemed} redeemed")
    if c.report:
        _print_report(c.report)
    elif c.status == "running":
        info("The report is made when the window ends (the worker's campaigns job, or: ravingfans campaign close).")


def _print_report(report: dict[str, Any]) -> None:
    lift = report["lift"]
    t, h = lift["treated"], lift["holdout"]

    def rate(g: dict[str, Any]) -> str:
        return "—" if g["rate"] is None else f"{g['rate']:.1%}"

    _say(f"Report (closed {report['computed_at'][:16].replace('T', ' ')} UTC):")
    _say(f"  {'':24}{'treated':>12}{'held out':>12}")
    _say(f"  {'customers':24}{t['customers']:>12}{h['customers']:>12}")
    _say(f"  {'bought in the window':24}{t['returned']:>12}{h['returned']:>12}")
    _say(f"  {'return rate':24}{rate(t):>12}{rate(h):>12}")
    _say(f"  {'revenue':24}{t['revenue']:>12,.2f}{h['revenue']:>12,.2f}")
    _say(f"  {lift['headline']}")
    _say(f"  {report['revenue_text']}")
    attributed = report["attributed"]
    _say(f"  Redeemed: {attributed['redeemed']} (orders named: {attributed['redeemed_order_revenue']:,.2f} "
         f"{report['currency']}).")


def redeem(
    campaign_id: int = typer.Argument(..., help="The campaign whose gift was used."),
    customer_id: int = typer.Option(..., "--customer", help="The customer who used it."),
    order_id: int | None = typer.Option(None, "--order", help="The order it was used on, if known."),
) -> None:
    """Record that a treated customer redeemed the gift (recording it again changes nothing)."""
    from ravingfans.services.campaigns import record_redemption

    done = _in_session(lambda s: record_redemption(s, campaign_id, customer_id, order_id=order_id))
    if done.already:
        info(f"Already recorded: customer #{customer_id} redeemed the gift of campaign {campaign_id} on "
             f"{done.redeemed_at:%Y-%m-%d}.")
    else:
        info(f"Recorded: customer #{customer_id} redeemed the gift of campaign {campaign_id}"
             + (f" with order #{order_id}." if order_id else "."))


def close(
    campaign_id: int | None = typer.Argument(None, help="The campaign to close now (its window ends early)."),
    due: bool = typer.Option(False, "--due", help="Close every campaign whose window has ended (what the "
                                                  "worker does)."),
) -> None:
    """Close a campaign and store its report (closing again changes nothing); or, with --due, every due one."""
    from ravingfans.services.campaigns import close_campaign, close_due_campaigns

    if (campaign_id is None) == (not due):
        raise ValidationFailed("Name one campaign to close, or give --due to close every campaign whose window "
                               "has ended", field="campaign_id")
    settings = context.settings()
    if due:
        count = _in_session(lambda s: close_due_campaigns(s, settings))
        _say(f"Closed {count} campaign(s) whose window had ended.")
        return
    assert campaign_id is not None
    c = _in_session(lambda s: close_campaign(s, settings, campaign_id))
    _say(f"Campaign {c.id} ({c.name}) is closed.")
    if c.report:
        _print_report(dict(c.report))
