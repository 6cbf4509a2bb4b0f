"""Money that moved: ledger entries, balances, invoices and credit notes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.api_keys import acting_api_key_id
from webapp.models.base import Versioned, utcnow


@dataclass(frozen=True)
class Seller:
    """Who issued a document, as printed on it."""

    name: str
    address: str
    tax_id: str


# BIGINT on PostgreSQL; SQLite needs INTEGER for an auto-incrementing key.
BigId = BigInteger().with_variant(Integer, "sqlite")


class EntryKind(enum.StrEnum):
    CHARGE = "charge"
    CREDIT = "credit"
    PAYMENT = "payment"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


class InvoiceStatus(enum.StrEnum):
    # Not issued yet (Manual invoicing flow, New invoice): no number, no ledger entry.
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    REFUNDED = "refunded"
    VOID = "void"


class LedgerEntry(db.Model):
    """One append-only movement of money. Charges are negative, credits positive."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    amount_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False)
    payment_method: Mapped[str] = mapped_column(String(50), nullable=False, default="")
    reference: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    # The API key whose request posted it (none from the panel or a job).
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id"), nullable=True, default=acting_api_key_id
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), nullable=True)
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("credit_notes.id"), nullable=True)

    staff = relationship("Staff", lazy="joined")
    api_key = relationship("ApiKey", lazy="joined")
    invoice = relationship("Invoice", back_populates="entries")
    credit_note = relationship("CreditNote", back_populates="entries")

    __table_args__ = (
        Index("ix_ledger_entries_customer_created", "customer_id", "created_at", "id"),
        Index("ix_ledger_entries_invoice_id", "invoice_id"),
        Index("ix_ledger_entries_credit_note_id", "credit_note_id"),
    )


class CustomerBalance(db.Model):
    """Sum of a customer's entries in one currency, kept in the entry's transaction."""

    __tablename__ = "customer_balances"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    balance_minor: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class DocumentCounter(db.Model):
    """The last number issued per series (INV:1: kind and legal entity), advanced under a lock."""

    __tablename__ = "document_counters"

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class Invoice(Versioned, db.Model):
    """An invoice: a draft while staff prepare it (no number, no entry), then issued."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # None while a draft: a number is taken only when the draft is finalized.
    number: Mapped[str | None] = mapped_column(String(30), nullable=True)
    # The seller, whose series numbered the document.
    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"), nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # A draft's is the day it was started, until finalizing sets the day of issue.
    issue_date: Mapped[date] = mapped_column(Date, nullable=False)
    # None only on a draft: the payment terms count from the day it is finalized.
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # When the goods or services were supplied; None means on the issue date.
    supply_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    subtotal_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tax_rate_bp: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tax_minor: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=InvoiceStatus.OPEN)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The seller as it was when the document was issued: editing the legal entity
    # later does not rewrite issued invoices and credit notes.
    seller_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    seller_address: Mapped[str] = mapped_column(Text, nullable=False, default="")
    seller_tax_id: Mapped[str] = mapped_column(String(50), nullable=False, default="")
    # The buyer as it was when the document was issued: editing the customer or
    # clearing their personal data later does not rewrite issued documents.
    buyer_name: Mapped[str] = mapped_column(
        String(200), nullable=False, default="", server_default=""
    )
    buyer_company: Mapped[str] = mapped_column(
        String(200), nullable=False, default="", server_default=""
    )
    buyer_address: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    buyer_tax_id: Mapped[str] = mapped_column(
        String(50), nullable=False, default="", server_default=""
    )
    # The customer's public ID (C-000042) as the panel showed it.
    buyer_customer_number: Mapped[str] = mapped_column(
        String(30), nullable=False, default="", server_default=""
    )
    # The legal entity's footer (bank details, payment instructions) as issued.
    footer_text: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    # The key of the form that started a draft: a resubmitted form finds it instead of
    # starting a second one.
    draft_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)

    lines = relationship(
        "InvoiceLine",
        back_populates="invoice",
        order_by="InvoiceLine.id",
        lazy="selectin",
        cascade="all, delete-orphan",
    )
    entries = relationship("LedgerEntry", back_populates="invoice", order_by="LedgerEntry.id")
    customer = relationship("Customer")
    legal_entity = relationship("LegalEntity")

    @property
    def seller(self) -> Seller:
        return Seller(self.seller_name, self.seller_address, self.seller_tax_id)

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    @property
    def label(self) -> str:
        """How the panel names it: "INV-000001", or "Draft invoice" before it has a number."""
        return self.number or "Draft invoice"

    __table_args__ = (
        UniqueConstraint("legal_entity_id", "number", name="uq_invoices_number"),
        Index("ix_invoices_customer_issue", "customer_id", "issue_date", "id"),
        # The reminder job's walk: open invoices by due date.
        Index("ix_invoices_status_due", "status", "due_date", "id"),
        # Receivables (services.receivables): the open invoices by due date, to find the
        # customers whose invoices move to another aging bucket when a day passes.
        Index(
            "ix_invoices_open_due",
            "due_date",
            "customer_id",
            "currency",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )


# The amount columns of a receivables row, in the order of the aging report.
AGING_COLUMNS = ("current", "d1_30", "d31_60", "d61_90", "d90_plus", "total")


class Receivable(db.Model):
    """What one customer owes on open invoices in one currency, by days past due as of
    ``ReceivablesDay.as_of`` (services.receivables keeps it with every invoice change and
    moves it on a day at a time). Re-derivable from the invoices at any time."""

    __tablename__ = "receivables"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    current: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    d1_30: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    d31_60: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    d61_90: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    d90_plus: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # The customer's name, for the sort by name only (the page shows the customer's own):
    # kept with renames, and blanked with Clear personal data.
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")

    # The report's sorts: each amount (and the name) within a currency, ties by customer.
    __table_args__ = tuple(
        Index(f"ix_receivables_{column}", "currency", column, "customer_id")
        for column in (*AGING_COLUMNS, "name")
    )


class ReceivablesTotal(db.Model):
    """The receivables rows of a currency summed, in a few rows (``shard``: customer id
    modulo services.receivables.SHARDS) that each change moves by its difference."""

    __tablename__ = "receivables_totals"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    current: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    d1_30: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    d31_60: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    d61_90: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    d90_plus: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    customers: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ReceivablesDay(db.Model):
    """The day the receivables rows' buckets are counted from (one row, id 1)."""

    __tablename__ = "receivables_day"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    as_of: Mapped[date] = mapped_column(Date, nullable=False)


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), nullable=False, index=True)
    description: Mapped[str] = mapped_column(String(500), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # The line's net amount: quantity x unit price, before tax.
    amount_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    unit_price_minor: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default=text("0")
    )
    # Hundredths of a percent, as on the invoice: 19.00 % is 1900.
    tax_rate_bp: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )

    invoice = relationship("Invoice", back_populates="lines")


class CreditNote(db.Model):
    __tablename__ = "credit_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(30), nullable=False)
    # The seller, whose series numbered the document.
    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"), nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    issue_date: Mapped[date] = mapped_column(Date, nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False)
    total_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    # The seller as it was when the document was issued: editing the legal entity
    # later does not rewrite issued invoices and credit notes.
    seller_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    seller_address: Mapped[str] = mapped_column(Text, nullable=False, default="")
    seller_tax_id: Mapped[str] = mapped_column(String(50), nullable=False, default="")
    # The buyer as it was when the document was issued: editing the customer or
    # clearing their personal data later does not rewrite issued documents.
    buyer_name: Mapped[str] = mapped_column(
        String(200), nullable=False, default="", server_default=""
    )
    buyer_company: Mapped[str] = mapped_column(
        String(200), nullable=False, default="", server_default=""
    )
    buyer_address: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    buyer_tax_id: Mapped[str] = mapped_column(
        String(50), nullable=False, default="", server_default=""
    )
    # The customer's public ID (C-000042) as the panel showed it.
    buyer_customer_number: Mapped[str] = mapped_column(
        String(30), nullable=False, default="", server_default=""
    )
    # The legal entity's footer (bank details, payment instructions) as issued.
    footer_text: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")

    entries = relationship("LedgerEntry", back_populates="credit_note", order_by="LedgerEntry.id")
    customer = relationship("Customer")
    legal_entity = relationship("LegalEntity")

    @property
    def seller(self) -> Seller:
        return Seller(self.seller_name, self.seller_address, self.seller_tax_id)

    __table_args__ = (
        UniqueConstraint("legal_entity_id", "number", name="uq_credit_notes_number"),
        Index("ix_credit_notes_customer_issue", "customer_id", "issue_date", "id"),
    )
