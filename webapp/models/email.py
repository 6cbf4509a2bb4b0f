"""Every outgoing message, recorded before it is sent."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.billing import BigId


class EmailStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for a job (first try, or a retry after back-off)
    SENDING = "sending"  # claimed by a job; back to queued if that job dies
    SENT = "sent"
    FAILED = "failed"  # gave up after its attempts; "Resend" queues it again
    NOT_SENT = "not_sent"  # no mail server configured: recorded, never delivered
    # Not to be sent any more: a payment reminder whose invoice was paid or voided before
    # its turn came (services.reminder_stops.stop_reason); last_error says why.
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """As the Emails tab shows it."""
        return _EMAIL_STATUS_LABELS[self]


_EMAIL_STATUS_LABELS = {
    EmailStatus.QUEUED: "Queued",
    EmailStatus.SENDING: "Sending",
    EmailStatus.SENT: "Delivered",
    EmailStatus.FAILED: "Failed",
    EmailStatus.NOT_SENT: "Not delivered",
    EmailStatus.CANCELLED: "Cancelled",
}


class Email(db.Model):
    """One message to one recipient, rendered when it was caused.

    The row is written in the same transaction as its cause (an invoice, an
    export …) and a job delivers it; the job claims the row first, so a retry or
    a second copy of the job never sends it twice.
    """

    __tablename__ = "emails"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), nullable=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    # A payment-link email: the live link is put into the body when it is sent, never
    # stored (the bodies hold a placeholder), so the database reveals no live link.
    payment_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_links.id"), nullable=True
    )
    # An invite or password-reset email: like a payment link, the live link is put in
    # when it is sent (services.customer_accounts); the stored bodies hold a placeholder.
    account_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_account_tokens.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    recipient: Mapped[str] = mapped_column(String(320), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    html_body: Mapped[str] = mapped_column(Text, nullable=False)
    text_body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=EmailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    # When the sweeper should (re-)enqueue it if it is still queued: a retry's back-off,
    # or a few minutes after it was enqueued in case that job was lost.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    # After a failed attempt: no job may try again before this (the back-off), however
    # many copies of the job the sweepers have enqueued meanwhile.
    retry_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    customer = relationship("Customer")

    __table_args__ = (
        Index("ix_emails_customer_id", "customer_id", "id"),
        Index("ix_emails_status_next_attempt", "status", "next_attempt_at"),
    )
