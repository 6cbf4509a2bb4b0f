"""Clear personal data in Chromium, with JavaScript on and off, as an admin: Actions →
Clear personal data shows the preview field by field (the value and "Cleared" or
"Kept"), Cancel changes nothing, Confirm clears it; the profile then reads "Personal
data cleared on …", the Actions menu offers no Edit customer, and adding a contact is
refused with the reason."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_billing import open_customer, open_tab, success_message
from tests.browser.test_panel import customer_form
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.services import contacts
from webapp.services.personal_data import CLEARED_NAME

pytestmark = pytest.mark.browser


def preview_row(confirm: Locator, label: str) -> Locator:
    """The preview's cells (value, outcome) of the field ``label``."""
    heading = confirm.page.locator("th", has_text=re.compile(rf"^{re.escape(label)}$"))
    return confirm.locator("table.personal-data-preview tbody tr").filter(has=heading)


def choose_action(page: Page, action: str) -> None:
    """Pick ``action`` from the Actions menu, opening it first if it is closed (with
    JavaScript the menu stays open behind a dialog that was cancelled)."""
    menu = page.locator("details.actions-menu")
    if menu.get_attribute("open") is None:
        menu.get_by_role("button", name="Actions").click()
    menu.get_by_role("link", name=action, exact=True).click()


def stored(app, customer_id: int) -> Customer:
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        db.session.expunge(customer)
        return customer


def test_clear_personal_data_and_see_the_cleared_profile(
    admin_page, js_enabled, add_customer, live_app
):
    page = admin_page
    person = add_customer(
        name="Zyxwv Quorrel",
        company="Vexmoor Holdings",
        email="zq@example.org",
        phone="+442079460123",
        country="GB",
        currency="GBP",
    )
    with live_app.app_context():
        customer = db.session.get(Customer, person.id)
        contacts.add(db.session, customer, None, {"name": "Perpetua Wobblesworth"})

    # The preview: each field with its value now and what happens to it.
    open_customer(page, person.id)
    choose_action(page, "Clear personal data")
    confirm = customer_form(page, js_enabled, "Clear personal data")
    expect(preview_row(confirm, "Name").locator("td")).to_have_text(["Zyxwv Quorrel", "Cleared"])
    expect(preview_row(confirm, "Email").locator("td")).to_have_text(["zq@example.org", "Cleared"])
    expect(preview_row(confirm, "Phone").locator("td")).to_have_text(
        ["+44 20 7946 0123", "Cleared"]
    )
    expect(preview_row(confirm, "Customer ID").locator("td")).to_have_text(
        [person.customer_id, "Kept"]
    )
    expect(preview_row(confirm, "Country").locator("td")).to_have_text(["United Kingdom", "Kept"])
    expect(confirm.locator("ul.cleared-records")).to_contain_text("1 contact")
    expect(confirm.locator("ul.kept-records")).to_contain_text("0 invoices")

    # Cancel: nothing happens.
    confirm.get_by_role("button", name="Cancel").click()
    if js_enabled:
        expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"/customers/{person.id}$"))
    expect(page.locator(".customer-header h1")).to_have_text("Zyxwv Quorrel")
    assert stored(live_app, person.id).personal_data_cleared_at is None

    # Confirm: cleared, and the profile says so.
    choose_action(page, "Clear personal data")
    confirm = customer_form(page, js_enabled, "Clear personal data")
    confirm.get_by_role("button", name="Clear personal data").click()
    expect(success_message(page, js_enabled)).to_contain_text(
        f"Personal data of {person.customer_id} cleared."
    )
    cleared = stored(live_app, person.id)
    assert cleared.name == CLEARED_NAME and cleared.email == "" and cleared.company == ""
    header = page.locator(".customer-header")
    expect(header.locator("h1")).to_have_text(CLEARED_NAME)
    expect(header).to_contain_text(
        f"Personal data cleared on {cleared.personal_data_cleared_at:%Y-%m-%d}."
    )
    expect(page.locator("main")).not_to_contain_text("Zyxwv")
    expect(page.locator("main")).not_to_contain_text("zq@example.org")
    expect(header).to_contain_text(person.customer_id)

    # No Edit customer (and no second Clear) in the Actions menu; billing is still there.
    menu = page.locator("details.actions-menu")
    if menu.get_attribute("open") is None:
        menu.get_by_role("button", name="Actions").click()
    expect(page.get_by_role("link", name="Capture one time charge")).to_be_visible()
    expect(page.get_by_role("link", name="Edit customer")).to_have_count(0)
    expect(page.get_by_role("link", name="Clear personal data")).to_have_count(0)
    menu.get_by_role("button", name="Actions").click()  # closed again

    # The contact is gone, and no new one is offered (the server refuses one too).
    open_tab(page, "Contacts")
    expect(page.locator("#customer_tab")).not_to_contain_text("Perpetua")
    expect(page.get_by_role("button", name="+ New contact")).to_have_count(0)
    with live_app.app_context():
        assert contacts.contacts_of(db.session, person.id) == []
