"""Payment reminders: each legal entity's schedule, and the reminders sent."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import utcnow


class ReminderAttachment(enum.StrEnum):
    PDF = "pdf"  # the invoice's PDF attached
    LINK = "link"  # the customer's payment link in the text

    @property
    def label(self) -> str:
        return _ATTACHMENT_LABELS[self]


_ATTACHMENT_LABELS = {
    ReminderAttachment.PDF: "Invoice PDF",
    ReminderAttachment.LINK: "Payment link",
}


# A new legal entity's schedule (in days from the due date): a heads-up with the invoice
# PDF three days before, then the payment link on the day, and one and two weeks after.
DEFAULT_SCHEDULE = (
    (-3, ReminderAttachment.PDF),
    (0, ReminderAttachment.LINK),
    (7, ReminderAttachment.LINK),
    (14, ReminderAttachment.LINK),
)


def default_steps() -> list[ReminderStep]:
    """The schedule a new legal entity starts with (services.settings)."""
    return [ReminderStep(offset_days=offset, attach=attach) for offset, attach in DEFAULT_SCHEDULE]


class ReminderStep(db.Model):
    """One step of a legal entity's schedule: so many days before (negative), on (0) or
    after (positive) an invoice's due date, with the PDF or the payment link."""

    __tablename__ = "reminder_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"), nullable=False)
    offset_days: Mapped[int] = mapped_column(Integer, nullable=False)
    attach: Mapped[str] = mapped_column(String(16), nullable=False, default=ReminderAttachment.PDF)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("legal_entity_id", "offset_days", name="uq_reminder_steps_offset"),
    )


class SentReminder(db.Model):
    """A step sent for an invoice. Written first, in the transaction that records the emails:
    the unique (invoice, step) refuses a second one, even from a job racing this one."""

    __tablename__ = "sent_reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    offset_days: Mapped[int] = mapped_column(Integer, nullable=False)
    attach: Mapped[str] = mapped_column(String(16), nullable=False)
    # How many emails it made (the customer and each Billing contact).
    recipients: Mapped[int] = mapped_column(Integer, nullable=False)
    # The day it was sent for (the job's "today", UTC).
    sent_on: Mapped[date] = mapped_column(Date, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    invoice = relationship("Invoice")

    __table_args__ = (
        UniqueConstraint("invoice_id", "offset_days", name="uq_sent_reminders_step"),
        Index("ix_sent_reminders_customer", "customer_id", "id"),
    )
