"""`ravingfans wait|holds|stock|restock` in-process: waits in store, stock set, notices queued, holds listed and let go."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from ravingfans.db import Database
from ravingfans.db.models import Customer, Order, OrderLine, OutboxMessage, Product, ProductVariant
from ravingfans.db.models.stock import Hold, Restock, StockWait

Run = Callable[[list[str]], int]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Boots in 38 (in stock) and 39 (sold out), Ana (consent) and Ben (none) who bought a 39 once; the CLI pointed
    at the database with 2-day holds."""
    for name, value in {"DATABASE_URL": database_url, "HOLD_DAYS": "2", "MAIL_FROM": "hello@shoe.example",
                        "BUSINESS_ADDRESS": "12 High Street", "TIME_ZONE": "Europe/Madrid"}.items():
        monkeypatch.setenv(f"RAVINGFANS_{name}", value)
    with db.session(write=True) as s:
        product = Product(source="test", external_id="CB", name="Chelsea boots", created_at=T0, variants=[
            ProductVariant(sku="CB-38", size="38", stock=4, updated_at=T0),
            ProductVariant(sku="CB-39", size="39", stock=0, updated_at=T0)])
        ana = Customer(first_name="Ana", last_name="Lopez", email="ana@example.com", email_consent=True,
                       created_at=T0, updated_at=T0)
        ben = Customer(first_name="Ben", last_name="Ode", email="ben@example.com", phone="+34600000000",
                       created_at=T0, updated_at=T0)
        s.add_all([product, ana, ben])
        s.flush()
        size39 = product.variants[1].id
        order = Order(source="till", external_id="T-1", customer_id=ben.id, placed_at=T0, total=Decimal("120.00"))
        order.lines.append(OrderLine(line_no=1, kind="sale", variant_id=size39, quantity=1,
                                     unit_price=Decimal("120.00"), amount=Decimal("120.00")))
        s.add(order)
        return {"ana": ana.id, "ben": ben.id, "size39": size39, "product": product.id}


def test_a_wait_in_store_then_stock_in_then_the_notice_and_the_hold(run_cli: Run, store: dict[str, int],
                                                                     db: Database,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["wait", "add", "ana@example.com", "CB-39"]) == 0
    assert "waits for CB-39" in capsys.readouterr().err
    assert run_cli(["wait", "add", str(store["ana"]), "CB-39", "--source", "profile"]) == 0
    assert "already waits" in capsys.readouterr().err
    assert run_cli(["wait", "infer", "--product", str(store["product"])]) == 0
    assert "1 wait(s) inferred" in capsys.readouterr().err
    assert run_cli(["wait", "list", "--sku", "CB-39"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split("\t")[:4] == ["id", "customer", "name", "sku"]
    assert [(row.split("\t")[2], row.split("\t")[6], row.split("\t")[7]) for row in out[1:]] == [
        ("Ana Lopez", "store", "yes"), ("Ben Ode", "inferred", "no")]
    assert run_cli(["wait", "list", "--source", "inferred"]) == 0
    assert "Ana" not in capsys.readouterr().out

    assert run_cli(["stock", "set", "CB-39", "3"]) == 0
    err = capsys.readouterr().err
    assert "CB-39: 0 → 3" in err and "restock #" in err
    assert run_cli(["restock", "list", "--pending"]) == 0
    assert "\tCB-39\t" in capsys.readouterr().out
    assert run_cli(["restock", "notify"]) == 0
    err = capsys.readouterr().err
    assert "1 customer(s) told by e-mail, 1 hold(s) made, 1 could not be told" in err  # Ben: no consent
    with db.session() as s:
        assert [(m.customer_id, m.purpose) for m in s.scalars(select(OutboxMessage))] == [(store["ana"], "service")]
        assert s.scalar(select(Restock.source)) == "cli"
    assert run_cli(["restock", "notify"]) == 0
    assert "0 restock(s)" in capsys.readouterr().err

    assert run_cli(["holds", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].split("\t")[2] == "Ana Lopez" and out[1].split("\t")[4] == "CB-39"
    hold_id = out[1].split("\t")[0].lstrip("#")
    assert run_cli(["holds", "list", "--customer", "ben@example.com"]) == 0
    assert "Nothing is held" in capsys.readouterr().err
    assert run_cli(["holds", "release", hold_id]) == 0
    assert f"Hold #{hold_id} released" in capsys.readouterr().err
    assert run_cli(["holds", "release", hold_id]) == 0
    assert "already released" in capsys.readouterr().err
    assert run_cli(["holds", "list", "--all", "--sku", "CB-39"]) == 0
    assert "\tstaff" in capsys.readouterr().out
    assert run_cli(["wait", "list"]) == 0
    assert "Nobody is waiting" in capsys.readouterr().err


def test_stock_set_can_tell_at_once_and_holds_expire(run_cli: Run, store: dict[str, int], db: Database,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["wait", "add", "ana@example.com", "CB-39"]) == 0
    assert run_cli(["stock", "set", "CB-39", "1", "--notify"]) == 0
    assert "1 customer(s) told by e-mail, 1 hold(s) made" in capsys.readouterr().err
    with db.session(write=True) as s:  # two days on
        hold = s.scalar(select(Hold))
        hold.expires_at = datetime(2020, 1, 1, tzinfo=UTC)
    assert run_cli(["holds", "expire"]) == 0
    assert "1 hold(s) expired" in capsys.readouterr().err
    with db.session() as s:
        assert s.scalar(select(Hold.release_reason)) == "expired"
    assert run_cli(["stock", "set", "CB-39", "0"]) == 0
    assert run_cli(["stock", "set", "CB-38", "9"]) == 0
    assert "restock" not in capsys.readouterr().err  # more of what was there, and nobody waits


def test_cancel_and_mistakes_are_named(run_cli: Run, store: dict[str, int], db: Database,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["wait", "add", "nobody@example.com", "CB-39"]) == 4
    assert "nobody@example.com" in capsys.readouterr().err
    assert run_cli(["wait", "add", "Ana", "CB-39"]) == 2
    assert run_cli(["wait", "add", "ana@example.com", "NOPE"]) == 4
    assert "NOPE" in capsys.readouterr().err
    assert run_cli(["wait", "add", "ana@example.com", "CB-38"]) == 1  # in stock: sell it
    assert "in stock (4 free to sell)" in capsys.readouterr().err
    assert run_cli(["wait", "add", "ana@example.com", "CB-39", "--source", "inferred"]) == 2
    assert run_cli(["wait", "list", "--source", "pigeon"]) == 2
    assert run_cli(["stock", "set", "CB-39", "-1"]) == 2
    assert run_cli(["holds", "release", "999"]) == 4
    assert "Traceback" not in capsys.readouterr().err
    assert run_cli(["wait", "add", "ana@example.com", "CB-39", "--no-hold"]) == 0
    with db.session() as s:
        wait_id, want_hold = s.execute(select(StockWait.id, StockWait.want_hold)).one()
    assert want_hold is False
    assert run_cli(["wait", "cancel", str(wait_id)]) == 0
    assert "cancelled" in capsys.readouterr().err
    assert run_cli(["wait", "cancel", str(wait_id)]) == 0
    assert "already closed" in capsys.readouterr().err
