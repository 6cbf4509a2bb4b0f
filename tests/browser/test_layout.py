"""How screens are laid out, at a desktop (1280×800) and a phone (390×844) width, with
JavaScript on and off: long values stay inside their cards, small groups stay together,
an email as sent shows whole."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

SIZES = [pytest.param((1280, 800), id="1280"), pytest.param((390, 844), id="390")]

LONG_VALUES = {
    "name": "Internationale Handelsgesellschaft für Werkzeugmaschinen"
    " und Präzisionsinstrumente mbH",
    "company": "Internationale Handelsgesellschaft für Werkzeugmaschinen und Präzisionsinstrumente"
    " mbH & Co. KG, Niederlassung Süd",
    "email": "accounts.payable.department.central.invoicing"
    "@internationale-handelsgesellschaft-werkzeugmaschinen.example.com",
    "website": "https://www.internationale-handelsgesellschaft-werkzeugmaschinen-"
    "praezisionsinstrumente.example.com/kontakt/rechnungswesen/abteilung",
}


def box(locator: Locator) -> dict:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not shown"
    return found


def assert_inside(inner: Locator, outer: Locator, what: str) -> None:
    """``inner`` is drawn within ``outer``'s left and right edges, and nothing of it is
    cut off inside (its content is no wider than the box it is given)."""
    inside, around = box(inner), box(outer)
    assert inside["x"] >= around["x"] - 0.5, f"{what} starts left of its card"
    assert inside["x"] + inside["width"] <= around["x"] + around["width"] + 0.5, (
        f"{what} runs past its card"
    )
    assert inner.evaluate("element => element.scrollWidth <= element.clientWidth"), (
        f"{what} is cut off"
    )


def profile_value(page: Page, label: str) -> Locator:
    term = page.locator(".profile dt").filter(has_text=re.compile(rf"^{label}$"))
    return term.locator("xpath=following-sibling::dd[1]")


@pytest.mark.parametrize("size", SIZES)
def test_long_profile_values_wrap_inside_their_cards(signed_in_page, add_customer, size):
    page = signed_in_page
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    customer = add_customer(**LONG_VALUES)
    page.goto(f"/customers/{customer.id}")

    for label, value in [
        ("Name", LONG_VALUES["name"]),
        ("Company", LONG_VALUES["company"]),
        ("Email", LONG_VALUES["email"]),
        ("Website", LONG_VALUES["website"]),
        ("Created", None),
        ("Last changed", None),
    ]:
        dd = profile_value(page, label)
        if value is not None:
            expect(dd).to_have_text(value)  # all of it, not an ellipsis
        card = dd.locator("xpath=ancestor::article[1]")
        assert_inside(dd, card, label)
        assert box(card)["x"] + box(card)["width"] <= width, f"the card of {label} is cut off"
    expect(
        page.locator(".profile").get_by_role("link", name=LONG_VALUES["email"])
    ).to_have_attribute("href", f"mailto:{LONG_VALUES['email']}")
    # The header above the cards: the long name wraps, balance and Actions stay on screen.
    for part in (
        page.get_by_role("heading", name=LONG_VALUES["name"], level=1),
        page.locator(".customer-header .balance-summary"),
        page.get_by_role("button", name="Actions"),
    ):
        assert box(part)["x"] + box(part)["width"] <= width, f"{part} runs off the screen"


@pytest.mark.parametrize("size", SIZES)
def test_the_ticket_filter_links_sit_together(signed_in_page, add_customer, size):
    page = signed_in_page
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    customer = add_customer()
    page.goto(f"/customers/{customer.id}/tickets")

    links = page.get_by_role("navigation", name="Ticket status").get_by_role("link")
    expect(links).to_have_text(["Show all", "New", "In progress", "Solved", "Cancelled"])
    boxes = [box(links.nth(index)) for index in range(links.count())]
    heading = box(page.get_by_role("heading", name="Tickets", level=2))
    assert abs(boxes[0]["x"] - heading["x"]) < 1, "the group starts where the tab does"
    for before, after in zip(boxes, boxes[1:], strict=False):
        if abs(after["y"] - before["y"]) < 1:  # on the same line: close, as a group
            gap = after["x"] - (before["x"] + before["width"])
            assert 0 <= gap <= 32, f"{gap:.0f} px between two filter links"
        else:  # wrapped onto the next line, at the start
            assert abs(after["x"] - boxes[0]["x"]) < 1
    assert all(found["x"] + found["width"] <= width for found in boxes)
