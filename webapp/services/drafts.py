"""Draft invoices: prepared by staff, numbered, charged and emailed only when finalized.

A customer whose Invoicing flow is Manual is not invoiced on the spot: Capture one
time charge (a positive amount) and Invoice on a sale start a draft instead, and New
invoice on the Invoices tab starts one for any customer. A draft is an invoice with
status "draft" and no number, no ledger entry and no email. Staff add, change and
remove its lines (description, quantity, unit price), set its due date and supply
date, or delete it; the customer's balance and the invoice numbering do not move.
Finalize (``billing.finalize_draft``) takes the next number of the legal entity's
series, stores seller and buyer as issued, charges the total and emails it, once.

Tax is the customer's rate (its tax class) on every line, as on an invoice captured
at once: a draft shows the rate of today, and finalizing takes the rate of that day.

Every change happens under the customer's lock, the lock postings take, so a draft
cannot change while it is being finalized; its ``version`` tells a save or a Finalize
that started from an older view of it (another tab saved it meanwhile).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from webapp.models.base import utcnow
from webapp.models.billing import Invoice, InvoiceLine, InvoiceStatus
from webapp.models.crm import Sale, SaleStatus
from webapp.models.customer import Customer
from webapp.services.ledger import LedgerError, in_transaction, lock_customer, post_once
from webapp.services.money import (
    MAX_MAJOR_UNITS,
    AmountError,
    exponent,
    format_money,
    parse_amount,
    tax_for,
)
from webapp.services.reference import currency_codes

DESCRIPTION_MAX = 500
QUANTITY_MAX = 1_000_000
LINES_MAX = 100
# The fields of a line as a form sends them, in the order it shows them.
LINE_FIELDS = ("description", "quantity", "unit_price")

DRAFT_GONE = "This draft invoice no longer exists: it was deleted."
NO_LINES = "Add at least one line: a description, a quantity and a unit price."


class DraftError(LedgerError):
    """A draft was refused; ``field`` is the form field the message goes beside (None: above
    the form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DraftLinesError(DraftError):
    """Lines that cannot be used: ``problems`` maps (row, field) to its message, the row
    counted among the rows as sent (blank ones included)."""

    def __init__(self, problems: dict[tuple[int, str], str]) -> None:
        super().__init__("Correct the lines marked below.", "lines")
        self.problems = problems


class DraftChanged(DraftError):
    """Saved (or finalized) from a view older than the draft: someone else saved it meanwhile.
    ``version`` is the draft's version now: a form reopened at it can save on purpose."""

    def __init__(self, message: str, version: int) -> None:
        super().__init__(message)
        self.version = version


@dataclass(frozen=True)
class DraftLine:
    """A line as staff entered it: the net amount is quantity x unit price."""

    description: str
    quantity: int
    unit_price_minor: int

    @property
    def net_minor(self) -> int:
        return self.quantity * self.unit_price_minor


# -- reading what staff typed -----------------------------------------------------------


def _quantity(text: str) -> int:
    raw = text.strip().replace(",", "")
    if not raw:
        raise ValueError("Enter a quantity.")
    if not re.fullmatch(r"[+-]?\d+", raw) or len(raw) > 12:
        raise ValueError("Enter the quantity as a whole number, e.g. 3.")
    quantity = int(raw)
    if quantity < 1:
        raise ValueError("The quantity must be at least 1.")
    if quantity > QUANTITY_MAX:
        raise ValueError(f"The quantity can be at most {QUANTITY_MAX:,}.")
    return quantity


def _line_problems(line: DraftLine, currency: str) -> dict[str, str]:
    """What is wrong with a line's values, by field (also for callers that never typed)."""
    problems = {}
    if not line.description.strip():
        problems["description"] = "Enter a description: it is what the customer sees."
    elif len(line.description) > DESCRIPTION_MAX:
        problems["description"] = f"A description can be at most {DESCRIPTION_MAX} characters."
    if not 1 <= line.quantity <= QUANTITY_MAX:
        problems["quantity"] = f"The quantity must be a whole number from 1 to {QUANTITY_MAX:,}."
    largest = MAX_MAJOR_UNITS * 10 ** exponent(currency)
    if line.unit_price_minor <= 0:
        problems["unit_price"] = "Enter a positive unit price."
    elif line.unit_price_minor > largest:
        problems["unit_price"] = (
            f"That is more than {format_money(largest, currency)}; check the unit price."
        )
    return problems


def is_blank(row: Mapping[str, str]) -> bool:
    """A row with nothing typed in it (the empty row Add line gives): left out, not refused."""
    return not any((row.get(name) or "").strip() for name in LINE_FIELDS)


def read_lines(rows: Sequence[Mapping[str, str]], currency: str) -> list[DraftLine]:
    """The lines of a draft form (description, quantity, unit price as typed, in
    ``currency``), blank rows left out; every problem of every row at once in a
    ``DraftLinesError``."""
    if currency not in currency_codes():
        raise DraftError("Choose a currency from the list.", "currency")
    lines: list[DraftLine] = []
    problems: dict[tuple[int, str], str] = {}
    for index, row in enumerate(rows):
        if is_blank(row):
            continue
        description = (row.get("description") or "").strip()
        found: dict[str, str] = {}
        quantity = price = 0
        try:
            quantity = _quantity(row.get("quantity") or "")
        except ValueError as error:
            found["quantity"] = str(error)
        try:
            price = parse_amount(row.get("unit_price"), currency, allow_negative=False)
        except AmountError as error:
            found["unit_price"] = str(error)
        line = DraftLine(description, quantity or 1, price or 1)
        found = {**_line_problems(line, currency), **found}
        if found:
            problems.update({(index, name): message for name, message in found.items()})
        else:
            lines.append(DraftLine(description, quantity, price))
    if problems:
        raise DraftLinesError(problems)
    return lines


# -- the rules ----------------------------------------------------------------------


def check_draft(
    currency: str,
    lines: Sequence[DraftLine],
    due_date: date | None,
    today: date,
) -> None:
    """A draft's values as a service receives them: a currency, 1 to LINES_MAX valid lines
    and a total within bounds, a due date (if any) not before today."""
    if currency not in currency_codes():
        raise DraftError("Choose a currency from the list.", "currency")
    if not lines:
        raise DraftError(NO_LINES, "lines")
    if len(lines) > LINES_MAX:
        raise DraftError(f"A draft can have at most {LINES_MAX} lines.", "lines")
    problems = {
        (index, name): message
        for index, line in enumerate(lines)
        for name, message in _line_problems(line, currency).items()
    }
    if problems:
        raise DraftLinesError(problems)
    largest = MAX_MAJOR_UNITS * 10 ** exponent(currency)
    if sum(line.net_minor for line in lines) > largest:
        raise DraftError(
            f"The lines add up to more than {format_money(largest, currency)}; check them.",
            "lines",
        )
    if due_date is not None and due_date < today:
        raise DraftError("The due date cannot be before today.", "due_date")


def totals(lines: Sequence[DraftLine], rate_bp: int) -> tuple[int, int, int]:
    """(subtotal, tax, total) of the lines at one rate: tax on the subtotal, rounded half up,
    as on an invoice captured at once."""
    subtotal = sum(line.net_minor for line in lines)
    tax = tax_for(subtotal, rate_bp)
    return subtotal, tax, subtotal + tax


def lines_of(invoice: Invoice) -> list[DraftLine]:
    """A draft's lines as DraftLine values (for the edit form and for comparing)."""
    return [
        DraftLine(line.description, line.quantity, line.unit_price_minor) for line in invoice.lines
    ]


def apply_customer_rate(invoice: Invoice, customer: Customer) -> None:
    """Tax every line at the customer's rate now and total the invoice; the seller is the
    customer's legal entity now (a draft follows the customer until it is finalized)."""
    rate = customer.tax_rate_bp
    for line in invoice.lines:
        line.tax_rate_bp = rate
    subtotal, tax, total = totals(lines_of(invoice), rate)
    invoice.tax_rate_bp = rate
    invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor = subtotal, tax, total
    invoice.legal_entity_id = customer.legal_entity_id


def _set_lines(invoice: Invoice, customer: Customer, lines: Sequence[DraftLine]) -> None:
    invoice.lines = [
        InvoiceLine(
            description=line.description,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            amount_minor=line.net_minor,
            tax_rate_bp=customer.tax_rate_bp,
        )
        for line in lines
    ]
    apply_customer_rate(invoice, customer)


def finalize_refusal(invoice: Invoice, today: date) -> str | None:
    """Why this draft cannot be finalized today, or None."""
    if not invoice.lines:
        return NO_LINES
    if invoice.due_date is not None and invoice.due_date < today:
        return (
            f"The due date {invoice.due_date:%Y-%m-%d} is before today: edit the draft and "
            "change it (or leave it empty for the payment terms) first."
        )
    return None


def summary(invoice: Invoice) -> str:
    """One line naming a draft for messages: "Draft invoice for €238.00 (2 lines)"."""
    count = len(invoice.lines)
    total = format_money(invoice.total_minor, invoice.currency)
    return f"{invoice.label} for {total} ({count} line{'s' if count != 1 else ''})"


# -- reading and locking one draft --------------------------------------------------------


def find_by_key(session: Session, key: str | None) -> Invoice | None:
    """The invoice a draft form with this key started, if any."""
    if not key:
        return None
    return session.scalar(select(Invoice).where(Invoice.draft_key == key))


def current_draft(
    session: Session, customer_id: int, invoice_id: int, opened_version: int | None = None
) -> Invoice:
    """The customer's draft read afresh (call it under the customer's lock), or a refusal:
    deleted, already issued, or (with ``opened_version``) saved by someone else since."""
    invoice = session.get(Invoice, invoice_id, populate_existing=True)
    if invoice is None or invoice.customer_id != customer_id:
        raise DraftError(DRAFT_GONE)
    if not invoice.is_draft:
        raise DraftError(
            f"This draft was finalized as {invoice.number}: an issued invoice cannot be changed."
        )
    if opened_version is not None and invoice.version != opened_version:
        raise DraftChanged(
            f"Someone else saved this draft since you opened it: it is now {summary(invoice)}. "
            "Check it; to keep what you entered, save again.",
            invoice.version,
        )
    return invoice


# -- starting, saving and deleting ------------------------------------------------------


@dataclass(frozen=True)
class Drafted:
    """The draft a form started; ``replayed`` when an earlier submit of the form had."""

    invoice: Invoice
    replayed: bool


def start_draft(
    session: Session,
    customer_id: int,
    *,
    currency: str,
    lines: Sequence[DraftLine],
    actor_id: int | None,
    key: str | None,
    due_date: date | None = None,
    supply_date: date | None = None,
    today: date | None = None,
    on_written: Callable[[Invoice], None] | None = None,
) -> Drafted:
    """Start a draft invoice for the customer, once per form ``key`` (a resubmitted form
    finds the first draft). ``on_written(invoice)`` runs under the customer's lock in the
    same transaction (a sale marked invoiced with its draft); a ``LedgerError`` it raises
    undoes the draft."""
    started = today or utcnow().date()
    check_draft(currency, lines, due_date, started)
    lines = list(lines)

    def write(customer: Customer) -> Invoice:
        invoice = Invoice(
            customer_id=customer.id,
            legal_entity_id=customer.legal_entity_id,
            currency=currency,
            issue_date=started,
            due_date=due_date,
            supply_date=supply_date,
            status=InvoiceStatus.DRAFT,
            staff_id=actor_id,
            draft_key=key or None,
            subtotal_minor=0,
            total_minor=0,
        )
        _set_lines(invoice, customer, lines)
        session.add(invoice)
        session.flush()
        if on_written is not None:
            on_written(invoice)
        return invoice

    def same_request(found: Invoice) -> bool:
        return (
            found.customer_id == customer_id
            and found.currency == currency
            and lines_of(found) == lines
        )

    invoice, replayed = post_once(session, customer_id, key, write, same_request, find=find_by_key)
    return Drafted(invoice, replayed)


def save_draft(
    session: Session,
    customer_id: int,
    invoice_id: int,
    *,
    currency: str,
    lines: Sequence[DraftLine],
    due_date: date | None,
    supply_date: date | None,
    opened_version: int | None = None,
    today: date | None = None,
) -> Invoice:
    """Save a draft's lines, currency and dates (its lines replace the old ones). Refused
    (``DraftError``) once it is finalized or deleted, or, with ``opened_version``, when
    someone else saved it since (``DraftChanged``)."""
    check_draft(currency, lines, due_date, today or utcnow().date())

    def work() -> Invoice:
        customer = lock_customer(session, customer_id)
        invoice = current_draft(session, customer_id, invoice_id, opened_version)
        invoice.currency = currency
        invoice.due_date = due_date
        invoice.supply_date = supply_date
        _set_lines(invoice, customer, lines)
        # Lines live in their own rows: the invoice row is written (and its version moves)
        # even when only a line changed.
        flag_modified(invoice, "currency")
        return invoice

    return in_transaction(session, work)


@dataclass(frozen=True)
class DeletedDraft:
    customer_id: int
    total_minor: int
    currency: str
    existed: bool = True

    @property
    def message(self) -> str:
        if not self.existed:
            return "This draft invoice had already been deleted."
        return f"Draft invoice for {format_money(self.total_minor, self.currency)} deleted."


def delete_draft(
    session: Session, customer_id: int, invoice_id: int, opened_version: int | None = None
) -> DeletedDraft:
    """Delete the customer's draft with its lines; a sale invoiced into it is open again. An
    issued invoice is refused (void it instead); a draft already deleted is not an error
    (a form sent twice)."""

    def work() -> DeletedDraft:
        lock_customer(session, customer_id)
        invoice = session.get(Invoice, invoice_id, populate_existing=True)
        if invoice is None or invoice.customer_id != customer_id:
            return DeletedDraft(customer_id, 0, "", existed=False)
        if not invoice.is_draft:
            raise DraftError(f"{invoice.number} is issued: it cannot be deleted. Void it instead.")
        invoice = current_draft(session, customer_id, invoice_id, opened_version)
        deleted = DeletedDraft(customer_id, invoice.total_minor, invoice.currency)
        for sale in session.scalars(select(Sale).where(Sale.invoice_id == invoice.id)):
            sale.status = SaleStatus.OPEN.value
            sale.invoice_id = None
        session.flush()  # the sales let go of the invoice before it goes
        session.delete(invoice)
        return deleted

    return in_transaction(session, work)
