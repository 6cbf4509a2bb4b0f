"""The History tab in Chromium, with JavaScript on and off: an agent adds a note, opens
History and sees it on top (who, what, the note) above the customer being created by
the System; the kind filter shows only contacts and records, or only the creation, and
Show all brings everything back (each a real link: htmx swaps just the tab)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_billing import open_customer, open_tab, success_message
from tests.browser.test_panel import assert_not_reloaded, mark_window

pytestmark = pytest.mark.browser

NOTE = "Prefers email to phone calls."


def history_rows(page: Page):
    return page.locator("#customer_tab table.history tbody tr")


def choose_kind(page: Page, js_enabled: bool, label: str) -> None:
    """Click a kind in the filter: the tab is swapped in with JavaScript, loaded without."""
    filter_links = page.get_by_role("navigation", name="Kind of change")
    if js_enabled:
        mark_window(page)
    filter_links.get_by_role("link", name=label, exact=True).click()
    expect(filter_links.get_by_role("link", name=label, exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    if js_enabled:
        assert_not_reloaded(page)


def test_history_shows_who_did_what_and_filters_by_kind(signed_in_page, js_enabled, add_customer):
    page = signed_in_page
    ada = add_customer()
    open_customer(page, ada.id)
    open_tab(page, "Notes")
    page.locator("form#note_form textarea").fill(NOTE)
    page.locator("form#note_form").get_by_role("button", name="Send", exact=True).click()
    expect(success_message(page, js_enabled)).to_contain_text("Note added.")

    open_tab(page, "History")
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/history$"))
    rows = history_rows(page)
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Alex Agent")
    expect(rows.nth(0)).to_contain_text("Note added")
    expect(rows.nth(0)).to_contain_text(NOTE)
    expect(rows.nth(1)).to_contain_text("System")
    expect(rows.nth(1)).to_contain_text("Customer created")
    expect(rows.nth(1)).to_contain_text("Ada Lovelace")

    choose_kind(page, js_enabled, "Contacts and records")
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/history\?kind=record$"))
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("Note added")

    choose_kind(page, js_enabled, "Created")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("Customer created")

    choose_kind(page, js_enabled, "Subscriptions")
    expect(page.locator("#customer_tab")).to_contain_text("No changes of this kind.")
    expect(rows).to_have_count(0)

    choose_kind(page, js_enabled, "Show all")
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/history$"))
    expect(rows).to_have_count(2)
