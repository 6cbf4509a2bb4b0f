"""Adding a contact on the customer page, in Chromium, with JavaScript on and off.

Staff open the Contacts tab (empty), click "+ New contact" (a dialog with
JavaScript, a page of its own without), send it without a name and see the
message beside the field (nothing saved), then add Grace with the Billing
preference: she is listed as the primary contact, and a second contact is not.

The contact typed in Add customer is the primary contact on the Contacts tab and on the
Profile; another contact does not replace her; renaming her on the Contacts tab shows in
Edit customer, and changing her in Edit customer shows on the Profile and the Contacts tab.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.test_billing import open_customer, open_tab, success_message
from tests.browser.test_panel import (
    assert_not_reloaded,
    customer_form,
    mark_window,
    name_field,
    open_actions,
)
from webapp.extensions import db
from webapp.models.contacts import Contact
from webapp.models.customer import Customer

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


# -- the primary contact: typed in Add customer, the same on every page ------------------------


def profile_contact(page: Page) -> Locator:
    """What the Profile says beside "Primary contact"."""
    return page.locator(".profile dt", has_text="Primary contact").locator(
        "xpath=following-sibling::dd[1]"
    )


def contact_rows(page: Page) -> Locator:
    return page.locator("table.contacts tbody tr")


def save_form(page: Page, js_enabled: bool, form: Locator, button: str) -> None:
    """Submit a form that saves: with JavaScript the dialog closes; without, a page load."""
    if js_enabled:
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            form.get_by_role("button", name=button, exact=True).click()
        assert posted.value.status == 204
        expect(page.get_by_role("dialog")).to_have_count(0)
    else:
        with page.expect_navigation():
            form.get_by_role("button", name=button, exact=True).click()


def saved_primary(app) -> tuple:
    """The primary contact and the customer row's copy of it, as stored."""
    with app.app_context():
        contact = db.session.scalars(select(Contact).where(Contact.is_primary.is_(True))).one()
        customer = db.session.scalars(select(Customer)).one()
        return (
            contact.name,
            contact.position,
            (customer.first_name, customer.last_name, customer.position),
        )


def test_the_contact_typed_in_add_customer_is_the_primary_contact_everywhere(
    signed_in_page, js_enabled, live_app
):
    page = signed_in_page
    # -- 1. Add customer with a contact -----------------------------------------------------
    page.get_by_role("button", name="Add customer").click()
    form = customer_form(page, js_enabled, "Add customer")
    name_field(form).fill("Analytical Engines")
    form.get_by_label("Contact first name").fill("Ada")
    form.get_by_label("Contact last name").fill("Lovelace")
    form.get_by_label("Position").fill("Director")
    form.get_by_label("Email").fill("accounts@engines.example")
    form.get_by_label("Country").select_option("GB")
    save_form(page, js_enabled, form, "Add customer")
    with live_app.app_context():
        customer_id = db.session.scalars(select(Customer.id)).one()

    # -- 2. the Profile and the Contacts tab show the same person ---------------------------
    open_customer(page, customer_id)
    expect(profile_contact(page)).to_have_text("Ada Lovelace, Director")
    open_tab(page, "Contacts")
    expect(page.locator("#customer_tab")).not_to_contain_text("No contacts yet")
    rows = contact_rows(page)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ada Lovelace")
    expect(rows.first).to_contain_text("Primary")
    expect(rows.first).to_contain_text("Director")

    # -- 3. another contact does not replace her --------------------------------------------
    region = open_new_contact(page, js_enabled)
    region.get_by_label("Name").fill("Charles Babbage")
    submit(page, js_enabled, region, expected_status=204)
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Ada Lovelace")
    expect(rows.nth(0)).to_contain_text("Primary")
    expect(rows.nth(1)).not_to_contain_text("Primary")
    open_tab(page, "Profile")
    expect(profile_contact(page)).to_have_text("Ada Lovelace, Director")

    # -- 4. renamed on the Contacts tab: Edit customer shows the new name --------------------
    open_tab(page, "Contacts")
    rows.filter(has_text="Ada Lovelace").get_by_role("link", name="Edit").click()
    form = customer_form(page, js_enabled, "Edit contact")
    expect(form.get_by_label("Name")).to_have_value("Ada Lovelace")
    form.get_by_label("Name").fill("Ada King")
    save_form(page, js_enabled, form, "Save changes")
    expect(rows.nth(0)).to_contain_text("Ada King")
    expect(rows.nth(0)).to_contain_text("Primary")
    open_actions(page, "Edit customer")
    form = customer_form(page, js_enabled, "Edit customer")
    expect(form.get_by_label("Contact first name")).to_have_value("Ada")
    expect(form.get_by_label("Contact last name")).to_have_value("King")
    expect(form.get_by_label("Position")).to_have_value("Director")

    # -- 5. changed in Edit customer: the same contact record changes ------------------------
    form.get_by_label("Contact first name").fill("Augusta")
    form.get_by_label("Position").fill("Countess")
    save_form(page, js_enabled, form, "Save changes")
    open_customer(page, customer_id)
    expect(profile_contact(page)).to_have_text("Augusta King, Countess")
    open_tab(page, "Contacts")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Augusta King")
    expect(rows.nth(0)).to_contain_text("Countess")
    assert saved_primary(live_app) == ("Augusta King", "Countess", ("Augusta", "King", "Countess"))
    open_tab(page, "History")
    expect(page.locator("#customer_tab")).to_contain_text("Contact changed: Name")
    expect(page.locator("#customer_tab")).to_contain_text("Ada King → Augusta King")
