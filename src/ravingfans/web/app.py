"""The web app factory: staff pages over one open database, nothing built at import time.

Domain errors (:class:`~ravingfans.errors.RavingFansError`) become an HTML error page with their
own status in :func:`domain_error_page` and nowhere else; HTTP-level problems (unknown address,
malformed parameter) are turned into the matching domain error and shown by that same page.
On ``/api/`` paths each handler hands over to :mod:`ravingfans.web.api.problems` instead, which
answers with RFC 9457 problem details (see :func:`ravingfans.web.api.problems.dispatch`).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.templating import Jinja2Templates

from ravingfans import __version__
from ravingfans.config import Settings
from ravingfans.db import Database, open_database
from ravingfans.errors import DatabaseError, NotFound, NotSignedIn, RavingFansError, TooManyAttempts, ValidationFailed
from ravingfans.services.customers import FIELD_LABELS
from ravingfans.web.pages import campaigns as campaign_pages
from ravingfans.web.pages import customers as customer_pages
from ravingfans.web.pages import home as home_pages
from ravingfans.web.pages import login as login_pages
from ravingfans.web.pages import public_survey as public_survey_pages
from ravingfans.web.pages import scores as score_pages
from ravingfans.web.pages import search as search_pages
from ravingfans.web.pages import settings as settings_pages
from ravingfans.web.pages import slipping as slipping_pages
from ravingfans.web.pages import stock as stock_pages
from ravingfans.web.pages import surveys as survey_pages
from ravingfans.web.pages import tasks as task_pages
from ravingfans.web.pages import team as team_pages
from ravingfans.web.pages import unsubscribe as unsubscribe_pages
from ravingfans.web.pages import users as user_pages
from ravingfans.web.pages import word_of_mouth as word_of_mouth_pages
from ravingfans.web import api
from ravingfans.web.api import problems as api_problems
from ravingfans.web.auth import require, session_policy
from ravingfans.web.security import SecurityMiddleware
from ravingfans.web.templating import STATIC_DIR, build_templates

log = logging.getLogger(__name__)

TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Not allowed", 409: "Conflict",
          422: "Please check what you entered", 500: "Something went wrong", 503: "Not available"}


def app_from_environment() -> FastAPI:
    """The app for a worker process of `ravingfans serve --workers N`: settings from RAVINGFANS_* variables."""
    from ravingfans.config import get_settings

    return create_app(get_settings())


def create_app(settings: Settings, *, database: Database | None = None) -> FastAPI:
    """Build the web app for ``settings``; opens (and schema-checks) the database unless one is given."""
    owned = database is None
    db = database if database is not None else open_database(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            db.dispose()

    app = FastAPI(title=settings.business_name, version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.settings = settings
    app.state.database = db
    app.state.templates = build_templates(settings)
    app.state.session_policy = session_policy(settings)

    app.add_middleware(SecurityMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(login_pages.router)
    app.include_router(public_survey_pages.router)  # /s/{token}: customers, no sign-in (the token is the key)
    app.include_router(unsubscribe_pages.router)  # public: the token in the address is the authority (RFC 8058)
    staff_only = [Depends(require("staff"))]  # every page below needs a signed-in user; routes may ask for more
    for pages in (home_pages, customer_pages, score_pages, slipping_pages, team_pages, search_pages, settings_pages,
                  user_pages, survey_pages, task_pages, campaign_pages, stock_pages, word_of_mouth_pages):
        app.include_router(pages.router, dependencies=staff_only)
    api.install(app)  # /api/v1 (bearer tokens), /openapi.json (API routes only) and /docs
    dispatch = api_problems.dispatch  # /api/ paths get problem JSON, every other path the HTML page
    app.add_exception_handler(RavingFansError, dispatch(api_problems.domain_problem, domain_error_page))
    app.add_exception_handler(RequestValidationError, dispatch(api_problems.validation_problem, _bad_parameter))
    app.add_exception_handler(StarletteHTTPException, dispatch(api_problems.http_problem, _http_error))
    app.add_exception_handler(OperationalError, dispatch(api_problems.database_problem, _database_unavailable))
    app.add_exception_handler(Exception, dispatch(api_problems.unexpected_problem, _server_error))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        """Liveness and database reachability, for load balancers and start-up checks."""
        try:
            with db.session() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            log.warning("health check failed: %s", exc)
            return PlainTextResponse("database unavailable", status_code=503)
        return PlainTextResponse("ok")

    return app


def domain_error_page(request: Request, exc: RavingFansError) -> Response:
    """The one place a domain error becomes HTML: a page with its message, hint and status.

    A page asked for without signing in is the exception: the browser is sent to the sign-in form,
    which brings it back afterwards.
    """
    status = exc.http_status
    if isinstance(exc, NotSignedIn) and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = f"/login?{urlencode({'next': target})}"
        if request.headers.get("hx-request"):  # htmx would put the whole sign-in page into the results box
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)
    if status >= 500:
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc.message)
    templates: Jinja2Templates = request.app.state.templates
    field = getattr(exc, "field", None)
    response = templates.TemplateResponse(request, "error.html", {
        "status": status,
        "title": TITLES.get(status, "Something went wrong"),
        "message": exc.message,
        "hint": exc.hint,
        "field": field,
        "back": _way_back(request),
    }, status_code=status)
    if isinstance(exc, TooManyAttempts):
        response.headers["retry-after"] = str(exc.retry_after)
    return response


def _way_back(request: Request) -> tuple[str, str]:
    """Where the page's way out leads, and its label: the profile or users list a form came from, else the list."""
    parts = request.url.path.strip("/").split("/")
    if request.method == "POST" and len(parts) >= 2 and parts[0] == "customers" and parts[1].isdigit():
        return f"/customers/{parts[1]}", "Back to the profile"
    if request.method == "POST" and parts[0] == "users":
        return "/users", "Back to the users"
    return "/customers", "Customer list"


def _bad_parameter(request: Request, exc: RequestValidationError) -> HTMLResponse:
    """A malformed query or form parameter is a ValidationFailed naming it."""
    first = exc.errors()[0] if exc.errors() else {}
    loc = first.get("loc", ())
    field = str(loc[-1]) if loc else None
    label = FIELD_LABELS.get(field or "", field or "Input")
    message = str(first.get("msg", "invalid input")).removeprefix("Value error, ")
    return domain_error_page(request, ValidationFailed(f"{label}: {message}", field=field))


def _database_unavailable(request: Request, exc: OperationalError) -> HTMLResponse:
    """The database went away mid-request (down, locked, disk full): a 503 page, details in the log."""
    log.error("database error on %s %s: %s", request.method, request.url.path, exc.orig)
    return domain_error_page(request, DatabaseError(
        "The database cannot be reached right now, so nothing was changed.",
        hint="Try again in a moment; if it keeps happening, check that the database server is running."))


def _server_error(request: Request, exc: Exception) -> PlainTextResponse:
    """A bug on a page: the plain 500 Starlette would give (the traceback is logged by the server)."""
    return PlainTextResponse("Internal Server Error", status_code=500)


def _http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
    """Unknown addresses and wrong methods get the same page, with the status and headers HTTP wants."""
    error: RavingFansError
    if exc.status_code == 404:
        error = NotFound("There is no page at this address.")
    elif exc.status_code >= 500:
        error = DatabaseError(str(exc.detail))
    else:
        error = RavingFansError(str(exc.detail))
    error.http_status = exc.status_code
    response = domain_error_page(request, error)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response
