"""Settings → API keys in the browser, with JavaScript on and off: an admin creates a key,
sees it once with a Copy button (JS on) or a field to select (JS off), a program uses it
(the admin's own cookies do not), and Revoke, after its confirmation, shuts it out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

TOKEN = re.compile(r"^tally_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$")


def test_create_a_key_see_it_once_and_revoke_it(admin_page: Page, js_enabled: bool):
    page = admin_page
    page.goto("/settings/api-keys")
    expect(page.get_by_role("link", name="API keys")).to_have_attribute("aria-current", "page")
    page.get_by_label("Name").fill("Shop sync")
    page.get_by_label("Read and write: also create, change and archive").check()
    page.get_by_role("button", name="Create API key").click()

    expect(page.get_by_role("heading", name="New API key: Shop sync")).to_be_visible()
    field = page.locator("#new-api-key")
    token = field.input_value()
    assert TOKEN.match(token), token
    copy = page.get_by_role("button", name="Copy")
    if js_enabled:
        expect(copy).to_be_visible()
    else:
        expect(copy).to_be_hidden()
    row = page.get_by_role("row").filter(has_text="Shop sync")
    expect(row).to_contain_text("Read and write")
    expect(row).to_contain_text("Never")

    # A program with the key gets in; the admin's signed-in cookies alone do not.
    api = page.context.request
    assert api.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"}).ok
    assert api.get("/api/v1/customers").status == 401

    # Shown once: the page opened again has no key in it.
    page.goto("/settings/api-keys")
    expect(page.locator("#new-api-key")).to_have_count(0)
    assert token not in page.content()

    page.get_by_role("link", name="Revoke Shop sync").click()
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Every program using it is refused from now on")
        dialog.get_by_role("button", name="Revoke").click()
        expect(dialog).to_be_hidden()
    else:
        expect(page.get_by_role("heading", name="Revoke API key")).to_be_visible()
        page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("row").filter(has_text="Shop sync")).to_contain_text("Revoked")
    expect(page.get_by_role("link", name="Revoke Shop sync")).to_have_count(0)
    assert api.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"}).status == 401


def test_the_api_reference_page(page: Page, js_enabled: bool):
    """Swagger UI from the vendored files with JavaScript; without it, a pointer to the
    document and the Problems table still."""
    page.goto("/api/v1/docs")
    expect(page.get_by_role("heading", name="Tally API reference")).to_be_visible()
    expect(page.locator("#problem-validation")).to_contain_text("422")
    if js_enabled:
        expect(page.locator(".opblock").first).to_be_visible()
        expect(page.get_by_text("/api/v1/customers/{customer_id}/entries").first).to_be_visible()
    else:
        expect(page.get_by_text("The interactive reference needs JavaScript")).to_be_visible()
