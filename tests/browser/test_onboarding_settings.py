"""The onboarding email in Settings, JavaScript on and off: an admin opens a legal entity's
Onboarding email, an unknown placeholder is refused beside the Text field, Preview shows
the typed text for a sample customer (escaped), and Save changes goes back to the list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from webapp.extensions import db
from webapp.models.settings import LegalEntity

pytestmark = pytest.mark.browser


def test_edit_preview_and_save_the_onboarding_email(admin_page, add_customer, live_app):
    page = admin_page
    add_customer(name="Ada Lovelace")  # makes the default legal entity
    page.goto("/settings/legal-entities")
    page.get_by_role("link", name=re.compile(r"^Onboarding email")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Onboarding email of")
    expect(page.get_by_label("Subject")).to_have_value("Welcome to {legal_entity}")

    page.get_by_label("Text").fill("Hello {customer.__class__}")
    page.get_by_role("button", name="Save changes").click()
    error = page.locator("#onboarding_body-error")
    expect(error).to_contain_text("Unknown placeholder {customer.__class__}")

    page.get_by_label("Text").fill("Dear <b>{customer_name}</b>,\n\nSign in: {sign_in_url}")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator(".onboarding-preview")
    expect(preview).to_contain_text("Dear <b>Ada Lovelace</b>,")
    expect(preview.locator('a[href$="/account/sign-in"]')).to_be_visible()

    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(re.compile(r"/settings/legal-entities$"))
    expect(page.get_by_text(re.compile(r"Onboarding email of .* saved\."))).to_be_visible()
    with live_app.app_context():
        entity = db.session.scalars(select(LegalEntity)).one()
        assert entity.onboarding_body == "Dear <b>{customer_name}</b>,\n\nSign in: {sign_in_url}"
