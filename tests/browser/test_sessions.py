"""Change password in the browser: a mistake is shown beside its field, the change keeps
this browser signed in and signs out another one (an htmx request there sends the whole
window to Sign in), and only the new password signs in afterwards."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, sign_in

NEW_PASSWORD = "a brand new passphrase"
# "New password", not "New password again" (the label may end in the required mark).
NEW_PASSWORD_LABEL = re.compile(r"^New password\W*$")


def test_change_password_signs_out_the_other_browser(
    signed_in_page, browser, live_server, js_enabled, staff, accessibility
):
    page = signed_in_page
    other_context = browser.new_context(base_url=live_server, java_script_enabled=js_enabled)
    other_context.set_default_timeout(TIMEOUT_MS)
    accessibility.watch_context(other_context)
    try:
        other = other_context.new_page()
        other.goto("/sign-in")
        sign_in(other, staff.email)
        expect(other.get_by_role("heading", name="Customers", exact=True)).to_be_visible()

        page.get_by_role("link", name="Change password").click()
        expect(page.get_by_role("heading", name="Change password")).to_be_visible()
        page.get_by_label("Current password").fill(staff.password)
        page.get_by_label(NEW_PASSWORD_LABEL).fill(NEW_PASSWORD)
        page.get_by_label("New password again").fill(NEW_PASSWORD + "!")
        page.get_by_role("button", name="Change password").click()
        # Beside the field (and, with the field's label, in the summary above the form).
        expect(
            page.get_by_text("The two new passwords are not the same.", exact=True)
        ).to_be_visible()
        expect(page.get_by_label("New password again")).to_have_attribute("aria-invalid", "true")

        page.get_by_label("Current password").fill(staff.password)
        page.get_by_label(NEW_PASSWORD_LABEL).fill(NEW_PASSWORD)
        page.get_by_label("New password again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        expect(page).to_have_url(re.compile(r"/customers$"))
        expect(page.get_by_text("Your password is changed.")).to_be_visible()
        # This browser carries on in its new session.
        page.reload()
        expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()

        # The other browser is signed out: with htmx the search sends the whole window
        # to Sign in; without, the next page is Sign in.
        if js_enabled:
            other.get_by_role("searchbox", name="Search").fill("ada")
        else:
            other.reload()
        expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
        sign_in(other, staff.email, staff.password)
        expect(other.get_by_role("alert")).to_have_text("Email or password is not right.")
        sign_in(other, staff.email, NEW_PASSWORD)
        expect(other.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    finally:
        other_context.close()
