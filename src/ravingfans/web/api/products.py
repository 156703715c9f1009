"""API: products and their variants (list, read, create, change; add and change variants, e.g. stock)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from ravingfans.services import products
from ravingfans.services.inputs import MAX_ID
from ravingfans.services.records import DEFAULT_LIMIT, MAX_LIMIT
from ravingfans.web.api.deps import ApiManager, ApiStaff, Idempotency
from ravingfans.web.api.problems import conflict_response
from ravingfans.web.api.responses import CREATED_HEADERS, create_once
from ravingfans.web.api.schemas import (
    ProductCreate,
    ProductList,
    ProductPublic,
    ProductUpdate,
    VariantCreate,
    VariantPublic,
    VariantUpdate,
)
from ravingfans.web.deps import SessionDep, WriteSessionDep

router = APIRouter(prefix="/products", tags=["products"])
ProductId = Annotated[int, Path(ge=1, le=MAX_ID, description="The product's id.", examples=[1])]
VariantId = Annotated[int, Path(ge=1, le=MAX_ID, description="The variant's id.", examples=[1])]


@router.get("", response_model=ProductList, summary="List products")
def list_products(
    _: ApiStaff,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100, description="Name prefix (case-insensitive).")] = "",
    category: Annotated[str, Query(max_length=100, description="Only this category.")] = "",
    sku: Annotated[str, Query(max_length=100, description="Only the product with a variant of this SKU.")] = "",
    cursor: Annotated[str | None, Query(max_length=200, description="From the previous page's next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many per page.")] = DEFAULT_LIMIT,
) -> ProductList:
    """Products by id with their variants, a page at a time."""
    page = products.list_products(session, query=q, category=category, sku=sku, cursor=cursor, limit=limit)
    return ProductList(items=[ProductPublic.model_validate(p) for p in page.items], next_cursor=page.next_cursor)


@router.get("/{product_id}", response_model=ProductPublic, summary="Read a product")
def get_product(product_id: ProductId, _: ApiStaff, session: SessionDep) -> ProductPublic:
    """One product with its variants."""
    return ProductPublic.model_validate(products.get_product(session, product_id))


@router.post("", status_code=201, response_model=ProductPublic, summary="Create a product",
             responses={201: {"headers": CREATED_HEADERS}, **conflict_response("SKU, external_id or Idempotency-Key")})
def create_product(body: ProductCreate, principal: ApiManager, session: WriteSessionDep,
                   idempotent: Idempotency) -> Response:
    """Add a product with its variants (managers and owners)."""
    return create_once(session, principal, idempotent, lambda: ProductPublic.model_validate(
        products.create_product(session, body)), "/api/v1/products/{id}")


@router.patch("/{product_id}", response_model=ProductPublic, summary="Change a product")
def update_product(product_id: ProductId, body: ProductUpdate, _: ApiManager,
                   session: WriteSessionDep) -> ProductPublic:
    """Change a product's name, category or brand (managers and owners)."""
    return ProductPublic.model_validate(products.update_product(session, product_id, body))


@router.post("/{product_id}/variants", status_code=201, response_model=VariantPublic, summary="Add a variant",
             responses={201: {"headers": CREATED_HEADERS}, **conflict_response("SKU or Idempotency-Key")})
def add_variant(product_id: ProductId, body: VariantCreate, principal: ApiManager, session: WriteSessionDep,
                idempotent: Idempotency) -> Response:
    """Add a variant (a SKU) to a product (managers and owners)."""
    return create_once(session, principal, idempotent, lambda: VariantPublic.model_validate(
        products.add_variant(session, product_id, body)), "/api/v1/products/{product_id}/variants/{id}")


@router.get("/{product_id}/variants/{variant_id}", response_model=VariantPublic, summary="Read a variant")
def get_variant(product_id: ProductId, variant_id: VariantId, _: ApiStaff, session: SessionDep) -> VariantPublic:
    """One variant of a product, with its stock."""
    return VariantPublic.model_validate(products.get_variant(session, product_id, variant_id))


@router.patch("/{product_id}/variants/{variant_id}", response_model=VariantPublic, summary="Change a variant")
def update_variant(product_id: ProductId, variant_id: VariantId, body: VariantUpdate, _: ApiManager,
                   session: WriteSessionDep) -> VariantPublic:
    """Change a variant's size, colour, price or stock level (managers and owners)."""
    return VariantPublic.model_validate(products.update_variant(session, product_id, variant_id, body))
