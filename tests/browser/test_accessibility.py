"""The panel's pages pass axe-core (WCAG 2.1 A and AA): no serious or critical violation.

Every browser test checks the pages it shows (see accessibility.py); these tests make
sure the main pages are among them whatever the other tests do, with content on every
tab: a customer with one of everything (tests/crawl.py ``build_world``, the same one the
HTTP tests crawl), at a desktop (1280×800) and a phone (390×844) width, with JavaScript
on and off. Then every page a signed-in admin can open (every form, Confirm page and
record), once, at the desktop width without JavaScript. Last, that the check can fail:
a nameless button shown between two steps fails a test with a readable list.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.browser.accessibility import AccessibilityWatch, assert_accessible
from tests.browser.conftest import TIMEOUT_MS, sign_in
from tests.conftest import PASSWORD, StaffClient
from tests.conftest import sign_in as sign_in_client
from tests.crawl import World, build_world, page_urls
from tests.waiting import wait_for
from webapp.blueprints.customers.tabs import TABS
from webapp.extensions import db
from webapp.models.email import Email
from webapp.models.export import Export, ExportStatus
from webapp.services.customers import create_customer
from webapp.services.staff import create_staff

pytestmark = pytest.mark.browser

# Endpoints that answer a part of the Add customer form, never a page.
FRAGMENTS_ONLY = {"customers.currency_field", "customers.duplicates"}

SIZES = [
    pytest.param({"width": 1280, "height": 800}, id="1280"),
    pytest.param({"width": 390, "height": 844}, id="390"),
]


@pytest.fixture
def world(live_app, admin) -> World:
    """A customer with one of everything, made through the panel by ``admin``; the
    export it starts has finished."""
    with live_app.app_context():
        client = live_app.test_client()
        assert sign_in_client(client, admin.email).status_code == 303
        built = build_world(
            db,
            StaffClient(client, admin),
            lambda **fields: create_customer(
                db.session,
                {
                    "name": "Ada Lovelace",
                    "email": "ada@example.com",
                    "country": "GB",
                    "currency": "GBP",
                    **fields,
                },
            ),
            lambda email, name: create_staff(db.session, email, name, "agent", PASSWORD),
        )

    def export_done() -> bool:
        with live_app.app_context():
            status = db.session.scalar(select(Export.status))
            return status in (ExportStatus.DONE, ExportStatus.FAILED)

    wait_for(export_done, "the export to finish")
    return built


def main_pages(live_app, world: World) -> list[str]:
    customer = f"/customers/{world.customer_id}"
    with live_app.app_context():
        email_id = db.session.scalar(
            select(Email.id).where(Email.customer_id == world.customer_id).limit(1)
        )
    return [
        "/customers",
        customer,
        *[f"{customer}/{tab}" for tab in TABS if tab != "profile"],
        "/customers/new",
        f"{customer}/emails/{email_id}",
        "/settings/tax-classes",
        "/settings/legal-entities",
        "/staff",
        "/audit",
        "/exports/",
        f"/exports/{world.ids['export_id']}",
    ]


def payment_link_of(page: Page, world: World) -> str:
    """The path of the customer's payment link, as the Billing tab shows it (the link
    was made by the test client, for another host)."""
    page.goto(f"/customers/{world.customer_id}/billing")
    path = urlsplit(page.locator("#payment-link-url").input_value()).path
    assert path.startswith("/pay/")
    return path


@pytest.mark.parametrize("size", SIZES)
def test_main_pages_have_no_serious_accessibility_violation(page, admin, world, size, live_app):
    page.set_viewport_size(size)
    page.goto("/sign-in")
    sign_in(page, admin.email)
    expect(page.get_by_role("heading", name="Customers", level=1)).to_be_visible()
    for url in main_pages(live_app, world):
        response = page.goto(url)
        assert response is not None and response.status == 200, url
    page.goto(payment_link_of(page, world))
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize("js_enabled", [False], ids=["js-off"])
def test_every_page_has_no_serious_accessibility_violation(page, admin, world, live_app):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/sign-in")
    sign_in(page, admin.email)
    expect(page.get_by_role("heading", name="Customers", level=1)).to_be_visible()
    urls = [url for endpoint, url in page_urls(live_app, world) if endpoint not in FRAGMENTS_ONLY]
    assert len(urls) > 50
    for url in urls:
        response = page.goto(url)
        # Some answer 4xx without the form they expect (a status change needs ?to=);
        # an error page is a page too.
        assert response is not None and response.status < 500, url
    assert_accessible(page)


# -- the check itself can fail -----------------------------------------------------------

# A button with no name: axe-core's button-name rule, critical. Added through the
# DevTools protocol, as the page's policy allows no inline script.
ADD_NAMELESS_BUTTON = """() => {
  const button = document.createElement("button");
  button.id = "nameless";
  document.querySelector("main").append(button);
}"""


def new_context(browser: Browser, live_server: str, js_enabled: bool):
    context = browser.new_context(
        base_url=live_server, java_script_enabled=js_enabled, locale="en-GB"
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


def test_a_violation_shown_before_an_assertion_fails_the_test_with_a_readable_list(
    browser, live_server, js_enabled
):
    """What appears is checked before the next assertion: the nameless button, gone
    again before the end of the test, is still reported, with its page, rule, impact,
    selector and help."""
    watch = AccessibilityWatch(live_server)  # the test's own, to see it fail
    context = new_context(browser, live_server, js_enabled)
    try:
        watch.watch_context(context)
        page = context.new_page()
        page.goto("/sign-in")
        page.evaluate(ADD_NAMELESS_BUTTON)
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.evaluate("document.getElementById('nameless').remove()")
        with pytest.raises(AssertionError) as failure:
            watch.finish()
    finally:
        context.close()
    message = str(failure.value)
    assert message.startswith("1 serious or critical accessibility violation(s)"), message
    assert f"on {live_server}/sign-in" in message
    assert "button-name (critical) at #nameless: Buttons must have discernible text" in message


def test_assert_accessible_fails_on_a_violation_and_passes_without(
    browser, live_server, js_enabled
):
    context = new_context(browser, live_server, js_enabled)
    try:
        page = context.new_page()
        page.goto("/sign-in")
        assert_accessible(page)
        page.evaluate(ADD_NAMELESS_BUTTON)
        with pytest.raises(AssertionError, match=r"button-name \(critical\) at #nameless"):
            assert_accessible(page)
    finally:
        context.close()
