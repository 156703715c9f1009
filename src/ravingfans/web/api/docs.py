"""The interactive API documentation at /docs: Swagger UI from vendored files, no script inline, nothing remote.

The page loads ``/static/vendor/swagger-ui/`` (swagger-ui-dist 5.35.0, Apache-2.0, see the LICENSE and
NOTICE files there) and ``/static/docs-init.js``, which points it at ``/openapi.json``. Its policy is
the app's, plus ``data:`` images, which Swagger UI's stylesheet uses for its icons.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ravingfans.web import security
from ravingfans.web.deps import SettingsDep

router = APIRouter(include_in_schema=False)

ASSETS = "/static/vendor/swagger-ui"
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<main id="swagger-ui" data-openapi-url="/openapi.json"><p>Loading the API documentation&hellip;
The document itself is at <a href="/openapi.json">/openapi.json</a>.</p></main>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/docs-init.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def api_docs(settings: SettingsDep) -> HTMLResponse:
    """Swagger UI over this app's OpenAPI document."""
    page = PAGE.format(title=escape(f"{settings.business_name} API"), assets=ASSETS)
    policy = security.CONTENT_SECURITY_POLICY.replace("img-src 'self'", "img-src 'self' data:")
    return HTMLResponse(page, headers={"content-security-policy": policy})
