"""The JSON API under /api/v1, its OpenAPI document at /openapi.json and its documentation at /docs.

:func:`install` adds all of it to the app: every API route needs a personal access token of at least
a staff user (routes that change customers, orders, products or moments of truth need a manager),
and every error on an ``/api/`` path is problem details (:mod:`ravingfans.web.api.problems`). The
OpenAPI document describes the API routes only; the staff pages are not part of it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from ravingfans.web.api import customers, docs, interactions, orders, products, scores
from ravingfans.web.api.deps import require_token
from ravingfans.web.api.problems import COMMON_RESPONSES, MEDIA_TYPE

PREFIX = "/api/v1"
DESCRIPTION = """The customer book, orders, products, moments of truth and scores, for integrations.

Send a personal access token as `Authorization: Bearer rf_...` (make one with
`ravingfans token create --user EMAIL`). Staff tokens read everything and log moments of truth;
manager and owner tokens also create and change customers, orders and products, and correct moments
of truth. Scores are read only: they are made by a scoring run (`ravingfans score`).

Lists are paged by cursor: pass the `next_cursor` of a page as `?cursor=` to get the next one, until
it is null. Creates take an `Idempotency-Key` header so a retry never makes a second record. Errors
are RFC 9457 problem details (`application/problem+json`).
"""



def operation_id(route: APIRoute) -> str:
    """An operation's id in the OpenAPI document: its function's name (list_customers, create_order, ...)."""
    return route.name


router = APIRouter(prefix=PREFIX, dependencies=[Depends(require_token("staff"))], responses=COMMON_RESPONSES,
                   generate_unique_id_function=operation_id)
for _module in (customers, orders, products, interactions, scores):
    router.include_router(_module.router, generate_unique_id_function=operation_id)


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of the API routes, error answers typed as application/problem+json (built once)."""
    if app.openapi_schema:
        return app.openapi_schema
    only_api = APIRouter()
    only_api.include_router(router)  # the pages are not part of the API's document
    schema = get_openapi(title=f"{app.title} API", version=app.version, description=DESCRIPTION,
                         routes=only_api.routes)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[MEDIA_TYPE] = content.pop("application/json")
    app.openapi_schema = schema
    return schema


def install(app: FastAPI) -> None:
    """Add the API, its OpenAPI document (the app must be made with ``openapi_url="/openapi.json"``) and /docs."""
    app.include_router(router)
    app.include_router(docs.router)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
