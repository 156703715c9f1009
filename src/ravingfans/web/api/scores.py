"""API: the current scoring run's customer scores (read only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ravingfans.services import score_records
from ravingfans.services.inputs import MAX_ID
from ravingfans.services.records import DEFAULT_LIMIT, MAX_LIMIT
from ravingfans.web.api.deps import ApiStaff
from ravingfans.web.api.schemas import ScoreList, ScorePublic
from ravingfans.web.deps import SessionDep

router = APIRouter(prefix="/scores", tags=["scores"])


@router.get("", response_model=ScoreList, summary="List the current scores")
def list_scores(
    _: ApiStaff,
    session: SessionDep,
    segment: Annotated[str, Query(max_length=40, description="Only this segment (e.g. champions).")] = "",
    slipping: Annotated[bool | None, Query(description="true: only slipping fans; false: only the others.")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="From the previous page's next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many per page.")] = DEFAULT_LIMIT,
) -> ScoreList:
    """Scores of the current run by customer id, a page at a time (empty before the first run)."""
    page = score_records.list_scores(session, segment=segment, slipping=slipping, cursor=cursor, limit=limit)
    return ScoreList(items=[ScorePublic.model_validate(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/{customer_id}", response_model=ScorePublic, summary="Read a customer's current scores")
def get_score(customer_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The customer's id.", examples=[1])],
              _: ApiStaff, session: SessionDep) -> ScorePublic:
    """One customer's scores in the current run."""
    return ScorePublic.model_validate(score_records.get_score(session, customer_id))
