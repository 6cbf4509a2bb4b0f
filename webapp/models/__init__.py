"""SQLAlchemy models, one module per aggregate."""

from webapp.models.billing import (
    CreditNote,
    CustomerBalance,
    DocumentCounter,
    EntryKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
)
from webapp.models.customer import Customer, CustomerStatus
from webapp.models.email import Email, EmailStatus
from webapp.models.export import Export, ExportStatus
from webapp.models.links import CustomerEvent, PaymentLink
from webapp.models.notes import Note
from webapp.models.staff import SignInThrottle, Staff, StaffRole

__all__ = [
    "CreditNote",
    "Customer",
    "CustomerBalance",
    "CustomerEvent",
    "CustomerStatus",
    "DocumentCounter",
    "Email",
    "EmailStatus",
    "EntryKind",
    "Export",
    "ExportStatus",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "LedgerEntry",
    "Note",
    "PaymentLink",
    "SignInThrottle",
    "Staff",
    "StaffRole",
]
