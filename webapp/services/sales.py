"""Sales: orders sold to a customer (date, description, amount, currency, status).

A sale is Open or Cancelled while staff keep it; invoicing an open one makes its
invoice through Capture one time charge (tax at the customer's rate, the sale's
description as the line, emailed like any invoice) and marks the sale Invoiced in the
same transaction, exactly once however often it is asked. From then on the sale is
kept as it is: it cannot be edited, deleted or invoiced again. In the Manual invoicing
flow the invoice is a draft (services.drafts) that staff finalize; deleting that draft
makes the sale Open again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from webapp.models.billing import Invoice
from webapp.models.crm import Sale, SaleStatus
from webapp.models.customer import Customer, InvoicingFlow
from webapp.paging import FIRST, Keyset, Page, PageAt, keyset_page
from webapp.services import billing, versions
from webapp.services.contacts import billing_recipients
from webapp.services.guard import lock_editable
from webapp.services.ledger import LedgerError, lock_customer
from webapp.services.money import format_money
from webapp.services.records import RecordError, current_record, customer_record
from webapp.services.reference import currency_codes

# What staff may set on the form; Invoiced only comes from invoicing.
FORM_STATUSES = {SaleStatus.OPEN.value: "Open", SaleStatus.CANCELLED.value: "Cancelled"}
STATUS_LABELS = {**FORM_STATUSES, SaleStatus.INVOICED.value: "Invoiced"}
DESCRIPTION_MAX = 500

CANCELLED_NOT_INVOICED = (
    "A cancelled sale cannot be invoiced. Edit it and set it back to Open first."
)
SALE_CHANGED = "This sale changed while you were invoicing it. Check it and try again."
SALE_GONE = "This sale no longer exists."


def get(session: Session, customer_id: int, sale_id: int) -> Sale | None:
    return customer_record(session, Sale, customer_id, sale_id)


def sales_page(session: Session, customer_id: int, at: PageAt = FIRST) -> Page:
    """The Sales tab: the customer's sales, newest sale date first, invoices loaded."""
    statement = (
        select(Sale).where(Sale.customer_id == customer_id).options(selectinload(Sale.invoice))
    )
    return keyset_page(session, statement, Keyset((Sale.sold_on, Sale.id), ("sold_on", "id")), at)


def status_label(status: str) -> str:
    """Open, Invoiced or Cancelled."""
    return STATUS_LABELS.get(status, status)


def why_locked(sale: Sale) -> str | None:
    """Why this sale can no longer be edited or deleted, or None; shown instead of a form."""
    return locked_message(sale) if sale.status == SaleStatus.INVOICED else None


def _invoice_name(sale: Sale) -> str:
    """INV-000001, "a draft invoice" or "an invoice"."""
    if sale.invoice is None:
        return "an invoice"
    return sale.invoice.number or "a draft invoice"


def locked_message(sale: Sale) -> str:
    number = _invoice_name(sale)
    return (
        f"This sale is invoiced ({number}), so it is kept as it is: it cannot be edited "
        "or deleted. Void or refund the invoice on the Invoices tab instead."
    )


def invoice_refusal(sale: Sale) -> str | None:
    """Why this sale cannot be invoiced now, or None if it can."""
    if sale.status == SaleStatus.CANCELLED:
        return CANCELLED_NOT_INVOICED
    if sale.status == SaleStatus.INVOICED:
        return f"This sale is already invoiced ({_invoice_name(sale)})."
    return None


def available_actions(sale: Sale) -> list[str]:
    """What the Sales tab offers for this sale: "edit", "delete", "invoice"."""
    if sale.status == SaleStatus.INVOICED:
        return []
    actions = ["edit", "delete"]
    if invoice_refusal(sale) is None:
        actions.append("invoice")
    return actions


def _check(fields: Mapping[str, Any]) -> None:
    """The rules for what the form sends, each refused beside its field."""
    if not isinstance(fields.get("sold_on"), date):
        raise RecordError("Enter the date of the sale.", "sold_on")
    description = fields.get("description") or ""
    if not description.strip():
        raise RecordError("Enter a description: it becomes the invoice line.", "description")
    if len(description) > DESCRIPTION_MAX:
        raise RecordError(
            f"A description can be at most {DESCRIPTION_MAX} characters.", "description"
        )
    if fields.get("currency") not in currency_codes():
        raise RecordError("Choose a currency from the list.", "currency")
    amount = fields.get("amount_minor")
    if not isinstance(amount, int) or amount <= 0:
        raise RecordError("Enter a positive amount.", "amount")
    if fields.get("status") not in FORM_STATUSES:
        raise RecordError("Choose Open or Cancelled.", "status")


def _apply(sale: Sale, fields: Mapping[str, Any]) -> None:
    sale.sold_on = fields["sold_on"]
    sale.description = fields["description"].strip()
    sale.amount_minor = fields["amount_minor"]
    sale.currency = fields["currency"]
    sale.status = fields["status"]


def add(session: Session, customer: Customer, staff_id: int | None, fields: Mapping) -> Sale:
    """+ New sale: Open or Cancelled."""
    _check(fields)
    lock_editable(session, customer.id)
    sale = Sale(customer_id=customer.id, staff_id=staff_id)
    _apply(sale, fields)
    session.add(sale)
    session.commit()
    return sale


def change(
    session: Session,
    customer: Customer,
    sale: Sale,
    fields: Mapping,
    opened: versions.Opened | None = None,
) -> Sale:
    """Save changes to an open or cancelled sale (invoiced: refused), under the customer's lock that
    invoicing holds too. With ``opened``, raises ``versions.EditConflict`` if saved since."""
    _check(fields)
    lock_editable(session, customer.id)
    current = current_record(session, Sale, customer.id, sale.id)
    if current is None:
        raise RecordError(SALE_GONE)
    if current.status == SaleStatus.INVOICED:
        raise RecordError(locked_message(current))
    typed = {**fields, "description": (fields.get("description") or "").strip()}
    versions.check(session, current, opened, typed)
    _apply(current, fields)
    session.commit()
    return current


def remove(session: Session, customer: Customer, sale: Sale) -> None:
    """Delete an open or cancelled sale; an invoiced one is kept."""
    lock_customer(session, customer.id)
    current = current_record(session, Sale, customer.id, sale.id)
    if current is None:
        return  # already gone: deleting twice is not an error
    if current.status == SaleStatus.INVOICED:
        raise RecordError(locked_message(current))
    session.delete(current)
    session.commit()


def describe(sale: Sale) -> str:
    """One line for the delete confirmation: date · description · amount · status."""
    return " · ".join(
        (
            sale.sold_on.isoformat(),
            sale.description,
            format_money(sale.amount_minor, sale.currency),
            status_label(sale.status),
        )
    )


# -- invoicing -----------------------------------------------------------------------


def invoice_key(sale_id: int) -> str:
    """The idempotency key of a sale's invoice: one invoice per sale, ever."""
    return f"sale-{sale_id}"


@dataclass(frozen=True)
class InvoicePreview:
    """What invoicing a sale will create, for the confirmation."""

    net_minor: int
    tax_rate_bp: int
    tax_minor: int
    total_minor: int
    currency: str
    recipients: list[str]
    # The Manual invoicing flow: a draft, emailed only when it is finalized.
    draft: bool = False


def invoice_preview(session: Session, customer: Customer, sale: Sale) -> InvoicePreview:
    """The invoice a sale would make now (amount plus tax) and who gets it emailed."""
    tax_minor, total_minor = billing.invoice_total(sale.amount_minor, customer.tax_rate_bp)
    return InvoicePreview(
        net_minor=sale.amount_minor,
        tax_rate_bp=customer.tax_rate_bp,
        tax_minor=tax_minor,
        total_minor=total_minor,
        currency=sale.currency,
        recipients=billing_recipients(session, customer),
        draft=customer.invoicing_flow == InvoicingFlow.MANUAL,
    )


@dataclass(frozen=True)
class SaleInvoiced:
    """The sale's invoice; ``replayed`` when it had been created before this request."""

    invoice: Invoice
    replayed: bool

    @property
    def message(self) -> str:
        total = format_money(self.invoice.total_minor, self.invoice.currency)
        if self.invoice.is_draft:
            if self.replayed:
                return f"This sale already has a draft invoice for {total}."
            return (
                f"Draft invoice for {total} created from the sale. Finalize it on the "
                "Invoices tab to number, charge and email it."
            )
        if self.replayed:
            return f"This sale was already invoiced: {self.invoice.number} for {total}."
        return f"Invoice {self.invoice.number} for {total} created from the sale."


def invoice_sale(
    session: Session, customer_id: int, sale_id: int, actor_id: int | None
) -> SaleInvoiced:
    """Invoice an open sale through Capture one time charge, exactly once.

    The key comes from the sale, so a repeat finds the first invoice; the sale is marked Invoiced
    in the invoice's own transaction, and an invoiced sale answers with its invoice. Raises
    ``LedgerError`` for a refusal (a cancelled sale, a sale changed meanwhile)."""
    sale = get(session, customer_id, sale_id)
    if sale is None:
        raise LedgerError(SALE_GONE)
    if sale.status == SaleStatus.INVOICED and sale.invoice is not None:
        return SaleInvoiced(sale.invoice, replayed=True)
    refusal = invoice_refusal(sale)
    if refusal is not None:
        raise LedgerError(refusal)
    asked = (sale.amount_minor, sale.currency, sale.description)

    def mark_invoiced(invoice: Invoice) -> None:
        # Under the customer's lock: the sale may have been edited, cancelled or deleted
        # since it was read above. Raising here undoes the invoice with it.
        current = current_record(session, Sale, customer_id, sale_id)
        if current is None:
            raise LedgerError(SALE_GONE)
        if current.status != SaleStatus.OPEN:
            raise LedgerError(invoice_refusal(current) or SALE_CHANGED)
        if (current.amount_minor, current.currency, current.description) != asked:
            raise LedgerError(SALE_CHANGED)
        current.status = SaleStatus.INVOICED.value
        current.invoice_id = invoice.id

    amount_minor, currency, description = asked
    result = billing.capture_one_time_charge(
        session,
        customer_id,
        amount_minor=amount_minor,
        currency=currency,
        description=description,
        actor_id=actor_id,
        key=invoice_key(sale_id),
        on_written=mark_invoiced,
    )
    return SaleInvoiced(result.invoice, replayed=result.replayed)
