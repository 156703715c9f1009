"""The OpenAPI document (API routes only, every operation secured and with problem-details errors) and /docs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from ravingfans.web.templating import STATIC_DIR

SWAGGER = Path(STATIC_DIR) / "vendor" / "swagger-ui"


def test_the_document_lists_the_api_and_nothing_else(anon_api: Any) -> None:
    doc = anon_api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = set(doc["paths"])
    assert paths and all(p.startswith("/api/v1/") for p in paths)
    assert {"/api/v1/customers", "/api/v1/customers/{customer_id}", "/api/v1/orders", "/api/v1/orders/{order_id}",
            "/api/v1/products", "/api/v1/products/{product_id}", "/api/v1/products/{product_id}/variants",
            "/api/v1/products/{product_id}/variants/{variant_id}", "/api/v1/interactions",
            "/api/v1/interactions/{interaction_id}", "/api/v1/scores", "/api/v1/scores/{customer_id}"} == paths
    assert doc["components"]["securitySchemes"]["token"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "rf_...",
        "description": "A personal access token: `ravingfans token create --user EMAIL` prints one."}


def test_every_operation_is_secured_and_documents_its_errors_as_problems(anon_api: Any) -> None:
    doc = anon_api.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "password_hash" not in str(schemas) and "row_hash" not in str(schemas)
    assert "HTTPValidationError" not in schemas
    operation_ids = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            operation_ids.append(operation["operationId"])
            assert operation["security"] == [{"token": []}], (method, path)
            for status in ("401", "403", "422"):
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
            if method == "post":
                assert "409" in operation["responses"]
                assert "Location" in operation["responses"]["201"]["headers"]
                assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    assert len(operation_ids) == len(set(operation_ids)) == 22
    assert {"create_customer", "update_variant", "update_order", "update_interaction", "erase_customer"} <= set(
        operation_ids)


def test_docs_page_uses_vendored_swagger_ui_and_no_inline_script(anon_api: Any) -> None:
    page = anon_api.get("/docs")
    assert page.status_code == 200
    assert re.findall(r'<script src="([^"]+)"', page.text) == ["/static/vendor/swagger-ui/swagger-ui-bundle.js",
                                                               "/static/docs-init.js"]
    assert "<script>" not in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy and "connect-src 'self'" in policy
    for asset in ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/vendor/swagger-ui/swagger-ui.css",
                  "/static/docs-init.js"):
        assert anon_api.get(asset).status_code == 200, asset
    assert (SWAGGER / "LICENSE").read_text().startswith("\n") or "Apache License" in (SWAGGER / "LICENSE").read_text()
    assert "https://" not in (Path(STATIC_DIR) / "docs-init.js").read_text()


def test_every_page_allows_scripts_from_this_site_only(client: Any) -> None:
    policy = client.get("/customers").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium at /usr/bin/chromium")
def test_docs_render_in_a_browser_with_no_policy_violation_nor_remote_request(live_server: Any, db: Any,
                                                                             tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    from apihelp import issue_token

    token = issue_token(db, "staff")
    requested: list[str] = []
    problems: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.goto(f"{live_server.url}/docs")
        page.get_by_text("List customers").first.wait_for(timeout=15000)
        page.get_by_role("button", name=re.compile("Authorize")).first.click()
        page.locator("#auth-bearer-value").fill(token)
        dialog = page.locator(".dialog-ux")
        dialog.locator("button.authorize").click()  # its accessible name is "Apply credentials"
        dialog.get_by_role("button", name="Close").click()
        page.get_by_text("List customers").first.click()
        page.get_by_role("button", name="Try it out").first.click()
        page.get_by_role("button", name="Execute").first.click()
        page.get_by_text('"next_cursor"').first.wait_for(timeout=15000)
        page.screenshot(path=str(tmp_path / "api-docs.png"), full_page=True)
        browser.close()
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in requested), requested
    assert not [m for m in problems if "Content Security Policy" in m or "Refused" in m], problems
