"""HTTP shape of the money pages: tabs, Add entry, Capture one time charge, invoices."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from tests.pages import follow
from webapp.models.billing import CreditNote, EntryKind, Invoice, LedgerEntry
from webapp.models.customer import Customer
from webapp.services import billing, ledger


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def charge_form(**values):
    return {
        "amount": "100",
        "currency": "EUR",
        "description": "Workshop",
        "key": uuid.uuid4().hex,
        **values,
    }


@pytest.mark.parametrize("tab", ["billing", "invoices", "credit-notes"])
def test_money_tabs_are_pages_and_fragments(staff_client, euro_customer, tab):
    url = f"/customers/{euro_customer.id}/{tab}"
    full = staff_client.get(url)
    assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
    fragment = staff_client.get(url, htmx_target="customer_tab")
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<section id="customer_tab">')
    assert "HX-Request" in fragment.headers["Vary"]


def test_capture_one_time_charge_makes_an_invoice_and_a_charge(staff_client, euro_customer, db):
    page = staff_client.get(f"/customers/{euro_customer.id}/charges/new")
    assert "<h1>Capture one time charge</h1>" in page.get_data(as_text=True)
    response = staff_client.post(f"/customers/{euro_customer.id}/charges/new", charge_form())
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{euro_customer.id}/invoices"
    invoice = db.session.scalar(select(Invoice))
    assert (invoice.number, invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (
        "INV-000001",
        10000,
        1900,
        11900,
    )
    html = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Invoice INV-000001 for €119.00 created." in html
    assert "INV-000001" in html and "Open" in html
    billing_tab = staff_client.get(f"/customers/{euro_customer.id}/billing").get_data(as_text=True)
    assert "−€119.00" in billing_tab and "owes" in billing_tab and "Workshop" in billing_tab


def test_capture_with_htmx_closes_the_modal_and_refreshes_the_customer(staff_client, euro_customer):
    modal = staff_client.get(f"/customers/{euro_customer.id}/charges/new", htmx_target="modal")
    assert "<dialog" in modal.get_data(as_text=True)
    response = staff_client.post(
        f"/customers/{euro_customer.id}/charges/new", charge_form(), htmx_target="form"
    )
    assert response.status_code == 204
    trigger = response.headers["HX-Trigger"]
    assert '"closeModal"' in trigger and '"customerUpdated"' in trigger
    assert "INV-000001" in trigger


def test_a_resubmitted_form_posts_exactly_once(staff_client, euro_customer, db):
    form = charge_form()
    first = staff_client.post(f"/customers/{euro_customer.id}/charges/new", form)
    second = staff_client.post(f"/customers/{euro_customer.id}/charges/new", form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(db, Invoice) == 1 and count(db, LedgerEntry) == 1
    entry_form = {
        "kind": "credit",
        "amount": "5",
        "currency": "EUR",
        "description": "Thanks",
        "key": uuid.uuid4().hex,
    }
    for _ in range(3):
        staff_client.post(f"/customers/{euro_customer.id}/entries/new", entry_form)
    assert count(db, LedgerEntry) == 2


def test_negative_capture_makes_a_credit_note(staff_client, euro_customer, db):
    response = staff_client.post(
        f"/customers/{euro_customer.id}/charges/new", charge_form(amount="-25")
    )
    assert response.headers["Location"] == f"/customers/{euro_customer.id}/credit-notes"
    note = db.session.scalar(select(CreditNote))
    assert (note.number, note.total_minor) == ("CN-000001", 2500)
    html = staff_client.get(f"/credit-notes/{note.id}").get_data(as_text=True)
    assert "Credit note CN-000001" in html and "€25.00" in html


def test_gateway_without_credit_notes_refuses_a_credit_and_says_what_to_do(
    staff_client, euro_customer, db
):
    euro_customer.payment_gateway = "card_refunds_only"
    db.session.commit()
    response = staff_client.post(
        f"/customers/{euro_customer.id}/charges/new",
        charge_form(amount="-25"),
        htmx_target="form",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(r'<small id="amount-error" class="field-error">([^<]*)</small>', html)
    assert error and "does not support credit notes" in error.group(1)
    assert "Refund a paid invoice instead" in error.group(1)
    assert count(db, CreditNote) == 0 and count(db, LedgerEntry) == 0


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"amount": "0"}, "amount", "cannot be zero"),
        ({"amount": "abc"}, "amount", "as a number"),
        ({"amount": "NaN"}, "amount", "as a number"),
        ({"amount": "Infinity"}, "amount", "as a number"),
        ({"amount": "1.234"}, "amount", "EUR has 2 decimals at most."),
        ({"amount": "1.5", "currency": "JPY"}, "amount", "JPY has no decimals"),
        ({"amount": "1000000000"}, "amount", "check the amount"),
        ({"currency": "XYZ"}, "currency", "Choose a currency"),
        ({"description": ""}, "description", "it is what the customer sees"),
        ({"key": ""}, "key", "out of date"),
    ],
)
def test_bad_charges_are_refused_beside_the_field_and_nothing_is_written(
    staff_client, euro_customer, db, values, field, message
):
    response = staff_client.post(
        f"/customers/{euro_customer.id}/charges/new", charge_form(**values), htmx_target="form"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    if field == "key":
        assert message in html
    else:
        error = re.search(rf'<small id="{field}-error" class="field-error">([^<]*)</small>', html)
        assert error and message in error.group(1), html[:2000]
    assert count(db, LedgerEntry) == 0 and count(db, Invoice) == 0


def test_add_entry_refuses_negative_amounts_it_has_charge_and_credit_instead(
    staff_client, euro_customer, db
):
    response = staff_client.post(
        f"/customers/{euro_customer.id}/entries/new",
        {
            "kind": "charge",
            "amount": "-5",
            "currency": "EUR",
            "description": "x",
            "key": uuid.uuid4().hex,
        },
    )
    assert response.status_code == 422
    assert "Enter a positive amount." in response.get_data(as_text=True)
    assert count(db, LedgerEntry) == 0


def test_add_entry_charge_and_credit_signs(staff_client, euro_customer, db):
    for kind, amount in (("charge", "40"), ("credit", "15.50")):
        response = staff_client.post(
            f"/customers/{euro_customer.id}/entries/new",
            {
                "kind": kind,
                "amount": amount,
                "currency": "EUR",
                "description": kind,
                "payment_method": "bank transfer",
                "reference": "R-1",
                "key": uuid.uuid4().hex,
            },
        )
        assert response.status_code == 303
    entries = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
    assert [(e.kind, e.amount_minor) for e in entries] == [("charge", -4000), ("credit", 1550)]
    assert entries[0].payment_method == "" and entries[1].payment_method == "bank transfer"
    db.session.refresh(euro_customer)
    assert euro_customer.balance_minor == -2450
    html = staff_client.get(f"/customers/{euro_customer.id}/billing").get_data(as_text=True)
    assert "−€24.50" in html and "owes" in html and "bank transfer" in html


def test_balances_in_other_currencies_are_listed_after_the_billing_currency(
    staff_client, euro_customer, db
):
    for currency, amount in (("USD", -300), ("EUR", 500)):
        ledger.post_entry(
            db.session,
            euro_customer.id,
            kind=EntryKind.CREDIT if amount > 0 else EntryKind.CHARGE,
            amount_minor=amount,
            currency=currency,
            description="x",
            actor_id=None,
            key=None,
        )
    html = staff_client.get(f"/customers/{euro_customer.id}/billing").get_data(as_text=True)
    assert html.index("€5.00") < html.index("−$3.00")
    assert "in credit" in html and "owes" in html


def test_invoice_page_and_status_actions(staff_client, euro_customer, db):
    result = billing.capture_one_time_charge(
        db.session,
        euro_customer.id,
        amount_minor=10000,
        currency="EUR",
        description="Workshop",
        actor_id=None,
        key=None,
    )
    invoice_id = result.invoice.id
    html = staff_client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    for text in (
        "Invoice INV-000001",
        "Bill to",
        "Euro Customer",
        "Workshop",
        "Subtotal",
        "€100.00",
        "Tax (19.00 %)",
        "€19.00",
        "€119.00",
        "Due date",
    ):
        assert text in html, text
    confirm = staff_client.get(f"/invoices/{invoice_id}/pay")
    assert "Mark as paid" in confirm.get_data(as_text=True)
    assert db.session.get(Invoice, invoice_id).status == "open"  # asking changes nothing
    assert staff_client.post(f"/invoices/{invoice_id}/pay").status_code == 303
    assert db.session.get(Invoice, invoice_id).status == "paid"
    again = staff_client.post(f"/invoices/{invoice_id}/pay", htmx_target="form")
    assert again.status_code == 422
    assert "cannot be marked as paid" in again.get_data(as_text=True)
    assert staff_client.post(f"/invoices/{invoice_id}/refund").status_code == 303
    db.session.refresh(euro_customer)
    assert db.session.get(Invoice, invoice_id).status == "refunded"
    assert euro_customer.balance_minor == 0
    paid_filter = staff_client.get(f"/customers/{euro_customer.id}/invoices?status=refunded")
    assert "INV-000001" in paid_filter.get_data(as_text=True)
    open_filter = staff_client.get(f"/customers/{euro_customer.id}/invoices?status=open")
    assert "No open invoices" in open_filter.get_data(as_text=True)


def test_unknown_invoice_credit_note_or_action_is_404(staff_client, euro_customer):
    assert staff_client.get("/invoices/999").status_code == 404
    assert staff_client.get("/credit-notes/999").status_code == 404
    assert staff_client.get("/invoices/999/pay").status_code == 404


def test_money_posts_need_csrf(staff_client, euro_customer, db):
    result = billing.capture_one_time_charge(
        db.session,
        euro_customer.id,
        amount_minor=100,
        currency="EUR",
        description="x",
        actor_id=None,
        key=None,
    )
    for url, data in (
        (f"/customers/{euro_customer.id}/charges/new", charge_form()),
        (f"/customers/{euro_customer.id}/entries/new", charge_form(kind="charge")),
        (f"/invoices/{result.invoice.id}/pay", {}),
    ):
        assert staff_client.post(url, data, csrf=False).status_code == 400, url
    assert count(db, LedgerEntry) == 1


def test_billing_currency_is_locked_once_money_has_moved(staff_client, euro_customer, db):
    form = {
        "name": "Euro Customer",
        "email": "euro@example.com",
        "country": "DE",
        "currency": "USD",
        "tax_rate": "19",
        "payment_terms_days": "14",
        "invoicing_flow": "automatic",
        "payment_gateway": "manual",
    }
    assert staff_client.post(f"/customers/{euro_customer.id}/edit", form).status_code == 303
    assert db.session.get(Customer, euro_customer.id).currency == "USD"
    ledger.post_entry(
        db.session,
        euro_customer.id,
        kind=EntryKind.CHARGE,
        amount_minor=-100,
        currency="USD",
        description="x",
        actor_id=None,
        key=None,
    )
    page = staff_client.get(f"/customers/{euro_customer.id}/edit").get_data(as_text=True)
    assert "cannot change once money has moved" in page
    response = staff_client.post(
        f"/customers/{euro_customer.id}/edit", {**form, "currency": "EUR"}, htmx_target="form"
    )
    assert response.status_code == 422
    assert "cannot change once money has moved" in response.get_data(as_text=True)
    assert db.session.get(Customer, euro_customer.id).currency == "USD"


def test_list_shows_balance_sorts_by_it_and_filters(staff_client, make_customer, db):
    owes = make_customer(name="Owes Most", email="a@example.com", currency="EUR", country="DE")
    little = make_customer(name="Owes Little", email="b@example.com", currency="EUR", country="DE")
    credit = make_customer(name="In Credit", email="c@example.com", currency="EUR", country="DE")
    make_customer(name="Paid Up", email="d@example.com", currency="EUR", country="DE")
    for customer, amount in ((owes, -90000), (little, -100), (credit, 2500)):
        ledger.post_entry(
            db.session,
            customer.id,
            kind=EntryKind.CHARGE if amount < 0 else EntryKind.CREDIT,
            amount_minor=amount,
            currency="EUR",
            description="x",
            actor_id=None,
            key=None,
        )

    def names(query):
        html = staff_client.get(f"/customers?{query}").get_data(as_text=True)
        return re.findall(r">(Owes Most|Owes Little|In Credit|Paid Up)</a>", html)

    html = staff_client.get("/customers").get_data(as_text=True)
    assert ">Balance" in html and "−€900.00" in html and "€25.00" in html
    assert names("sort=balance&dir=asc") == ["Owes Most", "Owes Little", "Paid Up", "In Credit"]
    assert names("sort=balance&dir=desc") == ["In Credit", "Paid Up", "Owes Little", "Owes Most"]
    assert sorted(names("balance=owes")) == ["Owes Little", "Owes Most"]
    assert names("balance=credit") == ["In Credit"]
    assert names("balance=paid") == ["Paid Up"]


def test_entries_come_a_page_at_a_time_newest_first(staff_client, euro_customer, db):
    for number in range(55):
        ledger.post_entry(
            db.session,
            euro_customer.id,
            kind=EntryKind.CHARGE,
            amount_minor=-(number + 1),
            currency="EUR",
            description=f"Entry {number:02d}",
            actor_id=None,
            key=None,
        )
    first = staff_client.get(f"/customers/{euro_customer.id}/billing").get_data(as_text=True)
    assert "Entry 54" in first and "Entry 05" in first and "Entry 04" not in first
    assert 'rel="next"' in first
    html = follow(staff_client, first, "next")
    assert "Entry 04" in html and "Entry 00" in html and "Entry 05" not in html
    assert 'rel="prev"' in html and 'rel="next"' not in html


def test_the_same_charge_again_under_a_new_key_asks_for_confirmation(
    staff_client, euro_customer, db
):
    """Back and submit again (a new form key, same values) must not bill twice silently."""
    url = f"/customers/{euro_customer.id}/charges/new"
    assert staff_client.post(url, charge_form()).status_code == 303
    again = staff_client.post(url, charge_form(), htmx_target="form")
    html = again.get_data(as_text=True)
    assert again.status_code == 422
    assert "INV-000001 with this amount and description was recorded" in html
    assert 'name="repeat"' in html and "Record it again" in html
    assert count(db, Invoice) == 1
    confirmed = staff_client.post(url, charge_form(repeat="y"))
    assert confirmed.status_code == 303
    assert count(db, Invoice) == 2
    different = staff_client.post(url, charge_form(description="Another thing"))
    assert different.status_code == 303 and count(db, Invoice) == 3


def test_the_same_entry_again_under_a_new_key_asks_for_confirmation(
    staff_client, euro_customer, db
):
    url = f"/customers/{euro_customer.id}/entries/new"
    values = {"kind": "credit", "amount": "5", "currency": "EUR", "description": "Thanks"}
    staff_client.post(url, {**values, "key": uuid.uuid4().hex})
    again = staff_client.post(url, {**values, "key": uuid.uuid4().hex})
    assert again.status_code == 422 and "Record it again" in again.get_data(as_text=True)
    assert count(db, LedgerEntry) == 1


def test_a_form_key_sent_again_with_other_values_is_refused_not_dropped(
    staff_client, make_customer, db
):
    first = make_customer(name="First", email="first@example.com", country="DE", currency="EUR")
    second = make_customer(name="Second", email="second@example.com", country="DE", currency="EUR")
    key = uuid.uuid4().hex
    staff_client.post(f"/customers/{first.id}/charges/new", charge_form(amount="5", key=key))
    for url, values in (
        (f"/customers/{second.id}/charges/new", charge_form(amount="7", key=key)),
        (f"/customers/{first.id}/charges/new", charge_form(amount="8", key=key)),
        (
            f"/customers/{first.id}/entries/new",
            {"kind": "credit", "amount": "99", "currency": "EUR", "description": "x", "key": key},
        ),
    ):
        response = staff_client.post(url, values, htmx_target="form")
        assert response.status_code == 422, url
        assert "already submitted with other values" in response.get_data(as_text=True)
    assert count(db, Invoice) == 1 and count(db, LedgerEntry) == 1


@pytest.mark.parametrize("amount", ["1" * 30, "9" * 29, "1e999", "0." + "0" * 40 + "1"])
def test_absurdly_long_amounts_are_refused_not_crashed(staff_client, euro_customer, db, amount):
    for url, values in (
        (f"/customers/{euro_customer.id}/charges/new", charge_form(amount=amount)),
        (f"/customers/{euro_customer.id}/entries/new", charge_form(amount=amount, kind="charge")),
    ):
        response = staff_client.post(url, values, htmx_target="form")
        assert response.status_code == 422, (url, amount)
    assert count(db, LedgerEntry) == 0


def test_huge_page_numbers_on_tabs_do_not_crash(staff_client, euro_customer):
    for tab in ("billing", "invoices", "credit-notes"):
        url = f"/customers/{euro_customer.id}/{tab}?page=99999999999999999999999"
        assert staff_client.get(url).status_code == 200, tab


def test_unknown_invoice_status_filter_is_ignored(staff_client, euro_customer):
    html = staff_client.get(f"/customers/{euro_customer.id}/invoices?status=x%26page%3D9").get_data(
        as_text=True
    )
    assert "page=9" not in html and "No invoices yet" in html
