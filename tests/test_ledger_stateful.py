"""A Hypothesis state machine over the ledger services (SQLite, for speed).

Random sequences of charges, credits, one-time charges (invoices and credit
notes), payments, refunds, voids, replays and gateway switches; after every
step the database must agree with a plain-Python model of what should be
there, and with itself (balance rows = sums of entries = the customer's mirror).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from tests.conftest import empty_database, make_app
from webapp.extensions import db
from webapp.models.billing import (
    CreditNote,
    CustomerBalance,
    EntryKind,
    Invoice,
    LedgerEntry,
)
from webapp.models.customer import Customer
from webapp.services.billing import ALLOWED, capture_one_time_charge, change_invoice_status
from webapp.services.customers import create_customer
from webapp.services.ledger import LedgerError, check_balances, post_entry
from webapp.services.money import tax_for

CURRENCIES = ["EUR", "JPY", "USD"]
BILLING_CURRENCY = "EUR"
TODAY = date(2026, 3, 15)

currencies = st.sampled_from(CURRENCIES)
amounts = st.integers(min_value=1, max_value=10**9)


class LedgerMachine(RuleBasedStateMachine):
    app = None  # set by the test before the machine runs

    invoices = Bundle("invoices")

    def __init__(self):
        super().__init__()
        self.context = self.app.app_context()
        self.context.push()
        self.session = db.session
        self.keys = itertools.count(1)
        self.expected: dict[str, int] = defaultdict(int)
        # invoice id -> {"total", "currency", "status"}; credit note id -> (total, currency)
        self.model_invoices: dict[int, dict] = {}
        self.model_credit_notes: dict[int, tuple[int, str]] = {}
        self.used_keys: dict[str, int] = {}  # key -> entry id
        self.gateway = "manual"

    def teardown(self):
        self.session.rollback()
        self.context.pop()
        empty_database(self.app)

    def key(self) -> str:
        return f"key-{next(self.keys)}"

    # -- set-up -------------------------------------------------------------------------

    @initialize(
        tax_rate_bp=st.sampled_from([0, 700, 1900, 2000, 1234, 2750]),
        terms=st.sampled_from([0, 14, 30]),
    )
    def create_the_customer(self, tax_rate_bp, terms):
        customer = create_customer(
            self.session,
            {
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "country": "DE",
                "currency": BILLING_CURRENCY,
                "tax_rate_bp": tax_rate_bp,
                "payment_terms_days": terms,
            },
        )
        self.customer_id = customer.id
        self.tax_rate_bp = tax_rate_bp
        self.terms = terms

    # -- rules ----------------------------------------------------------------------------

    @rule(minor=amounts, currency=currencies, is_charge=st.booleans())
    def add_entry(self, minor, currency, is_charge):
        signed = -minor if is_charge else minor
        key = self.key()
        posted = post_entry(
            self.session,
            self.customer_id,
            kind=EntryKind.CHARGE if is_charge else EntryKind.CREDIT,
            amount_minor=signed,
            currency=currency,
            description="Add entry",
            actor_id=None,
            key=key,
        )
        assert posted.replayed is False
        assert posted.entry.amount_minor == signed
        self.used_keys[key] = posted.entry.id
        self.expected[currency] += signed

    @rule(target=invoices, net=amounts, currency=currencies)
    def invoice(self, net, currency):
        key = self.key()
        result = capture_one_time_charge(
            self.session,
            self.customer_id,
            amount_minor=net,
            currency=currency,
            description="One time charge",
            actor_id=None,
            key=key,
            today=TODAY,
        )
        invoice = result.invoice
        assert result.credit_note is None and not result.replayed
        total = net + tax_for(net, self.tax_rate_bp)
        assert invoice.total_minor == total
        assert invoice.due_date == TODAY + timedelta(days=self.terms)
        assert result.entry.amount_minor == -total
        self.used_keys[key] = result.entry.id
        self.model_invoices[invoice.id] = {"total": total, "currency": currency, "status": "open"}
        self.expected[currency] -= total
        return invoice.id

    @rule(minor=amounts, currency=currencies)
    def credit_note(self, minor, currency):
        key = self.key()
        if self.gateway != "manual":
            before = self.counts()
            with pytest.raises(LedgerError, match="does not support credit notes"):
                capture_one_time_charge(
                    self.session,
                    self.customer_id,
                    amount_minor=-minor,
                    currency=currency,
                    description="Refused credit",
                    actor_id=None,
                    key=key,
                    today=TODAY,
                )
            assert self.counts() == before
            return
        result = capture_one_time_charge(
            self.session,
            self.customer_id,
            amount_minor=-minor,
            currency=currency,
            description="Credit",
            actor_id=None,
            key=key,
            today=TODAY,
        )
        assert result.invoice is None and not result.replayed
        assert result.credit_note.total_minor == minor
        assert result.entry.amount_minor == minor
        self.used_keys[key] = result.entry.id
        self.model_credit_notes[result.credit_note.id] = (minor, currency)
        self.expected[currency] += minor

    @rule(invoice_id=invoices, data=st.data())
    def change_status(self, invoice_id, data):
        model = self.model_invoices[invoice_id]
        # Mostly an action the status allows (so paid → refunded is reached), sometimes any
        # action, to exercise the refusals.
        valid = [action for action, (sources, _) in ALLOWED.items() if model["status"] in sources]
        action = data.draw(st.sampled_from(valid * 3 + sorted(ALLOWED)), label="action")
        allowed_from, new_status = ALLOWED[action]
        if model["status"] not in allowed_from:
            before = self.counts()
            with pytest.raises(LedgerError, match="cannot be"):
                change_invoice_status(self.session, invoice_id, action, None)
            assert self.counts() == before
            return
        invoice = change_invoice_status(self.session, invoice_id, action, None)
        assert invoice.status == new_status
        if action in ("pay", "void"):
            self.expected[model["currency"]] += model["total"]
        # a refund posts -total and reverses the charge with +total: no net change
        model["status"] = new_status.value

    @rule(data=st.data())
    def replay_a_key(self, data):
        if not self.used_keys:
            return
        key = data.draw(st.sampled_from(sorted(self.used_keys)))
        before = self.counts()
        # A used key sent again with other values is refused, and writes nothing.
        with pytest.raises(LedgerError, match="already submitted with other values"):
            post_entry(
                self.session,
                self.customer_id,
                kind=EntryKind.CHARGE,
                amount_minor=-1,
                currency="EUR",
                description="Resubmitted",
                actor_id=None,
                key=key,
            )
        with pytest.raises(LedgerError, match="already submitted with other values"):
            capture_one_time_charge(
                self.session,
                self.customer_id,
                amount_minor=5,
                currency="EUR",
                description="Resubmitted",
                actor_id=None,
                key=key,
                today=TODAY,
            )
        assert self.counts() == before

    @rule(gateway=st.sampled_from(["manual", "card_refunds_only"]))
    def switch_gateway(self, gateway):
        customer = self.session.get(Customer, self.customer_id)
        customer.payment_gateway = gateway
        self.session.commit()
        self.gateway = gateway

    @rule()
    def refuse_zero(self):
        before = self.counts()
        with pytest.raises(LedgerError):
            capture_one_time_charge(
                self.session,
                self.customer_id,
                amount_minor=0,
                currency="EUR",
                description="Zero",
                actor_id=None,
                key=self.key(),
            )
        with pytest.raises(LedgerError):
            post_entry(
                self.session,
                self.customer_id,
                kind=EntryKind.CHARGE,
                amount_minor=0,
                currency="EUR",
                description="Zero",
                actor_id=None,
                key=self.key(),
            )
        assert self.counts() == before

    # -- what the database holds ---------------------------------------------------------

    def counts(self) -> tuple:
        session = self.session
        return (
            session.scalar(select(func.count()).select_from(LedgerEntry)),
            session.scalar(select(func.count()).select_from(Invoice)),
            session.scalar(select(func.count()).select_from(CreditNote)),
            tuple(
                session.execute(
                    select(CustomerBalance.currency, CustomerBalance.balance_minor).order_by(
                        CustomerBalance.currency
                    )
                ).all()
            ),
            tuple(session.execute(select(Invoice.id, Invoice.status).order_by(Invoice.id)).all()),
        )

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def balances_agree_with_entries_and_the_model(self):
        if not hasattr(self, "customer_id"):
            return
        session = self.session
        rows = dict(
            session.execute(
                select(CustomerBalance.currency, CustomerBalance.balance_minor).where(
                    CustomerBalance.customer_id == self.customer_id
                )
            ).all()
        )
        sums = {
            currency: int(total)
            for currency, total in session.execute(
                select(LedgerEntry.currency, func.sum(LedgerEntry.amount_minor))
                .where(LedgerEntry.customer_id == self.customer_id)
                .group_by(LedgerEntry.currency)
            ).all()
        }
        for currency in set(rows) | set(sums) | set(self.expected):
            assert rows.get(currency, 0) == sums.get(currency, 0), currency
            assert sums.get(currency, 0) == self.expected.get(currency, 0), currency
        mirror = session.scalar(
            select(Customer.balance_minor).where(Customer.id == self.customer_id)
        )
        assert mirror == rows.get(BILLING_CURRENCY, 0)
        assert check_balances(session) == []

    @invariant()
    def invoices_agree_with_their_entries(self):
        session = self.session
        invoices = session.execute(
            select(
                Invoice.id,
                Invoice.number,
                Invoice.currency,
                Invoice.subtotal_minor,
                Invoice.tax_rate_bp,
                Invoice.tax_minor,
                Invoice.total_minor,
                Invoice.status,
            ).order_by(Invoice.id)
        ).all()
        assert set(self.model_invoices) == {row.id for row in invoices}
        for row in invoices:
            model = self.model_invoices[row.id]
            assert row.total_minor == row.subtotal_minor + row.tax_minor
            assert row.tax_minor == tax_for(row.subtotal_minor, row.tax_rate_bp)
            assert row.total_minor == model["total"]
            assert row.status == model["status"]
            entries = session.execute(
                select(LedgerEntry.currency, LedgerEntry.amount_minor).where(
                    LedgerEntry.invoice_id == row.id
                )
            ).all()
            assert {currency for currency, _ in entries} == {row.currency}
            net = sum(minor for _, minor in entries)
            assert net == (-row.total_minor if row.status == "open" else 0), row.status
        numbers = [row.number for row in invoices]
        assert numbers == [f"INV-{n:06d}" for n in range(1, len(numbers) + 1)]

    @invariant()
    def credit_notes_agree_with_their_entries(self):
        session = self.session
        notes = session.execute(
            select(
                CreditNote.id, CreditNote.number, CreditNote.total_minor, CreditNote.currency
            ).order_by(CreditNote.id)
        ).all()
        assert set(self.model_credit_notes) == {row.id for row in notes}
        for row in notes:
            assert (row.total_minor, row.currency) == self.model_credit_notes[row.id]
            entries = session.execute(
                select(LedgerEntry.kind, LedgerEntry.amount_minor).where(
                    LedgerEntry.credit_note_id == row.id
                )
            ).all()
            assert entries == [("credit", row.total_minor)]
        numbers = [row.number for row in notes]
        assert numbers == [f"CN-{n:06d}" for n in range(1, len(numbers) + 1)]


def test_ledger_state_machine(instance_dir, tmp_path):
    LedgerMachine.app = make_app(f"sqlite:///{tmp_path / 'stateful.db'}", instance_dir)
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
