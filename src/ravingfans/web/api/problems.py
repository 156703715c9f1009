"""The one place where errors on ``/api/`` paths become RFC 9457 problem details (``application/problem+json``).

Every failure an API client can meet (a domain error, a malformed parameter or body, an unknown
address, a wrong method, a refusal by the security middleware, the database going away, a bug) is
answered with the same shape::

    {"type": "urn:ravingfans:problem:validation_failed", "title": "Unprocessable Content", "status": 422,
     "detail": "email: not an e-mail address", "instance": "/api/v1/customers",
     "errors": [{"field": "email", "message": "not an e-mail address"}]}

``type`` names the kind of problem (stable, for programs), ``title`` is the HTTP status phrase,
``detail`` says what happened in words, ``errors`` (only for 422) names each field to fix, and
``hint`` (when there is one) says what to do. :func:`dispatch` lets the app's exception handlers
send ``/api/`` paths here and everything else to the HTML error page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from ravingfans.errors import NotSignedIn, RavingFansError, TooManyAttempts, ValidationFailed
from ravingfans.services.common import FIELD_LABELS

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:ravingfans:problem:"
REALM = 'Bearer realm="ravingfans"'
API_PREFIX = "/api/"
MAX_DETAIL = 2000
_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_CODES = {400: "bad_request", 401: "not_signed_in", 403: "permission_denied", 404: "not_found",
          405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 411: "length_required",
          413: "content_too_large", 415: "unsupported_media_type", 422: "validation_failed",
          429: "too_many_attempts", 500: "server_error", 503: "database_error"}


class FieldError(BaseModel):
    """One input to fix: where it is (a body field such as ``lines[0].quantity``, or a parameter) and what is wrong."""

    field: str
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = Field(description="What kind of problem, as a URN such as urn:ravingfans:problem:not_found.")
    title: str = Field(description="The HTTP status phrase.")
    status: int = Field(description="The HTTP status code, repeated.")
    detail: str = Field(description="What went wrong, in words.")
    instance: str | None = Field(default=None, description="The path that was asked for.")
    hint: str | None = Field(default=None, description="What to do about it, when there is something to do.")
    errors: list[FieldError] | None = Field(default=None, description="With status 422: each field to fix.")


def is_api_path(path: str) -> bool:
    """Whether a path is part of the JSON API (whose errors are problem details)."""
    return path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")


def problem_response(status: int, detail: str, *, code: str | None = None, instance: str | None = None,
                     hint: str | None = None, errors: Sequence[FieldError] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem-details response with this status and detail."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = Problem(type=TYPE_PREFIX + (code or _CODES.get(status, "error")), title=title, status=status,
                   detail=detail[:MAX_DETAIL], instance=instance, hint=hint,
                   errors=list(errors) if errors is not None else None)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers, media_type=MEDIA_TYPE)


def domain_problem(request: Request, exc: RavingFansError) -> Response:
    """A domain error as problem details, with the headers its status needs (WWW-Authenticate, Retry-After)."""
    status = exc.http_status
    headers: dict[str, str] = {}
    errors = None
    if isinstance(exc, NotSignedIn):
        given = "authorization" in request.headers
        headers["www-authenticate"] = REALM + (', error="invalid_token"' if given else "")
    if isinstance(exc, TooManyAttempts):
        headers["retry-after"] = str(exc.retry_after)
    if isinstance(exc, ValidationFailed):
        field = exc.field or "body"
        errors = [FieldError(field=field, message=_strip_label(exc.message, field))]
    if status >= 500:
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc.message)
    return problem_response(status, exc.message, code=exc.code, instance=request.url.path, hint=exc.hint,
                            errors=errors, headers=headers)


def _strip_label(message: str, field: str) -> str:
    """``"Rating: must be one of ..."`` -> ``"must be one of ..."`` when the label names ``field`` (named beside it)."""
    head, sep, rest = message.partition(": ")
    names = {field.lower(), field.lower().split(".")[-1], FIELD_LABELS.get(field, field).lower()}
    label = head.lower()
    return rest if sep and (label in names or label.replace(" ", "_") in names) else message


def field_name(loc: Sequence[Any]) -> str:
    """A validation error's location as a field name: ``("body", "lines", 0, "sku")`` -> ``lines[0].sku``."""
    parts = list(loc)
    where = str(parts.pop(0)) if parts and str(parts[0]) in _LOCATIONS else "body"
    if not parts:
        return where
    if where == "header":
        return "-".join(word.capitalize() for word in str(parts[0]).split("-"))
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += ("." if name else "") + str(part)
    return name


def validation_problem(request: Request, exc: RequestValidationError) -> Response:
    """A malformed parameter or body: 422 naming every field, never echoing what was sent."""
    errors = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        field = field_name(error.get("loc", ()))
        if error.get("type") == "json_invalid":  # loc is ("body", offset): name the body, say where
            where = error.get("loc", ("body",))[-1]
            at = f" (at character {where})" if isinstance(where, int) else ""
            field, message = "body", f"is not valid JSON{at}"
        errors.append(FieldError(field=field, message=message))
    errors = errors or [FieldError(field="body", message="invalid")]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5]) + ("; ..." if len(errors) > 5 else "")
    return problem_response(422, detail, code="validation_failed", instance=request.url.path, errors=errors)


def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    """An HTTP-level refusal (unknown path, wrong method, ...) as problem details, keeping its headers (Allow)."""
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":  # FastAPI: not UTF-8
        return problem_response(422, "body: is not valid JSON text (UTF-8)", code="validation_failed",
                                instance=request.url.path,
                                errors=[FieldError(field="body", message="is not valid JSON text (UTF-8)")])
    if exc.status_code == 404:
        detail = f"There is no API resource at {request.url.path}."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    else:
        detail = str(exc.detail)
    return problem_response(exc.status_code, detail, instance=request.url.path, headers=dict(exc.headers or {}))


def database_problem(request: Request, exc: OperationalError) -> Response:
    """The database went away mid-request: 503, details only in the log."""
    log.error("database error on %s %s: %s", request.method, request.url.path, exc.orig)
    return problem_response(503, "The database cannot be reached right now, so nothing was changed.",
                            code="database_error", instance=request.url.path,
                            hint="Try again in a moment.", headers={"retry-after": "5"})


def unexpected_problem(request: Request, exc: Exception) -> Response:
    """A bug: 500 with no internals shown; the traceback goes to the log."""
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "Something went wrong on our side; nothing was changed.", code="server_error",
                            instance=request.url.path)


def refusal(path: str, status: int, detail: str) -> Response | None:
    """The security middleware's refusal as problem details on API paths; None elsewhere (plain text there)."""
    return problem_response(status, detail, instance=path) if is_api_path(path) else None


E = TypeVar("E", bound=Exception)
Handler = Callable[[Request, E], Response]


def dispatch(api: Handler[E], page: Handler[E]) -> Handler[E]:
    """An exception handler that answers ``/api/`` paths with ``api`` and every other path with ``page``."""

    def handler(request: Request, exc: E) -> Response:
        return api(request, exc) if is_api_path(request.url.path) else page(request, exc)

    handler.__name__ = f"{getattr(page, '__name__', 'page')}_or_problem"
    return handler


def conflict_response(what: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a create's 409, saying what can clash."""
    return {409: {"model": Problem, "description": f"Clashes with what is stored ({what} already used)."}}


#: The error answers every API operation can give, for the OpenAPI document.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": description}
    for status, description in (
        (401, "No token, or a token that is unknown, revoked or of a disabled user (WWW-Authenticate: Bearer)."),
        (403, "The token's user has a role that may not do this."),
        (404, "No such record or address."),
        (413, "The request body is too large."),
        (422, "Bad input; errors names each field."),
        (429, "Too many refused tokens from this address (Retry-After)."),
        (503, "The database cannot be reached."),
    )
}
