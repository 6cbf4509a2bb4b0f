"""Addresses on the customer page, in Chromium, with JavaScript on and off.

The Profile says "No billing address"; on the Addresses tab staff click
"+ New address" (a dialog with JavaScript, a page without), leave the first line
empty and get the message beside it (422, nothing saved), then add the head office:
it is the billing address. A warehouse added with "Billing address" ticked takes the
mark. Removing the billing address while the head office exists is refused with what
to do; removing the head office works. The Profile then shows the warehouse, with
its own country.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.test_billing import open_customer, open_tab, success_message
from tests.browser.test_panel import assert_not_reloaded, customer_form, mark_window
from webapp.extensions import db
from webapp.models.contacts import Address

pytestmark = pytest.mark.browser


def saved(app) -> list[tuple[str, bool]]:
    with app.app_context():
        rows = db.session.execute(select(Address.label, Address.is_billing).order_by(Address.id))
        return [tuple(row) for row in rows]


def address_cards(page: Page) -> Locator:
    return page.locator("#customer_tab ul.address-list > li")


def submit(page: Page, js_enabled: bool, form: Locator, button: str, status: int) -> None:
    """Submit the record form: htmx posts it with JavaScript (the page stays), a page
    load without (303 back to the tab when it is saved)."""
    if js_enabled:
        mark_window(page)
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            form.get_by_role("button", name=button, exact=True).click()
        assert posted.value.status == status
        assert_not_reloaded(page)
    else:
        with page.expect_navigation() as navigation:
            form.get_by_role("button", name=button, exact=True).click()
        response = navigation.value
        if status == 204:
            assert response.request.redirected_from.response().status == 303
        else:
            assert response.status == status
    if status == 204:
        expect(page.get_by_role("dialog")).to_have_count(0)
        expect(page).to_have_url(re.compile(r"/customers/\d+/addresses$"))


def billing_article(page: Page) -> Locator:
    """The Profile's "Billing address" box."""
    heading = page.get_by_role("heading", name="Billing address", exact=True)
    return page.locator(".profile article").filter(has=heading)


def new_address(page: Page, js_enabled: bool) -> Locator:
    page.get_by_role("button", name="+ New address").click()
    return customer_form(page, js_enabled, "New address")


def test_add_mark_and_remove_addresses(signed_in_page, js_enabled, add_customer, live_app):
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace", country="GB")

    # -- 1. no address yet ------------------------------------------------------------------
    open_customer(page, ada.id)
    expect(billing_article(page)).to_contain_text("No billing address")
    open_tab(page, "Addresses")
    expect(page.locator("#customer_tab")).to_contain_text("No addresses yet.")

    # -- 2. the first line is needed; then the head office is the billing address ----------
    form = new_address(page, js_enabled)
    expect(form.get_by_label("Country")).to_have_value("GB")  # the customer's
    form.get_by_label("Label").fill("Head office")
    form.get_by_label("City").fill("London")
    submit(page, js_enabled, form, "Add address", 422)
    expect(page.locator("#line1-error")).to_have_text("Enter the first line of the address.")
    expect(page.get_by_label("City")).to_have_value("London")
    assert saved(live_app) == []

    form = page.locator("form#form")
    form.get_by_label("Address line 1").fill("12 Byron Street")
    form.get_by_label("Postal code").fill("W1 1AA")
    submit(page, js_enabled, form, "Add address", 204)
    expect(success_message(page, js_enabled)).to_contain_text("Address added.")
    cards = address_cards(page)
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Head office")
    expect(cards.first.locator(".badge")).to_have_text("Billing address")
    expect(cards.first.locator("address")).to_contain_text("12 Byron Street")
    assert saved(live_app) == [("Head office", True)]

    # -- 3. a warehouse, ticked as the billing address, takes the mark ---------------------
    form = new_address(page, js_enabled)
    form.get_by_label("Label").fill("Warehouse")
    form.get_by_label("Address line 1").fill("Lagerstraße 7")
    form.get_by_label("City").fill("Hamburg")
    form.get_by_label("Country").select_option("DE")
    form.get_by_label("Billing address").check()
    submit(page, js_enabled, form, "Add address", 204)
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("Warehouse")  # the billing address comes first
    expect(cards.first.locator(".badge")).to_have_text("Billing address")
    expect(cards.nth(1).locator(".badge")).to_have_count(0)
    assert saved(live_app) == [("Head office", False), ("Warehouse", True)]

    # -- 4. the billing address cannot go while the head office exists -----------------------
    cards.first.get_by_role("link", name="Remove").click()
    form = customer_form(page, js_enabled, "Remove address")
    expect(form.locator("blockquote")).to_contain_text("Lagerstraße 7")
    submit(page, js_enabled, form, "Confirm", 422)
    expect(page.locator("form#form .form-error")).to_contain_text(
        "Mark another address as the billing address first"
    )
    page.locator("form#form").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert saved(live_app) == [("Head office", False), ("Warehouse", True)]

    cards.nth(1).get_by_role("link", name="Remove").click()
    form = customer_form(page, js_enabled, "Remove address")
    submit(page, js_enabled, form, "Confirm", 204)
    expect(success_message(page, js_enabled)).to_contain_text("Address removed.")
    expect(cards).to_have_count(1)
    assert saved(live_app) == [("Warehouse", True)]

    # -- 5. the Profile shows the billing address, with its own country --------------------
    open_tab(page, "Profile")
    billing = billing_article(page).locator("address")
    expect(billing).to_contain_text("Lagerstraße 7")
    expect(billing).to_contain_text("Germany")
