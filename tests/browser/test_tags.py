"""Tags in Chromium, with JavaScript on and off: Add tag on the Profile tab (a refused
one comes back beside the field), remove one with its × button, and filter the
customer list by tag."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.test_billing import open_customer, success_message
from tests.browser.test_panel import assert_not_reloaded, mark_window, results
from webapp.extensions import db
from webapp.models.crm import Tag, customer_tags

pytestmark = pytest.mark.browser


def saved_tags(app) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(customer_tags.c.customer_id, Tag.name)
            .join(Tag, Tag.id == customer_tags.c.tag_id)
            .order_by(customer_tags.c.customer_id, Tag.key)
        )
        return [tuple(row) for row in rows]


def add_tag(page: Page, js_enabled: bool, name: str) -> None:
    page.get_by_role("combobox", name="New tag").fill(name)
    page.get_by_role("button", name="Add tag").click()
    if not js_enabled:
        page.wait_for_load_state()


def test_tag_customers_and_filter_the_list_by_tag(
    signed_in_page, js_enabled, add_customer, live_app
):
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace", email="ada@example.com")
    add_customer(name="Grace Hopper", email="grace@example.com")
    tags = page.locator("#customer_tab article#tags")

    open_customer(page, ada.id)
    expect(tags).to_contain_text("No tags yet.")
    if js_enabled:
        mark_window(page)

    add_tag(page, js_enabled, "VIP")
    expect(success_message(page, js_enabled)).to_contain_text("Tag VIP added.")
    expect(tags.locator("li.tag > span")).to_have_text(["VIP"])
    add_tag(page, js_enabled, "Late payer")
    expect(tags.locator("li.tag > span")).to_have_text(["Late payer", "VIP"])
    assert saved_tags(live_app) == [(ada.id, "Late payer"), (ada.id, "VIP")]

    # The same tag in another case: refused beside the field, nothing saved.
    add_tag(page, js_enabled, "vip")
    expect(page.locator("#tag-error")).to_have_text("Ada Lovelace already has the tag VIP.")
    expect(page.get_by_role("combobox", name="New tag")).to_have_value("vip")
    if not js_enabled:
        expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/tags$"))
    assert saved_tags(live_app) == [(ada.id, "Late payer"), (ada.id, "VIP")]

    # Remove one: no confirmation, the other stays.
    open_customer(page, ada.id)
    if js_enabled:
        mark_window(page)
    tags.get_by_role("button", name="Remove tag Late payer").click()
    expect(success_message(page, js_enabled)).to_contain_text("Tag Late payer removed.")
    expect(tags.locator("li.tag > span")).to_have_text(["VIP"])
    if js_enabled:
        assert_not_reloaded(page)
    assert saved_tags(live_app) == [(ada.id, "VIP")]

    # The customer list, filtered by tag.
    page.goto("/customers")
    table = results(page)
    expect(table.get_by_role("link", name="Grace Hopper")).to_be_visible()
    expect(table.get_by_role("row").filter(has_text="Ada Lovelace")).to_contain_text("VIP")
    page.get_by_label("Tag", exact=True).select_option(label="VIP")
    if not js_enabled:
        page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]tag=vip(&|$)"))
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(table.get_by_role("link", name="Grace Hopper")).to_have_count(0)
    # A reload keeps the view: the select still says VIP.
    page.reload()
    expect(page.get_by_label("Tag", exact=True)).to_have_value("vip")
    expect(table.locator("tbody tr")).to_have_count(1)
