"""Payment reminders in the browser, JavaScript on and off: an admin adds a step to a legal
entity's schedule (a duplicate is refused beside its field), and an agent puts a customer
on Do not remind from the Billing tab and resumes the reminders."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import _signed_in
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.models.reminders import ReminderStep
from webapp.services import settings

pytestmark = pytest.mark.browser


def test_add_a_step_and_a_duplicate_is_refused(admin_page, live_app):
    page = admin_page
    with live_app.app_context():
        entity = settings.default_legal_entity(db.session)
        db.session.commit()
        entity_id, name = entity.id, entity.name
    page.goto("/settings/legal-entities")
    page.get_by_role("link", name=f"Reminders of {name}").click()
    expect(page.get_by_role("heading", name=f"Payment reminders of {name}")).to_be_visible()
    schedule = page.locator("#schedule")
    expect(schedule.get_by_role("row")).to_have_count(5)  # the default four and the header

    page.get_by_label("Days").fill("30")
    page.get_by_label("When").select_option("after")
    page.get_by_label("With").select_option("pdf")
    page.get_by_role("button", name="Add step").click()
    expect(
        schedule.get_by_role("cell", name="30 days after the due date", exact=True)
    ).to_be_visible()

    page.get_by_label("Days").fill("7")
    page.get_by_label("When").select_option("after")
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("#days-error")).to_have_text(
        "The schedule already has a step 7 days after the due date."
    )
    with live_app.app_context():
        offsets = db.session.scalars(
            select(ReminderStep.offset_days)
            .where(ReminderStep.legal_entity_id == entity_id)
            .order_by(ReminderStep.offset_days)
        ).all()
    assert offsets == [-3, 0, 7, 14, 30]


def test_do_not_remind_and_resume_from_the_billing_tab(page, staff, add_customer, live_app):
    _signed_in(page, staff)
    ada = add_customer(name="Ada Lovelace", email="ada@example.com")
    page.goto(f"/customers/{ada.id}/billing")
    section = page.locator("section#reminders")
    expect(section.get_by_role("heading", name="Payment reminders")).to_be_visible()
    section.get_by_role("button", name="Do not remind").click()
    expect(section).to_contain_text("no payment reminders go to Ada Lovelace")
    expect(page.locator(".customer-header")).to_contain_text("Do not remind")
    with live_app.app_context():
        assert db.session.get(Customer, ada.id).do_not_remind is True

    section.get_by_role("button", name="Resume reminders").click()
    expect(section.get_by_role("button", name="Do not remind")).to_be_visible()
    expect(page.locator(".customer-header")).not_to_contain_text("Do not remind")
    with live_app.app_context():
        assert db.session.get(Customer, ada.id).do_not_remind is False
