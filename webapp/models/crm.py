"""What the team does with a customer: tags, activities, tickets and sales."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import Versioned, utcnow


class Tag(db.Model):
    """A label staff put on customers; ``key``, the folded name, makes "VIP" and "vip" one tag."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    key: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)


customer_tags = Table(
    "customer_tags",
    db.metadata,
    Column("customer_id", ForeignKey("customers.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
    # The list's tag filter starts from the tag.
    Index("ix_customer_tags_tag_customer", "tag_id", "customer_id"),
)


class ActivityKind(enum.StrEnum):
    MEETING = "meeting"
    CALL = "call"
    TASK = "task"


class Activity(Versioned, db.Model):
    """A meeting, call or task planned for a customer."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    # Naive UTC, like every stored time.
    due_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    done: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Who planned it (staff_id) and who is to do it (assigned_to_id, the Agenda's "mine").
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    staff = relationship("Staff", lazy="joined", foreign_keys=[staff_id])
    assigned_to = relationship("Staff", lazy="joined", foreign_keys=[assigned_to_id])

    __table_args__ = (
        Index("ix_activities_customer_due", "customer_id", "done", "due_at"),
        # The Agenda across customers: everyone's, or one staff member's, by due time.
        Index("ix_activities_done_due", "done", "due_at", "id"),
        Index("ix_activities_assigned_due", "assigned_to_id", "done", "due_at", "id"),
    )


class TicketStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    SOLVED = "solved"
    CANCELLED = "cancelled"


class Ticket(Versioned, db.Model):
    """A question, note or problem the customer raised."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=TicketStatus.NEW)
    # Who recorded it (staff_id) and who handles it (assignee_id; None: unassigned).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    staff = relationship("Staff", lazy="joined", foreign_keys=[staff_id])
    assignee = relationship("Staff", lazy="joined", foreign_keys=[assignee_id])

    __table_args__ = (
        Index("ix_tickets_customer_status", "customer_id", "status", "id"),
        # The Inbox across customers: by status, and by assignee and status, newest first.
        Index("ix_tickets_status", "status", "id"),
        Index("ix_tickets_assignee_status", "assignee_id", "status", "id"),
    )


class SaleStatus(enum.StrEnum):
    OPEN = "open"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


class Sale(Versioned, db.Model):
    """An order sold to the customer; once invoiced (Capture one time charge) it is kept as is."""

    __tablename__ = "sales"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    sold_on: Mapped[date] = mapped_column(Date, nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False)
    amount_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=SaleStatus.OPEN)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), nullable=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    invoice = relationship("Invoice")

    __table_args__ = (
        Index("ix_sales_customer", "customer_id", "sold_on", "id"),
        # The Sales page across customers: all of them, or one status, newest sale date first.
        Index("ix_sales_sold", "sold_on", "id"),
        Index("ix_sales_status_sold", "status", "sold_on", "id"),
    )
