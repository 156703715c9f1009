"""The demo shop's staff and catalogue: eight employees of unequal skill, products in sizes and colours."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from ravingfans.db.types import from_minor
from ravingfans.demo import names
from ravingfans.demo.draws import Draws, cumulate
from ravingfans.demo.model import DemoEmployee, DemoProduct, DemoVariant

# Shoe sizes near the middle sell (and are stocked) more.
_SHOE_SIZE_WEIGHT = (2, 3, 5, 6, 8, 9, 10, 10, 10, 9, 8, 6, 4, 3)


@dataclass
class Staff:
    """The team: rows, true skills and how much of the shop floor each one covers."""

    employees: list[DemoEmployee]
    skill: list[float]
    fte: list[float]

    def on_duty(self, day: date) -> list[int]:
        """Indexes of the employees working on ``day``."""
        return [i for i, e in enumerate(self.employees) if e.hired <= day and (e.left is None or day < e.left)]


@dataclass
class CatalogProduct:
    """What the simulation needs to sell a product: its variants by (size, colour) and their weights."""

    name: str
    brand: str
    category: int
    price_cents: int
    sizes: tuple[str | None, ...]
    colours: list[str]
    colour_cum: list[float]
    sku: dict[tuple[str | None, str], str] = field(default_factory=dict)


@dataclass
class Catalog:
    """Products and variants as rows, plus per-category lists the simulation draws from."""

    products: list[DemoProduct]
    variants: list[DemoVariant]
    items: list[CatalogProduct]
    by_category: list[list[int]]  # category index -> product indexes
    popularity_cum: list[list[float]]  # category index -> cumulative popularity of its products
    category_of: dict[str, int]  # SKU -> category index


def build_staff(draws: Draws, rng: np.random.Generator, start: date, end: date) -> Staff:
    """Eight employees; one joins part-way, one leaves; skills spread evenly, in random order."""
    span = (end - start).days
    skills = np.linspace(-1.2, 1.2, len(names.EMPLOYEES)) + rng.normal(0.0, 0.08, len(names.EMPLOYEES))
    skills = rng.permutation(skills)
    employees: list[DemoEmployee] = []
    for i, (name, role, _fte) in enumerate(names.EMPLOYEES):
        hired = start - timedelta(days=365 * 8 if role == "owner" else 200 + draws.below(900))
        left: date | None = None
        if i == len(names.EMPLOYEES) - 1:  # the newcomer
            hired = start + timedelta(days=int(span * 0.45))
        if i == 5:  # the one who moved on
            left = start + timedelta(days=int(span * 0.7))
        first = name.split()[0].lower()
        employees.append(DemoEmployee(
            key=f"E{i + 1:02d}", name=name, email=f"{first}@alderandpine.example.com", role=role,
            active=left is None, created_at=datetime.combine(hired, time(16, 0), UTC), hired=hired, left=left,
        ))
    return Staff(employees=employees, skill=[round(float(s), 3) for s in skills],
                 fte=[fte for _n, _r, fte in names.EMPLOYEES])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _price_cents(draws: Draws, low: int, high: int) -> int:
    dollars = round(draws.between(low, high))
    return dollars * 100 - (5 if dollars >= 30 else 1)


def _sizes(kind: str) -> tuple[str | None, ...]:
    if kind == "shoe":
        return names.SHOE_SIZES
    if kind == "clothing":
        return names.CLOTHING_SIZES
    if kind == "sock":
        return names.SOCK_SIZES
    return (None,)


def build_catalog(draws: Draws, start: date, now: datetime) -> Catalog:
    """About a hundred products in sixteen categories, each in several sizes and colours, with stock."""
    brand_code = dict(names.BRANDS)
    colour_code = dict(names.COLOURS)
    products: list[DemoProduct] = []
    variants: list[DemoVariant] = []
    items: list[CatalogProduct] = []
    by_category: list[list[int]] = []
    popularity_cum: list[list[float]] = []
    used_names: set[str] = set()
    for c, (category, kind, noun, (low, high), popularity, _rs, _rw, brands) in enumerate(names.CATEGORIES):
        members: list[int] = []
        for _ in range(4 + popularity // 2):
            brand = draws.pick(brands)
            name = f"{brand} {draws.pick(names.MODELS)} {noun}"
            while name in used_names:
                name = f"{brand} {draws.pick(names.MODELS)} {noun}"
            used_names.add(name)
            index = len(items)
            handle = _slug(name)
            created = datetime.combine(start - timedelta(days=draws.below(400)), time(17, 0), UTC)
            products.append(DemoProduct(key=handle, name=name, category=category, brand=brand, created_at=created))
            n_colours = 1 + draws.weighted((15, 50, 85, 100))
            colours: list[str] = []
            while len(colours) < n_colours:
                colour = draws.pick(names.COLOURS)[0]
                if colour not in colours:
                    colours.append(colour)
            item = CatalogProduct(name=name, brand=brand, category=c, price_cents=_price_cents(draws, low, high),
                                  sizes=_sizes(kind), colours=colours,
                                  colour_cum=cumulate([1.0 / (k + 1) for k in range(len(colours))]))
            for s, size in enumerate(item.sizes):
                size_weight = _SHOE_SIZE_WEIGHT[s] / 10 if kind == "shoe" else 1.0
                for k, colour in enumerate(colours):
                    sku = f"{brand_code[brand]}-{index + 1:03d}-{colour_code[colour]}"
                    if size is not None:
                        sku += f"-{size}"
                    item.sku[(size, colour)] = sku
                    mean = (3 if kind == "shoe" else 6) * size_weight / (k + 1) + 0.5
                    stock = 0 if draws.chance(0.08) else draws.poisson(mean)
                    updated = now - timedelta(days=draws.below(30), hours=draws.below(10) + 8)
                    variants.append(DemoVariant(sku=sku, product_key=handle, size=size, colour=colour,
                                                price=from_minor(item.price_cents), stock=stock, updated_at=updated))
            items.append(item)
            members.append(index)
        by_category.append(members)
        popularity_cum.append(cumulate([1.0 / (rank + 1) ** 0.8 for rank in range(len(members))]))
    category_of = {sku: item.category for item in items for sku in item.sku.values()}
    return Catalog(products=products, variants=variants, items=items, by_category=by_category,
                   popularity_cum=popularity_cum, category_of=category_of)
