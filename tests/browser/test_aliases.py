"""Finding a customer by an external ID, in Chromium, with JavaScript on and off.

Staff open a customer's Profile tab (no external IDs yet), add one with
+ Add external ID (a dialog with JavaScript, a page of its own without): it is listed
on the Profile tab. The same ID on another customer is refused beside the field,
naming the customer who has it. Then, on the customer list, typing that ID in the
search box (htmx swaps the table) or submitting it (a page load) shows exactly that
customer.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.test_billing import open_customer, success_message
from tests.browser.test_panel import assert_not_reloaded, mark_window, results
from webapp.extensions import db
from webapp.models.contacts import Alias

pytestmark = pytest.mark.browser

STRIPE_ID = "cus_N4xQ9zT"


def saved_aliases(app) -> list[tuple[int, str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(Alias.customer_id, Alias.label, Alias.value).order_by(Alias.id)
        )
        return [tuple(row) for row in rows]


def external_ids(page: Page) -> Locator:
    return page.locator("#customer_tab article#external_ids")


def open_add_form(page: Page, js_enabled: bool, customer_id: int) -> Locator:
    """Click + Add external ID: the form in the dialog with JS, on its own page without."""
    external_ids(page).get_by_role("button", name="+ Add external ID").click()
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading", name="New external ID")).to_be_visible()
    else:
        expect(page).to_have_url(re.compile(rf"/customers/{customer_id}/aliases/new$"))
        expect(page.get_by_role("heading", name="New external ID", level=1)).to_be_visible()
    form = page.locator("form#form")
    expect(form).to_be_visible()
    return form


def fill_and_add(form: Locator, label: str, value: str) -> None:
    form.get_by_role("textbox", name="Label").fill(label)
    form.get_by_role("textbox", name="ID", exact=True).fill(value)
    form.get_by_role("button", name="Add external ID").click()


def test_find_a_customer_by_an_external_id(signed_in_page, js_enabled, add_customer, live_app):
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace", email="ada@example.com")
    grace = add_customer(name="Grace Hopper", email="grace@example.com")
    add_customer(name="Alan Turing", email="alan@example.com")

    # -- 1. the Profile tab, no external IDs yet --------------------------------------------
    open_customer(page, ada.id)
    expect(external_ids(page)).to_contain_text("No external IDs yet")

    # -- 2. + Add external ID -----------------------------------------------------------------
    if js_enabled:
        mark_window(page)
    form = open_add_form(page, js_enabled, ada.id)
    fill_and_add(form, "Stripe", f"  {STRIPE_ID} ")
    if js_enabled:
        expect(page.get_by_role("dialog")).to_have_count(0)
        assert_not_reloaded(page)
    else:
        expect(page).to_have_url(re.compile(rf"/customers/{ada.id}$"))
    expect(success_message(page, js_enabled)).to_contain_text("External ID added.")
    listed = external_ids(page)
    expect(listed.locator("dt")).to_have_text(["Stripe"])
    expect(listed.locator("dd code")).to_have_text([STRIPE_ID])
    assert saved_aliases(live_app) == [(ada.id, "Stripe", STRIPE_ID)]

    # -- 3. the same ID on another customer: refused, naming Ada ------------------------------
    open_customer(page, grace.id)
    form = open_add_form(page, js_enabled, grace.id)
    fill_and_add(form, "Billing", STRIPE_ID.upper())
    error = form.locator("#value-error")
    expect(error).to_have_text(
        f"Stripe ID {STRIPE_ID} already belongs to {ada.customer_id} (Ada Lovelace)."
    )
    expect(form.get_by_role("textbox", name="ID", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    assert saved_aliases(live_app) == [(ada.id, "Stripe", STRIPE_ID)]

    # -- 4. the customer list: search for the external ID -----------------------------------
    page.goto("/customers")
    table = results(page)
    for name in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
        expect(table.get_by_role("link", name=name)).to_be_visible()
    if js_enabled:
        mark_window(page)
    search_box = page.get_by_role("searchbox", name="Search")
    search_box.fill(STRIPE_ID)
    if not js_enabled:
        page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(rf"[?&]q={STRIPE_ID}(&|$)"))
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(rows.first).to_contain_text(ada.customer_id)
    expect(search_box).to_have_value(STRIPE_ID)
    if js_enabled:
        assert_not_reloaded(page)

    # The row leads to the customer, whose Profile tab shows the ID that was searched for.
    rows.first.get_by_role("link", name="Ada Lovelace").click()
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}$"))
    expect(external_ids(page).locator("dd code")).to_have_text([STRIPE_ID])
