"""Whether a payment reminder still waiting to be sent may go out.

The mailer asks this just before it talks to the mail server: a reminder whose invoice
was paid or voided meanwhile, or whose customer was put on Do not remind, is cancelled.
Kept apart from services.reminders, which queues its emails with the mailer.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models.billing import Invoice, InvoiceStatus
from webapp.models.customer import Customer
from webapp.models.email import Email

EMAIL_KIND = "reminder"  # Email.kind of a payment reminder


def reminder_invoice(session: Session, email: Email) -> Invoice | None:
    """The invoice a reminder email is about (None for any other email)."""
    if email.kind != EMAIL_KIND or email.customer_id is None:
        return None
    number = email.name.rpartition(" ")[2]
    found = session.scalars(
        select(Invoice).where(Invoice.customer_id == email.customer_id, Invoice.number == number)
    ).all()
    if not found:
        return None
    return min(found, key=lambda invoice: abs(invoice.created_at - email.created_at))


def stop_reason(session: Session, email: Email) -> str | None:
    """Why a reminder still waiting to be sent must not go out (its invoice was paid or voided,
    or the customer was put on Do not remind since), else None."""
    invoice = reminder_invoice(session, email)
    if invoice is None:
        return None
    if invoice.status != InvoiceStatus.OPEN:
        return f"Not sent: invoice {invoice.number} is {invoice.status} now."
    customer = session.get(Customer, email.customer_id)
    if customer is not None and customer.do_not_remind:
        return "Not sent: the customer was put on Do not remind."
    return None
