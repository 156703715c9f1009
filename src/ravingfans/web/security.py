"""A pure ASGI guard in front of every page: strict headers, bounded bodies, no cross-site posts."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ravingfans.web.api.problems import refusal

MAX_BODY_BYTES = 128 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Scripts, styles and images only from our own /static (no inline script or style, no eval); requests
# from scripts only to this site (the /docs page fetches /openapi.json and calls the API).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def is_cross_site(headers: Headers) -> bool:
    """Whether a browser says this request comes from another site (Fetch Metadata, else Origin)."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return False  # not a browser form post from elsewhere (curl, tests, old clients)
    return origin == "null" or urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


class SecurityMiddleware:
    """Adds security headers, refuses oversized or cross-site writes before any handler sees them."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not scope["path"].startswith("/static/"):
                    headers.setdefault("cache-control", "no-store")  # pages hold personal data
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> Response | None:
        """Why a write is refused before any handler, as plain text (pages) or problem details (/api/)."""
        found = self._refused(scope)
        if found is None:
            return None
        status, message = found
        return refusal(scope["path"], status, message) or PlainTextResponse(message, status_code=status)

    def _refused(self, scope: Scope) -> tuple[int, str] | None:
        if scope["method"] in SAFE_METHODS:
            return None
        headers = Headers(scope=scope)
        # An unsubscribe link's token is its own authority (RFC 8058 one-click posts come from mail clients).
        if is_cross_site(headers) and not scope["path"].startswith("/unsubscribe/"):
            return 403, "Forms from other sites are not accepted here."
        length = headers.get("content-length")
        if length is None:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                return 411, "Send a Content-Length with the request body."
            return None
        if not length.isdigit() or int(length) > self.max_body_bytes:
            return 413, f"The request is too large (limit {self.max_body_bytes} bytes)."
        return None
