"""Sales on the customer page, in Chromium, with JavaScript on and off.

Staff open the Sales tab (empty), click "+ New sale" (a dialog with JavaScript, a
page of its own without): the date is today and the currency the customer's. A zero
amount is refused beside the field and nothing is saved; 100 EUR is added and listed
as Open. Invoice on its row asks first (€100.00 plus 19 % tax, €119.00 in total);
Create invoice makes INV-000001, the row then reads Invoiced with a link to the
invoice and offers no Edit, Delete or Invoice any more.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.test_billing import open_customer, open_tab, success_message
from tests.browser.test_panel import assert_not_reloaded, mark_window
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.billing import Invoice
from webapp.models.crm import Sale

pytestmark = pytest.mark.browser


def saved_sales(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            select(Sale.description, Sale.amount_minor, Sale.currency, Sale.status).order_by(
                Sale.id
            )
        )
        return [tuple(row) for row in rows]


def invoice_numbers(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Invoice.number).order_by(Invoice.id)))


def opened(page: Page, js_enabled: bool, heading: str, url: str) -> Locator:
    """The region a link opened: the dialog with JavaScript, the page without."""
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading", name=heading)).to_be_visible()
        return dialog
    expect(page).to_have_url(re.compile(url))
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    return page.locator("main")


def press(page: Page, js_enabled: bool, region: Locator, button: str, status: int) -> None:
    """Click a form's button: htmx posts it in place, or the browser loads a page."""
    target = region.get_by_role("button", name=button, exact=True)
    if js_enabled:
        mark_window(page)
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            target.click()
        assert posted.value.status == status
        assert_not_reloaded(page)
        if status == 204:
            expect(page.get_by_role("dialog")).to_have_count(0)
    else:
        with page.expect_navigation():
            target.click()


def sale_row(page: Page, description: str) -> Locator:
    return page.locator("table.sales tbody tr").filter(has_text=description)


def test_add_a_sale_and_invoice_it(signed_in_page, js_enabled, add_customer, live_app):
    page = signed_in_page
    ada = add_customer(country="DE", currency="EUR", tax_rate_bp=1900, payment_terms_days=14)

    # -- 1. the empty tab ------------------------------------------------------------------
    open_customer(page, ada.id)
    open_tab(page, "Sales")
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/sales$"))
    expect(page.locator("#customer_tab")).to_contain_text("No sales yet.")

    # -- 2. + New sale: today and the billing currency; a zero amount is refused ------------
    page.get_by_role("button", name="+ New sale", exact=True).click()
    form = opened(page, js_enabled, "New sale", r"/sales/new$")
    expect(form.get_by_label("Date")).to_have_value(utcnow().date().isoformat())
    expect(form.get_by_label("Currency")).to_have_value("EUR")
    expect(form.get_by_label("Open")).to_be_checked()
    form.get_by_label("Description").fill("Workshop day")
    form.get_by_label("Amount").fill("0")
    press(page, js_enabled, form, "Add sale", 422)
    form = opened(page, js_enabled, "New sale", r"/sales/new$")
    expect(form.locator("#amount-error")).to_have_text("The amount cannot be zero.")
    expect(form.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    assert saved_sales(live_app) == []

    form.get_by_label("Amount").fill("100")
    press(page, js_enabled, form, "Add sale", 204)
    expect(success_message(page, js_enabled)).to_contain_text("Sale added.")
    row = sale_row(page, "Workshop day")
    expect(row).to_contain_text("€100.00")
    expect(row).to_contain_text("Open")
    assert saved_sales(live_app) == [("Workshop day", 10000, "EUR", "open")]

    # -- 3. Invoice asks first, then creates the invoice once ------------------------------
    row.get_by_role("link", name="Invoice", exact=True).click()
    confirm = opened(page, js_enabled, "Invoice sale", r"/sales/\d+/invoice$")
    expect(confirm).to_contain_text("Invoice this sale?")
    expect(confirm).to_contain_text("€100.00")
    expect(confirm).to_contain_text("€119.00")
    assert invoice_numbers(live_app) == []
    press(page, js_enabled, confirm, "Create invoice", 204)
    expect(success_message(page, js_enabled)).to_contain_text(
        "Invoice INV-000001 for €119.00 created from the sale."
    )
    row = sale_row(page, "Workshop day")
    expect(row).to_contain_text("Invoiced")
    for link in ("Edit", "Delete", "Invoice"):
        expect(row.get_by_role("link", name=link, exact=True)).to_have_count(0)
    assert invoice_numbers(live_app) == ["INV-000001"]
    assert saved_sales(live_app) == [("Workshop day", 10000, "EUR", "invoiced")]

    # -- 4. the invoice number opens the invoice ------------------------------------------
    row.get_by_role("link", name="INV-000001", exact=True).click()
    expect(page).to_have_url(re.compile(r"/invoices/\d+$"))
    expect(page.locator("body")).to_contain_text("Workshop day")
    expect(page.locator("body")).to_contain_text("€119.00")
