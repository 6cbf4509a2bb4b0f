"""Subscriptions on the customer page, in Chromium, with JavaScript on and off:
add one (a dialog with JavaScript, a page without), see it Active, then Cancel
subscription: the server asks first, Keep it changes nothing, Confirm cancels it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.test_billing import open_customer, open_tab, success_message
from webapp.extensions import db
from webapp.models.subscriptions import Subscription

pytestmark = pytest.mark.browser


def statuses(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(Subscription.plan_name, Subscription.status).order_by(Subscription.id)
        )
        return [tuple(row) for row in rows]


def region_for(page: Page, js_enabled: bool, heading: str):
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_role("heading", name=heading)).to_be_visible()
        return dialog
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    return page.locator("main")


def test_add_and_cancel_a_subscription(signed_in_page, js_enabled, add_customer, live_app):
    page = signed_in_page
    acme = add_customer(name="Acme Ltd", country="DE", currency="EUR")
    open_customer(page, acme.id)
    open_tab(page, "Subscriptions")
    expect(page).to_have_url(re.compile(rf"/customers/{acme.id}/subscriptions$"))
    expect(page.locator("#customer_tab")).to_contain_text("No subscriptions yet.")

    page.get_by_role("button", name="Add subscription", exact=True).click()
    form = region_for(page, js_enabled, "New subscription")
    form.get_by_label("Plan").fill("Pro")
    form.get_by_label("Amount").fill("49")
    form.get_by_label("Yearly").check()
    form.get_by_label("Start date").fill("2026-12-01")
    form.get_by_role("button", name="Add subscription", exact=True).click()
    expect(success_message(page, js_enabled)).to_contain_text("Subscription added.")
    row = page.locator("table.subscriptions tbody tr").filter(has_text="Pro")
    expect(row).to_contain_text("€49.00")
    expect(row).to_contain_text("Yearly")
    expect(row).to_contain_text("Active")
    assert statuses(live_app) == [("Pro", "active")]

    # Keep it: nothing changes.
    row.get_by_role("link", name="Cancel subscription").click()
    confirm = region_for(page, js_enabled, "Cancel subscription")
    expect(confirm).to_contain_text("Pro · €49.00 yearly")
    confirm.get_by_role("button", name="Keep it").or_(
        confirm.get_by_role("link", name="Keep it")
    ).click()
    expect(row).to_contain_text("Active")
    assert statuses(live_app) == [("Pro", "active")]

    # Confirm: cancelled, and no Cancel link any more.
    row.get_by_role("link", name="Cancel subscription").click()
    confirm = region_for(page, js_enabled, "Cancel subscription")
    confirm.get_by_role("button", name="Confirm", exact=True).click()
    expect(success_message(page, js_enabled)).to_contain_text("Subscription Pro cancelled.")
    row = page.locator("table.subscriptions tbody tr").filter(has_text="Pro")
    expect(row).to_contain_text("Cancelled")
    expect(row.get_by_role("link", name="Cancel subscription")).to_have_count(0)
    assert statuses(live_app) == [("Pro", "cancelled")]
