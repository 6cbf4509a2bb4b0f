"""Keyset paging in the browser: Next and Previous, reload, Back, with JS on and off."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_panel import assert_not_reloaded, mark_window, results


def names_shown(page) -> list[str]:
    return results(page).locator("tbody tr td.col-customer > a").all_inner_texts()


def test_next_previous_reload_and_back_show_the_same_rows(signed_in_page, js_enabled, add_customer):
    page = signed_in_page
    for number in range(110):
        add_customer(name=f"Customer {number:03d}", email=f"c{number:03d}@example.com")
    page.goto("/customers?sort=name&dir=asc")
    first = [f"Customer {number:03d}" for number in range(50)]
    assert names_shown(page) == first
    if js_enabled:
        mark_window(page)

    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"sort=name&dir=asc&after=[\w-]+$"))
    expect(results(page).get_by_role("link", name="Customer 050")).to_be_visible()
    second = [f"Customer {number:03d}" for number in range(50, 100)]
    assert names_shown(page) == second
    if js_enabled:
        assert_not_reloaded(page)  # htmx swapped the table and pushed the URL
    second_url = page.url

    page.reload()  # the URL alone brings the same rows back
    expect(results(page).get_by_role("link", name="Customer 050")).to_be_visible()
    assert names_shown(page) == second

    page.get_by_role("link", name="Next →").click()
    expect(results(page).get_by_role("link", name="Customer 109")).to_be_visible()
    assert names_shown(page) == [f"Customer {number:03d}" for number in range(100, 110)]
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)

    page.get_by_role("link", name="← Previous").click()
    expect(page).to_have_url(re.compile(r"before=[\w-]+$"))
    expect(results(page).get_by_role("link", name="Customer 050")).to_be_visible()
    assert names_shown(page) == second

    page.go_back()
    expect(results(page).get_by_role("link", name="Customer 109")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(second_url)
    expect(results(page).get_by_role("link", name="Customer 050")).to_be_visible()
    assert names_shown(page) == second
    page.go_back()
    expect(results(page).get_by_role("link", name="Customer 000")).to_be_visible()
    assert names_shown(page) == first
    expect(page.get_by_role("link", name="← Previous")).to_have_count(0)


def test_a_sort_after_paging_starts_again_from_the_first_page(
    signed_in_page, js_enabled, add_customer
):
    page = signed_in_page
    for number in range(60):
        add_customer(name=f"Customer {number:03d}", email=f"c{number:03d}@example.com")
    page.goto("/customers?sort=name&dir=asc")
    page.get_by_role("link", name="Next →").click()
    expect(results(page).get_by_role("link", name="Customer 059")).to_be_visible()
    page.get_by_role("link", name="Name").click()  # now descending, from the top
    expect(page).to_have_url(re.compile(r"sort=name&dir=desc$"))
    expect(results(page).get_by_role("link", name="Customer 059")).to_be_visible()
    assert names_shown(page)[:2] == ["Customer 059", "Customer 058"]
