"""Finalizing drafts at the same time, on PostgreSQL: one charge and one number per draft,
gapless numbers across drafts and one time charges, and a draft finalized and deleted at
once ends as exactly one of the two.

Each thread has its own app context and so its own session and connection, as
concurrent requests (two tabs, a double click) would; a barrier releases them together.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import empty_database, make_app
from tests.test_ledger_concurrency import new_customer, run_together
from webapp.extensions import db
from webapp.models.billing import DocumentCounter, Invoice, LedgerEntry
from webapp.models.customer import Customer
from webapp.models.email import Email
from webapp.services import billing, drafts
from webapp.services.drafts import DraftLine
from webapp.services.ledger import LedgerError, check_balances

THREADS = 8


@pytest.fixture
def pg_app(postgres_url, instance_dir):
    app = make_app(postgres_url, instance_dir)
    empty_database(app)
    yield app
    empty_database(app)


def start_draft(app, customer_id: int, description: str = "Consulting") -> tuple[int, int]:
    """A draft of two lines; (its id, its version)."""
    with app.app_context():
        invoice = drafts.start_draft(
            db.session,
            customer_id,
            currency="EUR",
            lines=[DraftLine(description, 3, 15000), DraftLine("Travel", 1, 8050)],
            actor_id=None,
            key=None,
        ).invoice
        return invoice.id, invoice.version


def test_one_draft_finalized_from_many_tabs_at_once_is_charged_and_numbered_once(pg_app):
    app = pg_app
    customer_id = new_customer(app, tax_rate_bp=1900)
    draft_id, version = start_draft(app, customer_id)
    results = []

    def finalize():
        done = billing.finalize_draft(
            db.session, customer_id, draft_id, None, opened_version=version
        )
        results.append((done.invoice.number, done.replayed))

    failures, _ = run_together(app, [finalize] * THREADS)

    assert failures == [], "\n".join(failures)
    # Exactly one finalized it; every other says it replayed that one.
    assert sorted(replayed for _, replayed in results) == [False] + [True] * (THREADS - 1)
    assert {number for number, _ in results} == {"INV-000001"}
    with app.app_context():
        session = db.session
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
        assert session.scalar(select(func.count()).select_from(Email)) == 1
        assert session.scalar(select(DocumentCounter.last_number)) == 1
        invoice = session.get(Invoice, draft_id)
        assert (invoice.status, invoice.number) == ("open", "INV-000001")
        assert session.get(Customer, customer_id).balance_minor == -invoice.total_minor == -63130
        assert check_balances(session) == []


def test_drafts_and_one_time_charges_finalized_at_once_keep_numbers_gapless(pg_app):
    """Four customers: two finalize their drafts (each draft from two threads), two capture
    one time charges, all at once; the numbers are 1..N with none missing or twice."""
    app = pg_app
    drafting = [new_customer(app, name=f"Drafting {n} Ltd") for n in range(2)]
    capturing = [new_customer(app, name=f"Capturing {n} Ltd") for n in range(2)]
    each = 10
    drafts_of = {
        customer_id: [start_draft(app, customer_id, f"Line {n}")[0] for n in range(each)]
        for customer_id in drafting
    }

    def finalizer(customer_id):
        def work():
            for draft_id in drafts_of[customer_id]:
                billing.finalize_draft(db.session, customer_id, draft_id, None)

        return work

    def capturer(customer_id):
        def work():
            for index in range(each):
                billing.capture_one_time_charge(
                    db.session,
                    customer_id,
                    amount_minor=100 + index,
                    currency="EUR",
                    description=f"Charge {index}",
                    actor_id=None,
                    key=f"cap-{customer_id}-{index}",
                )

        return work

    workers = [finalizer(c) for c in drafting for _ in range(2)]
    workers += [capturer(c) for c in capturing]
    failures, _ = run_together(app, workers)

    assert failures == [], "\n".join(failures)
    total = each * (len(drafting) + len(capturing))
    with app.app_context():
        session = db.session
        numbers = session.scalars(select(Invoice.number).order_by(Invoice.number)).all()
        assert numbers == [f"INV-{n:06d}" for n in range(1, total + 1)]
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == total
        assert session.scalar(select(DocumentCounter.last_number)) == total
        assert check_balances(session) == []


@pytest.mark.parametrize("rounds", [6])
def test_a_draft_finalized_and_deleted_at_once_ends_as_one_of_the_two(pg_app, rounds):
    app = pg_app
    customer_id = new_customer(app)
    finalized = 0
    for _ in range(rounds):
        draft_id, version = start_draft(app, customer_id)
        outcomes: list[str] = []

        def finalize(draft_id=draft_id, outcomes=outcomes):
            try:
                billing.finalize_draft(db.session, customer_id, draft_id, None)
                outcomes.append("finalized")
            except LedgerError:
                outcomes.append("refused")

        def delete(draft_id=draft_id, outcomes=outcomes):
            try:
                deleted = drafts.delete_draft(db.session, customer_id, draft_id)
                outcomes.append("deleted" if deleted.existed else "gone")
            except LedgerError:
                outcomes.append("refused")

        failures, _ = run_together(app, [finalize, finalize, delete])
        assert failures == [], "\n".join(failures)
        with app.app_context():
            invoice = db.session.get(Invoice, draft_id)
            entries = db.session.scalars(
                select(LedgerEntry).where(LedgerEntry.invoice_id == draft_id)
            ).all()
            if invoice is None:
                assert entries == [] and "deleted" in outcomes
                assert "finalized" not in outcomes
            else:
                finalized += 1
                assert invoice.status == "open" and len(entries) == 1
                assert "deleted" not in outcomes
    with app.app_context():
        numbers = db.session.scalars(select(Invoice.number).order_by(Invoice.number)).all()
        assert numbers == [f"INV-{n:06d}" for n in range(1, finalized + 1)]  # gapless
        assert check_balances(db.session) == []
