"""What Chromium receives when a staff member signs in and opens the customer list: the
pages come compressed, and every stylesheet and script they link has a fingerprinted
name, comes compressed and may be kept for a year. With JavaScript off Chromium does
not fetch the scripts, but the page still names them fingerprinted."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Response, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

FINGERPRINTED = re.compile(r"^/static/.+\.[0-9a-f]{12}\.(css|js)$")
A_YEAR = "max-age=31536000"


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_the_list_and_its_static_files_arrive_compressed_and_fingerprinted(
    page, staff, add_customer, js_enabled
):
    add_customer(name="Ada Lovelace")
    received: list[Response] = []
    page.on("response", lambda response: received.append(response))

    page.goto("/sign-in")
    sign_in(page, staff.email)
    expect(page.get_by_role("heading", name="Customers", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()

    documents = {
        path_of(response.url): response
        for response in received
        if response.request.resource_type == "document" and response.status == 200
    }
    for path in ("/sign-in", "/customers"):
        assert path in documents, sorted(documents)
        headers = documents[path].all_headers()
        assert headers.get("content-encoding") in ("br", "gzip"), (path, headers)
        assert "accept-encoding" in headers.get("vary", "").lower(), (path, headers)

    stylesheets = page.locator('link[rel="stylesheet"]').evaluate_all(
        "links => links.map(link => link.href)"
    )
    scripts = page.locator("script[src]").evaluate_all("scripts => scripts.map(s => s.src)")
    assert len(stylesheets) == 2 and len(scripts) == 2
    for url in stylesheets + scripts:
        assert FINGERPRINTED.match(path_of(url)), url

    fetched = {response.url: response for response in received if response.status == 200}
    for url in stylesheets + (scripts if js_enabled else []):
        assert url in fetched, (url, sorted(fetched))
        headers = fetched[url].all_headers()
        assert headers.get("content-encoding") in ("br", "gzip"), (url, headers)
        cache = headers.get("cache-control", "")
        assert A_YEAR in cache and "immutable" in cache, (url, cache)
        assert fetched[url].body(), url  # Chromium decoded it: the file is there
