"""Payment link, from Generate link on the Billing tab to the customer's own balance page.

Staff (with JavaScript on and off) choose when the link expires and click "Generate
link"; the link appears in a read-only field. With JavaScript, Copy puts it on the
clipboard; without it the Copy button stays hidden and the field is read by hand.
A fresh browser context, with JavaScript off and no cookies, stands in for the
customer: it opens the link and sees the balance, the customer's name and nothing
private. After staff click Revoke, the same customer context reloads the link and
gets "This link is not valid" (404).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect
from sqlalchemy import select

from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_panel import assert_not_reloaded, mark_window
from webapp.extensions import db
from webapp.models.billing import EntryKind
from webapp.models.payment_links import PaymentLink
from webapp.services import ledger

pytestmark = pytest.mark.browser

CUSTOMER_EMAIL = "ada.private@example.com"
# The token is the unpadded URL-safe base64 of an HMAC-SHA256: 43 characters.
PAY_PATH = re.compile(r"^/pay/[A-Za-z0-9_-]{43}$")


# -- helpers ---------------------------------------------------------------------------


def link_section(page: Page) -> Locator:
    return page.locator("section#payment_link")


def link_field(page: Page) -> Locator:
    return page.locator("#payment-link-url")


def detail_views(page: Page) -> Locator:
    """The "Views" count in the link's facts."""
    return link_section(page).locator(
        "xpath=.//dt[normalize-space()='Views']/following-sibling::dd[1]"
    )


def saved_links(app) -> list[dict]:
    """What the database holds about payment links, as plain values."""
    with app.app_context():
        links = db.session.scalars(select(PaymentLink).order_by(PaymentLink.id)).all()
        return [
            {
                "customer_id": link.customer_id,
                "revoked": link.revoked_at is not None,
                "expires_at": link.expires_at,
                "view_count": link.view_count,
            }
            for link in links
        ]


def success_message(page: Page, js_enabled: bool) -> Locator:
    """Where a success is announced: a toast with JavaScript, a flash without."""
    return page.locator("#toasts") if js_enabled else page.locator(".flashes")


@pytest.fixture
def customer_context(browser, live_server, accessibility) -> Iterator[BrowserContext]:
    """The customer's own browser: JavaScript off, no cookies, never signed in."""
    context = browser.new_context(base_url=live_server, java_script_enabled=False, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    accessibility.watch_context(context)
    yield context
    context.close()


# -- the test ------------------------------------------------------------------------------


def test_generate_copy_open_and_revoke_a_payment_link(
    signed_in_page, js_enabled, context, customer_context, add_customer, live_app, live_server
):
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace", email=CUSTOMER_EMAIL, country="DE", currency="EUR")
    with live_app.app_context():
        ledger.post_entry(
            db.session,
            ada.id,
            kind=EntryKind.CHARGE,
            amount_minor=-15000,
            currency="EUR",
            description="Annual plan",
            actor_id=None,
            key=None,
        )
    if js_enabled:
        # 127.0.0.1 is a secure context, so the page may use navigator.clipboard.
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)

    page.goto(f"/customers/{ada.id}/billing")
    section = link_section(page)
    expect(section.get_by_role("heading", name="Payment link", level=2)).to_be_visible()
    expect(section).to_contain_text("No payment link.")
    expect(link_field(page)).to_have_count(0)

    # -- Generate link ---------------------------------------------------------------------
    section.get_by_label("Expires").select_option("30")
    if js_enabled:
        mark_window(page)
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/payment-link/")
        ) as posted:
            section.get_by_role("button", name="Generate link").click()
        response = posted.value
        assert response.status == 204
        assert response.request.headers.get("hx-request") == "true"
        assert "customerUpdated" in (response.headers.get("hx-trigger") or "")
    else:
        with page.expect_navigation() as navigation:
            section.get_by_role("button", name="Generate link").click()
        post = navigation.value.request.redirected_from
        assert post is not None and post.method == "POST"
        assert post.response().status == 303
        expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/billing$"))

    expect(success_message(page, js_enabled)).to_contain_text("Payment link generated.")
    field = link_field(page)
    expect(field).to_be_visible()
    expect(field).to_have_attribute("readonly", "")
    expect(section.get_by_role("button", name="Generate a new link")).to_be_visible()
    [saved] = saved_links(live_app)
    assert saved["customer_id"] == ada.id and not saved["revoked"]
    assert saved["expires_at"] is not None, "chose In 30 days, got a link that never expires"

    url = field.input_value()
    # The field's host comes from PUBLIC_BASE_URL (http://127.0.0.1:5000 by default), not
    # from the live server's port: keep only the path and open it on the live server.
    assert url.startswith(live_app.config["PUBLIC_BASE_URL"] + "/pay/"), url
    path = urlsplit(url).path
    assert PAY_PATH.match(path), path

    # -- Copy ------------------------------------------------------------------------------
    copy = section.get_by_role("button", name="Copy", exact=True)
    if js_enabled:
        assert_not_reloaded(page)
        expect(copy).to_be_visible()
        copy.click()
        expect(section.locator(".copy-status")).to_have_text("Copied to the clipboard.")
        assert page.evaluate("navigator.clipboard.readText()") == url
    else:
        # Without JavaScript the button would do nothing, so it stays hidden.
        expect(page.locator("[data-copy]")).to_be_hidden()

    # -- the customer opens it: no session, no JavaScript ------------------------------------
    assert customer_context.cookies() == []
    customer = customer_context.new_page()
    response = customer.goto(live_server + path)
    assert response is not None and response.status == 200
    expect(customer.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    expect(customer.locator(".balances")).to_contain_text("You owe €150.00")
    expect(customer.locator("table")).to_contain_text("Annual plan")
    html = customer.content()
    for private in (CUSTOMER_EMAIL, "ada.private", ada.customer_id, "csrf_token"):
        assert private not in html, f"the public page shows {private!r}"
    assert customer.locator("form, script").count() == 0
    assert customer_context.cookies() == [], "the public page set a cookie"
    assert saved_links(live_app)[0]["view_count"] == 1

    # -- Revoke ---------------------------------------------------------------------------
    page.reload()
    expect(detail_views(page)).to_have_text("1")
    section.get_by_role("button", name="Revoke").click()
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_role("heading", name="Revoke payment link")).to_be_visible()
        dialog.get_by_role("button", name="Revoke", exact=True).click()
        expect(page.get_by_role("dialog")).to_have_count(0)
    else:
        expect(page.get_by_role("heading", name="Revoke payment link", level=1)).to_be_visible()
        page.locator("form#form").get_by_role("button", name="Revoke", exact=True).click()
        expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/billing$"))
    expect(success_message(page, js_enabled)).to_contain_text(
        "Payment link revoked: it no longer works."
    )
    expect(section).to_contain_text("No payment link.")
    expect(link_field(page)).to_have_count(0)
    assert [link["revoked"] for link in saved_links(live_app)] == [True]

    # -- the same customer context now gets the invalid-link page ---------------------------
    response = customer.reload()
    assert response is not None and response.status == 404
    expect(customer.get_by_role("heading", name="This link is not valid", level=1)).to_be_visible()
    expect(customer.locator("body")).not_to_contain_text("You owe")
    expect(customer.locator("body")).not_to_contain_text("Ada Lovelace")
