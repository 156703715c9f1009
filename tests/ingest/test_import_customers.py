"""Customers import: create, re-import unchanged, update, consent and referral records."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from helpers_import import count, run_import, write
from sqlalchemy import select

from ravingfans.db.models import Consent, Customer, CustomerIdentity
from ravingfans.errors import ImportFailed

CUSTOMERS = """customer_id,first_name,last_name,email,phone,tags,likes,sizes,email_consent,referred_by,birthday,country
C1,Ann,Lee,Ann.Lee@Example.COM,(415) 555-0123,vip;shoes,boots,shoe=38; shirt=S,yes,,1990-04-01,us
C2,Bob,Stone,bob@example.com,,,,,no,C1,,
C3,Cleo,Park,cleo@example.com,+49 30 1234567,,,,,,,DE
"""


def by_email(db, email: str) -> Customer:
    with db.session() as s:
        return s.scalars(select(Customer).where(Customer.email == email)).one()


def test_creates_customers_with_normalised_fields(db, settings, tmp_path: Path) -> None:
    report = run_import(db, settings, write(tmp_path / "c.csv", CUSTOMERS), "customers")
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    ann = by_email(db, "ann.lee@example.com")
    assert ann.phone == "+14155550123"
    assert ann.tags == ["vip", "shoes"] and ann.likes == ["boots"]
    assert ann.sizes == {"shoe": "38", "shirt": "S"}
    assert ann.country == "US" and str(ann.birthday) == "1990-04-01"
    assert ann.email_consent is True
    bob = by_email(db, "bob@example.com")
    assert bob.referred_by_id == ann.id and bob.email_consent is False
    assert by_email(db, "cleo@example.com").phone == "+49301234567"
    with db.session() as s:
        consents = s.scalars(select(Consent).order_by(Consent.customer_id)).all()
        assert [(c.purpose, c.channel, c.granted) for c in consents] == [("marketing", "email", True),
                                                                          ("marketing", "email", False)]
        assert all(c.source == "import:c.csv" and "email_consent" in c.wording for c in consents)
        assert s.scalar(select(CustomerIdentity.external_id).where(CustomerIdentity.customer_id == ann.id)) == "C1"


def test_reimport_changes_nothing_and_changed_row_updates(db, settings, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", CUSTOMERS)
    run_import(db, settings, path, "customers")
    first = by_email(db, "ann.lee@example.com")
    again = run_import(db, settings, path, "customers")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert count(db, Consent) == 2
    assert by_email(db, "ann.lee@example.com").updated_at == first.updated_at
    write(path, CUSTOMERS.replace("Ann,Lee", "Anne,Lee").replace("no,C1", "yes,C1"))
    changed = run_import(db, settings, path, "customers")
    assert (changed.created, changed.updated, changed.unchanged) == (0, 2, 1)
    assert by_email(db, "ann.lee@example.com").first_name == "Anne"
    assert by_email(db, "bob@example.com").email_consent is True
    assert count(db, Consent) == 3  # the withdrawal->grant is on record, the old one kept
    assert count(db, Customer) == 3


def test_columns_absent_from_file_are_left_alone(db, settings, tmp_path: Path) -> None:
    run_import(db, settings, write(tmp_path / "c.csv", CUSTOMERS), "customers")
    run_import(db, settings, write(tmp_path / "names.csv", "customer_id,first_name\nC1,Annie\n"), "customers")
    ann = by_email(db, "ann.lee@example.com")
    assert ann.first_name == "Annie" and ann.phone == "+14155550123" and ann.tags == ["vip", "shoes"]


def test_same_email_from_another_source_is_the_same_person(db, settings, tmp_path: Path) -> None:
    run_import(db, settings, write(tmp_path / "c.csv", CUSTOMERS), "customers")
    report = run_import(db, settings, write(tmp_path / "s.csv", "customer_id,email,first_name\nX9,ann.lee@example.com,Ann\n"),
                        "customers", source="webshop")
    assert report.created == 0 and count(db, Customer) == 3
    with db.session() as s:
        ids = s.execute(select(CustomerIdentity.source, CustomerIdentity.external_id)
                        .order_by(CustomerIdentity.source)).all()
    assert ("webshop", "X9") in [tuple(i) for i in ids]


def test_duplicate_ids_in_one_file_name_both_lines(db, settings, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "customer_id,email\nC1,a@example.com\nC2,b@example.com\nC1,c@example.com\n")
    with pytest.raises(ImportFailed) as err:
        run_import(db, settings, path, "customers")
    text = str(err.value)
    assert "line 4" in text and "line 2" in text and "customer_id" in text
    assert count(db, Customer) == 0


def test_unknown_referrer_is_reported(db, settings, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "customer_id,referred_by\nC1,C77\nC2,C2\n")
    with pytest.raises(ImportFailed) as err:
        run_import(db, settings, path, "customers")
    assert "'C77'" in str(err.value) and "refer themselves" in str(err.value)


def test_products_create_and_update_stock(db, settings, tmp_path: Path) -> None:
    from ravingfans.db.models import Product, ProductVariant

    text = ("sku,product_id,name,category,brand,size,colour,price,stock\n"
            "B-38,boot,Trail Boot,Shoes,Acme,38,brown,129.90,3\n"
            "B-39,boot,Trail Boot,Shoes,Acme,39,brown,129.90,0\n"
            "S-M,shirt,Linen Shirt,Shirts,,M,white,\"1,049.00\",5\n")
    path = write(tmp_path / "p.csv", text)
    report = run_import(db, settings, path, "products")
    assert report.created == 3 and count(db, Product) == 2 and count(db, ProductVariant) == 3
    assert run_import(db, settings, path, "products").unchanged == 3
    write(path, text.replace("39,brown,129.90,0", "39,brown,129.90,7"))
    assert run_import(db, settings, path, "products").updated == 1
    with db.session() as s:
        v = s.scalars(select(ProductVariant).where(ProductVariant.sku == "B-39")).one()
        assert v.stock == 7 and v.price == Decimal("129.90") and v.product.category == "Shoes"
        assert s.scalars(select(ProductVariant).where(ProductVariant.sku == "S-M")).one().price == Decimal("1049.00")


def test_shopify_products_export(db, settings, tmp_path: Path) -> None:
    from ravingfans.db.models import Product, ProductVariant

    text = ("Handle,Title,Vendor,Type,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,"
            "Variant Price,Variant Inventory Qty,Image Src\n"
            "trail-boot,Trail Boot,Acme,Shoes,Size,38,Colour,Brown,TB-38-BR,129.90,4,a.jpg\n"
            "trail-boot,,,,,39,,Brown,TB-39-BR,129.90,0,\n"
            "trail-boot,,,,,40,,Brown,,129.90,2,\n"
            "trail-boot,,,,,,,,,,,b.jpg\n")
    path = write(tmp_path / "products_export.csv", text)
    report = run_import(db, settings, path, "products", format="shopify")
    assert (report.created, report.skipped) == (3, 1)
    assert "1 image-only rows skipped" in report.summary()
    assert count(db, Product) == 1
    with db.session() as s:
        variants = {v.sku: v for v in s.scalars(select(ProductVariant))}
        assert set(variants) == {"TB-38-BR", "TB-39-BR", "trail-boot/40/Brown"}
        v = variants["TB-39-BR"]
        assert (v.size, v.colour, v.stock, v.product.name, v.product.brand, v.product.category) == (
            "39", "Brown", 0, "Trail Boot", "Acme", "Shoes")
    assert run_import(db, settings, path, "products", format="shopify").unchanged == 3


def test_product_without_a_name_anywhere(db, settings, tmp_path: Path) -> None:
    text = "Handle,Title,Variant SKU,Option1 Value\nmystery,,M-1,S\n"
    with pytest.raises(ImportFailed, match="no name on this or any row"):
        run_import(db, settings, write(tmp_path / "p.csv", text), "products", format="shopify")


def test_a_referral_circle_in_the_file_is_refused(db, settings, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "customer_id,referred_by\nC1,C3\nC2,C1\nC3,C2\nC4,C1\n")
    with pytest.raises(ImportFailed) as err:
        run_import(db, settings, path, "customers")
    text = str(err.value)
    assert "3 problem(s)" in text and "referral circle" in text
    assert all(f"line {n}" in text for n in (2, 3, 4)) and "line 5" not in text  # C4 only hangs off it
    assert "C1 referred by C3, C3 referred by C2, C2 referred by C1" in text
    assert count(db, Customer) == 0


def test_a_referral_circle_through_customers_on_file_is_refused(db, settings, tmp_path: Path) -> None:
    run_import(db, settings, write(tmp_path / "a.csv", "customer_id,referred_by\nC1,\nC2,C1\nC3,C2\n"), "customers")
    with pytest.raises(ImportFailed) as err:  # C1 is on file as C3's referrer's referrer
        run_import(db, settings, write(tmp_path / "b.csv", "customer_id,referred_by\nC1,C3\n"), "customers")
    assert "line 2" in str(err.value) and "referral circle" in str(err.value)
    with db.session() as s:
        c1 = s.scalars(select(Customer).where(Customer.external_id == "C1")).one()
        assert c1.referred_by_id is None
    # links moved so that the chain is longer but still ends (C2 by C4, C4 by C3, C3 by C1) are fine
    report = run_import(db, settings, write(tmp_path / "c.csv", "customer_id,referred_by\nC4,C3\nC2,C4\nC3,C1\n"),
                        "customers")
    assert (report.created, report.updated) == (1, 2)
    with db.session() as s:
        ids = {c.external_id: c.id for c in s.scalars(select(Customer))}
        links = {c.external_id: c.referred_by_id for c in s.scalars(select(Customer))}
    assert links == {"C1": None, "C2": ids["C4"], "C3": ids["C1"], "C4": ids["C3"]}


def test_skip_invalid_leaves_out_the_rows_of_a_referral_circle(db, settings, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "customer_id,referred_by\nC1,C2\nC2,C1\nC3,\nC4,C3\n")
    report = run_import(db, settings, path, "customers", skip_invalid=True)
    assert (report.created, report.rejected) == (2, 2)
    with db.session() as s:
        kept = {c.external_id: c.referred_by_id for c in s.scalars(select(Customer))}
    assert set(kept) == {"C3", "C4"} and kept["C4"] is not None


@pytest.mark.parametrize(("first", "second"), [
    # a repeated id is merged from its first row (b by a), so a and b make a circle whatever its repeat says
    ("customer_id,referred_by\nc,\n", "customer_id,referred_by\na,b\nb,a\nb,c\n"),
    # leaving out x's and z's rows gives x back its link on file (x by y): y's row (y by x) then closes a circle
    ("customer_id,referred_by\ny,\nx,y\n", "customer_id,referred_by\nx,z\nz,x\ny,x\n"),
])
def test_skip_invalid_never_writes_a_referral_circle(db, settings, tmp_path: Path, first: str, second: str) -> None:
    run_import(db, settings, write(tmp_path / "a.csv", first), "customers")
    report = run_import(db, settings, write(tmp_path / "b.csv", second), "customers", skip_invalid=True)
    assert report.rejected == second.count("\n") - 1  # every row of the second file takes part
    with db.session() as s:
        links = {c.id: c.referred_by_id for c in s.scalars(select(Customer))}
    for start in links:  # follow each chain: it must end
        seen, node = set(), start
        while node is not None:
            assert node not in seen, links
            seen.add(node)
            node = links[node]
