"""Every screen of the panel at a desktop (1280×800) and a phone (390×844) width, with
JavaScript on and off: no page scrolls sideways, and the customer list keeps its
Balance column in view.

The pages come from the URL map (tests/crawl.py), built over a customer with one of
everything, so a page added later is covered the day it is added. Besides them: the
Sign in page, the public payment page, and (with JavaScript) the forms that open in a
modal over the list and the customer page.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_layout import LONG_VALUES, assert_balance_in_view
from tests.conftest import StaffClient, _fresh_request_globals, make_app
from tests.conftest import sign_in as sign_in_client
from tests.crawl import World, build_world, page_urls
from webapp.extensions import db
from webapp.services.customers import create_customer
from webapp.services.staff import create_staff

pytestmark = pytest.mark.browser

SIZES = [pytest.param((1280, 800), id="1280"), pytest.param((390, 844), id="390")]

# Routes that answer htmx with a piece of a form, never a page of their own.
FRAGMENTS = {"customers.currency_field", "customers.duplicates"}

SIDEWAYS = """() => {
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth <= width) return null;
  const past = [...document.querySelectorAll("body *")]
    .filter(element => element.getBoundingClientRect().right > width + 0.5)
    .map(element => `${element.tagName.toLowerCase()}.${element.className}`);
  return `${document.documentElement.scrollWidth}px wide: ${past.slice(-3).join(", ")}`;
}"""


@pytest.fixture
def world(live_app, instance_dir, admin) -> World:
    """The crawl's customer with one of everything, added through the panel by ``admin``
    (with a long name, company and email). A second app on the live server's database
    builds it, so that its test client can hold an app context of its own."""
    builder = make_app(
        live_app.config["SQLALCHEMY_DATABASE_URI"], instance_dir, SECRET_KEY=live_app.secret_key
    )  # the same key: the payment link it makes opens on the live server
    builder.before_request_funcs.setdefault(None, []).insert(0, _fresh_request_globals)
    with builder.app_context():
        client = builder.test_client()
        assert sign_in_client(client, admin.email).status_code == 303

        def make_customer():
            return create_customer(db.session, {**LONG_VALUES, "country": "DE", "currency": "EUR"})

        def make_staff(email, name, role="agent"):
            return create_staff(db.session, email, name, role, admin.password)

        built = build_world(db, StaffClient(client, admin), make_customer, make_staff)
        db.session.remove()
        db.engine.dispose()
    return built


def sideways(page: Page) -> str | None:
    """None when the page fits the window's width; else how wide it is and what sticks out."""
    return page.evaluate(SIDEWAYS)


def panel_pages(live_app, world: World) -> list[str]:
    return [url for endpoint, url in page_urls(live_app, world) if endpoint not in FRAGMENTS]


@pytest.mark.parametrize("size", SIZES)
def test_no_page_scrolls_sideways(
    admin_page, live_app, world, browser, live_server, js_enabled, size
):
    page = admin_page
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    too_wide = {}
    for url in panel_pages(live_app, world):
        response = page.goto(url)  # some need a choice in the query (a 4xx page, checked too)
        assert response is not None and response.status < 500, url
        if problem := sideways(page):
            too_wide[url] = problem

    # The customer list keeps Balance in view (its header and each row's).
    page.goto("/customers")
    assert_balance_in_view(page, width)

    # The payment page, as the customer opens it, and Sign in, signed out.
    page.goto(f"/customers/{world.customer_id}/billing")
    link = page.locator("#payment-link-url").input_value()
    outside = browser.new_context(
        base_url=live_server,
        java_script_enabled=js_enabled,
        viewport={"width": width, "height": height},
    ).new_page()
    for url in (live_server + "/pay/" + link.split("/pay/")[1], "/sign-in"):
        outside.goto(url)
        expect(outside.get_by_role("heading", level=1)).to_be_visible()
        if problem := sideways(outside):
            too_wide[url] = problem
    outside.context.close()

    # With JavaScript the forms open in a modal: it fits the window too.
    if js_enabled:
        for url, opener in [
            ("/customers", "Add customer"),
            (f"/customers/{world.customer_id}", "Capture one time charge"),
            (f"/customers/{world.customer_id}", "Edit customer"),
        ]:
            page.goto(url)
            if opener != "Add customer":
                page.get_by_role("button", name="Actions").click()
            page.get_by_role("link" if opener != "Add customer" else "button", name=opener).click()
            dialog = page.locator("dialog[open] article")
            expect(dialog).to_be_visible()
            if problem := sideways(page):
                too_wide[f"{url} ({opener})"] = problem
            assert dialog.evaluate("article => article.scrollWidth <= article.clientWidth"), opener
            page.keyboard.press("Escape")
            expect(dialog).to_have_count(0)

    assert not too_wide, "\n".join(f"{url}: {problem}" for url, problem in too_wide.items())
