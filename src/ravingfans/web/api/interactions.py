"""API: moments of truth (list by customer, rating and time; read; log one; correct one)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from ravingfans.services import interactions, moments
from ravingfans.services.inputs import MAX_ID
from ravingfans.services.records import DEFAULT_LIMIT, MAX_LIMIT
from ravingfans.web.api.deps import ApiManager, ApiStaff, Idempotency
from ravingfans.web.api.problems import conflict_response
from ravingfans.web.api.responses import CREATED_HEADERS, create_once
from ravingfans.web.api.schemas import (
    InteractionCreate,
    InteractionList,
    InteractionPublic,
    InteractionUpdate,
    Rating,
)
from ravingfans.web.deps import SessionDep, SettingsDep, WriteSessionDep

router = APIRouter(prefix="/interactions", tags=["interactions"])
InteractionId = Annotated[int, Path(ge=1, le=MAX_ID, description="The moment's id.", examples=[1])]


@router.get("", response_model=InteractionList, summary="List moments of truth")
def list_interactions(
    _: ApiStaff,
    session: SessionDep,
    settings: SettingsDep,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this customer's moments.")] = None,
    rating: Annotated[Rating | None, Query(description="Only moments rated so.")] = None,
    since: Annotated[datetime | None, Query(description="Happened at or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Happened before this time.")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="From the previous page's next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many per page.")] = DEFAULT_LIMIT,
) -> InteractionList:
    """Moments of truth by id, a page at a time."""
    page = interactions.list_interactions(session, customer_id=customer_id, rating=rating, since=since, until=until,
                                          cursor=cursor, limit=limit, zone=settings.zone)
    return InteractionList(items=[InteractionPublic.model_validate(i) for i in page.items],
                           next_cursor=page.next_cursor)


@router.get("/{interaction_id}", response_model=InteractionPublic, summary="Read a moment of truth")
def get_interaction(interaction_id: InteractionId, _: ApiStaff, session: SessionDep) -> InteractionPublic:
    """One moment of truth."""
    return InteractionPublic.model_validate(interactions.get_interaction(session, interaction_id))


@router.post("", status_code=201, response_model=InteractionPublic, summary="Log a moment of truth",
             responses={201: {"headers": CREATED_HEADERS}, **conflict_response("Idempotency-Key")})
def log_interaction(body: InteractionCreate, principal: ApiStaff, session: WriteSessionDep, settings: SettingsDep,
                    idempotent: Idempotency) -> Response:
    """Log a moment of truth on a customer's timeline (any role), with the profile page's rules."""
    moment = moments.parse_interaction(body.model_dump(exclude={"customer_id"}), zone=settings.zone)
    return create_once(session, principal, idempotent, lambda: InteractionPublic.model_validate(
        interactions.log_moment(session, body.customer_id, moment)), "/api/v1/interactions/{id}")


@router.patch("/{interaction_id}", response_model=InteractionPublic, summary="Correct a moment of truth")
def update_interaction(interaction_id: InteractionId, body: InteractionUpdate, _: ApiManager,
                       session: WriteSessionDep, settings: SettingsDep) -> InteractionPublic:
    """Correct a logged moment of truth (managers and owners), with the rules it was logged by."""
    return InteractionPublic.model_validate(interactions.update_moment(
        session, interaction_id, body.model_dump(include=body.model_fields_set), zone=settings.zone))
