"""Money on the customer page, in Chromium, with JavaScript on and off.

Capture one time charge, Add entry, the printable invoice and Mark as paid,
the refusals beside the amount, a form posted twice, and the balance in the
customer list. With JavaScript the forms open in a <dialog> and the customer
region refreshes itself; without it every form is a page of its own and a
success lands on the tab that shows the result. Amounts below a zero read with
a real minus sign (U+2212), as the panel prints them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import func, select

from tests.browser.test_panel import (
    assert_not_reloaded,
    customer_form,
    mark_window,
    open_actions,
    results,
)
from webapp.extensions import db
from webapp.models.billing import CreditNote, CustomerBalance, EntryKind, Invoice, LedgerEntry
from webapp.models.customer import Customer
from webapp.models.staff import Staff
from webapp.services import billing as billing_service
from webapp.services import ledger

pytestmark = pytest.mark.browser

# Back-and-resubmit is a plain-form problem: with JavaScript the form lives in a dialog.
JS_OFF_ONLY = pytest.mark.parametrize("js_enabled", [False], ids=["js-off"])

MINUS = "\u2212"
CAPTURE = "Capture one time charge"


# -- data --------------------------------------------------------------------------


@pytest.fixture
def euro_customer(add_customer):
    """A German customer billed in EUR at 19.00 % tax, payment terms Net 14 days."""

    def _add(**fields):
        values = {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "country": "DE",
            "currency": "EUR",
            "tax_rate_bp": 1900,
            "payment_terms_days": 14,
            **fields,
        }
        return add_customer(**values)

    return _add


@pytest.fixture
def signed_in_staff_id(live_app, signed_in_page, staff) -> int:
    """The id of the signed-in staff member, for money set up through the services."""
    with live_app.app_context():
        return db.session.scalar(select(Staff.id).where(Staff.email == staff.email))


def saved_money(app) -> dict:
    """What the database holds about money, as plain values."""
    with app.app_context():
        session = db.session
        entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        invoices = session.scalars(select(Invoice).order_by(Invoice.id)).all()
        notes = session.scalars(select(CreditNote).order_by(CreditNote.id)).all()
        return {
            "entries": [
                {
                    "kind": e.kind,
                    "amount_minor": e.amount_minor,
                    "currency": e.currency,
                    "description": e.description,
                    "payment_method": e.payment_method,
                    "invoice": e.invoice.number if e.invoice else None,
                }
                for e in entries
            ],
            "invoices": [
                {
                    "id": i.id,
                    "number": i.number,
                    "subtotal_minor": i.subtotal_minor,
                    "tax_minor": i.tax_minor,
                    "total_minor": i.total_minor,
                    "status": i.status,
                    "issue_date": i.issue_date,
                    "due_date": i.due_date,
                }
                for i in invoices
            ],
            "credit_notes": [n.number for n in notes],
            "balances": {
                (b.customer_id, b.currency): b.balance_minor
                for b in session.scalars(select(CustomerBalance)).all()
            },
            "customer_balances": dict(
                session.execute(select(Customer.id, Customer.balance_minor)).all()
            ),
        }


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def nothing_saved(app) -> None:
    money = saved_money(app)
    assert money["entries"] == []
    assert money["invoices"] == []
    assert money["credit_notes"] == []
    assert all(balance == 0 for balance in money["balances"].values())
    assert all(balance == 0 for balance in money["customer_balances"].values())


# -- helpers ---------------------------------------------------------------------------


def open_customer(page: Page, customer_id: int) -> None:
    page.goto(f"/customers/{customer_id}")
    expect(page.locator(".customer-header h1")).to_be_visible()


def open_tab(page: Page, label: str) -> None:
    """Click a customer tab (htmx swaps it in with JavaScript, a page load without)."""
    tabs = page.get_by_role("navigation", name="Customer sections")
    tabs.get_by_role("link", name=label, exact=True).click()
    expect(tabs.get_by_role("link", name=label, exact=True)).to_have_attribute(
        "aria-current", "page"
    )


def header_balance(page: Page) -> Locator:
    return page.locator(".customer-header .balance-summary")


def expect_header_balance(page: Page, amount: str, wording: str) -> None:
    """The header's one currency as it reads: "Owes €119.00", "€25.00 in credit",
    "€0.00 paid in full" (``amount`` signed, as the ledger keeps it)."""
    balance = header_balance(page)
    phrase = f"Owes {amount.removeprefix(MINUS)}" if wording == "owes" else f"{amount} {wording}"
    expect(balance.locator("strong")).to_have_text(phrase)


def entry_row(page: Page, description: str) -> Locator:
    return page.locator("table.entries tbody tr").filter(has_text=description)


def detail(scope: Locator, term: str) -> Locator:
    """The <dd> that follows the <dt> reading ``term``."""
    return scope.locator(f"xpath=.//dt[normalize-space()='{term}']/following-sibling::dd[1]")


def invoice_row(page: Page, number: str) -> Locator:
    return page.locator("table.invoices tbody tr").filter(has_text=number)


def submit(page: Page, form: Locator, js_enabled: bool, button: str) -> None:
    """Submit a money form; with JavaScript the dialog closes on success."""
    form.get_by_role("button", name=button, exact=True).click()
    if js_enabled:
        expect(page.get_by_role("dialog")).to_have_count(0)


def success_message(page: Page, js_enabled: bool) -> Locator:
    """Where a success is announced: a toast with JavaScript, a flash without."""
    if js_enabled:
        return page.locator("#toasts")
    return page.locator(".flashes")


def capture_form(page: Page, js_enabled: bool) -> Locator:
    open_actions(page, CAPTURE)
    form = customer_form(page, js_enabled, CAPTURE)
    if not js_enabled:
        expect(page).to_have_url(re.compile(r"/customers/\d+/charges/new$"))
    return form


# -- 1. capture a charge ---------------------------------------------------------------


def test_capture_one_time_charge_shows_in_billing_and_invoices(
    signed_in_page, js_enabled, euro_customer, live_app
):
    page = signed_in_page
    ada = euro_customer()
    open_customer(page, ada.id)
    expect_header_balance(page, "€0.00", "paid in full")
    if js_enabled:
        mark_window(page)

    form = capture_form(page, js_enabled)
    expect(form).to_contain_text("tax at 19.00 %, due in 14 days")
    expect(form.get_by_label("Currency")).to_have_value("EUR")
    form.get_by_label("Amount").fill("100")
    form.get_by_label("Description").fill("Onboarding workshop")
    submit(page, form, js_enabled, CAPTURE)

    expect(success_message(page, js_enabled)).to_contain_text(
        "Invoice INV-000001 for €119.00 created."
    )
    expect_header_balance(page, f"{MINUS}€119.00", "owes")
    if js_enabled:
        assert_not_reloaded(page)
    else:
        # Without JavaScript the form lands on the tab that shows the new invoice.
        expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/invoices$"))

    money = saved_money(live_app)
    [invoice] = money["invoices"]
    assert (invoice["number"], invoice["status"]) == ("INV-000001", "open")
    assert (invoice["subtotal_minor"], invoice["tax_minor"], invoice["total_minor"]) == (
        10000,
        1900,
        11900,
    )
    assert invoice["due_date"] - invoice["issue_date"] == timedelta(days=14)
    assert money["entries"] == [
        {
            "kind": "charge",
            "amount_minor": -11900,
            "currency": "EUR",
            "description": "Onboarding workshop",
            "payment_method": "",
            "invoice": "INV-000001",
        }
    ]
    assert money["customer_balances"] == {ada.id: -11900}

    # Billing: the balance, and the entry with its details folded away.
    open_tab(page, "Billing")
    balances = page.locator(".balances")
    expect(balances.locator("strong")).to_have_text(f"{MINUS}€119.00")
    expect(balances).to_contain_text("EUR · owes")
    row = entry_row(page, "Onboarding workshop")
    expect(row).to_have_count(1)
    expect(row.locator("td.amount")).to_have_text(f"{MINUS}€119.00")
    kind = detail(row, "Kind")
    expect(kind).to_be_hidden()
    row.get_by_text("Onboarding workshop").click()
    expect(kind).to_have_text("Charge")
    expect(detail(row, "Who")).to_have_text("Alex Agent")
    expect(detail(row, "Invoice").get_by_role("link", name="INV-000001")).to_be_visible()

    # Invoices: one open invoice for the total with tax.
    open_tab(page, "Invoices")
    expect(page.locator("table.invoices tbody tr")).to_have_count(1)
    expect(invoice_row(page, "INV-000001").get_by_role("cell")).to_have_text(
        [
            "INV-000001",
            str(invoice["issue_date"]),
            str(invoice["due_date"]),
            "€119.00",
            "Open",
            re.compile(r"View\s+Mark as paid\s+Void"),
        ]
    )
    expect_header_balance(page, f"{MINUS}€119.00", "owes")
    if js_enabled:
        assert_not_reloaded(page)


# -- 2. add a credit -----------------------------------------------------------------


def test_add_a_credit_from_the_billing_tab(signed_in_page, js_enabled, euro_customer, live_app):
    page = signed_in_page
    ada = euro_customer()
    open_customer(page, ada.id)
    open_tab(page, "Billing")
    expect(page.locator(".tab-body")).to_contain_text("No entries yet.")
    if js_enabled:
        mark_window(page)

    page.locator(".tab-actions").get_by_role("button", name="Add entry").click()
    form = customer_form(page, js_enabled, "Add entry")
    if not js_enabled:
        expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/entries/new$"))
    expect(form.get_by_role("radio", name="Charge")).to_be_checked()
    form.get_by_role("radio", name="Credit").check()
    form.get_by_label("Amount").fill("25")
    form.get_by_label("Description").fill("Goodwill credit")
    form.get_by_label("Payment method").fill("bank transfer")
    submit(page, form, js_enabled, "Add entry")

    expect(success_message(page, js_enabled)).to_contain_text("Credit of €25.00 added.")
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/billing$"))
    expect_header_balance(page, "€25.00", "in credit")
    # Still on the Billing tab, now with the entry.
    expect(
        page.get_by_role("navigation", name="Customer sections").get_by_role("link", name="Billing")
    ).to_have_attribute("aria-current", "page")
    balances = page.locator(".balances")
    expect(balances.locator("strong")).to_have_text("€25.00")
    expect(balances).to_contain_text("EUR · in credit")
    row = entry_row(page, "Goodwill credit")
    expect(row).to_have_count(1)
    expect(row.locator("td.amount")).to_have_text("€25.00")
    row.get_by_text("Goodwill credit").click()
    expect(detail(row, "Kind")).to_have_text("Credit")
    expect(detail(row, "Payment method")).to_have_text("bank transfer")
    if js_enabled:
        assert_not_reloaded(page)

    money = saved_money(live_app)
    assert money["entries"] == [
        {
            "kind": "credit",
            "amount_minor": 2500,
            "currency": "EUR",
            "description": "Goodwill credit",
            "payment_method": "bank transfer",
            "invoice": None,
        }
    ]
    assert money["invoices"] == [] and money["credit_notes"] == []
    assert money["customer_balances"] == {ada.id: 2500}


def test_a_credit_after_a_charge_shows_the_sum(
    signed_in_page, js_enabled, euro_customer, live_app, signed_in_staff_id
):
    page = signed_in_page
    ada = euro_customer()
    with live_app.app_context():
        billing_service.capture_one_time_charge(
            db.session,
            ada.id,
            amount_minor=10000,
            currency="EUR",
            description="Onboarding workshop",
            actor_id=signed_in_staff_id,
            key=None,
        )
    page.goto(f"/customers/{ada.id}/billing")
    expect_header_balance(page, f"{MINUS}€119.00", "owes")

    open_actions(page, "Add entry")
    form = customer_form(page, js_enabled, "Add entry")
    form.get_by_role("radio", name="Credit").check()
    form.get_by_label("Amount").fill("25")
    form.get_by_label("Description").fill("Goodwill credit")
    submit(page, form, js_enabled, "Add entry")

    expect_header_balance(page, f"{MINUS}€94.00", "owes")
    expect(page.locator(".balances strong")).to_have_text(f"{MINUS}€94.00")
    # Newest first.
    expect(page.locator("table.entries tbody tr td.amount")).to_have_text(
        ["€25.00", f"{MINUS}€119.00"]
    )
    assert saved_money(live_app)["customer_balances"] == {ada.id: -9400}


# -- 3. view an invoice, then mark it paid -------------------------------------------


def test_view_an_invoice_then_mark_it_paid(
    signed_in_page, js_enabled, euro_customer, live_app, signed_in_staff_id
):
    page = signed_in_page
    ada = euro_customer(name="Ada Lovelace", company="Analytical Engines GmbH", city="Berlin")
    with live_app.app_context():
        billing_service.capture_one_time_charge(
            db.session,
            ada.id,
            amount_minor=10000,
            currency="EUR",
            description="Onboarding workshop",
            actor_id=signed_in_staff_id,
            key=None,
        )
    [saved] = saved_money(live_app)["invoices"]
    open_customer(page, ada.id)
    open_tab(page, "Invoices")

    invoice_row(page, "INV-000001").get_by_role("link", name="View").click()
    expect(page).to_have_url(re.compile(rf"/invoices/{saved['id']}$"))
    document = page.locator("article.document")
    expect(document.get_by_role("heading", name="Invoice INV-000001", level=1)).to_be_visible()
    expect(document.locator(".status")).to_have_text("Open")
    bill_to = document.locator("section").filter(has=page.get_by_role("heading", name="Bill to"))
    expect(bill_to.locator("address strong")).to_have_text("Ada Lovelace")
    expect(bill_to).to_contain_text("Analytical Engines GmbH")
    expect(bill_to).to_contain_text("Germany")
    expect(bill_to).to_contain_text(f"Customer ID: {ada.customer_id}")
    expect(document.locator("tbody tr").get_by_role("cell")).to_have_text(
        ["Onboarding workshop", "1", "€100.00", "19.00 %", "€100.00"]
    )
    expect(document.locator("tfoot tr")).to_have_text(
        [
            re.compile(r"^\s*Subtotal\s*€100\.00\s*$"),
            re.compile(r"^\s*Tax \(19\.00 %\) on €100\.00\s*€19\.00\s*$"),
            re.compile(r"^\s*Total \(EUR\)\s*€119\.00\s*$"),
        ]
    )
    expect(detail(document, "Issue date")).to_have_text(str(saved["issue_date"]))
    expect(detail(document, "Due date")).to_have_text(str(saved["due_date"]))
    assert saved["due_date"] - saved["issue_date"] == timedelta(days=14)
    expect(document).to_contain_text(f"Please pay €119.00 by {saved['due_date']}.")

    page.go_back()
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/invoices$"))
    row = invoice_row(page, "INV-000001")
    if js_enabled:
        mark_window(page)
    row.get_by_role("link", name="Mark as paid").click()
    if js_enabled:
        confirmation = page.get_by_role("dialog")
        expect(confirmation).to_be_visible()
    else:
        confirmation = page.locator("main")
        expect(page).to_have_url(re.compile(rf"/invoices/{saved['id']}/pay$"))
    expect(confirmation.get_by_role("heading", name="Mark as paid: INV-000001")).to_be_visible()
    expect(confirmation).to_contain_text("INV-000001 for Ada Lovelace: €119.00, open.")
    confirmation.get_by_role("button", name="Mark as paid").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    expect(success_message(page, js_enabled)).to_contain_text("INV-000001 is now paid.")
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/invoices$"))
    row = invoice_row(page, "INV-000001")
    expect(row.locator(".status")).to_have_text("Paid")
    expect(row.get_by_role("link", name="Mark as paid")).to_have_count(0)
    expect(row.get_by_role("link", name="Refund")).to_be_visible()
    expect_header_balance(page, "€0.00", "paid in full")
    if js_enabled:
        assert_not_reloaded(page)

    money = saved_money(live_app)
    assert [i["status"] for i in money["invoices"]] == ["paid"]
    assert [(e["kind"], e["amount_minor"]) for e in money["entries"]] == [
        ("charge", -11900),
        ("payment", 11900),
    ]
    assert money["customer_balances"] == {ada.id: 0}

    open_tab(page, "Billing")
    expect(page.locator(".balances")).to_contain_text("paid in full")
    expect(entry_row(page, "Payment of INV-000001").locator("td.amount")).to_have_text("€119.00")


def test_negative_capture_makes_a_credit_note(signed_in_page, js_enabled, euro_customer, live_app):
    page = signed_in_page
    ada = euro_customer()
    open_customer(page, ada.id)

    form = capture_form(page, js_enabled)
    form.get_by_label("Amount").fill("-25")
    form.get_by_label("Description").fill("Goodwill credit")
    submit(page, form, js_enabled, CAPTURE)

    expect(success_message(page, js_enabled)).to_contain_text(
        "Credit note CN-000001 for €25.00 created."
    )
    expect_header_balance(page, "€25.00", "in credit")
    if js_enabled:
        open_tab(page, "Credit notes")
    else:
        expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/credit-notes$"))
    row = page.locator("table.credit-notes tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("CN-000001")
    expect(row).to_contain_text("Goodwill credit")
    expect(row.locator("td.amount")).to_have_text("€25.00")

    row.get_by_role("link", name="View").click()
    expect(page.get_by_role("heading", name="Credit note CN-000001", level=1)).to_be_visible()
    expect(page.locator("article.document")).to_contain_text("Total credited")
    expect(page.locator("article.document tfoot td")).to_have_text("€25.00")

    money = saved_money(live_app)
    assert money["credit_notes"] == ["CN-000001"]
    assert money["invoices"] == []
    assert [(e["kind"], e["amount_minor"]) for e in money["entries"]] == [("credit", 2500)]
    assert money["customer_balances"] == {ada.id: 2500}


# -- 4. refusals -------------------------------------------------------------------------


def test_capture_refuses_more_decimals_than_the_currency_has(
    signed_in_page, js_enabled, euro_customer, live_app
):
    page = signed_in_page
    ada = euro_customer()
    open_customer(page, ada.id)

    form = capture_form(page, js_enabled)
    form.get_by_label("Amount").fill("1.234")
    form.get_by_label("Description").fill("Onboarding workshop")
    form.get_by_role("button", name=CAPTURE).click()

    expect(form.locator("#amount-error")).to_have_text("EUR has 2 decimals at most.")
    amount = form.get_by_label("Amount")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_have_attribute("aria-describedby", re.compile(r"\bamount-error\b"))
    expect(amount).to_have_value("1.234")
    expect(form.get_by_label("Description")).to_have_value("Onboarding workshop")
    if js_enabled:
        expect(page.get_by_role("dialog")).to_be_visible()
    else:
        expect(page.get_by_role("heading", name=CAPTURE, level=1)).to_be_visible()
    nothing_saved(live_app)
    expect_header_balance_after_closing(page, js_enabled, ada.id)


def test_negative_capture_is_refused_when_the_gateway_has_no_credit_notes(
    signed_in_page, js_enabled, euro_customer, live_app
):
    page = signed_in_page
    ada = euro_customer(payment_gateway="card_refunds_only")
    open_customer(page, ada.id)

    form = capture_form(page, js_enabled)
    form.get_by_label("Amount").fill("-25")
    form.get_by_label("Description").fill("Goodwill credit")
    form.get_by_role("button", name=CAPTURE).click()

    error = form.locator("#amount-error")
    expect(error).to_contain_text("does not support credit notes")
    expect(error).to_contain_text("Ada Lovelace is billed through Card processor")
    expect(form.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Amount")).to_have_value("-25")
    if js_enabled:
        expect(page.get_by_role("dialog")).to_be_visible()
    nothing_saved(live_app)
    assert count(live_app, CreditNote) == 0
    expect_header_balance_after_closing(page, js_enabled, ada.id)


def expect_header_balance_after_closing(page: Page, js_enabled: bool, customer_id: int) -> None:
    """Leave the refused form: the customer still owes nothing."""
    if js_enabled:
        page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("dialog")).to_have_count(0)
    else:
        page.goto(f"/customers/{customer_id}")
    expect_header_balance(page, "€0.00", "paid in full")


# -- 5. double submit -----------------------------------------------------------------


def test_the_same_capture_form_posted_twice_makes_one_invoice(
    signed_in_page, js_enabled, euro_customer, live_app
):
    page = signed_in_page
    ada = euro_customer()
    open_customer(page, ada.id)

    form = capture_form(page, js_enabled)
    form.get_by_label("Amount").fill("100")
    form.get_by_label("Description").fill("Onboarding workshop")
    # What the browser will post, hidden one-time key and CSRF token included.
    values = form.evaluate("f => Object.fromEntries(new FormData(f))")
    assert re.fullmatch(r"[0-9a-f]{32}", values["key"])
    assert values["csrf_token"]
    action = form.get_attribute("action")

    # A double click: with JavaScript the button is disabled while the first post runs;
    # without it the browser may send the form twice.
    form.get_by_role("button", name=CAPTURE).dblclick()
    expect_header_balance(page, f"{MINUS}€119.00", "owes")

    # The same form once more, as a resubmission after Back would send it.
    replay = page.request.post(action, form=values)
    assert replay.ok
    assert re.search(rf"/customers/{ada.id}/invoices$", replay.url)
    assert "Invoice INV-000001 for €119.00 created." in replay.text()

    assert count(live_app, Invoice) == 1
    assert count(live_app, LedgerEntry) == 1
    assert saved_money(live_app)["customer_balances"] == {ada.id: -11900}

    page.goto(f"/customers/{ada.id}/invoices")
    expect(page.locator("table.invoices tbody tr")).to_have_count(1)
    expect(invoice_row(page, "INV-000001")).to_contain_text("€119.00")
    expect_header_balance(page, f"{MINUS}€119.00", "owes")


@JS_OFF_ONLY
def test_back_and_submit_again_asks_before_billing_twice(
    signed_in_page, js_enabled, euro_customer, live_app
):
    """Back after a capture shows the form with the values filled in; sending it again
    must not bill the customer twice without asking."""
    page = signed_in_page
    ada = euro_customer()
    open_customer(page, ada.id)
    form = capture_form(page, js_enabled)
    form.get_by_label("Amount").fill("100")
    form.get_by_label("Description").fill("Onboarding workshop")
    form.get_by_role("button", name=CAPTURE).click()
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/invoices$"))
    expect(page.locator(".flashes")).to_contain_text("Invoice INV-000001 for €119.00 created.")

    page.go_back()
    expect(page).to_have_url(re.compile(rf"/customers/{ada.id}/charges/new$"))
    form = page.locator("form#form")
    expect(form.get_by_label("Amount")).to_have_value("100")
    expect(form.get_by_label("Description")).to_have_value("Onboarding workshop")
    form.get_by_role("button", name=CAPTURE).click()

    # The form comes back with a new key, so the server recognises the repeat by its
    # values and asks before billing twice.
    form = page.locator("form#form")
    expect(form.locator("#amount-error")).to_contain_text(
        "INV-000001 with this amount and description was recorded"
    )
    expect(form.get_by_label("Record it again")).to_be_visible()
    assert count(live_app, Invoice) == 1
    assert count(live_app, LedgerEntry) == 1


# -- 6. balance in the customer list ---------------------------------------------------


def test_customer_list_shows_sorts_and_filters_by_balance(
    signed_in_page, js_enabled, euro_customer, live_app
):
    page = signed_in_page
    ada = euro_customer(name="Ada Lovelace", email="ada@example.com")
    grace = euro_customer(name="Grace Hopper", email="grace@example.com")
    alan = euro_customer(name="Alan Turing", email="alan@example.com")
    euro_customer(name="Barbara Liskov", email="barbara@example.com")
    with live_app.app_context():
        for customer, kind, amount in [
            (ada, EntryKind.CHARGE, -5000),
            (grace, EntryKind.CHARGE, -20000),
            (alan, EntryKind.CREDIT, 3000),
        ]:
            ledger.post_entry(
                db.session,
                customer.id,
                kind=kind,
                amount_minor=amount,
                currency="EUR",
                description="Opening balance",
                actor_id=None,
                key=None,
            )
    page.reload()

    table = results(page)
    expect(table.get_by_role("columnheader", name="Balance")).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(4)
    balance_by_name = {
        "Ada Lovelace": f"{MINUS}€50.00",
        "Grace Hopper": f"{MINUS}€200.00",
        "Alan Turing": "€30.00",
        "Barbara Liskov": "€0.00",
    }
    for name, balance in balance_by_name.items():
        expect(rows.filter(has_text=name).locator("td.amount")).to_have_text(balance)

    if js_enabled:
        mark_window(page)
    table.get_by_role("link", name="Balance").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=balance&dir=asc(&|$)"))
    expect(table.get_by_role("columnheader", name="Balance")).to_have_attribute(
        "aria-sort", "ascending"
    )
    # Ascending: who owes the most comes first.
    expect(rows.locator("td.col-customer > a")).to_have_text(
        ["Grace Hopper", "Ada Lovelace", "Barbara Liskov", "Alan Turing"]
    )
    expect(rows.first.locator("td.amount")).to_have_text(f"{MINUS}€200.00")

    # The select's name is its label plus the chosen option: "Balance Any balance".
    page.get_by_role("combobox", name="Balance").select_option("owes")
    if not js_enabled:
        page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]balance=owes(&|$)"))
    expect(rows.locator("td.col-customer > a")).to_have_text(["Grace Hopper", "Ada Lovelace"])
    expect(rows.locator("td.amount")).to_have_text([f"{MINUS}€200.00", f"{MINUS}€50.00"])
    expect(table.get_by_role("link", name="Alan Turing")).to_have_count(0)
    if js_enabled:
        assert_not_reloaded(page)
