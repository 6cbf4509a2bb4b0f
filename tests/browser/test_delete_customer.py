"""Delete customer in Chromium, with JavaScript on and off, as an admin: refused while a
subscription is active (the confirmation links to Subscriptions), then, once it is
cancelled, the confirmation counts what goes and asks for the customer's ID; a wrong
ID is refused by the browser itself (and with JavaScript the button stays disabled),
the right one deletes the customer and lands on the customer list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.browser.test_billing import open_tab, success_message
from tests.browser.test_panel import customer_form, open_actions, results
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.models.history import AuditEvent
from webapp.models.subscriptions import Subscription

pytestmark = pytest.mark.browser


def customer_exists(app, customer_id: int) -> bool:
    with app.app_context():
        return db.session.get(Customer, customer_id) is not None


def subscription_statuses(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Subscription.status).order_by(Subscription.id)))


def deletions(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.subject, AuditEvent.summary).where(
                AuditEvent.kind == "customer.deleted"
            )
        )
        return [tuple(row) for row in rows]


def test_cancel_the_subscription_then_delete_the_customer(
    admin_page, js_enabled, add_customer, live_app
):
    page = admin_page
    acme = add_customer(name="Acme Ltd", email="acme@example.com", country="DE", currency="EUR")
    other = add_customer(name="Bystander Bob", email="bob@example.com")

    # A subscription, added on the Subscriptions tab.
    page.goto(f"/customers/{acme.id}")
    open_tab(page, "Subscriptions")
    page.get_by_role("button", name="Add subscription", exact=True).click()
    form = customer_form(page, js_enabled, "New subscription")
    form.get_by_label("Plan").fill("Pro")
    form.get_by_label("Amount").fill("49")
    form.get_by_label("Start date").fill("2026-12-01")
    form.get_by_role("button", name="Add subscription", exact=True).click()
    expect(success_message(page, js_enabled)).to_contain_text("Subscription added.")

    # Delete customer: refused while it is active, with a link to Subscriptions.
    open_actions(page, "Delete customer")
    confirm = customer_form(page, js_enabled, "Delete customer")
    expect(confirm).to_contain_text(
        f"{acme.customer_id} has an active subscription, so it cannot be deleted yet."
    )
    expect(confirm).not_to_contain_text("Nothing was deleted")  # nothing was tried
    expect(confirm.get_by_role("button", name="Delete customer")).to_have_count(0)
    expect(confirm.get_by_label(f"Type {acme.customer_id} to confirm")).to_have_count(0)
    confirm.get_by_role("link", name="Go to Subscriptions").click()
    expect(page).to_have_url(re.compile(rf"/customers/{acme.id}/subscriptions$"))

    # Cancel subscription, confirmed.
    row = page.locator("table.subscriptions tbody tr").filter(has_text="Pro")
    row.get_by_role("link", name="Cancel subscription").click()
    cancel = customer_form(page, js_enabled, "Cancel subscription")
    cancel.get_by_role("button", name="Confirm", exact=True).click()
    expect(success_message(page, js_enabled)).to_contain_text("Subscription Pro cancelled.")
    expect(row).to_contain_text("Cancelled")
    assert subscription_statuses(live_app) == ["cancelled"]

    # Delete customer again: what goes, and the ID to type.
    open_actions(page, "Delete customer")
    confirm = customer_form(page, js_enabled, "Delete customer")
    # Each kind named, and only the kinds the customer has.
    expect(confirm.locator("ul.what-goes li")).to_have_text(
        ["1 subscription", re.compile(r"^\d+ history lines$")]
    )
    field = confirm.get_by_label(f"Type {acme.customer_id} to confirm")
    button = confirm.get_by_role("button", name="Delete customer")
    expect(field).to_have_attribute("autocomplete", "off")

    # A wrong ID: with JavaScript the button stays disabled; without it the browser
    # refuses the form itself (the field's pattern). Either way, nothing happens.
    field.fill(acme.customer_id[:-1])
    if js_enabled:
        expect(button).to_be_disabled()
        field.fill(acme.customer_id.lower())
        expect(button).to_be_disabled()
    else:
        expect(button).to_be_enabled()
        button.click()
        assert field.evaluate("element => element.validity.patternMismatch") is True
        expect(page).to_have_url(re.compile(rf"/customers/{acme.id}/delete$"))
    assert customer_exists(live_app, acme.id)

    # The ID exactly: deleted, and back on the customer list.
    field.fill(acme.customer_id)
    expect(button).to_be_enabled()
    button.click()
    expect(page).to_have_url(re.compile(r"/customers$"))
    expect(page.locator(".flashes")).to_contain_text(f"Customer {acme.customer_id} deleted.")
    expect(results(page)).to_contain_text("Bystander Bob")
    expect(results(page)).not_to_contain_text("Acme Ltd")
    expect(results(page)).not_to_contain_text(acme.customer_id)
    assert not customer_exists(live_app, acme.id)
    assert customer_exists(live_app, other.id)
    assert subscription_statuses(live_app) == []
    ((subject, summary),) = deletions(live_app)
    assert subject == acme.customer_id and "Acme" not in summary

    # Its page is gone.
    response = page.goto(f"/customers/{acme.id}")
    assert response is not None and response.status == 404


def test_an_agent_is_not_offered_delete(signed_in_page, add_customer, live_app):
    page = signed_in_page
    acme = add_customer(name="Acme Ltd")
    page.goto(f"/customers/{acme.id}")
    page.get_by_role("button", name="Actions").click()
    expect(page.get_by_role("link", name="Edit customer")).to_be_visible()
    expect(page.get_by_role("link", name="Delete customer")).to_have_count(0)
    response = page.goto(f"/customers/{acme.id}/delete")
    assert response is not None and response.status == 403
    with live_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
