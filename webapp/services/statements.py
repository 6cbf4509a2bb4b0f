"""Statement of account: one customer's money over a period, per currency.

A statement is read from the ledger, never stored. For each currency the
customer has used it gives the opening balance (every entry before the first
day), each entry of the period in the order it was posted, with the balance
after it, and the closing balance (every entry up to the end of the last day),
so opening + the period's entries = closing, currency by currency. Beside it,
the invoices still open at the end of the period, with their due dates and how
many days overdue they were that day.

Days are UTC days, as entries are stored and shown: a period from 2026-03-01 to
2026-03-31 holds the entries posted from 2026-03-01 00:00 up to, not including,
2026-04-01 00:00. An invoice counts as open at the end of the period if it was
issued by then and nothing had settled it yet (its payment, or the reversal of a
void), whatever its status is today.

The page, its PDF (``statement_pdf``) and the email (``statement_emails``) all show
the one frozen ``Statement`` that ``statement_for`` builds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from webapp.models.base import utcnow
from webapp.models.billing import (
    CreditNote,
    EntryKind,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    Seller,
)
from webapp.models.customer import Customer
from webapp.services.documents import address_text

# The period a statement covers unless asked otherwise: the last 90 days, today included.
DEFAULT_DAYS = 90
# The longest period one statement covers: a year, leap day included. Keeps one page
# (and one PDF) to a size a person reads, and the query bounded.
MAX_DAYS = 366

# The entries that settle an invoice: its payment, or the reversal that voids it.
SETTLING_KINDS = (EntryKind.PAYMENT.value, EntryKind.ADJUSTMENT.value)

FROM_AFTER_TO = "The start date must be on or before the end date."
TOO_LONG = f"A statement covers at most {MAX_DAYS} days: choose a later start date."


class StatementError(Exception):
    """A period or a request that cannot be served; ``field`` names the form field it
    belongs beside ("from", "to"), or None for the whole request."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def today() -> date:
    """Today's UTC date: the default end of a statement."""
    return utcnow().date()


@dataclass(frozen=True)
class Period:
    """From ``start`` to ``end``, both days included."""

    start: date
    end: date

    @property
    def starts_at(self) -> datetime:
        """The first instant of the period (UTC, naive as stored)."""
        return datetime.combine(self.start, time.min)

    @property
    def ends_before(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.end + timedelta(days=1), time.min)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def default_period(on: date | None = None) -> Period:
    """The last ``DEFAULT_DAYS`` days, ending ``on`` (today)."""
    end = on or today()
    return Period(end - timedelta(days=DEFAULT_DAYS - 1), end)


def period_between(start: date, end: date, on: date | None = None) -> Period:
    """The period from ``start`` to ``end``, or ``StatementError`` naming the field to fix:
    the end not after today (``on``), the start not after the end, at most ``MAX_DAYS``."""
    latest = on or today()
    if end > latest:
        raise StatementError(
            f"A statement cannot end after today ({latest.isoformat()}): "
            "entries after that do not exist yet.",
            "to",
        )
    if start > end:
        raise StatementError(FROM_AFTER_TO, "from")
    period = Period(start, end)
    if period.days > MAX_DAYS:
        raise StatementError(TOO_LONG, "from")
    return period


@dataclass(frozen=True)
class StatementEntry:
    """One ledger entry as the statement lists it, with the balance after it."""

    entry_id: int
    posted_at: datetime
    kind: str
    description: str
    amount_minor: int
    balance_after_minor: int
    invoice_id: int | None
    invoice_number: str | None
    credit_note_id: int | None
    credit_note_number: str | None

    @property
    def document(self) -> str:
        """The invoice or credit note number the entry belongs to, or ""."""
        return self.invoice_number or self.credit_note_number or ""


@dataclass(frozen=True)
class CurrencyStatement:
    """One currency of a statement: opening + sum(entries) = closing."""

    currency: str
    opening_minor: int
    entries: tuple[StatementEntry, ...]
    closing_minor: int

    @property
    def charges_minor(self) -> int:
        """The negative entries of the period, added up (a negative number or 0)."""
        return sum(entry.amount_minor for entry in self.entries if entry.amount_minor < 0)

    @property
    def credits_minor(self) -> int:
        """The positive entries of the period, added up."""
        return sum(entry.amount_minor for entry in self.entries if entry.amount_minor > 0)


@dataclass(frozen=True)
class OpenInvoice:
    """An invoice open at the end of the period."""

    invoice_id: int
    number: str
    currency: str
    issue_date: date
    due_date: date
    total_minor: int
    days_overdue: int  # 0 when not yet due on the statement's end date


@dataclass(frozen=True)
class Statement:
    """What a statement of account shows, read once: the page, the PDF and the email
    body are all drawn from it."""

    customer_id: int
    customer_code: str  # the visible customer ID
    customer_name: str
    company: str
    address_lines: tuple[str, ...]
    tax_id: str
    billing_currency: str
    seller: Seller
    # The legal entity's footer (bank details, payment instructions), as on invoices.
    footer_text: str
    period: Period
    made_on: date
    currencies: tuple[CurrencyStatement, ...]
    open_invoices: tuple[OpenInvoice, ...]

    @property
    def is_empty(self) -> bool:
        """Nothing to state: no balance and no entry in any currency."""
        return not self.currencies

    @property
    def overdue_invoices(self) -> tuple[OpenInvoice, ...]:
        return tuple(invoice for invoice in self.open_invoices if invoice.days_overdue > 0)

    def open_totals(self) -> list[tuple[int, str]]:
        """The open invoices added up per currency, (total_minor, currency), billing first."""
        totals: dict[str, int] = defaultdict(int)
        for invoice in self.open_invoices:
            totals[invoice.currency] += invoice.total_minor
        return sorted(
            ((total, currency) for currency, total in totals.items()),
            key=lambda pair: (pair[1] != self.billing_currency, pair[1]),
        )


def statement_for(
    session: Session, customer: Customer, period: Period, made_on: date | None = None
) -> Statement:
    """The statement of ``customer`` over ``period``: per currency (billing currency first,
    then by code) its opening balance, the period's entries and its closing balance; a
    currency shows when it has a balance at either end or an entry in the period. Then
    the invoices open at the end of the period, the most overdue first."""
    opening = _sums_before(session, customer.id, period.starts_at)
    rows = session.execute(
        select(
            LedgerEntry.id,
            LedgerEntry.created_at,
            LedgerEntry.kind,
            LedgerEntry.description,
            LedgerEntry.amount_minor,
            LedgerEntry.currency,
            Invoice.id,
            Invoice.number,
            CreditNote.id,
            CreditNote.number,
        )
        .outerjoin(Invoice, Invoice.id == LedgerEntry.invoice_id)
        .outerjoin(CreditNote, CreditNote.id == LedgerEntry.credit_note_id)
        .where(
            LedgerEntry.customer_id == customer.id,
            LedgerEntry.created_at >= period.starts_at,
            LedgerEntry.created_at < period.ends_before,
        )
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
    ).all()
    running = dict(opening)
    listed: dict[str, list[StatementEntry]] = defaultdict(list)
    for (
        entry_id,
        posted_at,
        kind,
        description,
        amount,
        currency,
        invoice_id,
        invoice_number,
        credit_note_id,
        credit_note_number,
    ) in rows:
        running[currency] = running.get(currency, 0) + amount
        listed[currency].append(
            StatementEntry(
                entry_id=entry_id,
                posted_at=posted_at,
                kind=kind,
                description=description,
                amount_minor=amount,
                balance_after_minor=running[currency],
                invoice_id=invoice_id,
                invoice_number=invoice_number,
                credit_note_id=credit_note_id,
                credit_note_number=credit_note_number,
            )
        )
    shown = [
        currency
        for currency in running
        if opening.get(currency, 0) or running[currency] or listed.get(currency)
    ]
    shown.sort(key=lambda code: (code != customer.currency, code))
    currencies = tuple(
        CurrencyStatement(
            currency=currency,
            opening_minor=opening.get(currency, 0),
            entries=tuple(listed.get(currency, ())),
            closing_minor=running[currency],
        )
        for currency in shown
    )
    entity = customer.legal_entity
    return Statement(
        customer_id=customer.id,
        customer_code=customer.customer_id,
        customer_name=customer.name,
        company=_company_beside(customer),
        address_lines=_address_lines(customer),
        tax_id=customer.tax_id,
        billing_currency=customer.currency,
        seller=Seller(entity.name, entity.address, entity.tax_id),
        footer_text=entity.invoice_footer,
        period=period,
        made_on=made_on or today(),
        currencies=currencies,
        open_invoices=tuple(open_invoices(session, customer.id, period.end)),
    )


def _sums_before(session: Session, customer_id: int, before: datetime) -> dict[str, int]:
    """Each currency's balance from every entry posted before ``before``."""
    return {
        currency: int(total)
        for currency, total in session.execute(
            select(LedgerEntry.currency, func.sum(LedgerEntry.amount_minor))
            .where(LedgerEntry.customer_id == customer_id, LedgerEntry.created_at < before)
            .group_by(LedgerEntry.currency)
        )
    }


def open_invoices(session: Session, customer_id: int, on: date) -> list[OpenInvoice]:
    """The customer's invoices open at the end of day ``on``: issued by then and not
    settled by an entry (payment, void reversal) posted by then; the longest overdue
    first, then by due date and number."""
    settled_by = datetime.combine(on + timedelta(days=1), time.min)
    settling = aliased(LedgerEntry)
    settled = exists().where(
        and_(
            settling.invoice_id == Invoice.id,
            settling.kind.in_(SETTLING_KINDS),
            settling.created_at < settled_by,
        )
    )
    invoices = session.execute(
        select(
            Invoice.id,
            Invoice.number,
            Invoice.currency,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.total_minor,
        )
        .where(
            Invoice.customer_id == customer_id,
            Invoice.status != InvoiceStatus.DRAFT,
            Invoice.issue_date <= on,
            ~settled,
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    return [
        OpenInvoice(
            invoice_id=invoice_id,
            number=number,
            currency=currency,
            issue_date=issue_date,
            due_date=due_date,
            total_minor=total,
            days_overdue=days_overdue(due_date, on),
        )
        for invoice_id, number, currency, issue_date, due_date, total in invoices
    ]


def days_overdue(due_date: date, on: date) -> int:
    """Whole days past the due date on ``on``: 0 on the due date itself and before it."""
    return max(0, (on - due_date).days)


def _company_beside(customer: Customer) -> str:
    """The company, when it adds something to the name (not again under a name that is it)."""
    if customer.company and customer.company.lower().split() != customer.name.lower().split():
        return customer.company
    return ""


def _address_lines(customer: Customer) -> tuple[str, ...]:
    """The customer's billing address as documents print it, country last."""
    text = address_text(
        customer.address_line1,
        customer.address_line2,
        customer.postal_code,
        customer.city,
        customer.region,
        customer.country,
    )
    return tuple(text.splitlines())


# -- the name an emailed statement goes by -------------------------------------------

EMAIL_KIND = "statement"  # Email.kind of a statement email

_NAME = re.compile(r"Statement (\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2})")


def statement_name(period: Period) -> str:
    """What a statement email is called (the Emails tab, its subject, its PDF's name):
    "Statement 2026-03-01 to 2026-03-31"."""
    return f"Statement {period.start.isoformat()} to {period.end.isoformat()}"


def period_named(name: str) -> Period | None:
    """The period ``statement_name`` wrote into ``name``, or None if it holds none."""
    found = _NAME.fullmatch(name)
    if found is None:
        return None
    try:
        return Period(date.fromisoformat(found[1]), date.fromisoformat(found[2]))
    except ValueError:
        return None
