"""Notes on the customer page, in Chromium, with JavaScript on and off.

Staff open the Notes tab (empty: "No notes yet."), click Send with nothing typed and
get "Write the note first." beside the field (422, nothing saved), then send a note
with markup and a second line: it is listed with the author's name and shown as
plain text. A second note goes on top (newest first). Delete asks on the server
first (a dialog with JavaScript, a page of its own without): Cancel keeps the note,
Confirm removes it and only it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.test_billing import count, open_customer, open_tab, success_message
from tests.browser.test_panel import assert_not_reloaded, mark_window
from webapp.extensions import db
from webapp.models.notes import Note

pytestmark = pytest.mark.browser

MARKUP_NOTE = "Called about the invoice: <b>not bold</b>\nWill pay on Friday."
SECOND_NOTE = "Sent the reminder again."


# -- helpers ---------------------------------------------------------------------------


def note_form(page: Page) -> Locator:
    return page.locator("form#note_form")


def note_items(page: Page) -> Locator:
    return page.locator("#customer_tab ul.notes > li")


def saved_bodies(app) -> list[str]:
    """The notes in the database, newest first. Line endings are compared as LF: a plain
    form post sends a textarea's line breaks as CRLF (htmx sends LF), and the app stores
    them as they arrive."""
    with app.app_context():
        bodies = db.session.scalars(select(Note.body).order_by(Note.id.desc()))
        return [body.replace("\r\n", "\n") for body in bodies]


def send(page: Page, js_enabled: bool, customer_id: int, expected_status: int) -> None:
    """Click Send: with JavaScript htmx posts it (the page stays); without, a page load."""
    button = note_form(page).get_by_role("button", name="Send", exact=True)
    if js_enabled:
        mark_window(page)
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/notes/")
        ) as posted:
            button.click()
        response = posted.value
        assert response.status == expected_status
        assert response.request.headers.get("hx-request") == "true"
        if expected_status == 204:
            assert "customerUpdated" in (response.headers.get("hx-trigger") or "")
        assert_not_reloaded(page)
    else:
        with page.expect_navigation() as navigation:
            button.click()
        response = navigation.value
        if expected_status == 204:
            # A plain form: 303 back to the tab, which then shows the new note.
            post = response.request.redirected_from
            assert post is not None and post.method == "POST"
            assert post.response().status == 303
            expect(page).to_have_url(re.compile(rf"/customers/{customer_id}/notes$"))
        else:
            assert response.request.method == "POST"
            assert response.status == expected_status


def click_delete(page: Page, js_enabled: bool, item: Locator, body: str) -> Locator:
    """Click the note's Delete link; return the confirmation form (in the dialog with
    JavaScript, on a page of its own without), which quotes the note."""
    item.get_by_role("link", name="Delete", exact=True).click()
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading", name="Delete note")).to_be_visible()
        form = dialog.locator("form#form")
    else:
        expect(page).to_have_url(re.compile(r"/customers/\d+/notes/\d+/delete$"))
        expect(page.get_by_role("heading", name="Delete note", level=1)).to_be_visible()
        form = page.locator("form#form")
    expect(form.locator("blockquote")).to_contain_text(body)
    expect(form).to_contain_text("Alex Agent")
    return form


def expect_back_on_notes_tab(page: Page, js_enabled: bool, customer_id: int) -> None:
    if js_enabled:
        expect(page.get_by_role("dialog")).to_have_count(0)
    else:
        expect(page).to_have_url(re.compile(rf"/customers/{customer_id}/notes$"))
    tabs = page.get_by_role("navigation", name="Customer sections")
    expect(tabs.get_by_role("link", name="Notes", exact=True)).to_have_attribute(
        "aria-current", "page"
    )


# -- the test ------------------------------------------------------------------------------


def test_write_list_and_delete_notes(signed_in_page, js_enabled, add_customer, staff, live_app):
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace")

    # -- 1. the Notes tab, empty -----------------------------------------------------------
    open_customer(page, ada.id)
    open_tab(page, "Notes")
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/notes$"))
    expect(page.locator("#customer_tab")).to_contain_text("No notes yet.")
    expect(note_items(page)).to_have_count(0)
    body = page.get_by_label("New note")
    expect(body).to_be_visible()
    expect(body).to_have_id("body")

    # -- 2. Send with nothing typed: refused beside the field, nothing saved ----------------
    send(page, js_enabled, ada.id, expected_status=422)
    error = page.locator("#body-error")
    expect(error).to_have_text("Write the note first.")
    body = page.get_by_label("New note")
    expect(body).to_have_attribute("aria-invalid", "true")
    expect(body).to_have_attribute("aria-describedby", "body-error")
    # The message sits in the note form, right after the field.
    expect(note_form(page).locator("#body + small.field-error")).to_have_text(
        "Write the note first."
    )
    expect(page.locator("#customer_tab")).to_contain_text("No notes yet.")
    assert count(live_app, Note) == 0

    # -- 3. a note with markup and a second line: shown literally, with its author ---------
    body.fill(MARKUP_NOTE)
    send(page, js_enabled, ada.id, expected_status=204)
    expect(success_message(page, js_enabled)).to_contain_text("Note added.")
    items = note_items(page)
    expect(items).to_have_count(1)
    expect(page.locator("#customer_tab")).not_to_contain_text("No notes yet.")
    first = items.first
    expect(first.locator(".note-meta")).to_contain_text(staff.name)
    expect(first.locator("time")).to_be_visible()
    expect(first.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    text = first.locator("p.prewrap")
    expect(text).to_contain_text("<b>not bold</b>")
    assert text.inner_text() == MARKUP_NOTE, "the note is not shown exactly as typed"
    expect(text.locator("b")).to_have_count(0)
    expect(first.locator("b")).to_have_count(0)
    # The form is fresh again: empty and without the earlier message.
    expect(page.get_by_label("New note")).to_have_value("")
    expect(page.locator("#body-error")).to_have_count(0)
    assert saved_bodies(live_app) == [MARKUP_NOTE]

    # A second note goes on top: newest first.
    page.get_by_label("New note").fill(SECOND_NOTE)
    send(page, js_enabled, ada.id, expected_status=204)
    expect(items).to_have_count(2)
    expect(items.nth(0).locator("p.prewrap")).to_have_text(SECOND_NOTE)
    expect(items.nth(1).locator("p.prewrap")).to_contain_text("<b>not bold</b>")
    expect(items.nth(0).locator(".note-meta")).to_contain_text(staff.name)
    assert saved_bodies(live_app) == [SECOND_NOTE, MARKUP_NOTE]

    # -- 4. Delete the first note: Cancel keeps it, Confirm removes it ------------------------
    form = click_delete(page, js_enabled, items.first, SECOND_NOTE)
    form.get_by_role("button", name="Cancel", exact=True).click()
    expect_back_on_notes_tab(page, js_enabled, ada.id)
    expect(items).to_have_count(2)
    expect(items.nth(0).locator("p.prewrap")).to_have_text(SECOND_NOTE)
    assert count(live_app, Note) == 2

    form = click_delete(page, js_enabled, items.first, SECOND_NOTE)
    if js_enabled:
        mark_window(page)
    form.get_by_role("button", name="Confirm", exact=True).click()
    expect_back_on_notes_tab(page, js_enabled, ada.id)
    if js_enabled:
        assert_not_reloaded(page)
    expect(success_message(page, js_enabled)).to_contain_text("Note deleted.")
    expect(items).to_have_count(1)
    expect(page.locator("#customer_tab")).not_to_contain_text(SECOND_NOTE)
    expect(items.first.locator("p.prewrap")).to_contain_text("<b>not bold</b>")
    assert count(live_app, Note) == 1
    assert saved_bodies(live_app) == [MARKUP_NOTE]
