"""Adding a contact on the customer page, in Chromium, with JavaScript on and off.

Staff open the Contacts tab (empty), click "+ New contact" (a dialog with
JavaScript, a page of its own without), send it without a name and see the
message beside the field (nothing saved), then add Grace with the Billing
preference: she is listed as the primary contact, and a second contact is not.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.test_billing import open_customer, open_tab, success_message
from tests.browser.test_panel import assert_not_reloaded, mark_window
from webapp.extensions import db
from webapp.models.contacts import Contact

pytestmark = pytest.mark.browser


def saved_contacts(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            select(Contact.name, Contact.email, Contact.is_primary, Contact.wants_billing).order_by(
                Contact.id
            )
        )
        return [tuple(row) for row in rows]


def open_new_contact(page: Page, js_enabled: bool):
    """Click "+ New contact"; return the region holding the form."""
    page.get_by_role("button", name="+ New contact", exact=True).click()
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading", name="New contact")).to_be_visible()
        return dialog
    expect(page).to_have_url(re.compile(r"/customers/\d+/contacts/new$"))
    expect(page.get_by_role("heading", name="New contact", level=1)).to_be_visible()
    return page.locator("main")


def submit(page: Page, js_enabled: bool, region, expected_status: int) -> None:
    button = region.get_by_role("button", name="Add contact", exact=True)
    if js_enabled:
        mark_window(page)
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            button.click()
        assert posted.value.status == expected_status
        assert_not_reloaded(page)
    else:
        with page.expect_navigation():
            button.click()


def test_add_a_contact(signed_in_page, js_enabled, add_customer, live_app):
    page = signed_in_page
    acme = add_customer(name="Acme Ltd", email="accounts@acme.example")
    open_customer(page, acme.id)
    open_tab(page, "Contacts")
    expect(page).to_have_url(re.compile(rf"/customers/{acme.id}/contacts$"))
    expect(page.locator("#customer_tab")).to_contain_text("No contacts yet.")

    # Without a name: the message sits beside the field and nothing is saved.
    region = open_new_contact(page, js_enabled)
    region.get_by_label("Email").fill("grace@acme.example")
    submit(page, js_enabled, region, expected_status=422)
    region = page.get_by_role("dialog") if js_enabled else page.locator("main")
    expect(region.locator("#name-error")).to_have_text("Enter the contact's name.")
    expect(region.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(region.get_by_label("Email")).to_have_value("grace@acme.example")
    assert saved_contacts(live_app) == []

    region.get_by_label("Name").fill("Grace Hopper")
    region.get_by_label("Position").fill("CFO")
    region.get_by_label("Billing", exact=True).check()
    submit(page, js_enabled, region, expected_status=204)
    if js_enabled:
        expect(page.get_by_role("dialog")).to_have_count(0)
    else:
        expect(page).to_have_url(re.compile(rf"/customers/{acme.id}/contacts$"))
    expect(success_message(page, js_enabled)).to_contain_text("Contact added.")
    row = page.locator("table.contacts tbody tr").filter(has_text="Grace Hopper")
    expect(row).to_contain_text("Primary")
    expect(row).to_contain_text("grace@acme.example")
    expect(row).to_contain_text("CFO")
    expect(row).to_contain_text("Billing")
    assert saved_contacts(live_app) == [("Grace Hopper", "grace@acme.example", True, True)]

    # A second contact is listed after the primary one, without the mark.
    region = open_new_contact(page, js_enabled)
    region.get_by_label("Name").fill("Alan Turing")
    submit(page, js_enabled, region, expected_status=204)
    rows = page.locator("table.contacts tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Grace Hopper")
    expect(rows.nth(1)).to_contain_text("Alan Turing")
    expect(rows.nth(1)).not_to_contain_text("Primary")
    assert saved_contacts(live_app)[1] == ("Alan Turing", "", False, False)
