"""How screens are laid out, at a desktop (1280×800) and a phone (390×844) width, with
JavaScript on and off: long values stay inside their cards, small groups stay together,
the list shows the balance and whole filters, the top bar and the customer tabs fit a
phone, an email as sent shows whole."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.test_every_currency import post as post_balance
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.models.email import Email
from webapp.services import settings
from webapp.services.billing import capture_one_time_charge
from webapp.services.tags import add_tag

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
            # All of it, not an ellipsis (the email is followed by its Verified badge).
            if label == "Email":
                expect(dd.get_by_role("link")).to_have_text(value)
                expect(dd).to_contain_text("Not verified")
            else:
                expect(dd).to_have_text(value)
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


# -- the customer list -------------------------------------------------------------------


@pytest.fixture
def busy_list(live_app, add_customer) -> None:
    """A page of customers that strains the list: the longest name, company and email,
    tags, a big debt in a second currency, the other statuses."""
    long_one = add_customer(**{**LONG_VALUES, "country": "DE", "currency": "EUR"})
    with live_app.app_context():
        customer = db.session.get(Customer, long_one.id)
        for tag in ("key account", "late payer", "reseller", "enterprise"):
            add_tag(db.session, customer, tag)
        db.session.remove()
    post_balance(live_app, long_one.id, -123_456_789, "EUR")
    post_balance(live_app, long_one.id, -146_906, "USD")
    for number in range(8):
        added = add_customer(
            name=f"Customer Number {number}",
            company=f"Company Number {number} Limited",
            email=f"accounts.payable.{number}@company-number-{number}.example.com",
        )
        if number != 4:  # one paid in full
            post_balance(live_app, added.id, (number - 4) * 1_000_00, "GBP")


def fits_on_screen(locator: Locator, width: int) -> None:
    found = box(locator)
    assert found["x"] >= 0 and found["x"] + found["width"] <= width + 0.5, (
        f"{locator} is not within the {width}px window: {found}"
    )


def assert_balance_in_view(page: Page, width: int) -> None:
    """The Balance heading and every balance are on screen, the table is not scrolled
    sideways (it has nothing to scroll), nor is the page."""
    table = page.locator("#results table")
    fits_on_screen(table.get_by_role("columnheader", name="Balance"), width)
    balances = table.locator("tbody td.amount")
    assert balances.count() > 0
    for index in range(balances.count()):
        fits_on_screen(balances.nth(index), width)
    wrap = page.locator("#results .table-wrap")
    assert wrap.evaluate("wrap => wrap.scrollWidth <= wrap.clientWidth"), "the table scrolls"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# The width of an option's text as the select shows it, beside the room the select has
# for it (its width less its padding, which holds the arrow).
OPTIONS_THAT_DO_NOT_FIT = """select => {
  const style = getComputedStyle(select);
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const ruler = document.createElement("span");
  ruler.style.font = style.font;
  ruler.style.whiteSpace = "pre";
  ruler.style.position = "absolute";
  document.body.append(ruler);
  const cut = [];
  for (const option of select.options) {
    ruler.textContent = option.text;
    if (ruler.getBoundingClientRect().width > room + 0.5) cut.push(option.text);
  }
  ruler.remove();
  return cut;
}"""


def test_the_list_shows_the_balance_and_every_filter_whole_at_1280(signed_in_page, busy_list):
    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/customers")
    expect(page.get_by_role("link", name=LONG_VALUES["name"])).to_be_visible()
    assert_balance_in_view(page, 1280)
    row = page.locator("#results tr", has_text=LONG_VALUES["name"])
    expect(row).to_contain_text("−€1,234,567.89")
    expect(row).to_contain_text(LONG_VALUES["company"])
    expect(row).to_contain_text(LONG_VALUES["email"])
    expect(row.get_by_role("link", name="+1 currency")).to_be_visible()
    for heading in ("Customer ID", "Name", "Company", "Email", "Country", "Status", "Created"):
        fits_on_screen(page.locator("#results thead").get_by_role("link", name=heading), 1280)

    # Every choice of every filter reads whole in its select, longest country included.
    for label in ("Status", "Currency", "Country", "Balance", "Tag"):
        select = page.get_by_label(label, exact=True)
        fits_on_screen(select, 1280)
        assert select.evaluate(OPTIONS_THAT_DO_NOT_FIT) == [], f"{label} cuts off choices"


def test_on_a_phone_the_list_shows_name_status_and_balance(signed_in_page, busy_list):
    page = signed_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/customers")
    table = page.locator("#results table")
    for shown in ("Name", "Status", "Balance"):
        expect(table.get_by_role("columnheader", name=shown)).to_be_visible()
    for left_out in ("Customer ID", "Country", "Created"):
        expect(table.get_by_role("columnheader", name=left_out)).to_be_hidden()
    row = table.locator("tbody tr", has_text=LONG_VALUES["name"])
    expect(row.get_by_role("link", name=LONG_VALUES["name"])).to_be_visible()
    expect(row.locator(".status")).to_have_text("Active")
    expect(row.locator("td.amount")).to_contain_text("−€1,234,567.89")
    assert_balance_in_view(page, 390)
    # The filters in view: what each shows now reads whole.
    for label in ("Status", "Currency", "Country", "Balance", "Tag"):
        select = page.get_by_label(label, exact=True)
        fits_on_screen(select, 390)
        shown = select.evaluate("select => select.options[select.selectedIndex].text")
        assert shown not in select.evaluate(OPTIONS_THAT_DO_NOT_FIT), f"{label} is cut off"


# -- the top bar and the customer tabs on a phone ------------------------------------------


def test_the_top_bar_folds_into_a_menu_on_a_phone(admin_page):
    page = admin_page
    links = ["Customers", "Exports", "Settings", "Staff", "Audit", "Change password"]
    top = page.locator("header.topbar")
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(top.get_by_text("Menu", exact=True)).to_be_hidden()
    for name in links:
        expect(top.get_by_role("link", name=name, exact=True)).to_be_visible()

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    menu = top.get_by_text("Menu", exact=True)
    expect(menu).to_be_visible()
    for name in links:
        expect(top.get_by_role("link", name=name, exact=True)).to_be_hidden()
    menu.click()  # a <details>: opens with JavaScript off too
    for name in links:
        fits_on_screen(top.get_by_role("link", name=name, exact=True), 390)
    fits_on_screen(top.get_by_role("button", name="Sign out"), 390)
    top.get_by_role("link", name="Exports", exact=True).click()
    expect(page.get_by_role("heading", name="Exports", level=1)).to_be_visible()


def test_on_a_phone_the_customer_tabs_scroll_in_one_row(signed_in_page, add_customer):
    page = signed_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    customer = add_customer(**LONG_VALUES)
    page.goto(f"/customers/{customer.id}/history")

    tabs = page.get_by_role("navigation", name="Customer sections").get_by_role("link")
    expect(tabs).to_have_count(13)
    rows = {round(box(tabs.nth(index))["y"]) for index in range(13)}
    assert len(rows) == 1, f"the tabs take {len(rows)} rows"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls"
    row = page.locator("nav.tabs ul")
    assert row.evaluate("row => row.scrollWidth > row.clientWidth"), "the row does not scroll"
    # The open tab is in sight, at the end of the row.
    history = page.get_by_role("link", name="History", exact=True)
    expect(history).to_have_attribute("aria-current", "page")
    fits_on_screen(history, 390)

    # Still plain links: the tab scrolled to, then clicked, opens.
    billing = page.get_by_role("link", name="Billing", exact=True)
    billing.scroll_into_view_if_needed()
    billing.click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/billing$"))
    expect(page.get_by_role("heading", name="Balance", level=2)).to_be_visible()
    fits_on_screen(page.get_by_role("link", name="Billing", exact=True), 390)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


# -- an email as sent ----------------------------------------------------------------------

LONGEST = {
    "seller": "Internationale Werkzeug- und Präzisionsinstrumente Vertriebsgesellschaft"
    " für Industrie, Handel und Logistik in Mittel- und Osteuropa mbH & Co. KG",
    "address": "Abteilung Rechnungswesen und Forderungsmanagement\nGebäude 4, Eingang C\n"
    "Industriestraße 128–132\n80339 München\nBayern\nDeutschland",
    "description": " ".join(
        ["Onboarding workshop for the accounts payable team, two days on site, including"]
        + ["travel, the printed handbook and a follow-up call a month later;"] * 6
    )[:500],
}


@pytest.fixture
def longest_email(live_app, add_customer) -> tuple[int, int]:
    """The longest email Tally writes: an invoice with the longest seller and customer
    names, a seller address of six lines and a tax ID, and a 500-character line."""
    with live_app.app_context():
        entity = settings.create_legal_entity(
            db.session,
            {
                "name": LONGEST["seller"][:200],
                "address": LONGEST["address"],
                "country": "GB",
                "tax_id": "GB980780684",
                "default_currency": "EUR",
                "number_prefix": "LONG",
            },
        )
        entity_id = entity.id
        db.session.remove()
    name = ((LONG_VALUES["company"] + " ") * 2)[:200].strip()
    customer = add_customer(**{**LONG_VALUES, "name": name}, legal_entity_id=entity_id)
    with live_app.app_context():
        capture_one_time_charge(
            db.session,
            customer.id,
            amount_minor=123_456_789,
            currency="EUR",
            description=LONGEST["description"],
            actor_id=None,
            key=None,
        )
        email_id = db.session.scalar(select(Email.id).where(Email.customer_id == customer.id))
        db.session.remove()
    return customer.id, email_id


@pytest.mark.parametrize("size", SIZES)
def test_the_longest_email_shows_whole_in_its_frame(signed_in_page, longest_email, size):
    page = signed_in_page
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    customer_id, email_id = longest_email
    page.goto(f"/customers/{customer_id}/emails/{email_id}")

    frame = page.locator("iframe.email-body")
    body = page.frame_locator("iframe.email-body")
    footer = body.get_by_text(re.compile(r"^Sent by Internationale Werkzeug"))
    expect(footer).to_be_attached()
    expect(body.get_by_text("Tax ID: GB980780684")).to_be_attached()
    # The last line of the email lies inside the frame, as drawn, with no scrolling in it.
    inside, around = box(footer), box(frame)
    assert inside["y"] + inside["height"] <= around["y"] + around["height"], (
        f"the email's last line ends {inside['y'] + inside['height'] - around['y']:.0f}px"
        f" down a frame {around['height']:.0f}px tall"
    )
    document = body.locator("html")
    assert document.evaluate("html => html.scrollHeight <= html.clientHeight"), (
        "the email scrolls inside its frame"
    )
    # … and the frame is not much taller than the email.
    assert around["height"] - (inside["y"] + inside["height"] - around["y"]) < 900
