"""The demo generator: reproducible, about the promised size, and faithful to its own ground truth."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ravingfans.db.models import CHANNELS, KINDS
from ravingfans.demo import FAN, LAPSING_FAN, ONE_OFF, REGULAR, DemoBusiness, generate


@pytest.fixture(scope="module")
def business() -> DemoBusiness:
    """The default demo (5,000 customers, 3 years), generated once for this module."""
    return generate()


@pytest.fixture(scope="module")
def small() -> DemoBusiness:
    return generate(seed=11, customers=400, years=1)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    for rank, i in enumerate(order):
        ranks[i] = float(rank)
    return ranks


def _spearman(x: list[float], y: list[float]) -> float:
    rx, ry = _ranks(x), _ranks(y)
    n = len(x)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / (vx * vy) ** 0.5


def test_same_seed_builds_the_same_business(small: DemoBusiness) -> None:
    again = generate(seed=11, customers=400, years=1)
    assert again == small
    other = generate(seed=12, customers=400, years=1)
    assert [o.placed_at for o in other.orders] != [o.placed_at for o in small.orders]


def test_default_scale_is_about_as_promised(business: DemoBusiness) -> None:
    assert len(business.customers) == 5000
    assert len(business.employees) == 8
    assert 50_000 <= len(business.orders) <= 70_000
    assert business.start.year == business.end.year - 3
    assert (business.end - business.start).days in (1095, 1096)
    kinds = Counter(business.truth.segment_kind.values())
    assert set(kinds) == {FAN, LAPSING_FAN, ONE_OFF, REGULAR}
    assert kinds[FAN] > 400 and kinds[LAPSING_FAN] > 200 and kinds[ONE_OFF] > 1000
    assert len(business.products) >= 80 and len(business.variants) >= 1000
    assert {v.size for v in business.variants} >= {"S", "M", "L", "XL", "9", "9.5", "10"}
    assert len({v.colour for v in business.variants}) >= 8
    assert len({p.category for p in business.products}) >= 12
    assert len({p.brand for p in business.products}) >= 8
    assert any(v.stock == 0 for v in business.variants) and any(v.stock > 5 for v in business.variants)


def test_every_row_is_well_formed(business: DemoBusiness) -> None:
    keys = {c.key for c in business.customers}
    staff = {e.key for e in business.employees}
    skus = {v.sku for v in business.variants}
    assert len(keys) == len(business.customers)
    assert len(skus) == len(business.variants)
    for o in business.orders:
        assert o.customer_key in keys
        assert o.employee_key is None or o.employee_key in staff
        assert o.placed_at.tzinfo is UTC and o.placed_at < business.now
        assert o.channel in CHANNELS
    for i in business.interactions:
        assert i.customer_key in keys and i.channel in CHANNELS and i.kind in KINDS
        assert i.rating in (-1, 0, 1, None)
        assert i.occurred_at < business.now
    by_order: dict[str, list] = defaultdict(list)
    for line in business.lines:
        by_order[line.order_key].append(line)
        sign = -1 if line.kind == "return" else 1
        assert line.amount == sign * (abs(line.quantity) * line.unit_price - line.discount)
        assert line.discount >= 0
        assert line.sku is None or line.sku in skus
        if line.kind == "sale":
            assert line.quantity > 0 and line.amount > 0
        elif line.kind == "return":
            assert line.quantity < 0 and line.amount < 0
        else:
            assert line.kind == "refund" and line.amount < 0 and line.quantity == 1 and line.sku is None
    for o in business.orders:
        assert o.total == sum((ln.amount for ln in by_order[o.key]), Decimal(0))
        assert [ln.line_no for ln in by_order[o.key]] == list(range(1, len(by_order[o.key]) + 1))
    kinds = Counter(line.kind for line in business.lines)
    assert kinds["return"] > 1000 and kinds["refund"] > 100
    assert sum(1 for o in business.orders if o.cancelled_at is not None) > 20
    zone = ZoneInfo(business.time_zone)
    first = min(o.placed_at for o in business.orders).astimezone(zone).date()
    last = max(o.placed_at for o in business.orders).astimezone(zone).date()
    assert business.start <= first and last <= business.end


def test_seasons_show(business: DemoBusiness) -> None:
    zone = ZoneInfo(business.time_zone)
    months = Counter(o.placed_at.astimezone(zone).month for o in business.orders if o.total > 0)
    average = sum(months.values()) / 12
    assert months[12] > 1.3 * average  # the December peak
    assert months[12] == max(months.values())
    assert months[7] > average  # the summer sale
    july_discounted = [o for o in business.orders if o.placed_at.astimezone(zone).month == 7 and o.discount_code]
    assert july_discounted and all(o.discount_code == "SUMMER25" for o in july_discounted)


def test_lapsed_customers_never_order_after_their_lapse(business: DemoBusiness) -> None:
    truth = business.truth
    last: dict[str, object] = {}
    for o in business.orders:
        last[o.customer_key] = max(last.get(o.customer_key, o.placed_at), o.placed_at)
    assert truth.lapsed
    for key, when in truth.lapsed.items():
        assert last[key] <= when < business.now
    for key, kind in truth.segment_kind.items():
        if kind in (ONE_OFF, LAPSING_FAN):
            assert key in truth.lapsed
        if kind == FAN:
            assert truth.alive(key)
    # Lapsing fans stop well before "now", so the lapse is there to be found ...
    lapsing = [k for k, kind in truth.segment_kind.items() if kind == LAPSING_FAN]
    assert all(business.now - truth.lapsed[k] > timedelta(days=60) for k in lapsing)
    # ... after a real rhythm of purchases, while steady fans keep coming.
    purchases = Counter(o.customer_key for o in business.orders if o.total > 0)
    assert sum(purchases[k] for k in lapsing) / len(lapsing) >= 5
    fans = [k for k, kind in truth.segment_kind.items() if kind == FAN]
    recent = {o.customer_key for o in business.orders if business.now - o.placed_at < timedelta(days=120)}
    assert sum(k in recent for k in fans) / len(fans) > 0.85
    assert all(purchases[k] <= 1 for k, kind in truth.segment_kind.items() if kind == ONE_OFF)


def test_better_employees_make_more_magic(business: DemoBusiness) -> None:
    rated: Counter[str] = Counter()
    magic: Counter[str] = Counter()
    for i in business.interactions:
        if i.employee_key and i.rating is not None:
            rated[i.employee_key] += 1
            magic[i.employee_key] += i.rating == 1
    keys = sorted(business.truth.employee_skill)
    skill = [business.truth.employee_skill[k] for k in keys]
    share = [magic[k] / rated[k] for k in keys]
    assert min(rated.values()) > 500
    assert len({round(s, 1) for s in skill}) == 8  # unequal skill
    assert _spearman(skill, share) > 0.9
    best = max(keys, key=business.truth.employee_skill.__getitem__)
    worst = min(keys, key=business.truth.employee_skill.__getitem__)
    assert magic[best] / rated[best] > magic[worst] / rated[worst] + 0.2


def test_true_rates_drive_purchases(business: DemoBusiness) -> None:
    purchases = Counter(o.customer_key for o in business.orders if o.total > 0)
    truth = business.truth
    fans = [purchases[k] for k, kind in truth.segment_kind.items() if kind == FAN]
    regulars = [purchases[k] for k, kind in truth.segment_kind.items() if kind == REGULAR]
    assert sum(fans) / len(fans) > 3 * sum(regulars) / len(regulars)
    assert all(rate > 0 for rate in truth.purchase_rate.values())
    assert all(0 <= p <= 1 for p in truth.dropout_probability.values())


def test_customers_have_a_life(business: DemoBusiness) -> None:
    customers = business.customers
    index = {c.key: n for n, c in enumerate(customers)}
    referred = [c for c in customers if c.referred_by]
    assert len(referred) > 300
    assert all(index[c.referred_by] < index[c.key] for c in referred)  # referred by someone earlier
    referrers = Counter(business.truth.segment_kind[c.referred_by] for c in referred)
    assert referrers[FAN] == max(referrers.values())
    assert sum(bool(c.likes) for c in customers) > 2000
    assert sum(bool(c.dislikes) for c in customers) > 1000
    assert sum(bool(c.sizes) for c in customers) > 1500
    assert sum(bool(c.tags) for c in customers) > 2000
    assert sum(c.birthday is not None for c in customers) > 2500
    assert sum(c.notes is not None for c in customers) > 500
    assert business.notes
    emails = [c.email for c in customers if c.email]
    phones = [c.phone for c in customers if c.phone]
    assert len(set(emails)) == len(emails) > 4000
    assert len(set(phones)) == len(phones) > 1500
    assert all(c.created_at <= c.updated_at < business.now for c in customers)


def test_consents_match_the_flags(business: DemoBusiness) -> None:
    latest: dict[str, object] = {}
    for consent in sorted(business.consents, key=lambda c: c.at):
        if consent.purpose == "marketing" and consent.channel == "email":
            latest[consent.customer_key] = consent.granted
    for c in business.customers:
        if c.email is None:
            assert c.email_consent is None and c.key not in latest
        else:
            assert latest[c.key] is c.email_consent
    assert any(not c.granted for c in business.consents if c.source == "unsubscribe link")


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="customers"):
        generate(customers=0)
    with pytest.raises(ValueError, match="years"):
        generate(years=0)
