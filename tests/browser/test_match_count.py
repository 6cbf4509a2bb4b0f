"""The list's match count in the browser: counted after the page shows (JS on), or by a
link (JS off); a new filter counts its own view."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_panel import results


def test_the_list_says_how_many_customers_match(signed_in_page, js_enabled, add_customer):
    page = signed_in_page
    for number in range(60):
        add_customer(
            name=f"Customer {number:03d}",
            email=f"c{number:03d}@example.com",
            country=("DE", "FR", "GB")[number % 3],
        )
    page.goto("/customers")
    count = page.locator("#match-count")
    if js_enabled:
        expect(count).to_have_text("60 customers")  # asked for once the page showed
        expect(results(page).locator("tbody tr")).to_have_count(50)  # in its own place
    else:
        count.get_by_role("link", name="Count matching customers").click()
        expect(count).to_have_text("60 customers")
        expect(results(page).locator("tbody tr")).to_have_count(50)  # the list is still here

    page.get_by_label("Country").select_option("FR")
    if not js_enabled:
        page.get_by_role("button", name="Search").click()
    # 20 fit on one page: the page itself says how many.
    expect(results(page).locator("tbody tr")).to_have_count(20)
    expect(count).to_have_text("20 customers match")
    expect(results(page).locator("tbody tr")).to_have_count(20)
