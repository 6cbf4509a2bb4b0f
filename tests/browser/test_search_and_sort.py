"""A search, then a click on a column heading: one view, shown by the table and the URL.

With JavaScript the search box sends the form as it loses focus (``change``), which is
the moment the heading is pressed, and the heading sends a request of its own. The
test holds the search's answer back until the heading's request has been answered, so
the earlier request would land last if nothing stopped it; the last thing asked for
(search and sort) must be what stays. Without JavaScript the same view is reached by
searching, then clicking the heading.
"""

from __future__ import annotations

import contextlib
import re

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Route, expect

from tests.browser.test_panel import results

FILTERED_AND_SORTED = ["Ada Hopper", "Mia Hopper", "Zoe Hopper"]
BOTH_IN_THE_URL = re.compile(r"/customers\?q=hopper&sort=name&dir=asc$")

# Counts the htmx requests the page has started and ended (answered, failed or aborted).
COUNT_REQUESTS = """() => {
  window.listRequests = {started: 0, ended: 0};
  document.body.addEventListener("htmx:beforeRequest", () => window.listRequests.started++);
  document.body.addEventListener("htmx:afterRequest", () => window.listRequests.ended++);
}"""
ALL_REQUESTS_ENDED = "() => window.listRequests.started === window.listRequests.ended"


def names(page) -> Locator:
    """The Name cell of each row, top to bottom."""
    return results(page).locator("tbody tr td.col-customer > a")


def test_a_search_then_a_sort_shows_one_view_in_the_table_and_the_url(
    signed_in_page, js_enabled, add_customer
):
    page = signed_in_page
    # Added in this order, the default view (newest first) differs from the name order.
    for number, name in enumerate(["Zoe Hopper", "Bob Turing", "Ada Hopper", "Mia Hopper"]):
        add_customer(name=name, email=f"person{number}@example.com")
    page.goto("/customers")
    expect(results(page).get_by_role("link", name="Bob Turing")).to_be_visible()
    search_box = page.get_by_role("searchbox", name="Search")
    name_heading = results(page).get_by_role("link", name="Name", exact=True)

    if not js_enabled:
        search_box.fill("hopper")
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page).to_have_url(re.compile(r"[?&]q=hopper(&|$)"))
        name_heading.click()
        expect(page).to_have_url(BOTH_IN_THE_URL)
        expect(names(page)).to_have_text(FILTERED_AND_SORTED)
        expect(search_box).to_have_value("hopper")
        return

    held: list[Route] = []

    def hold_the_first_answer(route: Route) -> None:
        # The first request for the table (the search sent as the box loses focus) waits
        # here, unanswered, until the test lets it go; every later one goes through.
        if held:
            route.continue_()
        else:
            held.append(route)

    page.evaluate(COUNT_REQUESTS)
    page.route(re.compile(r"/customers\?"), hold_the_first_answer)
    search_box.fill("hopper")
    name_heading.click()  # at once: the box loses focus as the heading is pressed

    expect(page).to_have_url(BOTH_IN_THE_URL)
    expect(results(page).get_by_role("link", name="Bob Turing")).to_have_count(0)
    expect(names(page)).to_have_text(FILTERED_AND_SORTED)
    expect(results(page).get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "ascending"
    )

    # Now the held search is answered (if the page still waits for it): it changes nothing.
    assert held, "the search was not sent as the box lost focus"
    with contextlib.suppress(PlaywrightError):  # the page abandoned that request
        held[0].continue_()
    page.wait_for_function(ALL_REQUESTS_ENDED)
    expect(page).to_have_url(BOTH_IN_THE_URL)
    expect(names(page)).to_have_text(FILTERED_AND_SORTED)
    expect(search_box).to_have_value("hopper")

    # Reloading the URL gives the same view.
    page.reload()
    expect(names(page)).to_have_text(FILTERED_AND_SORTED)
    expect(search_box).to_have_value("hopper")
