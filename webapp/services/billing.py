"""Invoices and credit notes, and the ledger entries that go with them.

"Capture one time charge": a positive amount makes an invoice (one line,
tax at the customer's rate, due after the payment terms) and a charge of
minus its total; a negative amount makes a credit note and a credit of its
amount, if the customer's gateway supports credit notes. A customer whose
Invoicing flow is Manual gets a draft invoice instead (services.drafts): no
number, no charge, no email until staff finalize it (``finalize_draft``).
Marking an invoice paid records a payment; refunding a paid invoice records
the refund and reverses the charge; voiding an open one reverses the charge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from webapp.models.base import utcnow
from webapp.models.billing import (
    CreditNote,
    DocumentCounter,
    EntryKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
)
from webapp.models.customer import Customer, InvoicingFlow
from webapp.models.settings import LegalEntity
from webapp.paging import FIRST, Keyset, Page, PageAt, keyset_page
from webapp.services import drafts, settings
from webapp.services.contacts import billing_recipients
from webapp.services.documents import snapshot_of
from webapp.services.gateways import gateway_for
from webapp.services.ledger import (
    LedgerError,
    add_entry,
    in_transaction,
    lock_customer,
    post_once,
    refuse_recent_repeat,
)
from webapp.services.mailer import queue_email
from webapp.services.money import format_money, tax_for

INVOICE_SERIES = "INV"
INVOICE_STATUSES = frozenset(status.value for status in InvoiceStatus)
CREDIT_NOTE_SERIES = "CN"


def next_number(session: Session, series: str, entity: LegalEntity) -> str:
    """INV-000001 … per legal entity (after its prefix): gapless, as the counter is locked and moves
    in the document's transaction."""
    series_key = settings.document_series(series, entity.id)
    # Create the series row if it is missing without racing another first invoice.
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(DocumentCounter)
        .values(series=series_key, last_number=0)
        .on_conflict_do_nothing(index_elements=["series"])
    )
    counter = session.scalar(
        select(DocumentCounter)
        .where(DocumentCounter.series == series_key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    counter.last_number += 1
    session.flush()
    return settings.document_number(series, entity, counter.last_number)


@dataclass(frozen=True)
class OneTimeCharge:
    """What "Capture one time charge" produced: an invoice (a draft, without an entry, in the
    Manual invoicing flow) or a credit note."""

    entry: LedgerEntry | None
    invoice: Invoice | None
    credit_note: CreditNote | None
    replayed: bool

    @property
    def message(self) -> str:
        """What staff are told: "Invoice INV-000001 for €119.00 created." …"""
        if self.invoice is not None and self.invoice.is_draft:
            total = format_money(self.invoice.total_minor, self.invoice.currency)
            return (
                f"Draft invoice for {total} created. Nothing is charged or emailed until "
                "you finalize it."
            )
        document = self.invoice if self.invoice is not None else self.credit_note
        noun = "Invoice" if self.invoice is not None else "Credit note"
        total = format_money(document.total_minor, document.currency)
        return f"{noun} {document.number} for {total} created."


def _result(entry: LedgerEntry, replayed: bool) -> OneTimeCharge:
    return OneTimeCharge(entry, entry.invoice, entry.credit_note, replayed)


def invoices_manually(session: Session, customer_id: int) -> bool:
    """Whether the customer's Invoicing flow is Manual: invoices start as drafts."""
    flow = session.scalar(select(Customer.invoicing_flow).where(Customer.id == customer_id))
    return flow == InvoicingFlow.MANUAL


def capture_one_time_charge(
    session: Session,
    customer_id: int,
    *,
    amount_minor: int,
    currency: str,
    description: str,
    actor_id: int | None,
    key: str | None,
    today: date | None = None,
    allow_repeat: bool = True,
    on_written: Callable[[Invoice | CreditNote], None] | None = None,
) -> OneTimeCharge:
    """Invoice a positive amount or credit a negative one, exactly once per key. With
    ``allow_repeat=False`` the same charge made moments ago must be confirmed first. In the
    Manual invoicing flow a positive amount starts a draft invoice instead (one line; no
    number, entry or email until it is finalized).

    ``on_written(document)`` runs in the same transaction, under the customer's lock, right
    after the invoice (or draft) or credit note and its entry are written (not on a
    replay): whatever it changes is committed with them, and a ``LedgerError`` it raises
    undoes them (e.g. a sale is marked invoiced together with its invoice, never apart)."""
    if amount_minor == 0:
        raise LedgerError("The amount cannot be zero.")
    if amount_minor > 0 and invoices_manually(session, customer_id):
        drafted = drafts.start_draft(
            session,
            customer_id,
            currency=currency,
            lines=[drafts.DraftLine(description, 1, amount_minor)],
            actor_id=actor_id,
            key=key,
            today=today,
            on_written=on_written,
        )
        return OneTimeCharge(None, drafted.invoice, None, drafted.replayed)

    def write(customer: Customer) -> LedgerEntry:
        if not allow_repeat:
            entry_amount = (
                -invoice_total(amount_minor, customer.tax_rate_bp)[1]
                if amount_minor > 0
                else -amount_minor
            )
            refuse_recent_repeat(session, customer_id, entry_amount, currency, description)
        issued = today or utcnow().date()
        if amount_minor > 0:
            entry = _invoice(
                session, customer, amount_minor, currency, description, actor_id, key, issued
            )
        else:
            entry = _credit_note(
                session, customer, -amount_minor, currency, description, actor_id, key, issued
            )
        if on_written is not None:
            on_written(entry.invoice if entry.invoice is not None else entry.credit_note)
        queue_document_email(session, customer, entry)
        return entry

    def same_request(entry: LedgerEntry) -> bool:
        if (entry.customer_id, entry.currency, entry.description) != (
            customer_id,
            currency,
            description,
        ):
            return False
        if entry.invoice is not None:
            return entry.invoice.subtotal_minor == amount_minor
        return entry.credit_note is not None and entry.credit_note.total_minor == -amount_minor

    entry, replayed = post_once(session, customer_id, key, write, same_request)
    return _result(entry, replayed=replayed)


def queue_document_email(session: Session, customer: Customer, entry: LedgerEntry) -> None:
    """Record the invoice or credit-note email in the document's transaction: one per recipient
    (customer and billing contacts), each sent and retried on its own after the commit."""
    for recipient in billing_recipients(session, customer):
        _queue_document_email(session, customer, entry, recipient)


def _queue_document_email(
    session: Session, customer: Customer, entry: LedgerEntry, recipient: str
) -> None:
    # The seller is the legal entity that issued the document.
    document = entry.invoice if entry.invoice is not None else entry.credit_note
    issuer = document.seller
    seller = issuer.name
    common = {
        "customer_id": customer.id,
        "recipient": recipient,
        "customer": customer,
        "seller_name": seller,
        "seller_address": issuer.address,
        "seller_tax_id": issuer.tax_id,
    }
    if entry.invoice is not None:
        invoice = entry.invoice
        queue_email(
            session,
            kind="invoice",
            name=f"Invoice {invoice.number}",
            subject=f"Invoice {invoice.number} from {seller}",
            template="invoice",
            invoice=invoice,
            **common,
        )
    elif entry.credit_note is not None:
        credit_note = entry.credit_note
        queue_email(
            session,
            kind="credit_note",
            name=f"Credit note {credit_note.number}",
            subject=f"Credit note {credit_note.number} from {seller}",
            template="credit_note",
            credit_note=credit_note,
            **common,
        )


def invoice_total(net_minor: int, rate_bp: int) -> tuple[int, int]:
    """(tax, total) of a one-line invoice: tax at the rate, rounded half up."""
    tax_minor = tax_for(net_minor, rate_bp)
    return tax_minor, net_minor + tax_minor


def _invoice(
    session, customer: Customer, net_minor, currency, description, actor_id, key, issued: date
) -> LedgerEntry:
    tax_minor, total_minor = invoice_total(net_minor, customer.tax_rate_bp)
    invoice = Invoice(
        number=next_number(session, INVOICE_SERIES, customer.legal_entity),
        legal_entity_id=customer.legal_entity_id,
        **snapshot_of(customer),
        customer_id=customer.id,
        currency=currency,
        issue_date=issued,
        due_date=issued + timedelta(days=customer.payment_terms_days),
        subtotal_minor=net_minor,
        tax_rate_bp=customer.tax_rate_bp,
        tax_minor=tax_minor,
        total_minor=total_minor,
        status=InvoiceStatus.OPEN,
        staff_id=actor_id,
    )
    invoice.lines = [
        InvoiceLine(
            description=description,
            quantity=1,
            unit_price_minor=net_minor,
            amount_minor=net_minor,
            tax_rate_bp=customer.tax_rate_bp,
        )
    ]
    session.add(invoice)
    session.flush()
    return add_entry(
        session,
        customer,
        kind=EntryKind.CHARGE,
        amount_minor=-invoice.total_minor,
        currency=currency,
        description=description,
        actor_id=actor_id,
        key=key,
        invoice_id=invoice.id,
    )


def _credit_note(
    session, customer: Customer, amount_minor, currency, description, actor_id, key, issued: date
) -> LedgerEntry:
    gateway = gateway_for(customer.payment_gateway)
    if not gateway.supports_credit_notes:
        raise LedgerError(
            f"{customer.name} is billed through {gateway.name}, which does not support "
            "credit notes. Refund a paid invoice instead, or switch the customer to the "
            "Manual gateway in Edit customer."
        )
    credit_note = CreditNote(
        number=next_number(session, CREDIT_NOTE_SERIES, customer.legal_entity),
        legal_entity_id=customer.legal_entity_id,
        **snapshot_of(customer),
        customer_id=customer.id,
        currency=currency,
        issue_date=issued,
        description=description,
        total_minor=amount_minor,
        staff_id=actor_id,
    )
    session.add(credit_note)
    session.flush()
    return add_entry(
        session,
        customer,
        kind=EntryKind.CREDIT,
        amount_minor=amount_minor,
        currency=currency,
        description=description,
        actor_id=actor_id,
        key=key,
        credit_note_id=credit_note.id,
    )


# -- finalizing a draft ----------------------------------------------------------------


def finalize_key(invoice_id: int) -> str:
    """The idempotency key of a draft's charge: one charge per draft, however often (and from
    however many tabs) Finalize is sent."""
    return f"invoice-{invoice_id}"


@dataclass(frozen=True)
class Finalized:
    """The invoice a draft became; ``replayed`` when it had been finalized before this call."""

    invoice: Invoice
    replayed: bool

    @property
    def message(self) -> str:
        total = format_money(self.invoice.total_minor, self.invoice.currency)
        if self.replayed:
            return f"This draft was already finalized: {self.invoice.number} for {total}."
        return f"Invoice {self.invoice.number} for {total} finalized, charged and emailed."


def _entry_description(invoice: Invoice) -> str:
    """What the charge says on the Billing tab: the line, or the invoice for several."""
    if len(invoice.lines) == 1:
        return invoice.lines[0].description
    return f"Invoice {invoice.number} ({len(invoice.lines)} lines)"


def finalize_draft(
    session: Session,
    customer_id: int,
    invoice_id: int,
    actor_id: int | None,
    *,
    opened_version: int | None = None,
    today: date | None = None,
) -> Finalized:
    """Issue a draft, exactly once: the next number of the legal entity's series (gapless:
    the counter moves in this transaction), seller and buyer stored as issued, tax at the
    customer's rate today, due after the payment terms unless the draft names a due date,
    a charge of minus the total, and the invoice email. The charge's key comes from the
    draft, so a second Finalize (double click, another tab) finds the first one's invoice.
    Refused (``LedgerError``) when the draft was deleted, has no lines or a due date that has
    passed, or (with ``opened_version``) was saved by someone else since."""
    key = finalize_key(invoice_id)

    def write(customer: Customer) -> LedgerEntry:
        invoice = drafts.current_draft(session, customer_id, invoice_id, opened_version)
        issued = today or utcnow().date()
        refusal = drafts.finalize_refusal(invoice, issued)
        if refusal is not None:
            raise drafts.DraftError(refusal)
        # Numbered first: taking the number flushes, and the draft's changes below should
        # reach the history in one flush, as its finalizing.
        number = next_number(session, INVOICE_SERIES, customer.legal_entity)
        drafts.apply_customer_rate(invoice, customer)
        invoice.number = number
        for column, value in snapshot_of(customer).items():
            setattr(invoice, column, value)
        invoice.issue_date = issued
        if invoice.due_date is None:
            invoice.due_date = issued + timedelta(days=customer.payment_terms_days)
        invoice.status = InvoiceStatus.OPEN
        session.flush()
        entry = add_entry(
            session,
            customer,
            kind=EntryKind.CHARGE,
            amount_minor=-invoice.total_minor,
            currency=invoice.currency,
            description=_entry_description(invoice),
            actor_id=actor_id,
            key=key,
            invoice_id=invoice.id,
        )
        queue_document_email(session, customer, entry)
        return entry

    def same_request(entry: LedgerEntry) -> bool:
        return entry.invoice_id == invoice_id and entry.customer_id == customer_id

    entry, replayed = post_once(session, customer_id, key, write, same_request)
    return Finalized(entry.invoice, replayed)


# -- invoice status ------------------------------------------------------------------


def available_actions(invoice: Invoice) -> list[str]:
    """The status actions this invoice allows now ("pay", "void", "refund"), from ALLOWED;
    none for a draft (it is edited, finalized or deleted instead)."""
    return [action for action, (sources, _) in ALLOWED.items() if invoice.status in sources]


# Button label and what it does, for the Invoices tab and the confirmation.
INVOICE_ACTIONS = {
    "pay": ("Mark as paid", "Records a payment of the invoice total."),
    "refund": ("Refund", "Records a refund of the payment and reverses the charge."),
    "void": ("Void", "Cancels the invoice and reverses its charge."),
}

# What each action is called in refusals ("… cannot be marked as paid").
ACTION_PAST = {"pay": "marked as paid", "refund": "refunded", "void": "voided"}

ALLOWED = {
    "pay": ({InvoiceStatus.OPEN}, InvoiceStatus.PAID),
    "refund": ({InvoiceStatus.PAID}, InvoiceStatus.REFUNDED),
    "void": ({InvoiceStatus.OPEN}, InvoiceStatus.VOID),
}


def change_invoice_status(
    session: Session, invoice_id: int, action: str, actor_id: int | None
) -> Invoice:
    """Mark as paid, Refund or Void, with the ledger entries each implies."""
    if action not in ALLOWED:
        raise LedgerError("Choose mark as paid, refund or void.")
    allowed_from, new_status = ALLOWED[action]

    def work() -> Invoice:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            raise LedgerError("This invoice does not exist.")
        customer = lock_customer(session, invoice.customer_id)
        session.refresh(invoice)
        if invoice.is_draft:
            raise LedgerError(
                f"A draft invoice cannot be {ACTION_PAST[action]}: finalize it first."
            )
        if invoice.status not in allowed_from:
            raise LedgerError(
                f"{invoice.number} is {invoice.status}; it cannot be {ACTION_PAST[action]}."
            )
        common = dict(currency=invoice.currency, actor_id=actor_id, invoice_id=invoice.id)
        total = invoice.total_minor
        if action == "pay":
            add_entry(
                session,
                customer,
                kind=EntryKind.PAYMENT,
                amount_minor=total,
                description=f"Payment of {invoice.number}",
                **common,
            )
        elif action == "refund":
            add_entry(
                session,
                customer,
                kind=EntryKind.REFUND,
                amount_minor=-total,
                description=f"Refund of {invoice.number}",
                **common,
            )
            add_entry(
                session,
                customer,
                kind=EntryKind.ADJUSTMENT,
                amount_minor=total,
                description=f"Reversal of {invoice.number} (refunded)",
                **common,
            )
        else:
            add_entry(
                session,
                customer,
                kind=EntryKind.ADJUSTMENT,
                amount_minor=total,
                description=f"Reversal of {invoice.number} (void)",
                **common,
            )
        invoice.status = new_status
        invoice.status_changed_at = utcnow()
        return invoice

    return in_transaction(session, work)


# -- what the tabs show -----------------------------------------------------------


def entries_page(session: Session, customer_id: int, at: PageAt = FIRST) -> Page:
    """A customer's entries, newest first, with who and the linked documents loaded."""
    statement = (
        select(LedgerEntry)
        .where(LedgerEntry.customer_id == customer_id)
        .options(selectinload(LedgerEntry.invoice), selectinload(LedgerEntry.credit_note))
    )
    order = Keyset((LedgerEntry.created_at, LedgerEntry.id), ("created_at", "id"))
    return keyset_page(session, statement, order, at)


def invoices_page(
    session: Session,
    customer_id: int,
    status: str = "",
    at: PageAt = FIRST,
    issued_only: bool = False,
) -> Page:
    """A customer's invoices, newest first (a draft by the day it was started), optionally of
    one status ("draft" lists the drafts); ``issued_only`` leaves drafts out (the customer
    area: a draft is not an invoice yet)."""
    statement = select(Invoice).where(Invoice.customer_id == customer_id)
    if issued_only:
        statement = statement.where(Invoice.status != InvoiceStatus.DRAFT)
    if status in INVOICE_STATUSES:
        statement = statement.where(Invoice.status == status)
    order = Keyset((Invoice.issue_date, Invoice.id), ("issue_date", "id"))
    return keyset_page(session, statement, order, at)


def credit_notes_page(session: Session, customer_id: int, at: PageAt = FIRST) -> Page:
    statement = select(CreditNote).where(CreditNote.customer_id == customer_id)
    order = Keyset((CreditNote.issue_date, CreditNote.id), ("issue_date", "id"))
    return keyset_page(session, statement, order, at)
