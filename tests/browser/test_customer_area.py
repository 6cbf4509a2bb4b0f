"""The customer area in a browser, signed in as a customer, with JavaScript on and off: each
page at a desktop (1280×800) and a phone (390×844) width shows the customer's own data,
never scrolls sideways, and passes the axe-core checks (accessibility.py, on every page
shown); what is owed reads at the top of Home; a contact's email preferences switch and
save; the statement's period form works."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_screens import SIZES, sideways
from tests.customer_area_data import AreaData, fill
from webapp.extensions import db
from webapp.models.contacts import Contact
from webapp.services import customer_accounts
from webapp.services.customers import create_customer

pytestmark = pytest.mark.browser

PASSWORD = "a long customer password 42"


@pytest.fixture
def area(live_app) -> AreaData:
    """Olive Owner, with money, documents and contacts, who can sign in; and Nora
    Neighbour, with the same, whose data must never show."""
    with live_app.app_context():
        owner = create_customer(
            db.session,
            {
                "name": "Olive Owner",
                "email": "olive@example.com",
                "country": "DE",
                "currency": "EUR",
            },
        )
        neighbour = create_customer(
            db.session,
            {
                "name": "Nora Neighbour",
                "email": "nora@example.com",
                "country": "DE",
                "currency": "EUR",
            },
        )
        mine = fill(db.session, owner, "Olive")
        fill(db.session, neighbour, "Nora")
        customer_accounts.set_password_by_staff(db.session, owner, PASSWORD)
        account = customer_accounts.account_of(db.session, owner.id)
        account.must_change_password = False  # as if changed at the first sign-in
        db.session.commit()
        db.session.remove()
    return mine


def pages_of(area: AreaData) -> list[tuple[str, str]]:
    """(url, its main heading) of every page of the customer area."""
    return [
        ("/account/", "Olive Owner"),
        ("/account/invoices", "Invoices"),
        (f"/account/invoices/{area.invoice_id}", "Invoice"),
        ("/account/credit-notes", "Credit notes"),
        (f"/account/credit-notes/{area.credit_note_id}", "Credit note"),
        ("/account/statement", "Statement of account"),
        ("/account/contacts", "Contacts"),
    ]


@pytest.fixture
def customer_page(page, area) -> Page:
    """Signed in as Olive through the customer Sign in form, landing on Home."""
    page.goto("/account/sign-in")
    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Olive Owner", level=1)).to_be_visible()
    return page


@pytest.mark.parametrize("size", SIZES)
def test_every_page_fits_and_shows_only_the_customers_data(customer_page, area, size):
    page = customer_page
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    too_wide = {}
    for url, heading in pages_of(area):
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        expect(page.locator("h1").first).to_contain_text(heading)
        assert "Nora" not in page.content(), url
        if problem := sideways(page):
            too_wide[url] = problem
    assert not too_wide, too_wide


def test_home_says_what_is_owed_at_the_top(customer_page):
    page = customer_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/account/")
    owed = page.locator(".account-owed li").first
    expect(owed).to_contain_text("You owe")
    box = owed.bounding_box()
    assert box is not None and box["y"] + box["height"] < 844  # in the first screen
    expect(page.get_by_role("region", name="Billing history")).to_contain_text("Olive consulting")


def test_switching_a_contacts_email_preferences(customer_page, area, live_app):
    page = customer_page
    page.goto("/account/contacts")
    card = page.locator("article", has_text="Olive Second")
    card.get_by_label("Legal").check()
    card.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Email preferences saved for Olive Second.")).to_be_visible()
    card = page.locator("article", has_text="Olive Second")
    expect(card.get_by_label("Legal")).to_be_checked()
    with live_app.app_context():
        contact = db.session.get(Contact, area.other_contact_id)
        assert contact.wants_legal is True
        db.session.remove()


def test_the_statement_for_another_period(customer_page):
    page = customer_page
    page.goto("/account/statement")
    start = (date.today() - timedelta(days=6)).isoformat()
    page.get_by_label("From").fill(start)
    page.get_by_role("button", name="Show statement").click()
    expect(page.locator(".document-dates")).to_contain_text(f"{start} to")
    assert f"from={start}" in page.url
