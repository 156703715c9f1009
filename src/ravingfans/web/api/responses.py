"""Answers of API creates: 201 with a Location, and the first answer again for a repeated Idempotency-Key."""

from __future__ import annotations

import json
from collections.abc import Callable

from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.responses import Response

from ravingfans.services import idempotency
from ravingfans.services.sessions import Principal
from ravingfans.web.api.deps import IdempotentRequest

REPLAYED_HEADER = "Idempotent-Replayed"


def _answer(body: str, status: int, location: str, *, replayed: bool) -> Response:
    headers = {"location": location.format_map(json.loads(body))}
    if replayed:
        headers[REPLAYED_HEADER.lower()] = "true"
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def create_once(session: Session, principal: Principal, request: IdempotentRequest, make: Callable[[], BaseModel],
                location: str) -> Response:
    """Run ``make`` (a service create) unless the request's key was seen: then give the stored answer.

    ``location`` is a template filled from the created body, e.g. ``/api/v1/customers/{id}``.
    """
    if request.key is not None:
        stored = idempotency.replay(session, principal.user_id, request.key, request.route, request.fingerprint)
        if stored is not None:
            return _answer(stored.body, stored.status_code, location, replayed=True)
    body = make().model_dump_json()
    if request.key is not None:
        idempotency.remember(session, principal.user_id, request.key, request.route, request.fingerprint, 201, body)
    return _answer(body, 201, location, replayed=False)


CREATED_HEADERS = {
    "Location": {"description": "The address of the new record.", "schema": {"type": "string"}},
}
