"""The ledger, invoices and credit notes (webapp/services/ledger.py and billing.py),
on SQLite and on PostgreSQL through the ``db`` fixture."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from webapp.models.billing import (
    CreditNote,
    CustomerBalance,
    DocumentCounter,
    EntryKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
)
from webapp.models.customer import Customer, format_customer_id
from webapp.services.billing import capture_one_time_charge, change_invoice_status
from webapp.services.ledger import (
    LedgerError,
    Mismatch,
    balances,
    check_balances,
    has_money_moved,
    post_entry,
)
from webapp.services.settings import default_legal_entity, document_series

TODAY = date(2026, 1, 31)


# -- helpers --------------------------------------------------------------------------


def charge(session, customer_id, minor, currency="EUR", key=None, actor_id=None):
    """Add entry → Charge: the amount typed is positive, the entry is negative."""
    return post_entry(
        session,
        customer_id,
        kind=EntryKind.CHARGE,
        amount_minor=-minor,
        currency=currency,
        description="Consulting",
        actor_id=actor_id,
        key=key,
    )


def credit(session, customer_id, minor, currency="EUR", key=None, actor_id=None):
    return post_entry(
        session,
        customer_id,
        kind=EntryKind.CREDIT,
        amount_minor=minor,
        currency=currency,
        description="Goodwill",
        actor_id=actor_id,
        key=key,
    )


def one_time(session, customer_id, minor, currency="EUR", key=None, description="Setup fee"):
    return capture_one_time_charge(
        session,
        customer_id,
        amount_minor=minor,
        currency=currency,
        description=description,
        actor_id=None,
        key=key,
        today=TODAY,
    )


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def balance_row(session, customer_id, currency) -> int | None:
    return session.scalar(
        select(CustomerBalance.balance_minor).where(
            CustomerBalance.customer_id == customer_id, CustomerBalance.currency == currency
        )
    )


def mirror(session, customer_id) -> int:
    """The customer row's balance_minor as stored, not as the identity map remembers it."""
    return session.scalar(select(Customer.balance_minor).where(Customer.id == customer_id))


def entries_sum(session, customer_id, currency="EUR") -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
                LedgerEntry.customer_id == customer_id, LedgerEntry.currency == currency
            )
        )
    )


def counter(session, series) -> int | None:
    """The last number of ``series`` (INV, CN) under the default legal entity, which
    bills every customer these tests make."""
    key = document_series(series, default_legal_entity(session).id)
    return session.scalar(select(DocumentCounter.last_number).where(DocumentCounter.series == key))


def snapshot(session) -> dict:
    """Everything a refused action must leave untouched."""
    return {
        "entries": count(session, LedgerEntry),
        "invoices": count(session, Invoice),
        "credit_notes": count(session, CreditNote),
        "balances": sorted(
            session.execute(
                select(
                    CustomerBalance.customer_id,
                    CustomerBalance.currency,
                    CustomerBalance.balance_minor,
                )
            ).all()
        ),
        "mirrors": sorted(session.execute(select(Customer.id, Customer.balance_minor)).all()),
        "statuses": sorted(session.execute(select(Invoice.number, Invoice.status)).all()),
        "counters": sorted(
            session.execute(select(DocumentCounter.series, DocumentCounter.last_number)).all()
        ),
    }


@pytest.fixture
def customer(make_customer):
    return make_customer(currency="EUR", tax_rate_bp=1900, payment_terms_days=14)


# -- post_entry -----------------------------------------------------------------------


def test_post_entry_writes_entry_balance_and_mirror(db, customer, make_staff):
    staff = make_staff()
    posted = charge(db.session, customer.id, 1250, key="k-1", actor_id=staff.id)

    assert posted.replayed is False
    entry = db.session.get(LedgerEntry, posted.entry.id)
    assert entry.customer_id == customer.id
    assert entry.kind == EntryKind.CHARGE
    assert entry.amount_minor == -1250
    assert entry.currency == "EUR"
    assert entry.description == "Consulting"
    assert entry.staff_id == staff.id
    assert entry.idempotency_key == "k-1"
    assert entry.invoice_id is None and entry.credit_note_id is None
    assert entry.created_at is not None
    assert balance_row(db.session, customer.id, "EUR") == -1250
    assert mirror(db.session, customer.id) == -1250
    assert has_money_moved(db.session, customer.id)

    credit(db.session, customer.id, 250, key="k-2")
    assert balance_row(db.session, customer.id, "EUR") == -1000
    assert mirror(db.session, customer.id) == -1000


def test_another_currency_gets_its_own_balance_and_leaves_the_mirror(db, customer):
    charge(db.session, customer.id, 1000, key="eur")
    credit(db.session, customer.id, 700, currency="USD", key="usd")
    charge(db.session, customer.id, 300, currency="JPY", key="jpy")

    assert balance_row(db.session, customer.id, "USD") == 700
    assert balance_row(db.session, customer.id, "JPY") == -300
    assert balance_row(db.session, customer.id, "EUR") == -1000
    assert mirror(db.session, customer.id) == -1000  # billing currency only
    rows = balances(db.session, db.session.get(Customer, customer.id))
    assert [(row.currency, row.balance_minor) for row in rows] == [
        ("EUR", -1000),  # billing currency first, then by code
        ("JPY", -300),
        ("USD", 700),
    ]


def test_a_customer_with_no_entries_has_not_moved_money(db, customer):
    assert not has_money_moved(db.session, customer.id)
    assert balances(db.session, customer) == []
    assert mirror(db.session, customer.id) == 0


def test_posting_for_a_missing_customer_is_refused(db):
    with pytest.raises(LedgerError, match="no longer exists"):
        charge(db.session, 999_999, 100, key="ghost")
    assert count(db.session, LedgerEntry) == 0


@pytest.mark.parametrize("kind", [EntryKind.CHARGE, EntryKind.CREDIT])
def test_a_zero_entry_is_refused_and_nothing_is_written(db, customer, kind):
    before = snapshot(db.session)
    with pytest.raises(LedgerError, match="cannot be zero"):
        post_entry(
            db.session,
            customer.id,
            kind=kind,
            amount_minor=0,
            currency="EUR",
            description="Nothing",
            actor_id=None,
            key="zero",
        )
    assert snapshot(db.session) == before


def test_a_zero_one_time_charge_is_refused_and_nothing_is_written(db, customer):
    before = snapshot(db.session)
    with pytest.raises(LedgerError, match="cannot be zero"):
        one_time(db.session, customer.id, 0, key="zero")
    assert snapshot(db.session) == before


# -- idempotency ----------------------------------------------------------------------


def test_the_same_key_twice_posts_once(db, customer):
    first = charge(db.session, customer.id, 500, key="double-click")
    second = charge(db.session, customer.id, 500, key="double-click")

    assert first.replayed is False
    assert second.replayed is True
    assert second.entry.id == first.entry.id
    assert count(db.session, LedgerEntry) == 1
    assert balance_row(db.session, customer.id, "EUR") == -500
    assert mirror(db.session, customer.id) == -500


def test_a_form_key_sent_again_with_another_amount_is_refused(db, customer):
    """Back, change the amount, submit: not a replay (that would drop the new amount
    silently) and not a second posting under the same key, but a refusal."""
    charge(db.session, customer.id, 500, key="form-1")
    with pytest.raises(LedgerError, match="already submitted with other values"):
        charge(db.session, customer.id, 900, key="form-1")
    assert entries_sum(db.session, customer.id) == -500


def test_different_keys_post_separately(db, customer):
    charge(db.session, customer.id, 500, key="a")
    charge(db.session, customer.id, 500, key="b")
    assert count(db.session, LedgerEntry) == 2
    assert mirror(db.session, customer.id) == -1000


def test_the_same_one_time_charge_twice_makes_one_invoice(db, customer):
    first = one_time(db.session, customer.id, 10000, key="charge-form")
    second = one_time(db.session, customer.id, 10000, key="charge-form")

    assert first.replayed is False and second.replayed is True
    assert second.invoice.id == first.invoice.id
    assert second.entry.id == first.entry.id
    assert second.credit_note is None
    assert count(db.session, Invoice) == 1
    assert count(db.session, LedgerEntry) == 1
    assert counter(db.session, "INV") == 1
    assert mirror(db.session, customer.id) == -11900


def test_the_same_credit_note_twice_makes_one_credit_note(db, customer):
    first = one_time(db.session, customer.id, -2500, key="credit-form")
    second = one_time(db.session, customer.id, -2500, key="credit-form")

    assert second.replayed is True
    assert second.credit_note.id == first.credit_note.id
    assert count(db.session, CreditNote) == 1
    assert count(db.session, LedgerEntry) == 1
    assert counter(db.session, "CN") == 1


# -- invoices -------------------------------------------------------------------------


def test_a_positive_one_time_charge_makes_an_invoice(db, customer, make_staff):
    result = one_time(db.session, customer.id, 10000, key="inv", description="Onboarding")

    assert result.replayed is False and result.credit_note is None
    invoice = db.session.get(Invoice, result.invoice.id)
    assert invoice.number == "INV-000001"
    assert invoice.customer_id == customer.id
    assert invoice.currency == "EUR"
    assert invoice.issue_date == TODAY
    assert invoice.due_date == date(2026, 2, 14)  # Net 14
    assert invoice.subtotal_minor == 10000
    assert invoice.tax_rate_bp == 1900
    assert invoice.tax_minor == 1900
    assert invoice.total_minor == 11900
    assert invoice.status == InvoiceStatus.OPEN
    assert [(line.description, line.quantity, line.amount_minor) for line in invoice.lines] == [
        ("Onboarding", 1, 10000)
    ]

    entry = result.entry
    assert entry.kind == EntryKind.CHARGE
    assert entry.amount_minor == -11900
    assert entry.invoice_id == invoice.id
    assert entry.credit_note_id is None
    assert entry.description == "Onboarding"
    assert [e.id for e in invoice.entries] == [entry.id]
    assert balance_row(db.session, customer.id, "EUR") == -11900
    assert mirror(db.session, customer.id) == -11900


@pytest.mark.parametrize(
    ("terms", "issued", "due"),
    [
        (0, date(2026, 1, 31), date(2026, 1, 31)),
        (30, date(2026, 1, 31), date(2026, 3, 2)),
        (30, date(2028, 2, 1), date(2028, 3, 2)),  # leap year
        (60, date(2026, 12, 15), date(2027, 2, 13)),
    ],
)
def test_due_date_is_issue_date_plus_payment_terms(db, make_customer, terms, issued, due):
    customer = make_customer(currency="EUR", payment_terms_days=terms)
    result = capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=100,
        currency="EUR",
        description="Fee",
        actor_id=None,
        key=f"due-{terms}",
        today=issued,
    )
    assert result.invoice.issue_date == issued
    assert result.invoice.due_date == due


def test_issue_date_defaults_to_today(db, customer):
    result = capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=100,
        currency="EUR",
        description="Fee",
        actor_id=None,
        key="today",
    )
    assert result.invoice.issue_date is not None
    assert (result.invoice.due_date - result.invoice.issue_date).days == 14


@pytest.mark.parametrize(
    ("currency", "rate", "net", "tax"),
    [
        ("EUR", 0, 10000, 0),
        ("EUR", 2000, 12345, 2469),
        ("EUR", 1950, 1001, 195),  # 195.195 → 195
        ("EUR", 2500, 10, 3),  # 2.5 → 3, half up
        ("JPY", 1000, 1505, 151),  # 150.5 yen → 151
        ("KWD", 500, 1234, 62),  # 61.7 fils → 62
    ],
)
def test_invoice_tax_is_at_the_customer_rate(db, make_customer, currency, rate, net, tax):
    customer = make_customer(currency=currency, tax_rate_bp=rate)
    result = one_time(db.session, customer.id, net, currency=currency, key="tax")
    invoice = result.invoice
    assert invoice.currency == currency
    assert invoice.tax_rate_bp == rate
    assert invoice.subtotal_minor == net
    assert invoice.tax_minor == tax
    assert invoice.total_minor == net + tax
    assert result.entry.amount_minor == -(net + tax)
    assert balance_row(db.session, customer.id, currency) == -(net + tax)


def test_invoice_keeps_the_rate_it_was_issued_at(db, customer):
    first = one_time(db.session, customer.id, 10000, key="before")
    customer = db.session.get(Customer, customer.id)
    customer.tax_rate_bp = 700
    db.session.commit()
    second = one_time(db.session, customer.id, 10000, key="after")
    assert db.session.get(Invoice, first.invoice.id).tax_minor == 1900
    assert db.session.get(Invoice, second.invoice.id).tax_minor == 700


def test_invoice_and_credit_note_numbers_are_separate_gapless_series(db, customer, make_customer):
    other = make_customer(name="Grace Hopper", email="grace@example.com", currency="USD")
    steps = [
        (customer.id, 1000, "EUR"),
        (customer.id, -200, "EUR"),
        (other.id, 3000, "USD"),
        (other.id, -100, "USD"),
        (customer.id, 500, "EUR"),
        (customer.id, -50, "EUR"),
        (other.id, 7000, "USD"),
    ]
    for index, (customer_id, minor, currency) in enumerate(steps):
        one_time(db.session, customer_id, minor, currency=currency, key=f"step-{index}")

    invoice_numbers = db.session.scalars(select(Invoice.number).order_by(Invoice.id)).all()
    credit_note_numbers = db.session.scalars(
        select(CreditNote.number).order_by(CreditNote.id)
    ).all()
    assert invoice_numbers == ["INV-000001", "INV-000002", "INV-000003", "INV-000004"]
    assert credit_note_numbers == ["CN-000001", "CN-000002", "CN-000003"]
    assert counter(db.session, "INV") == 4
    assert counter(db.session, "CN") == 3


def test_a_replayed_charge_does_not_use_a_number(db, customer):
    one_time(db.session, customer.id, 1000, key="once")
    one_time(db.session, customer.id, 1000, key="once")
    second = one_time(db.session, customer.id, 1000, key="twice")
    assert second.invoice.number == "INV-000002"


# -- credit notes ---------------------------------------------------------------------


def test_a_negative_one_time_charge_makes_a_credit_note(db, customer):
    result = one_time(db.session, customer.id, -2500, key="cn", description="Apology")

    assert result.invoice is None
    note = db.session.get(CreditNote, result.credit_note.id)
    assert note.number == "CN-000001"
    assert note.customer_id == customer.id
    assert note.currency == "EUR"
    assert note.issue_date == TODAY
    assert note.description == "Apology"
    assert note.total_minor == 2500

    entry = result.entry
    assert entry.kind == EntryKind.CREDIT
    assert entry.amount_minor == 2500
    assert entry.credit_note_id == note.id
    assert entry.invoice_id is None
    assert [e.id for e in note.entries] == [entry.id]
    assert balance_row(db.session, customer.id, "EUR") == 2500
    assert mirror(db.session, customer.id) == 2500
    assert count(db.session, Invoice) == 0


def test_credit_notes_carry_no_tax(db, customer):
    """Tax applies to invoices; a credit note is for the amount typed."""
    result = one_time(db.session, customer.id, -10000, key="cn")
    assert result.credit_note.total_minor == 10000
    assert result.entry.amount_minor == 10000


def test_a_gateway_without_credit_notes_refuses_and_writes_nothing(db, customer, make_customer):
    # One credit note exists already, so the CN counter is at 1 before the refusal.
    one_time(db.session, customer.id, -100, key="first-cn")
    card = make_customer(name="Card Payer", email="card@example.com", currency="EUR")
    card = db.session.get(Customer, card.id)
    card.payment_gateway = "card_refunds_only"
    db.session.commit()
    before = snapshot(db.session)

    with pytest.raises(LedgerError) as refused:
        one_time(db.session, card.id, -2500, key="refused-cn")

    message = str(refused.value)
    assert "Card Payer" in message
    assert "does not support credit notes" in message  # why
    assert "Refund a paid invoice instead" in message  # what to do
    assert "Manual" in message
    assert snapshot(db.session) == before
    assert count(db.session, LedgerEntry, LedgerEntry.idempotency_key == "refused-cn") == 0
    assert counter(db.session, "CN") == 1
    assert balance_row(db.session, card.id, "EUR") is None
    assert mirror(db.session, card.id) == 0

    # The refused key is not burnt: the next credit note elsewhere takes the next number.
    assert one_time(db.session, customer.id, -100, key="next-cn").credit_note.number == "CN-000002"


def test_a_gateway_without_credit_notes_still_invoices(db, make_customer):
    card = make_customer(name="Card Payer", email="card@example.com", currency="EUR")
    card = db.session.get(Customer, card.id)
    card.payment_gateway = "card_refunds_only"
    db.session.commit()
    result = one_time(db.session, card.id, 1000, key="card-invoice")
    assert result.invoice.number == "INV-000001"
    assert mirror(db.session, card.id) == -1000


def test_after_switching_to_manual_the_credit_note_goes_through(db, make_customer):
    card = make_customer(name="Card Payer", email="card@example.com", currency="EUR")
    card = db.session.get(Customer, card.id)
    card.payment_gateway = "card_refunds_only"
    db.session.commit()
    with pytest.raises(LedgerError):
        one_time(db.session, card.id, -100, key="cn")
    card = db.session.get(Customer, card.id)
    card.payment_gateway = "manual"
    db.session.commit()
    assert one_time(db.session, card.id, -100, key="cn").credit_note.number == "CN-000001"


# -- invoice status -------------------------------------------------------------------


def _invoice(db, customer_id, minor=10000, key="inv"):
    return one_time(db.session, customer_id, minor, key=key).invoice.id


def _entries_of(db, invoice_id):
    return db.session.execute(
        select(LedgerEntry.kind, LedgerEntry.amount_minor)
        .where(LedgerEntry.invoice_id == invoice_id)
        .order_by(LedgerEntry.id)
    ).all()


def test_mark_as_paid_records_a_payment_of_the_total(db, customer, make_staff):
    staff = make_staff()
    invoice_id = _invoice(db, customer.id)
    invoice = change_invoice_status(db.session, invoice_id, "pay", staff.id)

    assert invoice.status == InvoiceStatus.PAID
    assert invoice.status_changed_at is not None
    assert _entries_of(db, invoice_id) == [("charge", -11900), ("payment", 11900)]
    payment = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "payment"))
    assert payment.staff_id == staff.id
    assert payment.currency == "EUR"
    assert "INV-000001" in payment.description
    assert balance_row(db.session, customer.id, "EUR") == 0
    assert mirror(db.session, customer.id) == 0
    assert check_balances(db.session) == []


def test_refunding_a_paid_invoice_returns_the_balance_to_before_the_invoice(db, customer):
    credit(db.session, customer.id, 500, key="earlier-credit")
    before = balance_row(db.session, customer.id, "EUR")
    invoice_id = _invoice(db, customer.id)
    change_invoice_status(db.session, invoice_id, "pay", None)
    invoice = change_invoice_status(db.session, invoice_id, "refund", None)

    assert invoice.status == InvoiceStatus.REFUNDED
    assert _entries_of(db, invoice_id) == [
        ("charge", -11900),
        ("payment", 11900),
        ("refund", -11900),
        ("adjustment", 11900),
    ]
    assert balance_row(db.session, customer.id, "EUR") == before == 500
    assert mirror(db.session, customer.id) == 500
    assert check_balances(db.session) == []


def test_voiding_an_open_invoice_reverses_its_charge(db, customer):
    invoice_id = _invoice(db, customer.id)
    invoice = change_invoice_status(db.session, invoice_id, "void", None)

    assert invoice.status == InvoiceStatus.VOID
    assert _entries_of(db, invoice_id) == [("charge", -11900), ("adjustment", 11900)]
    assert balance_row(db.session, customer.id, "EUR") == 0
    assert mirror(db.session, customer.id) == 0


def test_status_change_in_a_foreign_currency_leaves_the_mirror(db, customer):
    credit(db.session, customer.id, 300, key="eur-credit")
    invoice_id = one_time(db.session, customer.id, 1000, currency="USD", key="usd").invoice.id
    change_invoice_status(db.session, invoice_id, "pay", None)
    assert balance_row(db.session, customer.id, "USD") == 0
    assert mirror(db.session, customer.id) == 300


REFUSED_TRANSITIONS = [
    # actions already taken, the refused action, the status it stays in
    ([], "refund", "open"),
    (["pay"], "pay", "paid"),
    (["pay"], "void", "paid"),
    (["void"], "pay", "void"),
    (["void"], "refund", "void"),
    (["void"], "void", "void"),
    (["pay", "refund"], "refund", "refunded"),
    (["pay", "refund"], "pay", "refunded"),
    (["pay", "refund"], "void", "refunded"),
]


@pytest.mark.parametrize(("done", "action", "status"), REFUSED_TRANSITIONS)
def test_refused_transitions_raise_and_write_nothing(db, customer, done, action, status):
    invoice_id = _invoice(db, customer.id)
    for step in done:
        change_invoice_status(db.session, invoice_id, step, None)
    before = snapshot(db.session)

    with pytest.raises(LedgerError) as refused:
        change_invoice_status(db.session, invoice_id, action, None)

    assert f"INV-000001 is {status}" in str(refused.value)
    assert snapshot(db.session) == before
    assert db.session.get(Invoice, invoice_id).status == status


def test_an_unknown_action_is_refused(db, customer):
    invoice_id = _invoice(db, customer.id)
    before = snapshot(db.session)
    with pytest.raises(LedgerError, match="Choose mark as paid, refund or void"):
        change_invoice_status(db.session, invoice_id, "delete", None)
    assert snapshot(db.session) == before


def test_a_missing_invoice_is_refused(db, customer):
    with pytest.raises(LedgerError, match="does not exist"):
        change_invoice_status(db.session, 999_999, "pay", None)


# -- check_balances and `ledger check` ------------------------------------------------


@pytest.fixture
def busy_ledger(db, make_customer):
    """Two customers with entries, invoices and credit notes in several currencies."""
    ada = make_customer(currency="EUR", tax_rate_bp=1900)
    grace = make_customer(name="Grace Hopper", email="grace@example.com", currency="JPY")
    charge(db.session, ada.id, 1000, key="a1")
    credit(db.session, ada.id, 250, currency="USD", key="a2")
    paid = one_time(db.session, ada.id, 5000, key="a3").invoice.id
    change_invoice_status(db.session, paid, "pay", None)
    one_time(db.session, ada.id, -700, key="a4")
    charge(db.session, grace.id, 1500, currency="JPY", key="g1")
    voided = one_time(db.session, grace.id, 800, currency="JPY", key="g2").invoice.id
    change_invoice_status(db.session, voided, "void", None)
    return ada, grace


def test_check_balances_is_empty_on_a_consistent_ledger(db, busy_ledger):
    assert check_balances(db.session) == []


def test_check_balances_names_a_corrupted_balance_row(db, busy_ledger):
    ada, grace = busy_ledger
    db.session.execute(
        text(
            "UPDATE customer_balances SET balance_minor = balance_minor + 1 "
            "WHERE customer_id = :id AND currency = 'USD'"
        ),
        {"id": ada.id},
    )
    db.session.commit()

    mismatches = check_balances(db.session)
    assert [(m.customer_id, m.currency) for m in mismatches] == [(ada.id, "USD")]
    assert mismatches[0].kept_minor == 251
    assert mismatches[0].derived_minor == 250


def test_check_balances_names_a_corrupted_mirror(db, busy_ledger):
    ada, grace = busy_ledger
    db.session.execute(
        text("UPDATE customers SET balance_minor = 42 WHERE id = :id"), {"id": grace.id}
    )
    db.session.commit()

    mismatches = check_balances(db.session)
    assert mismatches == [Mismatch(grace.id, "JPY", 42, -1500)]


def test_check_balances_names_a_missing_balance_row(db, busy_ledger):
    ada, grace = busy_ledger
    db.session.execute(
        text("DELETE FROM customer_balances WHERE customer_id = :id AND currency = 'USD'"),
        {"id": ada.id},
    )
    db.session.commit()
    assert [(m.customer_id, m.currency) for m in check_balances(db.session)] == [(ada.id, "USD")]


def test_check_balances_names_a_balance_with_no_entries(db, customer):
    db.session.execute(
        text(
            "INSERT INTO customer_balances (customer_id, currency, balance_minor, updated_at) "
            "VALUES (:id, 'GBP', 99, CURRENT_TIMESTAMP)"
        ),
        {"id": customer.id},
    )
    db.session.commit()
    assert [(m.customer_id, m.currency, m.kept_minor) for m in check_balances(db.session)] == [
        (customer.id, "GBP", 99)
    ]


def test_check_balances_names_every_customer_that_differs(db, busy_ledger):
    ada, grace = busy_ledger
    db.session.execute(text("UPDATE customer_balances SET balance_minor = balance_minor - 5"))
    db.session.commit()
    found = {(m.customer_id, m.currency) for m in check_balances(db.session)}
    assert found == {(ada.id, "EUR"), (ada.id, "USD"), (grace.id, "JPY")}


def test_ledger_check_command_passes_on_a_consistent_ledger(app, db, busy_ledger):
    result = app.test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "Every balance agrees" in result.output


def test_ledger_check_command_passes_on_an_empty_ledger(app, db):
    result = app.test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "Every balance agrees" in result.output


def test_ledger_check_command_fails_naming_the_corrupted_customer(app, db, busy_ledger):
    ada, grace = busy_ledger
    db.session.execute(
        text("UPDATE customer_balances SET balance_minor = 0 WHERE customer_id = :id"),
        {"id": grace.id},
    )
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["ledger", "check"])

    assert result.exit_code == 1, result.output
    assert format_customer_id(grace.id) in result.output
    assert format_customer_id(ada.id) not in result.output
    assert "JPY" in result.output
    assert "Every balance agrees" not in result.output


def test_ledger_check_command_fails_on_a_corrupted_mirror(app, db, busy_ledger):
    ada, grace = busy_ledger
    db.session.execute(
        text("UPDATE customers SET balance_minor = 0 WHERE id = :id"), {"id": ada.id}
    )
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["ledger", "check"])

    assert result.exit_code == 1, result.output
    assert format_customer_id(ada.id) in result.output
    assert format_customer_id(grace.id) not in result.output


# -- the customer read earlier in the same transaction --------------------------------


def test_posting_after_the_customer_was_read_in_the_same_transaction(db, customer):
    """The Add entry route reads the customer (``db.session.get``) before it posts, in
    the same transaction. If another request moved the balance in between, the locked
    re-read in ``lock_customer`` returns the identity map's stale object, and when the new
    balance equals that stale value the ORM sees no change and writes no UPDATE: the
    customer's balance_minor mirror is left wrong."""
    customer_id = customer.id
    assert db.session.get(Customer, customer_id).balance_minor == 0  # as the route does

    with Session(db.engine) as other_request:
        charge(other_request, customer_id, 1000, key="other-request")

    credit(db.session, customer_id, 1000, key="this-request")

    assert balance_row(db.session, customer_id, "EUR") == 0
    assert entries_sum(db.session, customer_id) == 0
    assert mirror(db.session, customer_id) == 0
    assert check_balances(db.session) == []


def test_posting_after_balances_were_read_in_the_same_transaction(db, customer):
    """The same with the balance rows: a page that lists balances then posts must not
    add to a stale balance (a lost update)."""
    customer_id = customer.id
    charge(db.session, customer_id, 100, key="first")
    shown = balances(db.session, customer)  # still referenced, as a page's context would be
    assert [row.balance_minor for row in shown] == [-100]

    with Session(db.engine) as other_request:
        charge(other_request, customer_id, 1000, key="other-request")

    charge(db.session, customer_id, 10, key="this-request")
    del shown

    assert entries_sum(db.session, customer_id) == -1110
    assert balance_row(db.session, customer_id, "EUR") == -1110
    assert mirror(db.session, customer_id) == -1110
    assert check_balances(db.session) == []


def test_entries_of_an_invoice_match_the_invoice_lines(db, customer):
    result = one_time(db.session, customer.id, 4200, key="lines")
    lines = db.session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == result.invoice.id)
    ).all()
    assert sum(line.amount_minor * line.quantity for line in lines) == 4200
    assert result.invoice.total_minor == 4200 + result.invoice.tax_minor


# -- two requests at once, interleaved deterministically ------------------------------


def _interleave(app, db, other_request):
    """Run ``other_request`` (in its own app context, so its own session and connection)
    when this session first flushes, i.e. after it has read what it is about to change.
    Where the first request holds a lock (PostgreSQL), the other waits for it; the wait
    here is cut short after a moment and the other request finishes once we commit."""
    state = {}

    def other():
        with app.app_context():
            state["other"] = other_request()

    def hook(session, flush_context, instances):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.5)
        state["thread"] = thread

    event.listen(db.session(), "before_flush", hook, once=True)
    return state


def _outcome(action):
    try:
        action()
    except LedgerError:
        return "refused"
    return "done"


def test_mark_as_paid_twice_at_once_pays_once(app, db, customer):
    invoice_id = _invoice(db, customer.id)
    state = _interleave(
        app,
        db,
        lambda: _outcome(lambda: change_invoice_status(db.session, invoice_id, "pay", None)),
    )

    this = _outcome(lambda: change_invoice_status(db.session, invoice_id, "pay", None))
    state["thread"].join(30)

    assert sorted([this, state["other"]]) == ["done", "refused"]
    assert count(db.session, LedgerEntry, LedgerEntry.kind == "payment") == 1
    assert entries_sum(db.session, customer.id) == 0
    assert check_balances(db.session) == []


def test_two_invoices_at_once_take_consecutive_numbers(app, db, customer, make_customer):
    other_customer = make_customer(name="Grace Hopper", email="grace@example.com")
    one_time(db.session, customer.id, 100, key="existing")  # the INV counter exists
    state = _interleave(
        app,
        db,
        lambda: one_time(db.session, other_customer.id, 200, key="other").invoice.number,
    )

    this = one_time(db.session, customer.id, 300, key="this").invoice.number
    state["thread"].join(30)

    assert sorted([this, state["other"]]) == ["INV-000002", "INV-000003"]
    numbers = db.session.scalars(select(Invoice.number).order_by(Invoice.number)).all()
    assert numbers == ["INV-000001", "INV-000002", "INV-000003"]
