"""Web fixtures: a seeded shop, an in-process client, and a real `ravingfans serve` process."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Consent, Customer, Employee, Interaction, Note, Order, OrderLine
from ravingfans.web import create_app
from serving import LiveServer, child_env, free_port, running_server, serve_command
from signin import LIVE_OWNER, add_account, sign_in_as

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette nags about httpx vs httpx2 at import
    from fastapi.testclient import TestClient


@dataclass
class Shop:
    """Ids of the seeded rows tests refer to."""

    ada: int
    grace: int
    linus: int
    hostile: int
    anna: int
    employee: int


def _customer(first: str | None, last: str | None, email: str | None, phone: str | None, **extra: object) -> Customer:
    at = datetime(2023, 1, 5, 9, 0, tzinfo=UTC)
    return Customer(first_name=first, last_name=last, email=email, phone=phone, created_at=at, updated_at=at,
                    **extra)


def _order(customer: Customer, ext: str, at: datetime, *lines: tuple[str, int, str], cancelled: bool = False) -> Order:
    order = Order(source="test", external_id=ext, customer_id=customer.id, placed_at=at, channel="store",
                  location="Main St", cancelled_at=at if cancelled else None)
    total = Decimal(0)
    for number, (name, qty, price) in enumerate(lines, start=1):
        amount = Decimal(price) * qty
        total += amount
        order.lines.append(OrderLine(line_no=number, kind="sale" if qty > 0 else "return", product_name=name,
                                     sku=f"SKU-{name[:3].upper()}", quantity=qty, unit_price=Decimal(price),
                                     amount=amount))
    order.total = total
    return order


def seed_shop(db: Database) -> Shop:
    """A handful of customers with orders, consents, a moment and a note."""
    with db.session(write=True) as s:
        employee = Employee(name="Sam Seller", source="test", external_id="E1",
                            created_at=datetime(2022, 1, 1, tzinfo=UTC))
        gone = Employee(name="Old Timer", source="test", external_id="E2", active=False,
                        created_at=datetime(2022, 1, 1, tzinfo=UTC))
        ada = _customer("Ada", "Lovelace", "ada@example.com", "+14155550123", city="London",
                        likes=["green tea", "poetry"], dislikes=["loud music"], sizes={"shoe": "38"}, email_consent=False,
                        tags=["vip"], personal_details={"dog_name": "Rex"}, notes="Imported: prefers mornings")
        grace = _customer("Grace", "Hopper", "grace@navy.example", "+12025550199")
        linus = _customer("Linus", "Torvalds", "linus@example.org", None)
        hostile = _customer("<img src=x onerror=alert(1)>", "<b>Bold</b>", "evil@example.com", None,
                            likes=["<script>alert('like')</script>"])
        anna = _customer("Anna", "Zed", None, "+442079460958")
        s.add_all([employee, gone, ada, grace, linus, hostile, anna])
        s.flush()
        # Ada: two orders, one late on 1 March UTC (already 2 March in Tokyo); Grace spends most; Linus never.
        s.add(_order(ada, "A-1", datetime(2024, 3, 1, 23, 30, tzinfo=UTC),
                     ("Boots", 1, "120.00"), ("Socks", 2, "5.25")))
        s.add(_order(ada, "A-2", datetime(2023, 6, 1, 12, 0, tzinfo=UTC), ("Scarf", 1, "30.00")))
        s.add(_order(grace, "G-1", datetime(2023, 12, 24, 10, 0, tzinfo=UTC), ("Coat", 1, "900.00")))
        s.add(_order(grace, "G-X", datetime(2024, 5, 1, 10, 0, tzinfo=UTC), ("Hat", 1, "5000.00"), cancelled=True))
        s.add(_order(anna, "Z-1", datetime(2022, 2, 2, 10, 0, tzinfo=UTC), ("Gloves", 1, "15.00")))
        s.add(Consent(customer_id=ada.id, purpose="marketing", channel="email", granted=True,
                      at=datetime(2023, 1, 5, 9, 0, tzinfo=UTC), source="till", wording="Yes to news"))
        s.add(Consent(customer_id=ada.id, purpose="marketing", channel="email", granted=False,
                      at=datetime(2024, 1, 5, 9, 0, tzinfo=UTC), source="unsubscribe link", wording=""))
        s.add(Interaction(customer_id=ada.id, employee_id=employee.id,
                          occurred_at=datetime(2024, 3, 2, 8, 0, tzinfo=UTC),
                          channel="phone", kind="courtesy_call", rating=1, note="Loves the boots",
                          created_at=datetime(2024, 3, 2, 8, 0, tzinfo=UTC)))
        s.add(Note(customer_id=ada.id, author="Sam", body="Ask about the poetry reading",
                   created_at=datetime(2024, 2, 1, 12, 0, tzinfo=UTC)))
        return Shop(ada=ada.id, grace=grace.id, linus=linus.id, hostile=hostile.id, anna=anna.id,
                    employee=employee.id)


@pytest.fixture
def shop(db: Database) -> Shop:
    """The seeded shop on this test's database."""
    return seed_shop(db)


@pytest.fixture
def web_settings(database_url: str) -> Settings:
    """Settings for the app under test: a zone far from UTC and a currency with a symbol."""
    return Settings(database_url=database_url, time_zone="Asia/Tokyo", currency="EUR",
                    business_name="Shoe & Co", _env_file=None)


@pytest.fixture
def anon_client(web_settings: Settings, shop: Shop) -> Iterator[TestClient]:
    """An in-process client of the app over the seeded shop, not signed in."""
    with TestClient(create_app(web_settings), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def client(anon_client: TestClient, db: Database) -> TestClient:
    """An in-process client signed in as an owner (who may do everything)."""
    return sign_in_as(anon_client, db, "owner")


ClientAs = Callable[[str], TestClient]


@pytest.fixture
def client_as(web_settings: Settings, shop: Shop, db: Database) -> Iterator[ClientAs]:
    """A factory of in-process clients, each signed in as a new user with the given role."""
    opened: list[TestClient] = []

    def make(role: str) -> TestClient:
        test_client = TestClient(create_app(web_settings), follow_redirects=False)
        test_client.__enter__()
        opened.append(test_client)
        return sign_in_as(test_client, db, role, f"{role}{len(opened)}@shoe.example")

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


@pytest.fixture
def live_server(database_url: str, shop: Shop, db: Database, tmp_path: Path) -> Iterator[LiveServer]:
    """`ravingfans serve` over the seeded test database, with an owner account (see signin.LIVE_OWNER)."""
    add_account(db, "owner", LIVE_OWNER)
    with running_server(database_url, tmp_path) as server:
        yield server


RunServe = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run_serve(tmp_path: Path) -> RunServe:
    """Run `ravingfans serve --host 127.0.0.1 ARGS` over a database, for runs expected to stop by themselves."""

    def run(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        command = serve_command("serve", "--host", "127.0.0.1", *args)
        return subprocess.run(command, env=child_env(database_url, **env), cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)

    return run


@pytest.fixture
def unused_port() -> int:
    """A TCP port nobody listens on right now."""
    return free_port()
