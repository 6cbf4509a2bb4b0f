"""Documents as issued, in Chromium with JavaScript on and off, as an admin: the legal
entity's invoice footer is typed in Settings; the invoice reached from the Invoices tab
shows every item EU VAT Directive art. 226 asks for, the footer and no footnote; after
the customer is edited and their personal data cleared, the same invoice still shows
the buyer it was issued to."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_billing import open_customer, open_tab, success_message
from tests.browser.test_clear_personal_data import choose_action
from tests.browser.test_panel import customer_form
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.services import customers, settings
from webapp.services.billing import capture_one_time_charge

pytestmark = pytest.mark.browser

FOOTNOTE = "Internal: slow payer, call before dunning"
FOOTER_LINES = ["Pay to Acme Europe GmbH", "IBAN DE89 3704 0044 0532 0130 00"]


@pytest.fixture
def billed(live_app) -> int:
    """A French company billed by a German legal entity at 19 %, with a footnote."""
    with live_app.app_context():
        entity = settings.create_legal_entity(
            db.session,
            {
                "name": "Acme Europe GmbH",
                "address": "Hauptstraße 1\n10115 Berlin",
                "country": "DE",
                "tax_id": "DE136695976",
                "default_currency": "EUR",
            },
        )
        customer = customers.create_customer(
            db.session,
            {
                "name": "Claire Dubois",
                "company": "Dubois Conseil SARL",
                "email": "claire@dubois.example",
                "country": "FR",
                "currency": "EUR",
                "address_line1": "8 rue de la Paix",
                "postal_code": "75002",
                "city": "Paris",
                "tax_id": "FR40303265045",
                "tax_rate_bp": 1900,
                "payment_terms_days": 30,
                "legal_entity_id": entity.id,
                "footnotes": FOOTNOTE,
            },
        )
        return customer.id


def issue(app, customer_id: int) -> None:
    with app.app_context():
        capture_one_time_charge(
            db.session,
            customer_id,
            amount_minor=10_000,
            currency="EUR",
            description="Strategy workshop",
            actor_id=None,
            key=uuid.uuid4().hex,
            today=date(2026, 3, 2),
        )


def type_footer(page: Page, js_enabled: bool) -> None:
    """Settings → Legal entities → Edit: type the invoice footer and save."""
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Legal entities").click()
    page.get_by_role("link", name="Edit Acme Europe GmbH").click()
    form = customer_form(page, js_enabled, "Edit legal entity")
    form.get_by_label("Invoice footer").fill("\n".join(FOOTER_LINES))
    form.get_by_role("button", name="Save changes").click()
    saved = "Legal entity Acme Europe GmbH saved."
    expect(success_message(page, js_enabled)).to_contain_text(saved)


def open_invoice(page: Page, customer_id: int) -> None:
    open_customer(page, customer_id)
    open_tab(page, "Invoices")
    page.locator("#customer_tab").get_by_role("link", name="View").first.click()
    expect(page).to_have_url(re.compile(r"/invoices/\d+$"))


def expect_as_issued(page: Page, customer_id: int) -> None:
    """Every art. 226 item of the invoice, the footer, no footnote."""
    document = page.locator("article.document")
    expect(document.get_by_role("heading", name="Invoice INV-000001", level=1)).to_be_visible()
    seller = document.get_by_role("region", name="Seller")
    expect(seller).to_contain_text("Acme Europe GmbH")
    expect(seller.locator("address")).to_have_text(
        "Hauptstraße 1\n10115 Berlin", use_inner_text=True
    )
    expect(seller).to_contain_text("Tax ID / VAT number: DE136695976")
    buyer = document.get_by_role("region", name="Bill to")
    expect(buyer.locator("address")).to_have_text(
        "Claire Dubois\nDubois Conseil SARL\n8 rue de la Paix\n75002 Paris\nFrance",
        use_inner_text=True,
    )
    expect(buyer).to_contain_text("Tax ID / VAT number: FR40303265045")
    expect(buyer).to_contain_text(f"Customer ID: C-{customer_id:06d}")
    dates = document.locator("dl.document-dates")
    expect(dates.locator("dt")).to_have_text(
        ["Invoice number", "Issue date", "Date of supply", "Due date", "Currency"]
    )
    expect(dates.locator("dd")).to_have_text(
        ["INV-000001", "2026-03-02", "2026-03-02", "2026-04-01", "EUR"]
    )
    lines = document.locator("table.document-lines")
    expect(lines.locator("thead th")).to_have_text(
        ["Description", "Quantity", "Unit price", "Tax rate", "Net amount"]
    )
    expect(lines.locator("tbody tr td")).to_have_text(
        ["Strategy workshop", "1", "€100.00", "19.00 %", "€100.00"]
    )
    expect(lines.locator("tfoot tr")).to_have_text(
        ["Subtotal€100.00", "Tax (19.00 %) on €100.00€19.00", "Total (EUR)€119.00"]
    )
    footer = document.locator("footer.document-footer")
    expect(footer).to_be_visible()
    expect(footer).to_have_text("\n".join(FOOTER_LINES))
    expect(page.locator("main")).not_to_contain_text("slow payer")


def test_an_invoice_shows_what_it_was_issued_with(admin_page, js_enabled, billed, live_app):
    page = admin_page
    type_footer(page, js_enabled)
    issue(live_app, billed)
    open_invoice(page, billed)
    expect_as_issued(page, billed)

    # The customer moves and is renamed, then asks to be forgotten.
    with live_app.app_context():
        customer = db.session.get(Customer, billed)
        customers.update_customer(
            db.session,
            customer,
            {"name": "Claire Martin", "address_line1": "1 place Bellecour", "city": "Lyon"},
        )
    open_customer(page, billed)
    choose_action(page, "Clear personal data")
    confirm = customer_form(page, js_enabled, "Clear personal data")
    expect(confirm.locator(".issued-documents")).to_have_text(
        "Invoices and credit notes already issued are legal records: they keep the name,"
        " company, address, tax ID and customer ID printed on them, unchanged."
    )
    confirm.get_by_role("button", name="Clear personal data").click()
    expect(success_message(page, js_enabled)).to_contain_text("Personal data of")

    open_invoice(page, billed)
    expect_as_issued(page, billed)
    expect(page.locator("article.document")).not_to_contain_text("Claire Martin")
