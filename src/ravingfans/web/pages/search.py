"""Search from every page: ``GET /search?q=`` finds customers by name, e-mail or phone as you type.

The header's search box asks with htmx (``HX-Request``) while you type and gets just the results
list; without JavaScript the same form opens the full results page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ravingfans.services import search as search_service
from ravingfans.web.deps import SessionDep, SettingsDep, TemplatesDep, VocabularyDep

router = APIRouter()

AS_YOU_TYPE = 8  # results under the search box
ON_THE_PAGE = search_service.MAX_LIMIT


def wants_fragment(request: Request) -> bool:
    """Whether htmx asked (for a piece of page to swap in) rather than the browser (for a whole page)."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    vocabulary: VocabularyDep,
    q: str = "",
) -> HTMLResponse:
    """Customers whose name, e-mail or phone starts with ``q`` (typos forgiven): a page, or a list for htmx."""
    fragment = wants_fragment(request)
    result = search_service.search(session, q, limit=AS_YOU_TYPE if fragment else ON_THE_PAGE,
                                   region=settings.default_region, vocabulary=vocabulary)
    name = "search/results.html" if fragment else "search/page.html"
    response = templates.TemplateResponse(request, name, {"result": result, "query": result.query,
                                                          "fragment": fragment})
    response.headers["vary"] = "HX-Request"
    return response
