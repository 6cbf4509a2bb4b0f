"""A staff member's path through the panel, in Chromium, with JavaScript on and off.

With JavaScript on, htmx swaps fragments (the table, the customer header) and
forms open in a <dialog>; with it off, every link and form is a full page.
Each test says what a person sees in both cases, and checks the database
where the screen alone cannot prove what was saved.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.browser.conftest import JS_ON_ONLY, sign_in
from webapp.extensions import db
from webapp.models.customer import Customer

pytestmark = pytest.mark.browser

SIGN_IN_FOR_CUSTOMERS = re.compile(r"/sign-in\?next=(/|%2F)customers$")


# -- helpers -----------------------------------------------------------------------


def saved_customers(app) -> list[dict]:
    """What the database holds, as plain values."""
    with app.app_context():
        customers = db.session.scalars(select(Customer).order_by(Customer.id)).all()
        return [
            {
                "id": c.id,
                "customer_id": c.customer_id,
                "name": c.name,
                "email": c.email,
                "phone": c.phone,
                "country": c.country,
                "currency": c.currency,
                "company": c.company,
                "status": c.status,
            }
            for c in customers
        ]


def mark_window(page: Page) -> None:
    """Tag the window; the tag survives htmx swaps but not a page load."""
    page.evaluate("window.tallyNotReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.tallyNotReloaded === true"), "the page was reloaded"


def customer_form(page: Page, js_enabled: bool, title: str) -> Locator:
    """The customer form after clicking its link: inside the open dialog with
    JavaScript, a page of its own without."""
    if js_enabled:
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading", name=title)).to_be_visible()
    else:
        expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    form = page.locator("form#form")
    expect(form).to_be_visible()
    return form


def name_field(form: Locator) -> Locator:
    # By role: the label reads "Name *", and the asterisk is hidden from the accessible name.
    return form.get_by_role("textbox", name="Name", exact=True)


def open_actions(page: Page, action: str) -> None:
    """Open the Actions menu (a <details> dropdown) and pick ``action``."""
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("link", name=action, exact=True).click()


def results(page: Page) -> Locator:
    return page.locator("#results")


# -- 1. sign in ------------------------------------------------------------------------


def test_sign_in_refuses_a_wrong_password_then_lands_on_the_customer_list(page, staff):
    page.goto("/customers")
    expect(page).to_have_url(SIGN_IN_FOR_CUSTOMERS)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    sign_in(page, staff.email, "not the password")
    expect(page.get_by_role("alert")).to_have_text("Email or password is not right.")
    expect(page.get_by_label("Email")).to_have_value(staff.email)

    sign_in(page, staff.email)
    expect(page).to_have_url(re.compile(r"/customers$"))
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    expect(page.get_by_text(staff.name)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


# -- 2. add customer -------------------------------------------------------------------


def test_add_customer(signed_in_page, js_enabled, live_app):
    """Added, the new customer's page opens with the message, with JavaScript (the modal's
    answer sends the browser there) as without (the form's 303)."""
    page = signed_in_page
    page.get_by_role("button", name="Add customer").click()
    form = customer_form(page, js_enabled, "Add customer")
    if not js_enabled:
        expect(page).to_have_url(re.compile(r"/customers/new$"))

    name_field(form).fill("Grace Hopper")
    form.get_by_label("Email").fill("grace@navy.example")
    form.get_by_label("Country").select_option("DE")
    form.get_by_label("Phone").fill("030 1234567")
    with page.expect_navigation() as navigation:
        form.get_by_role("button", name="Add customer").click()
    if js_enabled:
        # htmx posted the form (204, HX-Redirect), then the browser opened the page.
        assert navigation.value.request.redirected_from is None
    else:
        posted = navigation.value.request.redirected_from
        assert posted is not None and posted.method == "POST"
        assert posted.response().status == 303

    [saved] = saved_customers(live_app)
    assert saved["name"] == "Grace Hopper"
    assert saved["email"] == "grace@navy.example"
    assert (saved["country"], saved["currency"]) == ("DE", "EUR")
    assert saved["phone"] == "+49301234567"

    expect(page).to_have_url(re.compile(rf"/customers/{saved['id']}$"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("heading", name="Grace Hopper", level=1)).to_be_visible()
    expect(page.locator(".customer-id")).to_have_text(saved["customer_id"])
    expect(page.get_by_role("status").first).to_contain_text(
        f"Customer {saved['customer_id']} added."
    )
    # The list has the new customer too.
    page.get_by_role("link", name="← Customers").click()
    row = results(page).get_by_role("row").filter(has_text="Grace Hopper")
    expect(row).to_contain_text(saved["customer_id"])
    expect(row.locator("td.amount")).to_have_text("€0.00")  # in the billing currency, EUR


def test_add_customer_with_the_email_of_another_warns_on_the_new_page(
    signed_in_page, js_enabled, add_customer, live_app
):
    page = signed_in_page
    existing = add_customer(name="Ada Lovelace", email="ada@example.com")
    page.get_by_role("button", name="Add customer").click()
    form = customer_form(page, js_enabled, "Add customer")
    name_field(form).fill("Ada King")
    form.get_by_label("Email").fill("ada@example.com")
    form.get_by_label("Country").select_option("GB")
    with page.expect_navigation():
        form.get_by_role("button", name="Add customer").click()

    added = next(c for c in saved_customers(live_app) if c["name"] == "Ada King")
    expect(page).to_have_url(re.compile(rf"/customers/{added['id']}$"))
    expect(page.get_by_role("status").first).to_contain_text(
        f"Customer {added['customer_id']} added."
    )
    expect(page.get_by_role("alert")).to_contain_text(
        f"Note: {existing.customer_id} (Ada Lovelace) has the same email."
    )


def test_add_customer_with_mistakes_keeps_the_form_and_saves_nothing(
    signed_in_page, js_enabled, live_app
):
    page = signed_in_page
    page.get_by_role("button", name="Add customer").click()
    form = customer_form(page, js_enabled, "Add customer")

    form.get_by_label("Company").fill("Typed Ltd")
    form.get_by_label("Email").fill("not-an-email")
    form.get_by_label("Country").select_option("DE")
    form.get_by_role("button", name="Add customer").click()

    expect(form.locator(".error-summary-title")).to_have_text(
        "Please correct the 2 fields marked below."
    )
    expect(form.locator("#name-error")).to_have_text("Enter the customer's name.")
    expect(form.locator("#email-error")).to_contain_text("@-sign")
    expect(name_field(form)).to_have_attribute("aria-invalid", "true")
    # What was typed is still there.
    expect(form.get_by_label("Company")).to_have_value("Typed Ltd")
    expect(form.get_by_label("Email")).to_have_value("not-an-email")
    expect(form.get_by_label("Country")).to_have_value("DE")
    if js_enabled:
        expect(page.get_by_role("dialog")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/customers$"))
    else:
        expect(page.get_by_role("heading", name="Add customer", level=1)).to_be_visible()
        expect(page).to_have_url(re.compile(r"/customers/new$"))
    assert saved_customers(live_app) == []


# -- 4. search ---------------------------------------------------------------------------


def test_search_shows_matching_customers_and_back_returns_to_the_full_list(
    signed_in_page, js_enabled, add_customer
):
    page = signed_in_page
    add_customer(name="Ada Lovelace", email="ada@example.com")
    add_customer(name="Grace Hopper", email="grace@navy.example", country="US", currency="USD")
    add_customer(name="Alan Turing", email="alan@example.org")
    page.reload()
    table = results(page)
    for name in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
        expect(table.get_by_role("link", name=name)).to_be_visible()

    if js_enabled:
        mark_window(page)
    search_box = page.get_by_role("searchbox", name="Search")
    search_box.fill("hopper")
    if not js_enabled:
        page.get_by_role("button", name="Search", exact=True).click()

    expect(page).to_have_url(re.compile(r"[?&]q=hopper(&|$)"))
    expect(table.get_by_role("link", name="Grace Hopper")).to_be_visible()
    expect(table.get_by_role("link", name="Ada Lovelace")).to_have_count(0)
    expect(table.get_by_role("link", name="Alan Turing")).to_have_count(0)
    expect(search_box).to_have_value("hopper")
    if js_enabled:
        assert_not_reloaded(page)

    # Nothing matches: the table says so and offers a way out.
    search_box.fill("nobody-like-this")
    if not js_enabled:
        page.get_by_role("button", name="Search", exact=True).click()
    expect(table).to_contain_text("Nothing matches “nobody-like-this”.")
    expect(table.get_by_role("link", name="Grace Hopper")).to_have_count(0)

    page.go_back()
    expect(page).to_have_url(re.compile(r"[?&]q=hopper(&|$)"))
    expect(table.get_by_role("link", name="Grace Hopper")).to_be_visible()
    expect(table.get_by_role("link", name="Ada Lovelace")).to_have_count(0)

    page.go_back()
    expect(page).to_have_url(re.compile(r"/customers$"))
    for name in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
        expect(table.get_by_role("link", name=name)).to_be_visible()


# -- 5. the customer page ----------------------------------------------------------------


def test_open_a_customer_from_the_list(signed_in_page, add_customer):
    page = signed_in_page
    ada = add_customer(
        name="Ada Lovelace",
        company="Analytical Engines Ltd",
        email="ada@example.com",
        phone="+442079460958",
    )
    add_customer(name="Alan Turing", email="alan@example.org")
    page.reload()

    results(page).get_by_role("link", name=ada.customer_id).click()

    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}$"))
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    header = page.locator(".customer-header")
    expect(header).to_contain_text(ada.customer_id)
    expect(header).to_contain_text("Active")
    expect(header).to_contain_text("Analytical Engines Ltd")
    expect(page.get_by_role("link", name="Profile")).to_have_attribute("aria-current", "page")
    profile = page.locator(".profile")
    expect(profile.get_by_role("link", name="ada@example.com")).to_be_visible()
    expect(profile).to_contain_text("+44 20 7946 0958")
    expect(profile).to_contain_text("United Kingdom")
    expect(profile).to_contain_text("GBP")
    expect(profile).not_to_contain_text("Alan Turing")

    # Back to the list by name this time.
    page.get_by_role("link", name="← Customers").click()
    results(page).get_by_role("link", name="Alan Turing").click()
    expect(page.get_by_role("heading", name="Alan Turing", level=1)).to_be_visible()


# -- 6. edit -------------------------------------------------------------------------------


def test_edit_customer_shows_the_change_on_the_customer_page(
    signed_in_page, js_enabled, add_customer, live_app
):
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace", company="Old Company")
    page.goto(f"/customers/{ada.id}")
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    if js_enabled:
        mark_window(page)

    open_actions(page, "Edit customer")
    form = customer_form(page, js_enabled, "Edit customer")
    if not js_enabled:
        expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/edit$"))
    expect(name_field(form)).to_have_value("Ada Lovelace")
    form.get_by_label("Company").fill("Analytical Engines Ltd")
    name_field(form).fill("Ada King")
    form.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("heading", name="Ada King", level=1)).to_be_visible()
    expect(page.locator(".customer-header")).to_contain_text("Analytical Engines Ltd")
    expect(page.locator(".profile")).to_contain_text("Analytical Engines Ltd")
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}$"))
    if js_enabled:
        expect(page.get_by_role("dialog")).to_have_count(0)
        assert_not_reloaded(page)
        expect(page.locator("#toasts")).to_contain_text(f"Changes to {ada.customer_id} saved.")
    else:
        expect(page.get_by_text(f"Changes to {ada.customer_id} saved.")).to_be_visible()

    [saved] = saved_customers(live_app)
    assert (saved["name"], saved["company"]) == ("Ada King", "Analytical Engines Ltd")
    # Untouched fields keep their values.
    assert (saved["email"], saved["country"], saved["currency"]) == (
        "ada@example.com",
        "GB",
        "GBP",
    )


# -- 7. status -------------------------------------------------------------------------


def change_status(page: Page, js_enabled: bool, menu_item: str, button: str, to: str) -> None:
    open_actions(page, menu_item)
    if js_enabled:
        confirmation = page.get_by_role("dialog")
        expect(confirmation).to_be_visible()
    else:
        confirmation = page.locator("main")
        expect(page).to_have_url(re.compile(rf"/status\?to={to}$"))
    expect(confirmation.get_by_role("heading", name=button)).to_be_visible()
    expect(confirmation).to_contain_text(f"Change it to {to}?")
    confirmation.get_by_role("button", name=button).click()
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_suspend_then_archive_a_customer(signed_in_page, js_enabled, add_customer, live_app):
    page = signed_in_page
    ada = add_customer(name="Ada Lovelace")
    add_customer(name="Alan Turing", email="alan@example.org")
    page.goto(f"/customers/{ada.id}")
    status = page.locator(".customer-header .status")
    expect(status).to_have_text("Active")

    change_status(page, js_enabled, "Suspend", "Suspend customer", "suspended")
    expect(status).to_have_text("Suspended")
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}$"))
    assert saved_customers(live_app)[0]["status"] == "suspended"

    change_status(page, js_enabled, "Archive", "Archive customer", "archived")
    expect(status).to_have_text("Archived")
    assert saved_customers(live_app)[0]["status"] == "archived"

    # Archived customers are hidden from the default list ...
    page.get_by_role("link", name="← Customers").click()
    table = results(page)
    expect(table.get_by_role("link", name="Alan Turing")).to_be_visible()
    expect(table.get_by_role("link", name="Ada Lovelace")).to_have_count(0)

    # ... and shown when the list is filtered for them.
    page.get_by_label("Status").select_option("archived")
    if not js_enabled:
        page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]status=archived(&|$)"))
    row = table.get_by_role("row").filter(has_text="Ada Lovelace")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Archived")
    expect(table.get_by_role("link", name="Alan Turing")).to_have_count(0)


# -- 8. expired session (htmx) --------------------------------------------------------


@JS_ON_ONLY
def test_expired_session_sends_the_whole_window_to_sign_in(signed_in_page, context, add_customer):
    page = signed_in_page
    add_customer(name="Ada Lovelace")
    page.reload()
    expect(results(page).get_by_role("link", name="Ada Lovelace")).to_be_visible()

    context.clear_cookies()
    page.get_by_role("searchbox", name="Search").fill("ada")

    expect(page).to_have_url(SIGN_IN_FOR_CUSTOMERS)
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    expect(page.locator("#results")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)


# -- 9. the currency follows the country ------------------------------------------------


@JS_ON_ONLY
def test_currency_follows_the_country_until_the_user_picks_one(signed_in_page):
    page = signed_in_page
    page.get_by_role("button", name="Add customer").click()
    form = customer_form(page, True, "Add customer")
    country = form.get_by_label("Country")
    currency = form.get_by_label("Billing currency")
    expect(currency).to_have_value("")

    country.select_option("JP")
    expect(currency).to_have_value("JPY")
    country.select_option("DE")
    expect(currency).to_have_value("EUR")

    # Once the user picks a currency, a country change no longer replaces it.
    currency.select_option("USD")
    with page.expect_response(lambda r: "/customers/form/currency" in r.url and "FR" in r.url):
        country.select_option("FR")
    expect(country).not_to_have_class(re.compile(r"\bhtmx-request\b"))
    expect(country).to_have_value("FR")
    expect(currency).to_have_value("USD")


# -- accessibility of the form --------------------------------------------------------


def test_add_customer_fields_are_named_by_their_own_labels(signed_in_page, js_enabled):
    """Each field is announced by, and focused from, its own visible label (a label
    whose ``for`` points at another element with the same id names nothing here)."""
    page = signed_in_page
    page.get_by_role("button", name="Add customer").click()
    form = customer_form(page, js_enabled, "Add customer")
    for role, name in [
        ("textbox", "Name"),
        ("textbox", "Email"),
        ("textbox", "Company"),
        ("textbox", "Phone"),
        ("combobox", "Country"),
        ("combobox", "Billing currency"),
    ]:
        expect(form.get_by_role(role, name=name, exact=True)).to_have_count(1)


def test_only_fields_with_an_error_are_marked_invalid(signed_in_page, js_enabled):
    """Screen readers announce aria-invalid; a field without an error must not carry it."""
    page = signed_in_page
    page.get_by_role("button", name="Add customer").click()
    form = customer_form(page, js_enabled, "Add customer")
    company = form.get_by_role("textbox", name="Company", exact=True)
    expect(company).not_to_have_attribute("aria-invalid", re.compile(".*"))

    form.get_by_role("button", name="Add customer").click()
    expect(form.locator("#name-error")).to_have_text("Enter the customer's name.")
    expect(name_field(form)).to_have_attribute("aria-invalid", "true")
    expect(name_field(form)).to_have_attribute("aria-describedby", "name-error name-hint")
    for field in (company, form.get_by_role("textbox", name="Phone", exact=True)):
        expect(field).not_to_have_attribute("aria-invalid", re.compile(".*"))
        expect(field).not_to_have_attribute("aria-describedby", re.compile(".*"))
