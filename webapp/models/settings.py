"""Settings shared by many customers: tax classes and legal entities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import Versioned, utcnow

DEFAULT_ONBOARDING_SUBJECT = "Welcome to {legal_entity}"
DEFAULT_ONBOARDING_BODY = """Hello {customer_name},

Welcome to {legal_entity}. Your customer ID is {customer_id}.

You can sign in to your own area to see your balance, your invoices and your statements:
{sign_in_url}

If you have any questions, just reply to this email.

{legal_entity}"""


class TaxClass(Versioned, db.Model):
    """A named tax rate (e.g. "Standard 19 %"); every customer is in one."""

    __tablename__ = "tax_classes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # Hundredths of a percent, as on the customer: 19.00 % is 1900.
    rate_bp: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("name", name="uq_tax_classes_name"),)

    @property
    def rate_percent(self) -> str:
        return f"{self.rate_bp // 100}.{self.rate_bp % 100:02d}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.rate_percent} %)"


class LegalEntity(Versioned, db.Model):
    """The seller customers are billed by; invoices and credit notes are numbered per entity."""

    __tablename__ = "legal_entities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    address: Mapped[str] = mapped_column(Text, nullable=False, default="")
    tax_id: Mapped[str] = mapped_column(String(50), nullable=False, default="")
    country: Mapped[str] = mapped_column(String(2), nullable=False, default="")
    default_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # "" gives INV-000001; "ACME" gives ACME-INV-000001.
    number_prefix: Mapped[str] = mapped_column(String(10), nullable=False, default="")
    # Bank details and payment instructions, printed at the foot of every document.
    invoice_footer: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    # The onboarding email this entity sends its customers: text with placeholders
    # ({customer_name} …), rendered by services.onboarding. Defaults: DEFAULT_ONBOARDING_*.
    onboarding_subject: Mapped[str] = mapped_column(
        String(300), nullable=False, default=lambda: DEFAULT_ONBOARDING_SUBJECT
    )
    onboarding_body: Mapped[str] = mapped_column(
        Text, nullable=False, default=lambda: DEFAULT_ONBOARDING_BODY
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    # Its payment-reminder schedule (models.reminders), earliest step first.
    reminder_steps = relationship(
        "ReminderStep", order_by="ReminderStep.offset_days", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("name", name="uq_legal_entities_name"),
        UniqueConstraint("number_prefix", name="uq_legal_entities_number_prefix"),
    )
