"""SQLAlchemy models, one module per aggregate."""

from webapp.models.api_keys import ApiKey, IdempotencyRecord
from webapp.models.billing import (
    CreditNote,
    CustomerBalance,
    DocumentCounter,
    EntryKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    Receivable,
    ReceivablesDay,
    ReceivablesTotal,
)
from webapp.models.bulk import BulkAction, BulkStatus
from webapp.models.contacts import Address, Alias, Contact
from webapp.models.crm import (
    Activity,
    ActivityKind,
    Sale,
    SaleStatus,
    Tag,
    Ticket,
    TicketStatus,
    customer_tags,
)
from webapp.models.customer import Customer, CustomerStatus
from webapp.models.customer_account import (
    AccountState,
    CustomerAccount,
    CustomerAccountToken,
    CustomerSession,
    TokenPurpose,
)
from webapp.models.email import Email, EmailStatus
from webapp.models.email_verification import EmailVerificationToken
from webapp.models.export import Export, ExportStatus
from webapp.models.history import AuditEvent, CustomerEvent
from webapp.models.imports import CustomerImport, ImportProblem, ImportStatus
from webapp.models.notes import Note
from webapp.models.payment_links import PaymentLink
from webapp.models.reminders import ReminderAttachment, ReminderStep, SentReminder
from webapp.models.settings import LegalEntity, TaxClass
from webapp.models.staff import SignInThrottle, Staff, StaffRole, StaffSession
from webapp.models.subscriptions import Subscription, SubscriptionInterval, SubscriptionStatus

__all__ = [
    "AccountState",
    "Activity",
    "ApiKey",
    "AuditEvent",
    "BulkAction",
    "BulkStatus",
    "ActivityKind",
    "Address",
    "Alias",
    "Contact",
    "CreditNote",
    "Customer",
    "CustomerAccount",
    "CustomerAccountToken",
    "CustomerBalance",
    "CustomerEvent",
    "CustomerImport",
    "CustomerSession",
    "CustomerStatus",
    "DocumentCounter",
    "Email",
    "EmailStatus",
    "EmailVerificationToken",
    "EntryKind",
    "Export",
    "IdempotencyRecord",
    "ExportStatus",
    "ImportProblem",
    "ImportStatus",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "LedgerEntry",
    "LegalEntity",
    "Note",
    "PaymentLink",
    "Receivable",
    "ReceivablesDay",
    "ReceivablesTotal",
    "ReminderAttachment",
    "ReminderStep",
    "Sale",
    "SaleStatus",
    "SentReminder",
    "SignInThrottle",
    "Staff",
    "StaffRole",
    "StaffSession",
    "Subscription",
    "SubscriptionInterval",
    "SubscriptionStatus",
    "Tag",
    "TaxClass",
    "Ticket",
    "TicketStatus",
    "TokenPurpose",
    "customer_tags",
]
