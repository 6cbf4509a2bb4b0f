"""Download PDF on an invoice's and a credit note's page, in Chromium, with JavaScript
on and off: the browser receives the file under its name, and the file says what the
page says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_billing import invoice_row, open_customer, open_tab
from tests.test_document_pdf import pages_text
from webapp.extensions import db
from webapp.services import billing as billing_service

pytestmark = pytest.mark.browser


def capture(live_app, customer_id: int, amount_minor: int, description: str) -> None:
    with live_app.app_context():
        billing_service.capture_one_time_charge(
            db.session,
            customer_id,
            amount_minor=amount_minor,
            currency="EUR",
            description=description,
            actor_id=None,
            key=None,
        )


def download_pdf(page: Page) -> tuple[str, str]:
    """Click Download PDF; the file's suggested name and the text read out of it."""
    address = page.url
    # The server's first PDF also reads the fonts (once per process): more time than a
    # page, on a busy machine.
    with page.expect_download(timeout=15_000) as started:
        page.get_by_role("button", name="Download PDF").click()
    download = started.value
    data = Path(download.path()).read_bytes()
    text = "\n".join(pages_text(data))
    # The page stays where it was: the file is downloaded, not opened in its place.
    expect(page).to_have_url(address)
    return download.suggested_filename, text


def test_download_an_invoice_as_a_pdf(signed_in_page, js_enabled, add_customer, live_app):
    page = signed_in_page
    buyer = add_customer(
        name="Jürgen Müller",
        company="Łódź Trading sp. z o.o.",
        country="PL",
        currency="EUR",
        tax_rate_bp=1900,
    )
    capture(live_app, buyer.id, 123450, "Onboarding workshop for Жуков")
    open_customer(page, buyer.id)
    open_tab(page, "Invoices")
    invoice_row(page, "INV-000001").get_by_role("link", name="View").click()
    expect(page.get_by_role("heading", name="Invoice INV-000001", level=1)).to_be_visible()
    total = page.locator("article.document tfoot tr").last.locator("td")
    expect(total).to_have_text("€1,469.06")

    filename, text = download_pdf(page)

    assert filename == "Invoice-INV-000001.pdf"
    assert "INV-000001" in text and "Jürgen Müller" in text and "Łódź Trading" in text
    assert "Onboarding workshop for Жуков" in text
    assert re.search(r"Total \(EUR\) €1,469\.06", text)


def test_download_a_credit_note_as_a_pdf(signed_in_page, js_enabled, add_customer, live_app):
    page = signed_in_page
    buyer = add_customer(name="Сергей Жуков", country="DE", currency="EUR")
    capture(live_app, buyer.id, -2500, "Goodwill credit")
    open_customer(page, buyer.id)
    open_tab(page, "Credit notes")
    page.locator("table.credit-notes tbody tr").filter(has_text="CN-000001").get_by_role(
        "link", name="View"
    ).click()
    expect(page.get_by_role("heading", name="Credit note CN-000001", level=1)).to_be_visible()

    filename, text = download_pdf(page)

    assert filename == "Credit-note-CN-000001.pdf"
    assert "CN-000001" in text and "Сергей Жуков" in text and "€25.00" in text
