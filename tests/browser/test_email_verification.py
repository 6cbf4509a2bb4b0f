"""Verify email, from the Actions menu to the customer's confirmation and the Profile badge.

Staff (JavaScript on: a modal; off: a page of its own) choose Actions -> Verify email and
send it; the Profile says "Not verified". The live server has no mail server, so the
link is not delivered: the test gives the link's stored hash a token of its own (the
hash is all the database keeps) and opens it in the customer's browser (no cookies, JS
as the test's): the page asks first, "Confirm my email address" confirms it, and a second
visit says the link was used. The Profile then says "Verified". The list's "Email not
verified" filter leaves the customer out afterwards.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from webapp.extensions import db
from webapp.models.email_verification import EmailVerificationToken
from webapp.services.email_address_state import token_hash

pytestmark = pytest.mark.browser

TOKEN = "browser-test-verification-token"


def test_verify_email_from_the_actions_menu_to_the_badge(
    signed_in_page, js_enabled, customer_context, add_customer, live_app
):
    page = signed_in_page
    vera = add_customer(name="Vera Verify", email="vera@example.com")
    page.goto(f"/customers/{vera.id}")
    profile = page.locator("#customer_tab")
    expect(profile.locator(".email-badge")).to_have_text("Not verified")

    page.get_by_role("button", name="Actions").click()
    page.get_by_role("link", name="Verify email").click()
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Send Vera Verify a link to confirm vera@example.com?")
        dialog.get_by_role("button", name="Send verification email").click()
        expect(dialog).to_have_count(0)
    else:
        expect(page).to_have_url(re.compile(rf"/customers/{vera.id}/verify-email$"))
        page.get_by_role("button", name="Send verification email").click()
        expect(page).to_have_url(re.compile(rf"/customers/{vera.id}$"))
    expect(page.get_by_text("verification email to vera@example.com is recorded")).to_be_visible()

    with live_app.app_context():
        row = db.session.scalars(select(EmailVerificationToken)).one()
        assert row.address == "vera@example.com" and row.used_at is None
        row.token_hash = token_hash(TOKEN)
        db.session.commit()

    customer = customer_context.new_page()
    customer.goto(f"/verify-email/{TOKEN}")
    expect(customer.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    customer.get_by_role("button", name="Confirm my email address").click()
    expect(customer.get_by_role("heading", name="Address confirmed")).to_be_visible()
    expect(customer.get_by_role("status")).to_contain_text("vera@example.com is confirmed")

    response = customer.goto(f"/verify-email/{TOKEN}")
    assert response is not None and response.status == 404
    expect(customer.get_by_role("heading", level=1)).to_have_text(
        "This link has expired or was already used"
    )

    page.goto(f"/customers/{vera.id}")
    expect(page.locator("#customer_tab .email-badge")).to_have_text("Verified")
    page.goto("/customers?email=unverified")
    expect(page.get_by_label("Email", exact=True)).to_have_value("unverified")
    expect(page.locator("#results")).not_to_contain_text("Vera Verify")
