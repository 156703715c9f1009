"""The file layouts ravingfans reads: the documented generic columns and Shopify's export columns.

A layout maps source column names to our canonical field names. ``generic`` uses the canonical
names themselves (documented in docs/import.md); ``shopify`` maps Shopify's own headers, several
spellings each because Shopify renamed columns over the years.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["customers", "products", "orders"]
KINDS: tuple[Kind, ...] = ("customers", "products", "orders")

# Canonical fields per kind, with the type each is validated as and whether it is required.
# Types: text, email, phone, date, datetime, money, int, posint, bool, list, mapping, choice:<a|b>.
FIELDS: dict[Kind, dict[str, str]] = {
    "customers": {
        "customer_id": "text",
        "first_name": "text",
        "last_name": "text",
        "email": "email",
        "phone": "phone",
        "address_line1": "text",
        "address_line2": "text",
        "city": "text",
        "region": "text",
        "postal_code": "text",
        "country": "country",
        "birthday": "date",
        "language": "text",
        "email_consent": "bool",
        "tags": "list",
        "likes": "list",
        "dislikes": "list",
        "sizes": "mapping",
        "notes": "text",
        "referred_by": "text",
    },
    "products": {
        "sku": "text",
        "product_id": "text",
        "name": "text",
        "category": "text",
        "brand": "text",
        "size": "text",
        "colour": "text",
        "price": "money",
        "stock": "int",
    },
    "orders": {
        "order_id": "text",
        "ordered_at": "datetime",
        "customer_id": "text",
        "email": "email",
        "first_name": "text",
        "last_name": "text",
        "customer_name": "text",
        "phone": "phone",
        "employee": "text",
        "channel": "choice:store|phone|email|web|other",
        "location": "text",
        "sku": "text",
        "product_name": "text",
        "quantity": "posint",
        "unit_price": "money",
        "discount": "money",
        "kind": "choice:sale|return",
        "status": "text",
        "cancelled_at": "datetime",
        "refunded_amount": "money",
    },
}

REQUIRED: dict[Kind, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "products": ("sku", "name"),
    "orders": ("order_id", "ordered_at", "quantity", "unit_price"),
}

# The field that identifies a record of each kind inside its source system.
KEY: dict[Kind, str] = {"customers": "customer_id", "products": "sku", "orders": "order_id"}

# Order fields that describe the whole order (the same on each of its lines; Shopify leaves them
# empty on continuation rows).
ORDER_HEADER = ("ordered_at", "customer_id", "email", "first_name", "last_name", "customer_name", "phone", "employee",
                "channel", "location", "status", "cancelled_at", "refunded_amount")


@dataclass(frozen=True)
class Layout:
    """A named file layout: which source column feeds which canonical field, per kind."""

    name: str
    columns: dict[Kind, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    description: str = ""

    def aliases(self, kind: Kind) -> dict[str, tuple[str, ...]]:
        """canonical field -> accepted source header spellings (compared case-insensitively)."""
        if self.name == "generic":
            return {name: (name,) for name in FIELDS[kind]}
        return self.columns[kind]


GENERIC = Layout(name="generic", description="ravingfans' documented columns (docs/import.md)")

SHOPIFY = Layout(
    name="shopify",
    description="Shopify admin 'Export orders' / 'Export customers' CSV",
    columns={
        "orders": {
            "order_id": ("Name",),
            "ordered_at": ("Created at",),
            "email": ("Email",),
            "customer_name": ("Billing Name",),
            "phone": ("Phone", "Billing Phone"),
            "employee": ("Employee",),
            "channel": ("Source",),
            "location": ("Location",),
            "sku": ("Lineitem sku",),
            "product_name": ("Lineitem name",),
            "quantity": ("Lineitem quantity",),
            "unit_price": ("Lineitem price",),
            "discount": ("Lineitem discount",),
            "status": ("Financial Status",),
            "cancelled_at": ("Cancelled at",),
            "refunded_amount": ("Refunded Amount",),
        },
        "customers": {
            "customer_id": ("Customer ID", "Id"),
            "first_name": ("First Name",),
            "last_name": ("Last Name",),
            "email": ("Email",),
            "phone": ("Phone", "Default Address Phone"),
            "address_line1": ("Default Address Address1", "Address1"),
            "address_line2": ("Default Address Address2", "Address2"),
            "city": ("Default Address City", "City"),
            "region": ("Default Address Province Code", "Province Code", "Province"),
            "postal_code": ("Default Address Zip", "Zip"),
            "country": ("Default Address Country Code", "Country Code"),
            "email_consent": ("Accepts Email Marketing", "Accepts Marketing"),
            "tags": ("Tags",),
            "notes": ("Note",),
        },
        "products": {
            "sku": ("Variant SKU",),
            "product_id": ("Handle",),
            "name": ("Title",),
            "category": ("Type", "Product Category"),
            "brand": ("Vendor",),
            "size": ("Option1 Value",),
            "colour": ("Option2 Value",),
            "price": ("Variant Price",),
            "stock": ("Variant Inventory Qty",),
        },
    },
)

LAYOUTS: dict[str, Layout] = {"generic": GENERIC, "shopify": SHOPIFY}

# Shopify's "Source" column names the sales channel: map it onto ours.
SHOPIFY_CHANNELS = {"web": "web", "pos": "store", "shopify_draft_order": "phone", "iphone": "web",
                    "android": "web"}

# The order columns Shopify writes, in its order (for the demo writer and tests).
SHOPIFY_ORDER_HEADER = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Notes", "Note Attributes",
    "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount", "Vendor",
    "Outstanding Balance", "Employee", "Location", "Device ID", "Id", "Tags", "Risk Level",
    "Source", "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Phone", "Receipt Number",
]

SHOPIFY_CUSTOMER_HEADER = [
    "Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing",
    "Default Address Company", "Default Address Address1", "Default Address Address2",
    "Default Address City", "Default Address Province Code", "Default Address Country Code",
    "Default Address Zip", "Default Address Phone", "Phone", "Accepts SMS Marketing",
    "Total Spent", "Total Orders", "Note", "Tax Exempt", "Tags",
]
