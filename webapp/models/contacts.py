"""A customer beyond the profile: contacts, addresses and identifiers other systems use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import Versioned, utcnow


class Contact(Versioned, db.Model):
    """A person at the customer. At most one is the primary contact."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False, default="")
    phone: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    position: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    is_primary: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Email preferences: which emails this contact receives.
    wants_billing: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    wants_updates: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    wants_legal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_contacts_customer", "customer_id", "id"),
        # The database keeps the rule too: one primary contact per customer.
        Index(
            "uq_contacts_one_primary",
            "customer_id",
            unique=True,
            postgresql_where=text("is_primary"),
            sqlite_where=text("is_primary"),
        ),
    )


class Address(Versioned, db.Model):
    """One of a customer's addresses. Exactly one is the billing address while any
    exist; the customer row mirrors it so lists, search and exports read it directly."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    line1: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    line2: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    city: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    region: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    postal_code: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    country: Mapped[str] = mapped_column(String(2), nullable=False)
    is_billing: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_addresses_customer", "customer_id", "id"),
        Index(
            "uq_addresses_one_billing",
            "customer_id",
            unique=True,
            postgresql_where=text("is_billing"),
            sqlite_where=text("is_billing"),
        ),
    )


class Alias(Versioned, db.Model):
    """An identifier from another system (label and value), e.g. "Stripe: cus_N4x…".
    A value belongs to one customer only: ``value_key`` is its folded form, unique."""

    __tablename__ = "customer_aliases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    label: Mapped[str] = mapped_column(String(50), nullable=False)
    value: Mapped[str] = mapped_column(String(200), nullable=False)
    value_key: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_customer_aliases_customer", "customer_id", "id"),
        Index("uq_customer_aliases_value_key", "value_key", unique=True),
    )
