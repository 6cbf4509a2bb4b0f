"""Tickets on the customer page, in Chromium, with JavaScript on and off.

A customer has tickets in every status. Staff open the Tickets tab (all of them, "Show
all" current), click the status filter links: only that status is listed, the URL holds
the filter (?status=…), and Back and Reload keep it. An empty filter says so. On the
New filter they change a ticket to Solved with the row's own status form: the list
stays filtered and the ticket leaves it. "Show all" lists everything again.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.test_billing import open_customer, open_tab, success_message
from tests.browser.test_panel import assert_not_reloaded, mark_window
from webapp.extensions import db
from webapp.models.crm import Ticket
from webapp.models.customer import Customer
from webapp.services import tickets as tickets_service

pytestmark = pytest.mark.browser

# Subject -> status, oldest first; the tab lists newest first.
TICKETS = {
    "Where is my invoice?": "new",
    "Wrong billing address": "in_progress",
    "Printer broken": "solved",
    "Asked twice": "cancelled",
    "Card declined": "new",
}
ALL_NEWEST_FIRST = list(reversed(TICKETS))


def add_tickets(app, customer_id: int) -> None:
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        for subject, status in TICKETS.items():
            ticket = tickets_service.add(db.session, customer, None, {"subject": subject})
            tickets_service.change_status(db.session, customer, ticket, status)


def saved_statuses(app) -> dict[str, str]:
    with app.app_context():
        return dict(db.session.execute(select(Ticket.subject, Ticket.status)).all())


def status_filter(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Ticket status")


def listed(page: Page) -> Locator:
    return page.locator("#customer_tab table.tickets .ticket-subject")


def choose_filter(page: Page, js_enabled: bool, label: str) -> None:
    """Click a filter link: htmx swaps the tab (no reload), or a page load without JS."""
    if js_enabled:
        mark_window(page)
    status_filter(page).get_by_role("link", name=label, exact=True).click()
    expect_filter(page, label)
    if js_enabled:
        assert_not_reloaded(page)


def expect_filter(page: Page, label: str) -> None:
    expect(status_filter(page).get_by_role("link", name=label, exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(status_filter(page).locator('[aria-current="page"]')).to_have_count(1)


def expect_url(page: Page, customer_id: int, status: str | None) -> None:
    query = rf"\?status={status}" if status else ""
    expect(page).to_have_url(re.compile(rf"/customers/{customer_id}/tickets{query}$"))


def test_filter_tickets_by_status(signed_in_page, js_enabled, add_customer, live_app):
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace")
    add_tickets(live_app, ada.id)

    # -- 1. the tab lists every ticket, newest first ----------------------------------------
    open_customer(page, ada.id)
    open_tab(page, "Tickets")
    expect_url(page, ada.id, None)
    expect_filter(page, "Show all")
    expect(listed(page)).to_have_text(ALL_NEWEST_FIRST)

    # -- 2. each filter lists only its status and puts it in the URL ------------------------
    choose_filter(page, js_enabled, "In progress")
    expect_url(page, ada.id, "in_progress")
    expect(listed(page)).to_have_text(["Wrong billing address"])
    row = page.locator("table.tickets tbody tr").filter(has_text="Wrong billing address")
    expect(row.locator(".status")).to_have_text("In progress")

    choose_filter(page, js_enabled, "New")
    expect_url(page, ada.id, "new")
    expect(listed(page)).to_have_text(["Card declined", "Where is my invoice?"])

    choose_filter(page, js_enabled, "Solved")
    expect_url(page, ada.id, "solved")
    expect(listed(page)).to_have_text(["Printer broken"])

    # -- 3. Back returns to the previous filter; Reload keeps it ----------------------------
    page.go_back()
    expect_url(page, ada.id, "new")
    expect_filter(page, "New")
    expect(listed(page)).to_have_text(["Card declined", "Where is my invoice?"])
    page.reload()
    expect_url(page, ada.id, "new")
    expect_filter(page, "New")
    expect(listed(page)).to_have_text(["Card declined", "Where is my invoice?"])
    page.go_forward()
    expect_url(page, ada.id, "solved")
    expect(listed(page)).to_have_text(["Printer broken"])

    choose_filter(page, js_enabled, "Cancelled")
    expect_url(page, ada.id, "cancelled")
    expect(listed(page)).to_have_text(["Asked twice"])

    # -- 4. change a status on the New filter: the list stays filtered ----------------------
    choose_filter(page, js_enabled, "New")
    row = page.locator("table.tickets tbody tr").filter(has_text="Card declined")
    row.get_by_label("Status of Card declined").select_option(label="Solved")
    if js_enabled:
        mark_window(page)
    row.get_by_role("button", name="Change", exact=True).click()
    expect(success_message(page, js_enabled)).to_contain_text(
        "Ticket “Card declined” is now solved."
    )
    expect(listed(page)).to_have_text(["Where is my invoice?"])
    expect_url(page, ada.id, "new")
    expect_filter(page, "New")
    if js_enabled:
        assert_not_reloaded(page)
    assert saved_statuses(live_app)["Card declined"] == "solved"

    choose_filter(page, js_enabled, "Solved")
    expect(listed(page)).to_have_text(["Card declined", "Printer broken"])

    # The last new ticket solved too: the New filter says it has none.
    choose_filter(page, js_enabled, "New")
    row = page.locator("table.tickets tbody tr").filter(has_text="Where is my invoice?")
    row.get_by_label("Status of Where is my invoice?").select_option(label="Solved")
    row.get_by_role("button", name="Change", exact=True).click()
    expect(page.locator("#customer_tab .empty")).to_contain_text("No tickets are new.")
    expect(listed(page)).to_have_count(0)
    expect_url(page, ada.id, "new")

    # -- 5. Show all lists everything again ------------------------------------------------
    choose_filter(page, js_enabled, "Show all")
    expect_url(page, ada.id, None)
    expect(listed(page)).to_have_text(ALL_NEWEST_FIRST)
    assert saved_statuses(live_app) == {
        **TICKETS,
        "Card declined": "solved",
        "Where is my invoice?": "solved",
    }
