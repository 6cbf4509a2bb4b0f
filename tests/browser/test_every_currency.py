"""A euro customer who owes dollars, as staff see it: the header, the list, the filter."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.test_every_currency import post as post_entry
from webapp.extensions import db


def post(live_app, customer_id: int, amount_minor: int, currency: str) -> None:
    with live_app.app_context():
        post_entry(db, customer_id, amount_minor, currency)
        db.session.remove()


def test_money_owed_in_a_second_currency_shows_in_the_header_the_list_and_the_filter(
    signed_in_page, add_customer, live_app
):
    page = signed_in_page
    owing = add_customer(name="Mia Dollar", email="mia@example.com", country="DE", currency="EUR")
    add_customer(name="Ben Settled", email="ben@example.com", country="DE", currency="EUR")
    post(live_app, owing.id, -146906, "USD")
    post(live_app, owing.id, 12500, "EUR")

    page.goto(f"/customers/{owing.id}")
    summary = page.locator(".balance-summary")
    expect(summary).to_contain_text("€125.00 in credit")
    expect(summary).to_contain_text("Owes $1,469.06")
    expect(summary).not_to_contain_text("paid in full")

    page.goto("/customers")
    page.get_by_label("Balance").select_option("owes")
    if not page.evaluate("typeof htmx !== 'undefined'"):
        page.get_by_role("button", name="Search", exact=True).click()
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Mia Dollar")).to_be_visible()
    expect(results.get_by_role("link", name="Ben Settled")).to_have_count(0)
    row = results.locator("tr", has_text="Mia Dollar")
    expect(row).to_contain_text("€125.00")
    row.get_by_role("link", name="+1 currency").click()
    expect(page).to_have_url(f"{page.url.split('/customers')[0]}/customers/{owing.id}/billing")
