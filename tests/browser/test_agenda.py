"""The Agenda in Chromium, with JavaScript on and off, at a fixed clock.

An agent has an overdue call, a meeting today and a task next week; a colleague has a
call today. The Agenda (from the top bar) opens on the agent's own activities due
today. The When links and the Assigned to select filter the list, the URL holding the
filters; Mark done takes a row off the list, says so, keeps the filters and is saved.
A row's customer link opens that customer's Activities tab.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.test_panel import assert_not_reloaded, mark_window
from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models.crm import Activity
from webapp.models.customer import Customer
from webapp.models.staff import Staff
from webapp.services import activities, work
from webapp.services.staff import create_staff

pytestmark = pytest.mark.browser

NOW = datetime(2030, 6, 15, 12, 0)


@pytest.fixture
def agenda(live_app, staff, add_customer, monkeypatch):
    """The activities, and the Agenda's clock fixed at NOW (the server runs in this process)."""
    monkeypatch.setattr(work, "current_time", lambda: NOW)
    ada = add_customer(name="Ada Ltd", email="ada@example.com")
    bob = add_customer(name="Bob Inc", email="bob@example.com")
    with live_app.app_context():
        me = db.session.scalars(select(Staff).filter_by(email=staff.email)).one()
        sam = create_staff(db.session, "sam@example.com", "Sam Sales", "agent", PASSWORD)
        planned = [
            (ada, "Chase the renewal", NOW - timedelta(days=2), me),
            (bob, "Quarterly review", NOW + timedelta(hours=2), me),
            (ada, "Plan next quarter", NOW + timedelta(days=7), me),
            (bob, "Sam's intro call", NOW + timedelta(hours=1), sam),
        ]
        for customer, title, due_at, member in planned:
            activities.add(
                db.session,
                db.session.get(Customer, customer.id),
                None,
                {
                    "title": title,
                    "kind": "call",
                    "due_at": due_at,
                    "notes": "",
                    "assigned_to_id": member.id,
                },
            )
    return ada, bob


def listed(page: Page) -> Locator:
    return page.locator("#agenda_results table.agenda .activity-title")


def choose_when(page: Page, js_enabled: bool, label: str) -> None:
    if js_enabled:
        mark_window(page)
    page.get_by_role("navigation", name="When").get_by_role("link", name=label).click()
    expect(
        page.get_by_role("navigation", name="When").get_by_role("link", name=label)
    ).to_have_attribute("aria-current", "page")
    if js_enabled:
        assert_not_reloaded(page)


def test_filter_and_mark_done(signed_in_page: Page, live_app, agenda, js_enabled):
    page = signed_in_page
    ada, _bob = agenda
    menu = page.locator(".site-menu > summary")
    if menu.is_visible():  # the links fold into Menu below 1024px
        menu.click()
    page.get_by_role("link", name="Agenda", exact=True).click()
    expect(page.get_by_role("heading", name="Agenda", level=1)).to_be_visible()
    expect(listed(page)).to_have_text(["Quarterly review"])

    choose_when(page, js_enabled, "Overdue")
    expect(listed(page)).to_have_text(["Chase the renewal"])
    expect(page.locator("#agenda_results")).to_contain_text("Overdue")
    assert re.search(r"when=overdue", page.url)

    choose_when(page, js_enabled, "Upcoming")
    expect(listed(page)).to_have_text(["Plan next quarter"])

    choose_when(page, js_enabled, "Today")
    if js_enabled:
        mark_window(page)
    page.get_by_label("Assigned to").select_option(label="Everyone")
    if not js_enabled:
        page.get_by_role("button", name="Show").click()
    expect(listed(page)).to_have_text(["Sam's intro call", "Quarterly review"])
    expect(page).to_have_url(re.compile(r"who=all"))
    if js_enabled:
        assert_not_reloaded(page)

    row = page.locator("tr", has_text="Quarterly review")
    row.get_by_role("button", name=re.compile("Mark done")).click()
    expect(page.get_by_text("“Quarterly review” marked done.")).to_be_visible()
    expect(listed(page)).to_have_text(["Sam's intro call"])
    assert "who=all" in page.url and "when=today" in page.url
    with live_app.app_context():
        done = db.session.scalars(select(Activity).filter_by(title="Quarterly review")).one()
        assert done.done is True

    # Reload keeps the filters; a row's customer leads to its Activities tab.
    page.reload()
    expect(listed(page)).to_have_text(["Sam's intro call"])
    choose_when(page, js_enabled, "Overdue")
    page.get_by_role("link", name="Ada Ltd").click()
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/activities$"))
    expect(page.get_by_role("heading", name="Activities", level=2)).to_be_visible()
