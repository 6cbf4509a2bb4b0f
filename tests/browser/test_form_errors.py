"""A refused form leads to its mistakes: the focus goes to the error summary at the top
(in the modal and on a page, after an htmx swap or a page load), each mistake there is
a link, and following it puts the focus in the field. JavaScript on and off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.browser.test_panel import customer_form

pytestmark = pytest.mark.browser


def test_add_customer_mistakes_are_listed_as_links_and_lead_to_their_fields(
    signed_in_page, js_enabled
):
    page = signed_in_page
    page.get_by_role("button", name="Add customer").click()
    form = customer_form(page, js_enabled, "Add customer")
    form.get_by_role("textbox", name="Company", exact=True).fill("Typed Ltd")
    form.get_by_label("Email").fill("grace@navy.example")
    form.get_by_label("Country").select_option("DE")
    # The mistake a screen further down the form than the first field.
    form.get_by_label("Tax ID / VAT number").fill("DE 123")
    form.get_by_role("button", name="Add customer").click()

    summary = form.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.locator(".error-summary-title")).to_have_text(
        "Please correct the 2 fields marked below."
    )
    links = summary.get_by_role("link")
    expect(links).to_have_text(
        [
            "Name: Enter the customer's name.",
            "Tax ID / VAT number: This is not a valid VAT number for Germany.",
        ]
    )
    expect(links.nth(1)).to_have_attribute("href", "#tax_id")
    if js_enabled:
        expect(page.get_by_role("dialog")).to_be_visible()

    links.nth(1).click()
    tax_id = form.get_by_label("Tax ID / VAT number")
    expect(tax_id).to_be_focused()
    expect(tax_id).to_be_in_viewport()
    expect(form.get_by_text("Tax ID / VAT number", exact=True)).to_be_in_viewport()
    if not js_enabled:
        expect(page).to_have_url(re.compile(r"/customers/new#tax_id$"))

    links.nth(0).click()
    expect(form.get_by_role("textbox", name="Name", exact=True)).to_be_focused()


def test_a_form_on_its_own_page_puts_the_focus_on_its_summary(
    signed_in_page, js_enabled, add_customer
):
    """Add entry opened at its own URL: with JS the refused form is swapped in place on
    the page (no modal), without JS the page is loaded again; the summary has the focus."""
    page = signed_in_page
    ada = add_customer()
    page.goto(f"/customers/{ada.id}/entries/new")
    expect(page.get_by_role("heading", name="Add entry", level=1)).to_be_visible()
    page.get_by_label("Amount").fill("12.50")
    page.get_by_role("button", name="Add entry").click()

    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    link = summary.get_by_role("link", name="Description: Enter a description")
    expect(link).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    link.click()
    expect(page.get_by_label("Description")).to_be_focused()


def test_sign_in_with_empty_fields_puts_the_focus_on_the_summary(page, staff, js_enabled):
    page.goto("/sign-in")
    page.get_by_role("button", name="Sign in").click()

    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_text(
        ["Email: Enter your email.", "Password: Enter your password."]
    )
    summary.get_by_role("link", name="Password: Enter your password.").click()
    expect(page.get_by_label("Password")).to_be_focused()
    # Corrected, the form goes through.
    sign_in(page, staff.email)
    expect(page.get_by_role("heading", name="Customers", level=1)).to_be_visible()
