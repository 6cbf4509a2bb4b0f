"""Concurrent postings on PostgreSQL: no lost update, no failed request, gapless numbers.

Each thread has its own app context and so its own session and connection, as
concurrent requests would; a barrier releases them together.
"""

from __future__ import annotations

import threading
import time
import traceback

import pytest
from sqlalchemy import func, select

from tests.conftest import empty_database, make_app
from tests.waiting import start_and_wait_for_lock
from webapp.extensions import db
from webapp.models.billing import (
    CustomerBalance,
    DocumentCounter,
    EntryKind,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
)
from webapp.models.customer import Customer
from webapp.services.billing import capture_one_time_charge, change_invoice_status
from webapp.services.customers import create_customer
from webapp.services.ledger import LedgerError, check_balances, post_entry
from webapp.services.settings import default_legal_entity, document_series


@pytest.fixture
def pg_app(postgres_url, instance_dir):
    app = make_app(postgres_url, instance_dir)
    empty_database(app)
    yield app
    empty_database(app)


def new_customer(app, name="Ada Lovelace", currency="EUR", tax_rate_bp=0) -> int:
    with app.app_context():
        customer = create_customer(
            db.session,
            {
                "name": name,
                "email": f"{name.split()[0].lower()}@example.com",
                "country": "DE",
                "currency": currency,
                "tax_rate_bp": tax_rate_bp,
            },
        )
        return customer.id


def run_together(app, workers) -> tuple[list[str], float]:
    """Start one thread per worker at the same moment; return every failure and the time."""
    barrier = threading.Barrier(len(workers))
    failures: list[str] = []

    def run(worker):
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                worker()
        except Exception:  # noqa: BLE001 - every failure is reported by the test
            failures.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return failures, time.perf_counter() - started


def amount(thread: int, index: int) -> int:
    """Distinct amounts, so a lost or doubled posting changes the total."""
    return 100 + thread * 1000 + index


THREADS = 8
CHARGES = 50


def test_eight_threads_of_charges_to_one_customer_lose_nothing(pg_app):
    app = pg_app
    customer_id = new_customer(app)

    def poster(thread):
        def work():
            for index in range(CHARGES):
                posted = post_entry(
                    db.session,
                    customer_id,
                    kind=EntryKind.CHARGE,
                    amount_minor=-amount(thread, index),
                    currency="EUR",
                    description=f"Charge {thread}/{index}",
                    actor_id=None,
                    key=f"t{thread}-{index}",
                )
                assert posted.replayed is False

        return work

    failures, elapsed = run_together(app, [poster(thread) for thread in range(THREADS)])

    assert failures == [], "\n".join(failures)
    expected = -sum(amount(t, i) for t in range(THREADS) for i in range(CHARGES))
    with app.app_context():
        session = db.session
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == THREADS * CHARGES
        assert session.scalar(select(func.sum(LedgerEntry.amount_minor))) == expected
        assert session.scalar(select(CustomerBalance.balance_minor)) == expected
        assert session.scalar(select(Customer.balance_minor)) == expected
        assert check_balances(session) == []
    assert elapsed < 60


def test_the_same_key_from_many_threads_posts_once(pg_app):
    """A double click that arrives as concurrent requests."""
    app = pg_app
    customer_id = new_customer(app)
    results = []

    def worker():
        posted = post_entry(
            db.session,
            customer_id,
            kind=EntryKind.CHARGE,
            amount_minor=-500,
            currency="EUR",
            description="Double click",
            actor_id=None,
            key="one-form",
        )
        results.append((posted.entry.id, posted.replayed))

    failures, _ = run_together(app, [worker] * THREADS)

    assert failures == [], "\n".join(failures)
    assert len({entry_id for entry_id, _ in results}) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
        assert db.session.scalar(select(Customer.balance_minor)) == -500
        assert check_balances(db.session) == []
    # Exactly one request wrote the entry; the others must say they replayed it, also
    # those that found it only after waiting for the customer lock.
    assert sorted(replayed for _, replayed in results) == [False] + [True] * (THREADS - 1)


def _numbers(session) -> list[str]:
    return session.scalars(select(Invoice.number).order_by(Invoice.number)).all()


def test_invoices_and_entries_for_one_customer_at_once(pg_app):
    """Four threads capture invoices while four post charges, all to one customer."""
    app = pg_app
    customer_id = new_customer(app, tax_rate_bp=1900)
    invoice_threads, invoices_each = 4, 25
    charge_threads, charges_each = 4, 25

    def invoicer(thread):
        def work():
            for index in range(invoices_each):
                capture_one_time_charge(
                    db.session,
                    customer_id,
                    amount_minor=amount(thread, index),
                    currency="EUR",
                    description=f"Invoice {thread}/{index}",
                    actor_id=None,
                    key=f"inv-{thread}-{index}",
                )

        return work

    def charger(thread):
        def work():
            for index in range(charges_each):
                post_entry(
                    db.session,
                    customer_id,
                    kind=EntryKind.CHARGE,
                    amount_minor=-amount(thread, index),
                    currency="EUR",
                    description=f"Charge {thread}/{index}",
                    actor_id=None,
                    key=f"chg-{thread}-{index}",
                )

        return work

    workers = [invoicer(t) for t in range(invoice_threads)]
    workers += [charger(t) for t in range(charge_threads)]
    failures, _ = run_together(app, workers)

    assert failures == [], "\n".join(failures)
    total_invoices = invoice_threads * invoices_each
    with app.app_context():
        session = db.session
        assert _numbers(session) == [f"INV-{n:06d}" for n in range(1, total_invoices + 1)]
        series = document_series("INV", default_legal_entity(session).id)
        counter = session.scalar(
            select(DocumentCounter.last_number).where(DocumentCounter.series == series)
        )
        assert counter == total_invoices
        invoiced = session.scalar(select(func.sum(Invoice.total_minor)))
        charged = sum(amount(t, i) for t in range(charge_threads) for i in range(charges_each))
        expected = -(invoiced + charged)
        assert session.scalar(select(func.sum(LedgerEntry.amount_minor))) == expected
        assert session.scalar(select(CustomerBalance.balance_minor)) == expected
        assert session.scalar(select(Customer.balance_minor)) == expected
        assert check_balances(session) == []


def test_invoice_numbers_stay_gapless_across_customers_at_once(pg_app):
    """Only the document counter serialises invoices for different customers, and on a
    fresh database it does not exist yet: the first invoices race to create it."""
    app = pg_app
    threads, each = 4, 25
    customers = [new_customer(app, name=f"Customer {t} Ltd") for t in range(threads)]

    def invoicer(thread):
        def work():
            for index in range(each):
                capture_one_time_charge(
                    db.session,
                    customers[thread],
                    amount_minor=amount(thread, index),
                    currency="EUR",
                    description=f"Invoice {thread}/{index}",
                    actor_id=None,
                    key=f"inv-{thread}-{index}",
                )

        return work

    failures, _ = run_together(app, [invoicer(t) for t in range(threads)])

    assert failures == [], "\n".join(failures)
    with app.app_context():
        session = db.session
        assert _numbers(session) == [f"INV-{n:06d}" for n in range(1, threads * each + 1)]
        for thread, customer_id in enumerate(customers):
            expected = -sum(amount(thread, i) for i in range(each))
            assert session.get(Customer, customer_id).balance_minor == expected
        assert check_balances(session) == []


def test_the_first_invoice_while_another_is_being_numbered(pg_app):
    """Deterministic form of the race above: while one transaction has created the INV
    counter and not yet committed, a second customer's first invoice must wait and take
    the next number, not fail on the counter's primary key."""
    from webapp.services.billing import next_number

    app = pg_app
    first = new_customer(app, name="First Customer")
    second = new_customer(app, name="Second Customer")
    outcome = {}

    def second_invoice():
        with app.app_context():
            try:
                result = capture_one_time_charge(
                    db.session,
                    second,
                    amount_minor=100,
                    currency="EUR",
                    description="Second",
                    actor_id=None,
                    key="second",
                )
                outcome["number"] = result.invoice.number
            except Exception as error:  # noqa: BLE001 - reported below
                outcome["error"] = repr(error)

    with app.app_context():
        session = db.session
        entity = session.get(Customer, first).legal_entity
        # The entity's INV counter row is created, uncommitted.
        assert next_number(session, "INV", entity) == "INV-000001"
        thread = threading.Thread(target=second_invoice)
        start_and_wait_for_lock(thread, db.engine)  # the second transaction is at the counter
        capture_one_time_charge(
            session,
            first,
            amount_minor=100,
            currency="EUR",
            description="First",
            actor_id=None,
            key="first",
        )  # continues the same transaction and commits it
        thread.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    assert outcome["number"] == "INV-000003"


def test_concurrent_status_changes_on_one_invoice_apply_once(pg_app):
    """Mark as paid clicked in two tabs at once: one payment, the other is refused."""
    app = pg_app
    customer_id = new_customer(app)
    with app.app_context():
        invoice_id = capture_one_time_charge(
            db.session,
            customer_id,
            amount_minor=1000,
            currency="EUR",
            description="Fee",
            actor_id=None,
            key="fee",
        ).invoice.id
    outcomes = []

    def pay():
        try:
            change_invoice_status(db.session, invoice_id, "pay", None)
            outcomes.append("paid")
        except LedgerError:
            outcomes.append("refused")

    failures, _ = run_together(app, [pay] * 4)

    assert failures == [], "\n".join(failures)
    assert sorted(outcomes) == ["paid", "refused", "refused", "refused"]
    with app.app_context():
        payments = db.session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "payment")
        )
        assert payments == 1
        assert db.session.get(Invoice, invoice_id).status == InvoiceStatus.PAID
        assert db.session.get(Customer, customer_id).balance_minor == 0
        assert check_balances(db.session) == []
