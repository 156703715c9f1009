"""The demo business scaled up for the web-latency benchmark (issue #4), generated in bulk with NumPy and Polars.

The demo generator (:func:`ravingfans.demo.generate`) simulates every customer's life in a Python loop,
which is right for a few thousand customers and far too slow for a million. This module keeps what
the demo is (its shop, its staff, its catalogue, its word lists for names, places, tastes and notes)
and draws the customers, orders, lines, moments of truth, notes and consents as whole columns:

- customers: names, e-mail (88%), phone (50%, E.164), postal address, birthday, language, personal
  details, likes, dislikes, sizes, tags, an imported note now and then, e-mail consent, referrals;
- orders: every customer's first visit, then the rest of the orders spread over customers in
  proportion to a gamma-distributed appetite times how long they stayed (30% lapse at some point),
  in shop hours for the shop and the phone and at any hour on the web, numbered in time order;
  about 3% are return receipts (refunded, negative lines) and 0.5% are voided;
- order lines: 1 to 4 per order (1.67 on average), SKUs weighted by category popularity, with
  quantities, the variant's price, 10% of lines discounted, ``amount = quantity * price - discount``;
- moments of truth on about one order in five (rated, with the demo's notes), staff notes, consents.

The result is one Parquet file per table with the database's own column names: money as integer cents
(what :class:`ravingfans.db.types.Money` stores), times as UTC datetimes, JSON columns as the text
SQLAlchemy's JSON type writes. Reproducible from the seed.

    .venv/bin/python bench/web_gen.py --customers 1000000 --orders 10000000 --out bench/.data/gen-1000000-10000000-s7
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from ravingfans.demo import generate
from ravingfans.demo import names

SOURCE = "bench"  # not "demo": `ravingfans demo` must never mistake this database for one it may replace
END = date(2026, 11, 29)  # the last day of the history (fixed, so the same seed gives the same data)
YEARS = 3
HOUR = 3600
DAY = 86400
UTC_OFFSET = 8 * HOUR  # the shop is in Portland, Oregon; close enough to PST/PDT for shop hours
CHANNELS = ("store", "web", "phone", "email", "other")
CHANNEL_P = (0.67, 0.25, 0.05, 0.02, 0.01)
STORE, ONLINE = "Main Street store", "Online store"
LINES_P = (0.55, 0.28, 0.12, 0.05)
QUANTITY_P = (0.88, 0.10, 0.02)
MARKETING = "Yes, send me news, offers and invitations by e-mail. I can unsubscribe at any time."
SURVEYS = "You may e-mail me now and then to ask how you are doing."
AREA = {"OR": ("503", "971", "541"), "WA": ("360", "564")}
INTERACTION_KINDS = ("purchase", "question", "complaint", "return", "courtesy_call", "gift", "other")
INTERACTION_KIND_P = (0.6, 0.14, 0.07, 0.05, 0.08, 0.03, 0.03)


def _epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def _pick(rng: np.random.Generator, values: tuple | list, size: int, p=None) -> np.ndarray:
    """An object array of ``size`` values drawn from ``values`` (weighted by ``p`` when given)."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr[rng.choice(len(values), size=size, p=p)]


def _ts(epochs: np.ndarray) -> pl.Series:
    """UTC datetimes (whole seconds) from epoch seconds."""
    return pl.Series(epochs.astype("int64") * 1_000_000).cast(pl.Datetime("us", "UTC"))


def _masked(values, mask: np.ndarray) -> pl.Series:
    """``values`` (a Series or a NumPy array of strings) where ``mask`` holds, null elsewhere."""
    series = values if isinstance(values, pl.Series) else pl.Series(np.asarray(values).astype(str))
    return pl.select(pl.when(pl.Series(mask)).then(series).otherwise(None)).to_series()


def _dumps(values: list) -> list[str]:
    """JSON text the way SQLAlchemy's JSON type writes it (json.dumps with its default separators)."""
    dumps = json.dumps
    return [dumps(v) for v in values]


def reference(seed: int) -> dict:
    """The demo's own shop: staff, products and variants (small, so taken from the real demo generator)."""
    b = generate(seed=seed, customers=200, years=YEARS, end=END)
    employees = pl.DataFrame({
        "id": list(range(1, len(b.employees) + 1)),
        "name": [e.name for e in b.employees], "email": [e.email for e in b.employees],
        "role": [e.role for e in b.employees], "active": [e.active for e in b.employees],
        "source": SOURCE, "external_id": [e.key for e in b.employees],
        "created_at": [e.created_at for e in b.employees],
    }).with_columns(pl.col("created_at").cast(pl.Datetime("us", "UTC")))
    product_id = {p.key: i + 1 for i, p in enumerate(b.products)}
    products = pl.DataFrame({
        "id": list(product_id.values()), "source": SOURCE, "external_id": list(product_id),
        "name": [p.name for p in b.products], "category": [p.category for p in b.products],
        "brand": [p.brand for p in b.products], "created_at": [p.created_at for p in b.products],
    }).with_columns(pl.col("created_at").cast(pl.Datetime("us", "UTC")))
    variants = pl.DataFrame({
        "id": list(range(1, len(b.variants) + 1)),
        "product_id": [product_id[v.product_key] for v in b.variants], "sku": [v.sku for v in b.variants],
        "size": [v.size for v in b.variants], "colour": [v.colour for v in b.variants],
        "price": [int(v.price * 100) for v in b.variants], "stock": [v.stock for v in b.variants],
        "row_hash": pl.Series([None] * len(b.variants), dtype=pl.Int64),
        "updated_at": [v.updated_at for v in b.variants],
    }).with_columns(pl.col("updated_at").cast(pl.Datetime("us", "UTC")))
    hired = [_epoch(e.hired) for e in b.employees]
    left = [_epoch(e.left) if e.left else 2**62 for e in b.employees]
    fte = [f for _n, _r, f in names.EMPLOYEES]
    return {"employees": employees, "products": products, "product_variants": variants,
            "hired": np.array(hired), "left": np.array(left), "fte": np.array(fte)}


def customers_people(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Who the customers are: gender, names, city, contact channels (no dependence on orders)."""
    female = rng.random(n) < 0.55
    first = np.where(female, _pick(rng, names.FEMALE_FIRST, n), _pick(rng, names.MALE_FIRST, n))
    last = _pick(rng, names.LAST, n)
    city_w = np.array([c[3] for c in names.CITIES], dtype=float)
    city = rng.choice(len(names.CITIES), size=n, p=city_w / city_w.sum())
    return {"female": female, "first": first, "last": last, "city": city}


def build(customers: int, orders: int, seed: int, out: Path, say=print) -> dict[str, int]:
    """Generate every table into ``out`` as Parquet; returns the row counts."""
    if orders < customers:
        raise SystemExit("--orders must be at least --customers (every customer has bought once)")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    ref = reference(seed)
    n, m = customers, orders
    start, end = _epoch(END - timedelta(days=365 * YEARS)), _epoch(END) + DAY - 1
    span = end - start

    # --- when each customer came, whether and when they lapsed, how keen they are
    acquired = np.sort(start + (rng.beta(1.3, 1.0, n) * (span - 14 * DAY)).astype(np.int64))  # ids in order
    lapses = rng.random(n) < 0.30
    active_end = np.where(lapses, acquired + (rng.random(n) * (end - acquired)).astype(np.int64), end)
    appetite = rng.gamma(0.7, 1.0, n) * ((active_end - acquired) / span + 0.02)

    # --- orders: one first visit each, the rest spread by appetite over each customer's active span
    extra = rng.choice(n, size=m - n, p=appetite / appetite.sum())
    cust = np.concatenate([np.arange(n), extra])
    t = np.concatenate([acquired, acquired[extra] + (rng.random(m - n) * (active_end[extra] - acquired[extra]))
                        .astype(np.int64)])
    channel = rng.choice(len(CHANNELS), size=m, p=CHANNEL_P)
    local_day = (t - UTC_OFFSET) // DAY
    in_hours = 10 * HOUR + (rng.random(m) * 9 * HOUR).astype(np.int64)
    any_hour = (rng.random(m) * DAY).astype(np.int64)
    t = np.minimum(local_day * DAY + UTC_OFFSET + np.where(channel == 1, any_hour, in_hours), end)
    order = np.argsort(t, kind="stable")
    cust, t, channel = cust[order], t[order], channel[order]
    del order, extra, local_day, in_hours, any_hour
    order_id = np.arange(1, m + 1)

    # --- who served (not on the web): drawn by hours worked, redrawn when they were not employed then
    fte, hired, left = ref["fte"], ref["hired"], ref["left"]
    emp = rng.choice(len(fte), size=m, p=fte / fte.sum())
    always = np.flatnonzero((hired <= start) & (left > end))
    off = (t < hired[emp]) | (t >= left[emp])
    emp[off] = always[rng.integers(0, len(always), int(off.sum()))]
    employee_id = np.where(channel == 1, 0, emp + 1)  # 0 = nobody (web)

    # --- status: 3% return receipts (refunded), 0.5% voided, the rest paid
    r = rng.random(m)
    is_return = r < 0.03
    voided = (r >= 0.03) & (r < 0.035)

    # --- lines
    variants = ref["product_variants"]
    cat_of_product = dict(zip(ref["products"]["id"].to_list(), ref["products"]["category"].to_list(), strict=True))
    popularity = {c.name: c.popularity for c in names.CATEGORIES}
    v_cat = [cat_of_product[p] for p in variants["product_id"].to_list()]
    per_cat = {c: v_cat.count(c) for c in set(v_cat)}
    v_w = np.array([popularity[c] / per_cat[c] for c in v_cat])
    n_lines = rng.choice(4, size=m, p=LINES_P) + 1
    total_lines = int(n_lines.sum())
    line_order = np.repeat(np.arange(m), n_lines)
    first_line = np.cumsum(n_lines) - n_lines
    line_no = np.arange(total_lines) - np.repeat(first_line, n_lines) + 1
    variant = rng.choice(len(v_w), size=total_lines, p=v_w / v_w.sum())
    price = variants["price"].to_numpy()[variant]
    quantity = rng.choice(3, size=total_lines, p=QUANTITY_P) + 1
    gross = quantity * price
    discounted = rng.random(total_lines) < 0.10
    discount = np.where(discounted, np.round(gross * rng.uniform(0.10, 0.25, total_lines)).astype(np.int64), 0)
    amount = gross - discount
    returned = is_return[line_order]
    amount = np.where(returned, -amount, amount)
    quantity = np.where(returned, -quantity, quantity)
    total = np.bincount(line_order, weights=amount, minlength=m).astype(np.int64)
    skus = variants["sku"].to_numpy()
    product_names = ref["products"]["name"].to_numpy()[variants["product_id"].to_numpy() - 1]
    order_lines = pl.DataFrame({
        "order_id": order_id[line_order], "line_no": line_no.astype(np.int64),
        "kind": pl.Series(np.where(returned, "return", "sale")), "variant_id": variant + 1,
        "sku": pl.Series(skus[variant].astype(str)), "product_name": pl.Series(product_names[variant].astype(str)),
        "quantity": quantity.astype(np.int64), "unit_price": price.astype(np.int64),
        "discount": discount.astype(np.int64), "amount": amount.astype(np.int64),
    })
    del line_order, first_line, line_no, variant, price, quantity, gross, discounted, discount, amount, returned
    say(f"  orders and lines drawn ({time.perf_counter() - t0:.1f} s)")

    orders_df = pl.DataFrame({
        "id": order_id, "source": SOURCE,
        "external_id": "B" + pl.Series(order_id).cast(pl.String).str.zfill(9),
        "customer_id": cust + 1,
        "employee_id": pl.Series(employee_id).replace(0, None),
        "placed_at": _ts(t),
        "channel": pl.Series(np.array(CHANNELS, dtype=object)[channel].astype(str)),
        "location": pl.Series(np.where(channel == 1, ONLINE, STORE)),
        "financial_status": pl.Series(np.where(is_return, "refunded", np.where(voided, "voided", "paid"))),
        "cancelled_at": _ts(t + HOUR + (rng.random(m) * 6 * HOUR).astype(np.int64)),
        "total": total, "content_hash": pl.Series([None] * m, dtype=pl.Int64),
    }).with_columns(pl.when(pl.Series(voided)).then(pl.col("cancelled_at")).otherwise(None).alias("cancelled_at"))

    # --- per-customer facts the customer rows depend on
    per_customer = (orders_df.lazy().filter(pl.col("cancelled_at").is_null())
                    .group_by("customer_id").agg(first=pl.col("placed_at").min(), last=pl.col("placed_at").max(),
                                                 n=pl.len(), spend=pl.col("total").sum(),
                                                 first_channel=pl.col("channel").sort_by("placed_at").first())
                    .sort("customer_id").collect())
    everyone = pl.DataFrame({"customer_id": np.arange(1, n + 1)}).join(per_customer, on="customer_id", how="left")
    first_ts = everyone["first"].dt.epoch("s").fill_null(pl.Series(acquired)).to_numpy()
    last_ts = everyone["last"].dt.epoch("s").fill_null(pl.Series(acquired)).to_numpy()
    n_orders = everyone["n"].fill_null(0).to_numpy()
    spend = everyone["spend"].fill_null(0).to_numpy()
    first_web = (everyone["first_channel"] == "web").fill_null(False).to_numpy()
    say(f"  per-customer totals ({time.perf_counter() - t0:.1f} s)")

    people = customers_people(rng, n)
    customers_df, consents, identities = _customers(rng, n, people, first_ts, last_ts, n_orders, spend, first_web,
                                                    start, end)
    say(f"  customers ({time.perf_counter() - t0:.1f} s)")
    interactions = _interactions(rng, orders_df, t, channel, cust, employee_id, is_return, m)
    notes = _notes(rng, people, first_ts, last_ts, n_orders, ref["employees"]["name"].to_list())
    say(f"  moments of truth and notes ({time.perf_counter() - t0:.1f} s)")

    out.mkdir(parents=True, exist_ok=True)
    tables = {"employees": ref["employees"], "products": ref["products"], "product_variants": variants,
              "customers": customers_df, "customer_identities": identities, "consents": consents, "notes": notes,
              "orders": orders_df, "order_lines": order_lines, "interactions": interactions}
    for name, frame in tables.items():
        frame.write_parquet(out / f"{name}.parquet", compression="lz4", row_group_size=500_000)
    counts = {name: frame.height for name, frame in tables.items()}
    (out / "counts.json").write_text(json.dumps({"seed": seed, "customers": n, "orders": m, "rows": counts,
                                                 "seconds": round(time.perf_counter() - t0, 1)}, indent=1))
    say(f"  written to {out} ({time.perf_counter() - t0:.1f} s)")
    return counts


def _customers(rng: np.random.Generator, n: int, p: dict, first_ts: np.ndarray, last_ts: np.ndarray,
               n_orders: np.ndarray, spend: np.ndarray, first_web: np.ndarray, start: int,
               end: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Customer rows (with their JSON columns), their e-mail consents and their source identities."""
    ids = np.arange(1, n + 1)
    loyal = n_orders >= 12
    first, last, city_i = p["first"], p["last"], p["city"]

    # e-mail: one of the demo's address forms; the second "emma.smith" becomes "emma.smith1", and so on
    has_email = first_web | (rng.random(n) < 0.88)
    form = rng.integers(0, 5, n)
    lo_first = pl.Series(first.astype(str)).str.to_lowercase()
    lo_last = pl.Series(last.astype(str)).str.to_lowercase().str.replace_all("'", "")
    locals_ = (pl.DataFrame({"f": lo_first, "l": lo_last, "form": form})
               .select(pl.when(pl.col("form") == 0).then(pl.col("f") + "." + pl.col("l"))
                       .when(pl.col("form") == 1).then(pl.col("f") + pl.col("l"))
                       .when(pl.col("form") == 2).then(pl.col("f").str.slice(0, 1) + pl.col("l"))
                       .when(pl.col("form") == 3).then(pl.col("f") + "_" + pl.col("l"))
                       .otherwise(pl.col("l") + "." + pl.col("f")).alias("local"))["local"])
    domain = pl.Series(_pick(rng, names.EMAIL_DOMAINS, n).astype(str))
    emails = (pl.DataFrame({"local": locals_, "domain": domain})
              .with_columns(k=pl.int_range(pl.len()).over("local", "domain"))
              .select(pl.col("local") + pl.when(pl.col("k") > 0).then(pl.col("k").cast(pl.String)).otherwise(pl.lit(""))
                      + "@" + pl.col("domain"))).to_series()
    emails = _masked(emails, has_email)

    region = np.array([names.CITIES[c][1] for c in range(len(names.CITIES))], dtype=object)[city_i]
    has_phone = rng.random(n) < np.where(loyal, 0.6, 0.45)
    area = np.where(region == "WA", _pick(rng, AREA["WA"], n), _pick(rng, AREA["OR"], n))
    number = rng.integers(200, 1000, n) * 10_000 + rng.integers(0, 10_000, n)
    phones = _masked("+1" + pl.Series(area.astype(str)) + pl.Series(number.astype(str)), has_phone)

    has_address = rng.random(n) < np.where(loyal, 0.8, 0.55)
    street = pl.Series((rng.integers(100, 9900, n)).astype(str)) + " " + pl.Series(
        _pick(rng, names.STREETS, n).astype(str))
    apt = rng.random(n) < 0.15
    apt_text = pl.Series("Apt " + rng.integers(1, 31, n).astype(str)) + pl.Series(_pick(rng, "ABCD", n).astype(str))
    postal = np.array([names.CITIES[c][2][k % len(names.CITIES[c][2])]
                       for c, k in zip(city_i.tolist(), rng.integers(0, 10, n).tolist(), strict=True)], dtype=object)
    cities = np.array([c[0] for c in names.CITIES], dtype=object)[city_i]

    age_days = ((18 + rng.uniform(0, 30, n) + rng.uniform(0, 32, n)) * 365.25).astype(np.int64)
    birthday = pl.Series(np.datetime64(END.isoformat()) - age_days.astype("timedelta64[D]")).cast(pl.Date)
    has_birthday = rng.random(n) < 0.65
    language = _pick(rng, ("en", "es", "vi"), n, p=(0.9, 0.08, 0.02))

    # tastes and details (JSON columns), the demo's way
    cat_names = [c.name.lower() for c in names.CATEGORIES]
    cat_w = np.array([c.popularity for c in names.CATEGORIES], dtype=float)
    fav = rng.choice(len(cat_names), size=(n, 2), p=cat_w / cat_w.sum())
    brand = _pick(rng, [b for b, _c in names.BRANDS], n)
    colour = _pick(rng, [c.lower() for c, _k in names.COLOURS], n)
    hobby = np.where(rng.random(n) < 0.5, _pick(rng, names.HOBBIES, n), None)
    likes_on = rng.random(n) < np.where(loyal, 0.9, 0.55)
    u = rng.random((n, 6))
    dislike_a, dislike_b = _pick(rng, names.DISLIKES, n), _pick(rng, names.DISLIKES, n)
    occupation = _pick(rng, names.OCCUPATIONS, n)
    partner = np.where(p["female"], _pick(rng, names.MALE_FIRST, n), _pick(rng, names.FEMALE_FIRST, n))
    children = rng.integers(1, 4, n)
    shoe = _pick(rng, names.SHOE_SIZES, n)
    shirt = _pick(rng, names.CLOTHING_SIZES, n)
    note_on = rng.random(n) < 0.18
    note_text = _pick(rng, names.CUSTOMER_NOTES, n)
    referred = (rng.random(n) < 0.10) & (ids > 100)
    referrer = np.where(referred, (rng.random(n) * (ids - 1)).astype(np.int64) + 1, 0)

    vip_cut = np.sort(spend)[::-1][max(n // 20 - 1, 0)]
    consent = np.where(has_email, rng.random(n) < np.where(loyal, 0.8, 0.55), False)
    unsubscribed = consent & (rng.random(n) < 0.07) & (end - first_ts > DAY)
    unsub_at = first_ts + (rng.random(n) * np.maximum(end - first_ts - HOUR, 1)).astype(np.int64)
    surveys = consent & (rng.random(n) < 0.4)

    likes, dislikes, sizes, details, tags = [], [], [], [], []
    for i in range(n):
        ui = u[i]
        like: list[str] = []
        if likes_on[i]:
            like = [cat_names[fav[i, 0]]]
            if fav[i, 1] != fav[i, 0]:
                like.append(cat_names[fav[i, 1]])
            if ui[0] < 0.4:
                like.append(brand[i])
            if ui[1] < 0.3:
                like.append(colour[i])
            if hobby[i] is not None:
                like.append(hobby[i])
        likes.append(like)
        if ui[2] < 0.4:
            dislikes.append([dislike_a[i]] if ui[3] >= 0.3 or dislike_b[i] == dislike_a[i]
                            else [dislike_a[i], dislike_b[i]])
        else:
            dislikes.append([])
        sizes.append({"shoe": shoe[i], "shirt": shirt[i]} if ui[4] < (0.8 if loyal[i] else 0.45) else {})
        d: dict = {}
        if ui[5] < (0.5 if loyal[i] else 0.25):
            d["occupation"] = occupation[i]
            if ui[0] > 0.6:
                d["partner"] = partner[i]
            if ui[1] > 0.65:
                d["children"] = int(children[i])
        details.append(d)
        tag: list[str] = []
        if spend[i] >= vip_cut and n_orders[i] > 1:
            tag.append("VIP")
        if consent[i] and not unsubscribed[i]:
            tag.append("newsletter")
        if referred[i]:
            tag.append("referred")
        if "running shoes" in like or hobby[i] in ("trail running", "marathons"):
            tag.append("runner")
        if note_on[i] and note_text[i].startswith("Wide feet"):
            tag.append("wide-fit")
        tags.append(tag)

    created = _ts(first_ts)
    customers = pl.DataFrame({
        "id": ids, "first_name": pl.Series(first.astype(str)), "last_name": pl.Series(last.astype(str)),
        "email": emails, "phone": phones,
        "address_line1": _masked(street, has_address), "address_line2": _masked(apt_text, has_address & apt),
        "city": _masked(cities, has_address), "region": _masked(region, has_address),
        "postal_code": _masked(postal, has_address), "country": _masked(np.full(n, "US"), has_address),
        "birthday": birthday, "language": pl.Series(language.astype(str)),
        "personal_details": _dumps(details), "likes": _dumps(likes), "dislikes": _dumps(dislikes),
        "sizes": _dumps(sizes), "attributes": "{}", "tags": _dumps(tags),
        "notes": _masked(note_text, note_on),
        "email_consent": pl.select(pl.when(pl.Series(has_email)).then(pl.Series(consent & ~unsubscribed))
                                   .otherwise(None)).to_series(),
        "referred_by_id": pl.Series(referrer).replace(0, None),
        "source": SOURCE,
        "external_id": "C" + pl.Series(ids).cast(pl.String).str.zfill(7),
        "created_at": created,
        "updated_at": _ts(np.where(unsubscribed, unsub_at, first_ts)),
    }).with_columns(pl.when(pl.Series(has_birthday)).then(pl.col("birthday")).otherwise(None).alias("birthday"))

    where = np.where(first_web, "web checkout", "in-store sign-up form")
    parts = [
        pl.DataFrame({"customer_id": ids[has_email], "purpose": "marketing", "channel": "email",
                      "granted": consent[has_email], "at": created.filter(pl.Series(has_email)),
                      "source": pl.Series(where[has_email].astype(str)), "wording": MARKETING}),
        pl.DataFrame({"customer_id": ids[surveys], "purpose": "surveys", "channel": "email", "granted": True,
                      "at": created.filter(pl.Series(surveys)), "source": pl.Series(where[surveys].astype(str)),
                      "wording": SURVEYS}),
        pl.DataFrame({"customer_id": ids[unsubscribed], "purpose": "marketing", "channel": "email", "granted": False,
                      "at": _ts(unsub_at[unsubscribed]), "source": "unsubscribe link",
                      "wording": "Unsubscribed with the link in a newsletter."}),
    ]
    consents = pl.concat(parts).sort("at", "customer_id").with_row_index("id", offset=1).with_columns(
        pl.col("id").cast(pl.Int64))
    identities = customers.select(pl.col("id").alias("customer_id"), pl.lit(SOURCE).alias("source"), "external_id",
                                  pl.lit(None, dtype=pl.Int64).alias("row_hash")).with_row_index("id", offset=1) \
        .with_columns(pl.col("id").cast(pl.Int64))
    return customers, consents, identities


def _interactions(rng: np.random.Generator, orders: pl.DataFrame, t: np.ndarray, channel: np.ndarray,
                  cust: np.ndarray, employee_id: np.ndarray, is_return: np.ndarray, m: int) -> pl.DataFrame:
    """Moments of truth on about one order in five (one in ten on the web), rated, with the demo's notes."""
    chance = np.where(channel == 1, 0.10, 0.22)
    picked = np.flatnonzero(rng.random(m) < chance)
    k = len(picked)
    kind = rng.choice(len(INTERACTION_KINDS), size=k, p=INTERACTION_KIND_P)
    kind = np.where(is_return[picked], INTERACTION_KINDS.index("return"), kind)
    later = np.isin(kind, [1, 2, 4, 5, 6])  # questions, complaints, calls, gifts come days after the order
    when = t[picked] + np.where(later, (rng.random(k) * 20 * DAY).astype(np.int64), 0)
    rating = rng.choice(3, size=k, p=(0.45, 0.40, 0.15))  # 0 magic, 1 mediocre, 2 misery
    rating_value = np.array([1, 0, -1])[rating]
    unrated = rng.random(k) < 0.05
    ch = np.array(CHANNELS, dtype=object)[channel[picked]]
    ch = np.where(later & (ch == "web"), "email", ch)
    lookup = []
    for kname, by_rating in names.INTERACTION_NOTES.items():
        for r, texts in by_rating.items():
            for j, text in enumerate(texts):
                lookup.append((INTERACTION_KINDS.index(kname), r, j, text))
    notes = pl.DataFrame(lookup, schema=["kind", "rating", "j", "note"], orient="row")
    counts = notes.group_by("kind", "rating").agg(pl.len().alias("n"))
    frame = pl.DataFrame({"kind_i": kind, "rating": pl.Series(rating_value), "u": rng.random(k)}) \
        .join(counts, left_on=["kind_i", "rating"], right_on=["kind", "rating"], how="left", maintain_order="left") \
        .with_columns(j=(pl.col("u") * pl.col("n")).floor().cast(pl.Int64)) \
        .join(notes, left_on=["kind_i", "rating", "j"], right_on=["kind", "rating", "j"], how="left",
              maintain_order="left")
    blank = unrated | ((kind == 0) & (rating == 1) & (rng.random(k) < 0.5))
    out = pl.DataFrame({
        "customer_id": cust[picked] + 1,
        "employee_id": pl.Series(employee_id[picked]).replace(0, None),
        "occurred_at": _ts(np.minimum(when, int(t.max()))),
        "channel": pl.Series(ch.astype(str)),
        "kind": pl.Series(np.array(INTERACTION_KINDS, dtype=object)[kind].astype(str)),
        "rating": pl.select(pl.when(pl.Series(~unrated)).then(pl.Series(rating_value))).to_series(),
        "note": pl.Series(np.where(blank, "", frame["note"].fill_null("").to_numpy()), dtype=pl.String),
    }).with_columns(pl.col("occurred_at").alias("created_at")).sort("occurred_at")
    return out.with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))


def _notes(rng: np.random.Generator, people: dict, first_ts: np.ndarray, last_ts: np.ndarray, n_orders: np.ndarray,
           employee_names: list[str]) -> pl.DataFrame:
    """Staff notes on regulars: one or two for about one customer in six with five orders or more."""
    who = np.flatnonzero((n_orders >= 5) & (rng.random(len(n_orders)) < 0.17))
    who = np.concatenate([who, who[rng.random(len(who)) < 0.5]])
    k = len(who)
    template = _pick(rng, names.STAFF_NOTES, k)
    size = _pick(rng, names.SHOE_SIZES, k)
    brand = _pick(rng, [b for b, _c in names.BRANDS], k)
    body = [tpl.format(size=s, brand=b) for tpl, s, b in zip(template, size, brand, strict=True)]
    at = first_ts[who] + (rng.random(k) * np.maximum(last_ts[who] - first_ts[who], 1)).astype(np.int64)
    return pl.DataFrame({
        "customer_id": who + 1, "author": pl.Series(_pick(rng, employee_names, k).astype(str)), "body": body,
        "created_at": _ts(at),
    }).sort("created_at").with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))


def main() -> None:
    """Command line: generate the tables into a folder."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    print(build(args.customers, args.orders, args.seed, args.out))


if __name__ == "__main__":
    main()
