"""The docs page, in headless Chromium that can reach the service and nothing else.

Chromium resolves no host name but 127.0.0.1, so a page that needs a CDN renders nothing, and
every request the page made is checked to be the service's own. The page is served with
``Content-Security-Policy: default-src 'self'`` (plus data: images), so an inline script or a
violation of the policy shows as a console error, which fails the test.

Needs Debian's ``chromium``: without it the test is skipped, except in CI (``CI`` set), where a
missing browser is a failure, not a silent skip.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Error, Locator, Page, Request, sync_playwright

from service.http.swagger import CONTENT_SECURITY_POLICY
from tests.conftest import SECRET, bearer
from tests.support.server import clean_env, served

USER = "docs-page-reader"
WAIT_MS = 30_000  # a cold start of Chromium on a busy machine; the page itself renders in about a second
CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No name resolves, so nothing but the service can be reached; requests are checked below too.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed, and CI must check the docs page: apt-get install chromium")
    pytest.skip("chromium is not installed (apt-get install chromium): the docs page check needs a real browser")


@pytest.fixture(scope="module")
def server(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**clean_env(), "DATABASE_URL": migrated, "BETTER_AUTH_SECRET": SECRET, "WORKERS": "1"}
    with served(env, Path(tmp_path_factory.mktemp("docs-page"))) as (_process, base):
        yield base


def test_the_page_has_no_inline_code_and_every_asset_is_served_here(server: str) -> None:
    page = httpx.get(f"{server}/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert '<meta charset="utf-8">' in page.text  # without it headless Chromium cannot parse Swagger's bundle
    assert "<style" not in page.text
    scripts = re.findall(r"<script\b[^>]*>", page.text)
    assert scripts
    assert [tag for tag in scripts if ' src="/' not in tag] == []  # no inline script
    links = re.findall(r'(?:src|href|data-openapi-url)="([^"]*)"', page.text)
    assert [link for link in links if not link.startswith("/") or link.startswith("//")] == []
    for link in links:
        assert httpx.get(f"{server}{link}").status_code == 200, link
    # Only the page's own files: the package's folder also holds Swagger Editor, which is not served.
    bundle = next(link for link in links if link.endswith("/swagger-ui-bundle.js"))
    assert httpx.get(f"{server}{bundle.replace('swagger-ui-bundle.js', 'swagger-editor-bundle.js')}").status_code == 404


class Seen:
    """What the page did: every request (URL and headers), and every error it logged or threw."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.errors: list[str] = []

    def request(self, request: Request) -> None:
        self.requests.append((request.url, request.headers))

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":  # a CSP violation or a failed load is logged as one
            self.errors.append(message.text)

    def page_error(self, error: Error) -> None:
        self.errors.append(str(error))


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    ]


def authorize(page: Page, token: str) -> None:
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input").first.fill(token)
    dialog.get_by_role("button", name="Apply credentials").click()  # the modal's Authorize button
    dialog.get_by_role("button", name="Close", exact=True).click()


def try_listing_tasks(page: Page) -> Locator:
    operation = page.locator(".opblock-get").filter(
        has=page.locator('.opblock-summary-path[data-path="/api/{user_id}/tasks"]')
    )
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator('tr[data-param-name="user_id"] input').fill(USER)
    operation.get_by_role("button", name="Execute").click()
    return operation.locator(".live-responses-table .response .response-col_status").first


def test_every_operation_and_authorize_render_and_a_call_with_a_pasted_token_answers(server: str) -> None:
    executable = chromium()
    document = httpx.get(f"{server}/docs/openapi.json").json()
    expected = operations(document)
    assert len(expected) >= 10
    token = bearer(USER)["Authorization"].removeprefix("Bearer ")

    seen = Seen()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(WAIT_MS)
            page.on("request", seen.request)
            page.on("console", seen.console)
            page.on("pageerror", seen.page_error)
            page.goto(f"{server}/docs")

            page.locator(".opblock").first.wait_for()
            rendered = {
                (method, path)
                for method, path in expected
                if page.locator(f'.opblock-{method} .opblock-summary-path[data-path="{path}"]').count() == 1
            }
            assert sorted(set(expected) - rendered) == []
            assert page.locator(".opblock").count() == len(expected)
            assert page.get_by_role("button", name="Authorize").first.is_visible()

            authorize(page, token)
            status = try_listing_tasks(page)
            status.wait_for()
            assert status.inner_text() == "200"
        finally:
            browser.close()

    assert [url for url, _ in seen.requests if not url.startswith(f"{server}/")] == []
    # Try it out fills the query parameters' examples in, so the call carries filters.
    calls = [headers for url, headers in seen.requests if url.startswith(f"{server}/api/{USER}/tasks")]
    assert [headers.get("authorization") for headers in calls] == [f"Bearer {token}"]
    assert seen.errors == []
