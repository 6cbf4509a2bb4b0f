"""The ledger: append-only entries and the balances kept with them.

Every posting locks the customer row (PostgreSQL ``SELECT … FOR UPDATE``;
SQLite serialises writers itself), writes the entry, and moves the
per-currency balance and, for the billing currency, the customer's
``balance_minor`` in the same transaction. Transient conflicts
(serialisation failures, deadlocks, a busy SQLite file) are retried, so
staff never see them. An idempotency key makes a retried or double-clicked
form post exactly once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import func, literal, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.billing import CustomerBalance, EntryKind, LedgerEntry
from webapp.models.customer import Customer
from webapp.services import guard
from webapp.services.reference import currency_codes

T = TypeVar("T")

MAX_ATTEMPTS = 8
# PostgreSQL serialization_failure, deadlock_detected, lock_not_available
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}


class LedgerError(Exception):
    """A posting was refused; the message is shown to staff."""


class RepeatedEntryError(LedgerError):
    """An identical entry was just recorded under another form key: staff must confirm it."""


# How long an identical entry counts as "just recorded".
REPEAT_WINDOW = timedelta(minutes=10)


def refuse_recent_repeat(
    session: Session, customer_id: int, amount_minor: int, currency: str, description: str
) -> None:
    """Raise ``RepeatedEntryError`` on the same amount and description within ``REPEAT_WINDOW``."""
    since = utcnow() - REPEAT_WINDOW
    recent = session.scalar(
        select(LedgerEntry)
        .where(
            LedgerEntry.customer_id == customer_id,
            LedgerEntry.currency == currency,
            LedgerEntry.amount_minor == amount_minor,
            LedgerEntry.description == description,
            LedgerEntry.created_at >= since,
        )
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )
    if recent is None:
        return
    minutes = max(1, round((utcnow() - recent.created_at).total_seconds() / 60))
    document = (
        recent.invoice.number
        if recent.invoice
        else (recent.credit_note.number if recent.credit_note else "An entry")
    )
    raise RepeatedEntryError(
        f"{document} with this amount and description was recorded {minutes} "
        f"minute{'s' if minutes != 1 else ''} ago. If this is a second one, tick "
        "“Record it again” and submit."
    )


def _retryable(error: Exception) -> bool:
    original = getattr(error, "orig", None)
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    return isinstance(error, OperationalError) and "database is locked" in str(original)


def in_transaction(session: Session, work: Callable[[], T]) -> T:
    """Run ``work`` and commit, retrying transient conflicts with jittered back-off."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            result = work()
            session.commit()
            return result
        except (OperationalError, IntegrityError) as error:
            session.rollback()
            if not _retryable(error) or attempt == MAX_ATTEMPTS:
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
        except Exception:
            session.rollback()  # a refusal (LedgerError) leaves nothing half-written
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def lock_customer(session: Session, customer_id: int) -> Customer:
    """``guard.lock_customer`` for postings: a deleted customer is a ``LedgerError``."""
    try:
        return guard.lock_customer(session, customer_id)
    except guard.CustomerGone as gone:
        raise LedgerError(str(gone)) from None


def find_by_key(session: Session, key: str | None) -> LedgerEntry | None:
    if not key:
        return None
    return session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))


def add_entry(
    session: Session,
    customer: Customer,
    *,
    kind: EntryKind,
    amount_minor: int,
    currency: str,
    description: str,
    actor_id: int | None,
    key: str | None = None,
    payment_method: str = "",
    reference: str = "",
    invoice_id: int | None = None,
    credit_note_id: int | None = None,
) -> LedgerEntry:
    """Write one entry and move the balances; the caller holds the customer lock and commits."""
    if amount_minor == 0:
        raise LedgerError("An entry cannot be zero.")
    entry = LedgerEntry(
        customer_id=customer.id,
        currency=currency,
        amount_minor=amount_minor,
        kind=kind.value,
        description=description,
        payment_method=payment_method,
        reference=reference,
        staff_id=actor_id,
        idempotency_key=key,
        invoice_id=invoice_id,
        credit_note_id=credit_note_id,
        created_at=utcnow(),
    )
    session.add(entry)
    balance = session.scalar(
        select(CustomerBalance)
        .where(CustomerBalance.customer_id == customer.id, CustomerBalance.currency == currency)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if balance is None:
        balance = CustomerBalance(customer_id=customer.id, currency=currency, balance_minor=0)
        session.add(balance)
    balance.balance_minor += amount_minor
    balance.updated_at = utcnow()
    if currency == customer.currency:
        customer.balance_minor = balance.balance_minor
    session.flush()
    mirror_currencies(session, customer)
    return entry


def mirror_currencies(session: Session, customer: Customer) -> None:
    """Keep the customer's every-currency flags (owes_any, credit_any, other_currencies)
    in step with its balances, in the caller's transaction (under the customer's lock)."""
    amounts = session.execute(
        select(CustomerBalance.currency, CustomerBalance.balance_minor).where(
            CustomerBalance.customer_id == customer.id
        )
    ).all()
    customer.owes_any = any(amount < 0 for _, amount in amounts)
    customer.credit_any = any(amount > 0 for _, amount in amounts)
    customer.other_currencies = sum(
        1 for currency, amount in amounts if amount and currency != customer.currency
    )


@dataclass(frozen=True)
class Posted:
    entry: LedgerEntry
    replayed: bool  # True when the key had been used: nothing new was written


def post_entry(
    session: Session,
    customer_id: int,
    *,
    kind: EntryKind,
    amount_minor: int,
    currency: str,
    description: str,
    actor_id: int | None,
    key: str | None,
    payment_method: str = "",
    reference: str = "",
    allow_repeat: bool = True,
) -> Posted:
    """Add entry (Charge < 0, Credit > 0) once per key; ``allow_repeat=False``: confirm repeats."""
    if amount_minor == 0:
        raise LedgerError("An entry cannot be zero.")
    if currency not in currency_codes():
        raise LedgerError("Choose a currency from the list.")
    if (kind == EntryKind.CHARGE and amount_minor >= 0) or (
        kind == EntryKind.CREDIT and amount_minor <= 0
    ):
        raise LedgerError("A charge is negative and a credit positive.")

    def write(customer: Customer) -> LedgerEntry:
        if not allow_repeat:
            refuse_recent_repeat(session, customer_id, amount_minor, currency, description)
        return add_entry(
            session,
            customer,
            kind=kind,
            amount_minor=amount_minor,
            currency=currency,
            description=description,
            actor_id=actor_id,
            key=key,
            payment_method=payment_method,
            reference=reference,
        )

    def same_request(entry: LedgerEntry) -> bool:
        return (entry.customer_id, entry.currency, entry.amount_minor, entry.description) == (
            customer_id,
            currency,
            amount_minor,
            description,
        )

    entry, replayed = post_once(session, customer_id, key, write, same_request)
    return Posted(entry, replayed=replayed)


KEY_REUSED = "This form was already submitted with other values. Reload it and try again."


def post_once(
    session: Session,
    customer_id: int,
    key: str | None,
    write: Callable[[Customer], T],
    same_request: Callable[[Any], bool],
    find: Callable[[Session, str | None], Any] = find_by_key,
) -> tuple[Any, bool]:
    """Run ``write`` under the customer's lock in one transaction, once per key.

    The key is checked under the lock, so a replay (double click, resubmitted form,
    retried request) finds the first request's entry however the two interleave;
    should two still race, the unique key refuses the second and its replay is
    returned. The flag says whether this call was a replay. A key that comes back with
    other values (Back, edit the amount, submit) is refused rather than taken for a
    replay, so nothing is silently dropped. ``find`` looks the key up (by default among
    the ledger entries; a draft invoice keeps the key of the form that started it).
    """

    def replay(found: Any) -> tuple[Any, bool]:
        if not same_request(found):
            raise LedgerError(KEY_REUSED)
        return found, True

    def work() -> tuple[Any, bool]:
        customer = lock_customer(session, customer_id)
        again = find(session, key)
        if again is not None:
            return replay(again)
        return write(customer), False

    try:
        return in_transaction(session, work)
    except IntegrityError:
        existing = find(session, key)
        if existing is None:
            raise
        return replay(existing)


def balances(session: Session, customer: Customer) -> list[CustomerBalance]:
    """Each currency the customer has used, billing currency first."""
    rows = session.scalars(
        select(CustomerBalance).where(CustomerBalance.customer_id == customer.id)
    ).all()
    return sorted(rows, key=lambda row: (row.currency != customer.currency, row.currency))


def has_money_moved(session: Session, customer_id: int) -> bool:
    return (
        session.scalar(
            select(LedgerEntry.id).where(LedgerEntry.customer_id == customer_id).limit(1)
        )
        is not None
    )


@dataclass(frozen=True)
class Mismatch:
    customer_id: int
    currency: str
    kept_minor: int
    derived_minor: int


def check_balances(session: Session) -> list[Mismatch]:
    """Recompute every balance from the entries; list mismatches (rows, missing rows, mirrors)."""
    sums = (
        select(
            LedgerEntry.customer_id.label("customer_id"),
            LedgerEntry.currency.label("currency"),
            func.sum(LedgerEntry.amount_minor).label("total"),
        )
        .group_by(LedgerEntry.customer_id, LedgerEntry.currency)
        .subquery()
    )
    derived = func.coalesce(sums.c.total, 0)
    kept_rows = (
        select(
            CustomerBalance.customer_id,
            CustomerBalance.currency,
            CustomerBalance.balance_minor,
            derived,
        )
        .outerjoin(
            sums,
            (sums.c.customer_id == CustomerBalance.customer_id)
            & (sums.c.currency == CustomerBalance.currency),
        )
        .where(CustomerBalance.balance_minor != derived)
    )
    missing_rows = (
        select(sums.c.customer_id, sums.c.currency, literal(0), sums.c.total)
        .outerjoin(
            CustomerBalance,
            (sums.c.customer_id == CustomerBalance.customer_id)
            & (sums.c.currency == CustomerBalance.currency),
        )
        .where(CustomerBalance.customer_id.is_(None), sums.c.total != 0)
    )
    mirror_rows = (
        select(Customer.id, Customer.currency, Customer.balance_minor, derived)
        .outerjoin(
            sums, (sums.c.customer_id == Customer.id) & (sums.c.currency == Customer.currency)
        )
        .where(Customer.balance_minor != derived)
    )
    found: dict[tuple[int, str], Mismatch] = {}
    for statement in (kept_rows, missing_rows, mirror_rows):
        for customer_id, currency, kept, total in session.execute(statement):
            found.setdefault((customer_id, currency), Mismatch(customer_id, currency, kept, total))
    return sorted(found.values(), key=lambda m: (m.customer_id, m.currency))
