"""Bulk actions on the customer list in Chromium, with JavaScript on (the confirmation in
the modal, the list refreshed in place) and off (a confirmation page, back to the list):
tick customers and add a tag, change the status of every customer matching a filter,
and delete customers with one refused because of an active subscription."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.test_billing import success_message
from tests.browser.test_panel import customer_form
from webapp.extensions import db
from webapp.models.crm import Tag, customer_tags
from webapp.models.customer import Customer
from webapp.services import subscriptions

pytestmark = pytest.mark.browser


def tick(page: Page, *customers) -> None:
    for customer in customers:
        page.get_by_role("checkbox", name=f"Tick {customer.customer_id} {customer.name}").check()


def apply(page: Page, action: str, button: str = "Apply to ticked") -> None:
    page.get_by_label("With the customers").select_option(label=action)
    page.get_by_role("button", name=button).click()


def saved(app):
    """Each customer's name, status and tags, from the database."""
    with app.app_context():
        customers = db.session.scalars(select(Customer).order_by(Customer.name)).all()
        result = {}
        for customer in customers:
            names = db.session.scalars(
                select(Tag.name)
                .join(customer_tags, customer_tags.c.tag_id == Tag.id)
                .where(customer_tags.c.customer_id == customer.id)
            ).all()
            result[customer.name] = (str(customer.status), list(names))
        return result


def test_tick_customers_and_add_a_tag(signed_in_page, js_enabled, add_customer, live_app):
    page = signed_in_page
    anna = add_customer(name="Anna Berg", email="anna@example.com")
    bruno = add_customer(name="Bruno Kurz", email="bruno@example.com")
    add_customer(name="Clara Lang", email="clara@example.com")
    page.goto("/customers")
    tick(page, anna, bruno)
    if js_enabled:
        # The ticks survive: a tick does not send the search form.
        expect(
            page.get_by_role("checkbox", name=f"Tick {anna.customer_id} Anna Berg")
        ).to_be_checked()
    apply(page, "Add tag")
    form = customer_form(page, js_enabled, "Add tag: 2 customers")
    expect(form).to_contain_text(f"{anna.customer_id} · Anna Berg")
    expect(form).not_to_contain_text("Clara Lang")

    # No tag: refused beside the field, nothing saved.
    form.get_by_role("button", name="Add tag").click()
    if not js_enabled:
        # The field is required: the browser itself refuses to send it empty.
        assert form.get_by_label("Tag").evaluate("element => element.validity.valueMissing")
    form.get_by_label("Tag").fill("no; way")
    form.get_by_role("button", name="Add tag").click()
    expect(page.locator("#tag_name-error")).to_contain_text("only letters, digits")
    assert saved(live_app)["Anna Berg"] == ("active", [])

    page.locator("form#form").get_by_label("Tag").fill("VIP")
    page.locator("form#form").get_by_role("button", name="Add tag").click()
    expect(success_message(page, js_enabled)).to_contain_text("Tag VIP added to 2 customers.")
    rows = page.locator("table.customers tbody tr")
    expect(rows.filter(has_text="Anna Berg").locator(".tag")).to_have_text(["VIP"])
    expect(rows.filter(has_text="Clara Lang").locator(".tag")).to_have_count(0)
    assert saved(live_app) == {
        "Anna Berg": ("active", ["VIP"]),
        "Bruno Kurz": ("active", ["VIP"]),
        "Clara Lang": ("active", []),
    }

    # Each customer's History tab has its line.
    page.goto(f"/customers/{bruno.id}/history")
    expect(page.locator("#customer_tab")).to_contain_text("Tag added")


def test_change_the_status_of_every_customer_matching_a_filter(
    signed_in_page, js_enabled, add_customer, live_app
):
    page = signed_in_page
    for name, country in (("Anna Berg", "DE"), ("Bruno Kurz", "DE"), ("Denis Roux", "FR")):
        add_customer(name=name, email=f"{name.split()[0].lower()}@example.com", country=country)
    page.goto("/customers?country=DE")
    expect(page.locator("table.customers tbody tr")).to_have_count(2)
    apply(page, "Change status", button="Apply to all matching")
    form = customer_form(page, js_enabled, "Change status: 2 customers")
    form.get_by_label("New status").select_option(label="Suspended")
    form.get_by_role("button", name="Change status").click()
    expect(success_message(page, js_enabled)).to_contain_text("2 customers are now suspended.")
    expect(page).to_have_url(re.compile(r"/customers\?country=DE$"))
    expect(page.locator("table.customers tbody tr .status")).to_have_text(
        ["Suspended", "Suspended"]
    )
    assert saved(live_app) == {
        "Anna Berg": ("suspended", []),
        "Bruno Kurz": ("suspended", []),
        "Denis Roux": ("active", []),
    }


def test_delete_customers_with_one_refused(admin_page, js_enabled, add_customer, live_app):
    page = admin_page
    anna = add_customer(name="Anna Berg", email="anna@example.com")
    bruno = add_customer(name="Bruno Kurz", email="bruno@example.com")
    clara = add_customer(name="Clara Lang", email="clara@example.com")
    with live_app.app_context():
        subscriptions.add(
            db.session,
            db.session.get(Customer, bruno.id),
            None,
            {
                "plan_name": "Pro",
                "amount_minor": 4900,
                "currency": "GBP",
                "interval": "monthly",
                "starts_on": date(2026, 1, 1),
            },
        )
    page.goto("/customers")
    tick(page, anna, bruno, clara)
    apply(page, "Delete customers")
    form = customer_form(page, js_enabled, "Delete customers: 3 customers")
    expect(form).to_contain_text("1 of them cannot be deleted")
    expect(form.get_by_role("checkbox", name=f"{bruno.customer_id} · Bruno Kurz")).to_be_disabled()

    # Dismiss: back to the list, nothing deleted.
    form.get_by_role("button", name="Dismiss").click()
    if js_enabled:
        expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/customers$"))
    assert len(saved(live_app)) == 3

    # Remove customer(s): only Clara left ticked.
    page.reload()
    tick(page, anna, bruno, clara)
    apply(page, "Delete customers")
    form = customer_form(page, js_enabled, "Delete customers: 3 customers")
    form.get_by_role("checkbox", name=f"{anna.customer_id} · Anna Berg").uncheck()
    form.get_by_role("button", name="Remove customers").click()
    expect(success_message(page, js_enabled)).to_contain_text("1 customer deleted.")
    expect(success_message(page, js_enabled)).to_contain_text(f"Refused 1: {bruno.customer_id}")
    assert sorted(saved(live_app)) == ["Anna Berg", "Bruno Kurz"]

    # Remove all that can be removed: Anna goes, Bruno stays.
    expect(page.locator("table.customers tbody tr")).to_have_count(2)
    tick(page, anna, bruno)
    apply(page, "Delete customers")
    form = customer_form(page, js_enabled, "Delete customers: 2 customers")
    form.get_by_role("button", name="Remove all that can be removed").click()
    expect(success_message(page, js_enabled)).to_contain_text("1 customer deleted.")
    expect(page.locator("table.customers tbody tr")).to_have_count(1)
    assert sorted(saved(live_app)) == ["Bruno Kurz"]


def test_an_agent_is_not_offered_delete(signed_in_page, add_customer):
    page = signed_in_page
    add_customer()
    page.goto("/customers")
    expect(page.get_by_label("With the customers").locator("option")).to_have_text(
        ["Add tag", "Remove tag", "Change status", "Export selected"]
    )
