"""Draft invoices in Chromium, with JavaScript on and off: New invoice with two lines
(Add line answered by the server: the lines block swapped in with htmx, the page without),
Edit draft (a line removed, a quantity changed), Finalize (numbered, charged, emailed),
Delete draft, the Manual flow's Capture one time charge, and a refused line."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.test_billing import (
    MINUS,
    capture_form,
    expect_header_balance,
    open_customer,
    open_tab,
    submit,
    success_message,
)
from tests.browser.test_panel import assert_not_reloaded, mark_window
from webapp.extensions import db
from webapp.models.billing import Invoice, LedgerEntry
from webapp.models.email import Email

pytestmark = pytest.mark.browser

# As the money tests' customer: EUR at 19.00 % tax, Net 14.
EURO = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "country": "DE",
    "currency": "EUR",
    "tax_rate_bp": 1900,
    "payment_terms_days": 14,
}


def stored(app) -> list[dict]:
    """The invoices as the database holds them, with their lines."""
    with app.app_context():
        invoices = db.session.scalars(select(Invoice).order_by(Invoice.id)).all()
        return [
            {
                "number": invoice.number,
                "status": invoice.status,
                "total_minor": invoice.total_minor,
                "lines": [
                    (line.description, line.quantity, line.unit_price_minor)
                    for line in invoice.lines
                ],
            }
            for invoice in invoices
        ]


def entries(app) -> list[int]:
    with app.app_context():
        return db.session.scalars(select(LedgerEntry.amount_minor)).all()


def fill_line(page: Page, index: int, description: str, quantity: str, price: str) -> None:
    page.locator(f"#lines-{index}-description").fill(description)
    page.locator(f"#lines-{index}-quantity").fill(quantity)
    page.locator(f"#lines-{index}-unit_price").fill(price)


def add_line(page: Page, js_enabled: bool, index: int) -> None:
    """Add line: the server answers with one more (empty) row, whose description has the
    focus; with JavaScript only the lines are swapped."""
    page.get_by_role("button", name="Add line").click()
    description = page.locator(f"#lines-{index}-description")
    expect(description).to_be_visible()
    expect(description).to_have_value("")
    expect(description).to_be_focused()
    if js_enabled:
        assert_not_reloaded(page)


def new_invoice(page: Page, customer_id: int) -> None:
    open_customer(page, customer_id)
    open_tab(page, "Invoices")
    page.get_by_role("button", name="New invoice", exact=True).click()
    expect(page.get_by_role("heading", name="New invoice", level=1)).to_be_visible()
    expect(page.locator("#lines-0-description")).to_be_focused()


def confirm_in(page: Page, js_enabled: bool, title: str):
    """The confirmation after clicking its link: a dialog with JavaScript, a page without."""
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_role("heading", name=title)).to_be_visible()
        return dialog
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    return page.locator("main")


def test_a_draft_with_two_lines_is_edited_then_finalized(
    signed_in_page, js_enabled, add_customer, live_app
):
    page = signed_in_page
    ada = add_customer(**EURO)
    new_invoice(page, ada.id)
    if js_enabled:
        mark_window(page)

    fill_line(page, 0, "Consulting", "3", "150.00")
    add_line(page, js_enabled, 1)
    expect(page.locator("#lines-0-description")).to_have_value("Consulting")  # kept
    fill_line(page, 1, "Travel", "1", "80.50")
    page.get_by_label("Supply date").fill("2030-12-15")
    assert stored(live_app) == []  # adding a line saved nothing
    page.get_by_role("button", name="Save draft", exact=True).click()

    expect(page.get_by_role("heading", name="Draft invoice", level=1)).to_be_visible()
    expect(page.locator(".flashes")).to_contain_text("Draft invoice for €631.30 (2 lines) saved.")
    lines = page.locator("table.draft-lines-table tbody tr")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("Consulting")
    expect(lines.nth(1)).to_contain_text("€80.50")
    expect(page.locator(".draft-facts")).to_contain_text("2030-12-15")
    assert stored(live_app) == [
        {
            "number": None,
            "status": "draft",
            "total_minor": 63130,
            "lines": [("Consulting", 3, 15000), ("Travel", 1, 8050)],
        }
    ]
    assert entries(live_app) == []

    # Edit: a line added then the first one removed, and a quantity changed.
    page.get_by_role("button", name="Edit draft").click()
    expect(page.get_by_role("heading", name="Edit draft invoice", level=1)).to_be_visible()
    expect(page.locator("#lines-1-description")).to_have_value("Travel")
    if js_enabled:
        mark_window(page)
    add_line(page, js_enabled, 2)
    fill_line(page, 2, "Workshop", "2", "400")
    page.get_by_role("button", name="Remove line 1").click()
    expect(page.locator(".draft-line")).to_have_count(2)
    expect(page.get_by_role("button", name="Add line")).to_be_focused()
    if js_enabled:
        assert_not_reloaded(page)
    expect(page.locator("input[value='Consulting']")).to_have_count(0)
    page.locator("input[id$='-quantity']").first.fill("2")  # Travel, now the first line
    page.get_by_role("button", name="Save draft", exact=True).click()
    expect(page.locator(".flashes")).to_contain_text("(2 lines) saved.")
    expect(page.locator("table.draft-lines-table tfoot")).to_contain_text("€1,143.59")
    assert stored(live_app)[0]["lines"] == [("Travel", 2, 8050), ("Workshop", 2, 40000)]

    # Finalize, after a confirmation.
    page.get_by_role("button", name="Finalize", exact=True).click()
    dialog = confirm_in(page, js_enabled, "Finalize: draft invoice")
    expect(dialog).to_contain_text("ada@example.com")
    dialog.get_by_role("button", name="Finalize").click()
    expect(page.get_by_role("heading", name="Invoice INV-000001", level=1)).to_be_visible()
    expect(page.locator(".flashes")).to_contain_text(
        "Invoice INV-000001 for €1,143.59 finalized, charged and emailed."
    )
    [invoice] = stored(live_app)
    assert (invoice["number"], invoice["status"]) == ("INV-000001", "open")
    assert entries(live_app) == [-114359]
    with live_app.app_context():
        [email] = db.session.scalars(select(Email)).all()
        assert "Workshop" in email.text_body and "Travel" in email.text_body

    page.get_by_role("link", name=re.compile("Invoices$")).first.click()
    expect_header_balance(page, f"{MINUS}€1,143.59", "owes")


def test_a_draft_from_the_manual_flow_is_deleted(
    signed_in_page, js_enabled, add_customer, live_app
):
    page = signed_in_page
    ada = add_customer(**EURO, invoicing_flow="manual")
    open_customer(page, ada.id)
    form = capture_form(page, js_enabled)
    expect(form).to_contain_text("creates a draft invoice")
    form.get_by_label("Amount").fill("100")
    form.get_by_label("Description").fill("Onboarding workshop")
    submit(page, form, js_enabled, "Capture one time charge")
    expect(success_message(page, js_enabled)).to_contain_text("Draft invoice for €119.00 created.")
    expect_header_balance(page, "€0.00", "paid in full")  # a draft is not owed
    assert entries(live_app) == []

    open_tab(page, "Invoices")
    page.get_by_role("link", name="Draft", exact=True).click()  # the Draft filter
    expect(page).to_have_url(re.compile(r"/invoices\?status=draft$"))
    row = page.locator("table.invoices tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("€119.00")
    row.get_by_role("link", name="Delete").click()
    dialog = confirm_in(page, js_enabled, "Delete draft: draft invoice")
    expect(dialog).to_contain_text("No number was taken")
    dialog.get_by_role("button", name="Delete draft").click()
    expect(page.locator(".flashes")).to_contain_text("Draft invoice for €119.00 deleted.")
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/invoices$"))
    expect(page.locator(".empty")).to_contain_text("No invoices yet.")
    assert stored(live_app) == [] and entries(live_app) == []


def test_a_bad_quantity_is_refused_beside_it_and_nothing_is_saved(
    signed_in_page, js_enabled, add_customer, live_app
):
    page = signed_in_page
    ada = add_customer(**EURO)
    new_invoice(page, ada.id)
    fill_line(page, 0, "Consulting", "two", "150")
    page.locator("#lines-0-description").press("Enter")  # Enter saves
    error = page.locator("#lines-0-quantity-error")
    expect(error).to_have_text("Enter the quantity as a whole number, e.g. 3.")
    expect(page.locator("#lines-0-quantity")).to_have_attribute("aria-invalid", "true")
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_text(
        "Line 1, Quantity: Enter the quantity as a whole number, e.g. 3."
    )
    expect(page.locator("#lines-0-description")).to_have_value("Consulting")
    assert stored(live_app) == []
