"""A customer's history, and the staff-wide audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.api_keys import acting_api_key_id
from webapp.models.base import utcnow
from webapp.models.billing import BigId


class CustomerEvent(db.Model):
    """One line of a customer's history: who changed what, when, and from what to what.

    ``summary`` never holds personal data; a personal value (a name, an address, a
    recipient) lives only in ``old_value``/``new_value`` with ``personal`` set, so Clear
    personal data can blank exactly those. A cleared value is NULL; an empty one is ''.
    """

    __tablename__ = "customer_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    # The API key that made the change (a program's request), whatever the service was told.
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id"), nullable=True, default=acting_api_key_id
    )
    # "group" or "group.detail" (edited, entry.charge, payment_link.revoked …): the
    # History tab filters on the group.
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    field: Mapped[str | None] = mapped_column(String(60), nullable=True)
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    personal: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    staff = relationship("Staff", lazy="joined")
    api_key = relationship("ApiKey", lazy="joined")
    # Lets an event be added with its customer in one flush, before the customer has an id.
    customer = relationship("Customer")

    __table_args__ = (Index("ix_customer_events_customer", "customer_id", "id"),)

    @property
    def cleared(self) -> bool:
        """Its personal values were removed with the customer's personal data."""
        return self.personal and self.old_value is None and self.new_value is None


class AuditEvent(db.Model):
    """An Audit page line; ``subject`` is a customer ID or staff email, never personal data."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id"), nullable=True, default=acting_api_key_id
    )
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    subject: Mapped[str] = mapped_column(String(320), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    staff = relationship("Staff", lazy="joined")
    api_key = relationship("ApiKey", lazy="joined")

    __table_args__ = (Index("ix_audit_events_kind", "kind", "id"),)
