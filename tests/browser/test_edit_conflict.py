"""Two members of staff editing one customer, in the browser: while this person has
Edit customer open, someone else saves a new email. Save changes then brings the form
back (in the modal with JavaScript, as a page without) with a message naming the
email change, the new email shown in its field (this person left it alone) and the
phone this person typed still in its field; saving again keeps both changes."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_panel import (
    assert_not_reloaded,
    customer_form,
    mark_window,
    open_actions,
    saved_customers,
)
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.services.customers import update_customer


def someone_else_saves(live_app, customer_id: int, **fields) -> None:
    """Another member of staff's Save changes, committed while this form is open."""
    with live_app.app_context():
        update_customer(db.session, db.session.get(Customer, customer_id), fields)


def test_edit_customer_after_someone_elses_save_shows_what_changed_and_keeps_the_typed_value(
    signed_in_page, js_enabled, add_customer, live_app
):
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace", phone="+442079460958")
    page.goto(f"/customers/{ada.id}")
    if js_enabled:
        mark_window(page)
    open_actions(page, "Edit customer")
    form = customer_form(page, js_enabled, "Edit customer")

    someone_else_saves(live_app, ada.id, email="ada.king@example.com")
    form.get_by_label("Phone").fill("+44 20 7946 0000")
    form.get_by_role("button", name="Save changes").click()

    form = customer_form(page, js_enabled, "Edit customer")  # still open, not saved
    message = form.get_by_role("alert").first
    expect(message).to_contain_text(
        "Someone else changed this customer while you were editing: Email: now ada.king@example.com"
    )
    expect(message).to_contain_text("Check and Save changes again.")
    expect(form.get_by_label("Phone")).to_have_value("+442079460000")
    expect(form.get_by_label("Email")).to_have_value("ada.king@example.com")
    if js_enabled:
        assert_not_reloaded(page)
    else:
        expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/edit$"))
    [stored] = saved_customers(live_app)
    assert (stored["email"], stored["phone"]) == ("ada.king@example.com", "+442079460958")

    # Save again as it came back: both changes are kept.
    form.get_by_role("button", name="Save changes").click()
    expect(page.locator(".profile")).to_contain_text("ada.king@example.com")
    if js_enabled:
        expect(page.get_by_role("dialog")).to_have_count(0)
    [stored] = saved_customers(live_app)
    assert (stored["email"], stored["phone"]) == ("ada.king@example.com", "+442079460000")
