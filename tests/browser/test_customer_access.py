"""Customer access end to end, in the browser, with a real SMTP server on loopback: staff
invite from Actions -> Account access; the link in the delivered email sets a password;
the customer signs in, opens an invoice and signs out. Also: Forgot password and its
link, a staff-set password the customer must change at first sign-in, Add customer with
"Set password", and a customer session that never opens the panel. JavaScript on and
off; axe-core checks every page (accessibility.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import TIMEOUT_MS, serving
from tests.conftest import SmtpServer, make_app
from tests.customer_area_data import charge
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.services import customer_accounts
from webapp.services.customers import create_customer

pytestmark = pytest.mark.browser

LINK = re.compile(r"http://[^\s\"<>]+/account/(?:invite|reset)/[A-Za-z0-9_-]+")
PUBLIC_BASE_URL = "http://tally.test"
CHOSEN = "ivy's own long password"
STAFF_SET = "a password from staff 77"


# -- a live server that delivers to a real SMTP server -----------------------------------


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live_app(instance_dir, tmp_path_factory, smtp_server):
    """This module's app: as the browser tests' own, delivering to ``smtp_server``."""
    database = tmp_path_factory.mktemp("access") / "tally-access.db"
    return make_app(
        f"sqlite:///{database}",
        instance_dir,
        JOBS_INLINE="thread",
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        **smtp_server.config(),
    )


@pytest.fixture(scope="module")
def live_server(live_app) -> Iterator[str]:
    with serving(live_app) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_mailbox(smtp_server):
    smtp_server.messages.clear()


@pytest.fixture
def ivy(live_app) -> tuple[int, str]:
    """Ivy Invite, with an invoice of €120.00; (customer id, invoice number)."""
    with live_app.app_context():
        customer = create_customer(
            db.session,
            {"name": "Ivy Invite", "email": "ivy@example.com", "country": "DE", "currency": "EUR"},
        )
        invoice = charge(db.session, customer.id, 12_000, "EUR", "Ivy consulting").invoice
        found = (customer.id, invoice.number)
        db.session.remove()
        return found


def delivered(smtp_server: SmtpServer, address: str, containing: str) -> EmailMessage:
    """The newest message to ``address`` whose text has ``containing``, once it has arrived
    (a job sends it). Ivy's invoice email goes to the same address, at a moment of its own."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        for message in reversed(smtp_server.to(address)):
            if containing in message.get_body(("plain",)).get_content():
                return message
        time.sleep(0.05)
    raise AssertionError(f"no email to {address} with {containing!r} after {TIMEOUT_MS} ms")


def link_in(message: EmailMessage) -> str:
    """The link's path: the email's link is on PUBLIC_BASE_URL, not this test's server."""
    link = LINK.search(message.get_body(("plain",)).get_content()).group(0)
    assert link.startswith(PUBLIC_BASE_URL), link
    return link.removeprefix(PUBLIC_BASE_URL)


def open_actions_item(page: Page, js_enabled: bool, item: str) -> Page | object:
    """Actions -> ``item``: the dialog with JavaScript, the page without."""
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("link", name=item).click()
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        return dialog
    expect(page.get_by_role("heading", name=item, level=1)).to_be_visible()
    return page


def sign_in_as_customer(page: Page, email: str, password: str) -> None:
    page.goto("/account/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    button = page.get_by_role("button", name="Sign out")
    if not button.is_visible():  # a phone: behind the Menu
        page.get_by_text("Menu").click()
    button.click()
    expect(page.get_by_role("heading", name="Sign in to your account")).to_be_visible()
    expect(page.get_by_text("You have signed out.")).to_be_visible()


# -- the invite, end to end -----------------------------------------------------------------


def test_invite_set_password_sign_in_open_an_invoice_sign_out(
    signed_in_page, js_enabled, customer_context, smtp_server, live_app, ivy
):
    customer_id, number = ivy
    page = signed_in_page
    page.goto(f"/customers/{customer_id}")
    panel = open_actions_item(page, js_enabled, "Account access")
    expect(panel.get_by_text("No account")).to_be_visible()
    panel.get_by_role("button", name="Send invite").click()
    expect(page.get_by_text("The invite is on its way to ivy@example.com")).to_be_visible()

    link = link_in(delivered(smtp_server, "ivy@example.com", "Choose your password"))

    customer = customer_context.new_page()
    customer.goto(link)
    expect(customer.get_by_role("heading", name="Set your password")).to_be_visible()
    customer.locator("input[name=password]").fill(CHOSEN)
    customer.get_by_label("New password again").fill(CHOSEN)
    customer.get_by_role("button", name="Set password").click()
    expect(customer.get_by_role("heading", name="Ivy Invite", level=1)).to_be_visible()
    expect(customer.get_by_text("Your password is set. You are signed in.")).to_be_visible()
    sign_out(customer)

    sign_in_as_customer(customer, "ivy@example.com", CHOSEN)
    expect(customer.get_by_role("heading", name="Ivy Invite", level=1)).to_be_visible()
    customer.goto("/account/invoices")
    customer.get_by_role("link", name=number).click()
    expect(customer.locator("h1")).to_contain_text("Invoice")
    expect(customer.get_by_text(number).first).to_be_visible()
    expect(customer.get_by_text("Ivy consulting").first).to_be_visible()
    sign_out(customer)
    customer.goto("/account/invoices")
    expect(customer.get_by_role("heading", name="Sign in to your account")).to_be_visible()

    # Used once: the link says so. Staff see the account active and the address verified.
    customer.goto(link)
    expect(customer.get_by_role("heading", name="This link no longer works")).to_be_visible()
    page.goto(f"/customers/{customer_id}")
    expect(page.locator("#customer_tab .email-badge")).to_contain_text("Verified")
    page.goto(f"/customers/{customer_id}/account-access/")
    expect(page.locator(".account-state")).to_contain_text("Active")


def test_forgot_password_sends_a_link_that_sets_a_new_one(
    customer_context, smtp_server, live_app, ivy, js_enabled
):
    customer_id, _number = ivy
    with live_app.app_context():
        customer = db.session.get(Customer, customer_id)
        customer_accounts.set_password_by_staff(db.session, customer, STAFF_SET)
        account = customer_accounts.account_of(db.session, customer_id)
        account.must_change_password = False
        db.session.commit()
        db.session.remove()
    page = customer_context.new_page()
    page.goto("/account/sign-in")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Forgot password")).to_be_visible()
    page.get_by_label("Email").fill("ivy@example.com")
    page.get_by_role("button", name=re.compile("link", re.I)).click()
    said = "If that address has an account, we have sent it a link"
    expect(page.get_by_text(said)).to_be_visible()

    # An address without an account gets the very same answer, and no email.
    page.goto("/account/forgot")
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_role("button", name=re.compile("link", re.I)).click()
    expect(page.get_by_text(said)).to_be_visible()

    link = link_in(delivered(smtp_server, "ivy@example.com", "/account/reset/"))
    assert "/account/reset/" in link and not smtp_server.to("nobody@example.com")
    page.goto(link)
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    page.locator("input[name=password]").fill(CHOSEN)
    page.get_by_label("New password again").fill(CHOSEN)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Ivy Invite", level=1)).to_be_visible()
    sign_out(page)
    sign_in_as_customer(page, "ivy@example.com", STAFF_SET)
    expect(page.get_by_text("Email or password is not right.")).to_be_visible()
    sign_in_as_customer(page, "ivy@example.com", CHOSEN)
    expect(page.get_by_role("heading", name="Ivy Invite", level=1)).to_be_visible()


def test_a_password_staff_set_must_be_changed_at_first_sign_in(
    signed_in_page, js_enabled, customer_context, ivy
):
    customer_id, _number = ivy
    page = signed_in_page
    page.goto(f"/customers/{customer_id}")
    panel = open_actions_item(page, js_enabled, "Account access")
    panel.get_by_label("Password for the customer").fill("short")
    panel.get_by_label("Password again").fill("short")
    panel.get_by_role("button", name="Set password").click()
    error = page.locator("#password-error")
    expect(error).to_contain_text("at least")
    panel = page.get_by_role("dialog") if js_enabled else page
    panel.get_by_label("Password for the customer").fill(STAFF_SET)
    panel.get_by_label("Password again").fill(STAFF_SET)
    panel.get_by_role("button", name="Set password").click()
    expect(page.get_by_text("Password set. Tell the customer")).to_be_visible()

    customer = customer_context.new_page()
    sign_in_as_customer(customer, "ivy@example.com", STAFF_SET)
    expect(customer.get_by_role("heading", name="Choose your password")).to_be_visible()
    customer.goto("/account/invoices")
    expect(customer.get_by_role("heading", name="Choose your password")).to_be_visible()
    customer.get_by_label("Current password").fill(STAFF_SET)
    customer.locator("input[name=new_password]").fill(CHOSEN)
    customer.get_by_label("New password again").fill(CHOSEN)
    customer.get_by_role("button", name="Save password").click()
    expect(customer.get_by_role("heading", name="Ivy Invite", level=1)).to_be_visible()
    customer.goto("/account/invoices")
    expect(customer.get_by_role("heading", name="Invoices", level=1)).to_be_visible()


def test_add_customer_with_a_password_and_the_panel_refusing_the_customer(
    signed_in_page, js_enabled, customer_context
):
    page = signed_in_page
    page.goto("/customers")
    page.get_by_role("button", name="Add customer").click()
    form = page.get_by_role("dialog") if js_enabled else page
    form.get_by_label(re.compile(r"^Name")).fill("Pam Password")
    form.get_by_label("Email").fill("pam@example.com")
    form.get_by_label("Country").select_option("GB")
    password = form.get_by_label("Password for the customer")
    # The password field shows only with Set password (CSS, JavaScript or not).
    expect(password).to_be_hidden()
    form.get_by_label("Set password").check()
    expect(password).to_be_visible()
    password.fill(STAFF_SET)
    form.get_by_role("button", name="Add customer").click()
    expect(page.get_by_role("heading", name="Pam Password", level=1)).to_be_visible()
    expect(page.get_by_text("Password set: the customer must choose their own")).to_be_visible()

    customer = customer_context.new_page()
    sign_in_as_customer(customer, "pam@example.com", STAFF_SET)
    expect(customer.get_by_role("heading", name="Choose your password")).to_be_visible()
    # The customer session is no staff sign-in: the panel asks staff to sign in.
    customer.goto("/customers")
    expect(customer).to_have_url(re.compile(r"/sign-in"))
    expect(customer.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    assert "Pam Password" not in customer.content()
