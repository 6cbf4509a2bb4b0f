"""Statement of account in Chromium, with JavaScript on and off: Statement on the Billing tab
opens the last 90 days; a new period shows its entries (with JavaScript the statement is
swapped in place and the URL follows; without it the form loads the page); dates in the
wrong order are refused beside From; Download PDF saves the period's PDF; Email statement
answers with a message."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from tests.browser.test_panel import assert_not_reloaded, mark_window
from tests.test_document_pdf import pages_text
from webapp.extensions import db
from webapp.models.billing import EntryKind, LedgerEntry
from webapp.services import ledger, statements

pytestmark = pytest.mark.browser

MINUS = "\u2212"


@pytest.fixture
def customer(live_app, add_customer):
    """A customer with a charge 120 days ago, a payment 10 days ago and a USD credit."""
    row = add_customer(name="Ada Lovelace", email="ada@example.com", currency="EUR", country="DE")
    today = statements.today()
    with live_app.app_context():
        for amount, currency, text, days in (
            (-10_000, "EUR", "Old consulting", 120),
            (4_000, "EUR", "Bank transfer", 10),
            (2_500, "USD", "Dollar credit", 30),
        ):
            posted = ledger.post_entry(
                db.session,
                row.id,
                kind=EntryKind.CHARGE if amount < 0 else EntryKind.CREDIT,
                amount_minor=amount,
                currency=currency,
                description=text,
                actor_id=None,
                key=None,
            )
            when = datetime.combine(today - timedelta(days=days), time(10))
            db.session.execute(
                update(LedgerEntry).where(LedgerEntry.id == posted.entry.id).values(created_at=when)
            )
        db.session.commit()
    return row


def entries_in(page: Page, currency: str):
    return page.get_by_role("region", name=f"Entries in {currency}")


def test_open_the_statement_and_change_the_period(signed_in_page: Page, customer, js_enabled):
    page = signed_in_page
    today = statements.today()
    page.goto(f"/customers/{customer.id}/billing")
    page.get_by_role("button", name="Statement", exact=True).click()

    expect(page.get_by_role("heading", name="Statement of account", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/statement$"))
    expect(page.get_by_label("From")).to_have_value((today - timedelta(days=89)).isoformat())
    expect(page.get_by_label("To")).to_have_value(today.isoformat())
    euros = entries_in(page, "EUR")
    expect(euros).to_contain_text("Bank transfer")
    expect(euros).not_to_contain_text("Old consulting")
    expect(euros.locator("tr.statement-opening")).to_contain_text(f"{MINUS}€100.00")
    expect(euros.locator("tr.statement-closing")).to_contain_text(f"{MINUS}€60.00")
    expect(entries_in(page, "USD")).to_contain_text("Dollar credit")

    # A period that ends before the payment: the old charge shows, the payment does not.
    if js_enabled:
        mark_window(page)
    start, end = today - timedelta(days=150), today - timedelta(days=20)
    page.get_by_label("From").fill(start.isoformat())
    page.get_by_label("To").fill(end.isoformat())
    page.get_by_role("button", name="Show statement").click()
    expect(page).to_have_url(
        re.compile(rf"/statement\?from={start.isoformat()}&to={end.isoformat()}$")
    )
    euros = entries_in(page, "EUR")
    expect(euros).to_contain_text("Old consulting")
    expect(euros).not_to_contain_text("Bank transfer")
    expect(euros.locator("tr.statement-opening")).to_contain_text("€0.00")
    expect(euros.locator("tr.statement-closing")).to_contain_text(f"{MINUS}€100.00")
    expect(page.get_by_text(f"{start.isoformat()} to {end.isoformat()} (131 days)")).to_be_visible()
    if js_enabled:
        assert_not_reloaded(page)

    # From after To: refused beside From, the statement withdrawn until it is corrected.
    page.get_by_label("From").fill(end.isoformat())
    page.get_by_label("To").fill(start.isoformat())
    page.get_by_role("button", name="Show statement").click()
    expect(page.locator("#from-error")).to_have_text(statements.FROM_AFTER_TO)
    expect(page.get_by_label("From")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Correct the dates above to see the statement.")).to_be_visible()
    expect(entries_in(page, "EUR")).to_have_count(0)
    if js_enabled:
        assert_not_reloaded(page)

    # Back to the statement the link opened (htmx pushed each period to the history).
    page.go_back()
    page.go_back()
    expect(page.get_by_label("To")).to_have_value(today.isoformat())
    expect(entries_in(page, "EUR")).to_contain_text("Bank transfer")


def test_download_pdf_and_email_statement(signed_in_page: Page, customer, js_enabled):
    page = signed_in_page
    today = statements.today()
    start = today - timedelta(days=89)
    page.goto(f"/customers/{customer.id}/statement")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download PDF").click()
    name = f"Statement-{customer.customer_id}-{start.isoformat()}-to-{today.isoformat()}.pdf"
    assert download.value.suggested_filename == name
    text = " ".join(" ".join(pages_text(Path(download.value.path()).read_bytes())).split())
    assert "Statement of account" in text and "Bank transfer €40.00 −€60.00" in text

    expect(page.get_by_text("Sends it to ada@example.com.")).to_be_visible()
    page.get_by_role("button", name="Email statement").click()
    shown = page.locator("#toasts") if js_enabled else page.locator(".flashes")
    expect(shown).to_contain_text("The statement email to ada@example.com is recorded")
    expect(page.get_by_role("heading", name="Statement of account", level=1)).to_be_visible()
    page.goto(f"/customers/{customer.id}/emails")
    expect(page.get_by_role("main")).to_contain_text(f"Statement {start.isoformat()} to ")
