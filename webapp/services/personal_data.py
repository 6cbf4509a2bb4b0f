"""Clear personal data: for a customer who asks to be forgotten while their invoices
must be kept.

The profile's personal fields are blanked (the name becomes a placeholder), the
records that only describe the person (contacts, addresses, external IDs, notes) are
deleted, activity notes, ticket descriptions and the bodies and recipients of recorded
emails are emptied, payment links stop working and the personal values in the history
are removed. The customer ID, country, currency, ledger, balances, invoices and credit
notes, sales, subscriptions, tags, activity titles and ticket subjects are kept, so
reports and statistics do not change. Invoices and credit notes are legal records and
are kept as issued, buyer included: the name, address and tax ID printed on them stay
(services.documents), and the preview says so.
The files of finished customer exports are deleted (they list every customer).

Everything is written with Core statements in one transaction, so the history records
one "Personal data cleared" line instead of one line per removed value. Afterwards the
customer can no longer be edited (``guard.edit_refusal``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.billing import (
    CreditNote,
    CustomerBalance,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
)
from webapp.models.contacts import Address, Alias, Contact
from webapp.models.crm import Activity, Sale, Ticket
from webapp.models.customer import PERSONAL_COLUMNS, Customer, InvoicingFlow
from webapp.models.customer_account import CustomerAccount, CustomerAccountToken, CustomerSession
from webapp.models.email import Email, EmailStatus
from webapp.models.email_verification import EmailVerificationToken
from webapp.models.history import CustomerEvent
from webapp.models.notes import Note
from webapp.models.payment_links import PaymentLink
from webapp.models.subscriptions import Subscription
from webapp.services import audit, exports, guard, history, ledger, receivables, subscriptions
from webapp.services.gateways import gateway_for
from webapp.services.mailer import NO_MAIL_SERVER
from webapp.services.money import format_money
from webapp.services.reference import country_name, display_phone
from webapp.services.search import build_search_text
from webapp.services.wording import counted

# What the customer is called once cleared: the list, the header and the history show it.
CLEARED_NAME = "Personal data cleared"
# Why an email that was still waiting to go out never went.
NOT_SENT_ERROR = "Not sent: the customer's personal data was cleared."
# An email's failure reason may quote the recipient (a mail server's refusal does).
REASON_CLEARED = "The reason was cleared with the customer's personal data."

# The profile's personal columns, in the order the preview lists them; each becomes ''
# (the name becomes CLEARED_NAME).
PERSONAL_FIELDS = PERSONAL_COLUMNS
_PHONES = frozenset({"phone", "mobile", "fax"})
# Emails still waiting to go out: they must not, once their recipient is gone.
_WAITING = (EmailStatus.QUEUED, EmailStatus.SENDING)


class PersonalDataError(Exception):
    """Clearing was refused; the message says why and that nothing was cleared."""


def clear_refusal(session: Session, customer: Customer) -> str | None:
    """Why the personal data of this customer cannot be cleared now, or None."""
    if customer.personal_data_cleared_at is not None:
        return (
            f"The personal data of {customer.customer_id} was already cleared on "
            f"{customer.personal_data_cleared_at:%Y-%m-%d}."
        )
    if subscriptions.has_active(session, customer.id):
        return (
            f"{customer.customer_id} has an active subscription. Cancel it on the "
            "Subscriptions tab first; nothing was cleared."
        )
    return None


# -- the preview -----------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRow:
    """One line of the preview: a field, what it holds now, and whether it goes."""

    label: str
    value: str
    cleared: bool

    @property
    def outcome(self) -> str:
        return "Cleared" if self.cleared else "Kept"


@dataclass(frozen=True)
class Preview:
    """What Clear personal data would do to a customer, before it is confirmed."""

    fields: list[FieldRow]
    cleared: list[str]  # "2 contacts", "3 email bodies" … (only what is there)
    kept: list[str]  # "4 ledger entries", "Balance: €-119.00" …
    refusal: str | None  # set when it cannot be done now
    # Invoices and credit notes issued to the customer: they keep the buyer as printed.
    issued_documents: int = 0

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def _count(session: Session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


def _field_value(customer: Customer, name: str) -> str:
    value = getattr(customer, name) or ""
    return display_phone(value) if name in _PHONES and value else value


@dataclass(frozen=True)
class ClearedCounts:
    """How many of each kind of record Clear personal data empties or removes."""

    contacts: int
    addresses: int
    aliases: int
    notes: int
    activity_notes: int
    ticket_descriptions: int
    emails: int
    waiting_emails: int
    payment_links: int
    history_values: int
    accounts: int = 0
    # Finished customer exports hold every customer's data: their files are deleted.
    export_files: int = 0

    def phrases(self) -> list[str]:
        """Each kind of record cleared, as a short phrase (those with none left out)."""
        found = [
            (self.contacts, "contact", "contacts"),
            (self.addresses, "address", "addresses"),
            (self.aliases, "external ID", "external IDs"),
            (self.notes, "note", "notes"),
            (self.activity_notes, "activity's notes", "activities' notes"),
            (self.ticket_descriptions, "ticket description", "ticket descriptions"),
            (self.emails, "email body and recipient", "email bodies and recipients"),
            (
                self.waiting_emails,
                "email waiting to be sent (it will not go out)",
                "emails waiting to be sent (they will not go out)",
            ),
            (self.payment_links, "live payment link", "live payment links"),
            (self.history_values, "history value", "history values"),
            (
                self.accounts,
                "customer area account (signed out, cannot sign in again)",
                "customer area accounts (signed out, cannot sign in again)",
            ),
            (
                self.export_files,
                "finished customer export file (deleted: it lists every customer)",
                "finished customer export files (deleted: they list every customer)",
            ),
        ]
        return [counted(number, one, many) for number, one, many in found if number]


def _counts(session: Session, customer_id: int, now: datetime) -> ClearedCounts:
    mine = customer_id
    return ClearedCounts(
        contacts=_count(session, Contact, Contact.customer_id == mine),
        addresses=_count(session, Address, Address.customer_id == mine),
        aliases=_count(session, Alias, Alias.customer_id == mine),
        notes=_count(session, Note, Note.customer_id == mine),
        activity_notes=_count(
            session, Activity, Activity.customer_id == mine, Activity.notes != ""
        ),
        ticket_descriptions=_count(
            session, Ticket, Ticket.customer_id == mine, Ticket.description != ""
        ),
        emails=_count(session, Email, Email.customer_id == mine),
        waiting_emails=_count(
            session, Email, Email.customer_id == mine, Email.status.in_(_WAITING)
        ),
        payment_links=_count(
            session,
            PaymentLink,
            PaymentLink.customer_id == mine,
            PaymentLink.revoked_at.is_(None),
            or_(PaymentLink.expires_at.is_(None), PaymentLink.expires_at > now),
        ),
        history_values=_count(
            session,
            CustomerEvent,
            CustomerEvent.customer_id == mine,
            CustomerEvent.personal.is_(True),
            or_(CustomerEvent.old_value.is_not(None), CustomerEvent.new_value.is_not(None)),
        ),
        accounts=_count(session, CustomerAccount, CustomerAccount.customer_id == mine),
        export_files=exports.finished_files(session),
    )


def _totals(session: Session, model, customer_id: int, *conditions) -> str:
    rows = session.execute(
        select(model.currency, func.sum(model.total_minor))
        .where(model.customer_id == customer_id, *conditions)
        .group_by(model.currency)
        .order_by(model.currency)
    ).all()
    return ", ".join(format_money(total, currency) for currency, total in rows)


# A draft invoice is not issued: it is kept, but counted apart from the invoices.
_ISSUED = Invoice.status != InvoiceStatus.DRAFT


def _kept(session: Session, customer: Customer) -> list[str]:
    mine = customer.id
    invoices = _count(session, Invoice, Invoice.customer_id == mine, _ISSUED)
    credit_notes = _count(session, CreditNote, CreditNote.customer_id == mine)
    kept = [
        counted(
            _count(session, LedgerEntry, LedgerEntry.customer_id == mine),
            "ledger entry",
            "ledger entries",
        ),
        counted(invoices, "invoice", "invoices")
        + (f" (total {_totals(session, Invoice, mine, _ISSUED)})" if invoices else "")
        + ", as issued",
        counted(credit_notes, "credit note", "credit notes")
        + (f" (total {_totals(session, CreditNote, mine)})" if credit_notes else "")
        + ", as issued",
    ]
    drafts = _count(session, Invoice, Invoice.customer_id == mine, ~_ISSUED)
    if drafts:
        kept.append(counted(drafts, "draft invoice", "draft invoices") + ", not issued")
    balances = session.execute(
        select(CustomerBalance.currency, CustomerBalance.balance_minor)
        .where(CustomerBalance.customer_id == mine)
        .order_by(CustomerBalance.currency != customer.currency, CustomerBalance.currency)
    ).all()
    shown = [format_money(amount, currency) for currency, amount in balances]
    kept.append("Balance: " + (", ".join(shown) or format_money(0, customer.currency)))
    kept.append(counted(_count(session, Sale, Sale.customer_id == mine), "sale", "sales"))
    kept.append(
        counted(
            _count(session, Subscription, Subscription.customer_id == mine),
            "subscription",
            "subscriptions",
        )
    )
    activities = _count(session, Activity, Activity.customer_id == mine)
    tickets = _count(session, Ticket, Ticket.customer_id == mine)
    kept.append(counted(activities, "activity", "activities") + " (titles and dates)")
    kept.append(counted(tickets, "ticket", "tickets") + " (subjects and statuses)")
    kept.append("The history, without its personal values")
    return kept


def _kept_fields(customer: Customer) -> list[FieldRow]:
    tags = ", ".join(tag.name for tag in customer.tags)
    flow = "Automatic" if customer.invoicing_flow == InvoicingFlow.AUTOMATIC else "Manual"
    return [
        FieldRow("Customer ID", customer.customer_id, False),
        FieldRow("Country", country_name(customer.country), False),
        FieldRow("Billing currency", customer.currency, False),
        FieldRow("Tax class", customer.tax_class.label if customer.tax_class else "", False),
        FieldRow(
            "Legal entity", customer.legal_entity.name if customer.legal_entity else "", False
        ),
        FieldRow("Payment terms", f"Net {customer.payment_terms_days} days", False),
        FieldRow("Invoicing flow", flow, False),
        FieldRow("Payment gateway", gateway_for(customer.payment_gateway).name, False),
        FieldRow("Status", customer.status.capitalize(), False),
        FieldRow("Tags", tags, False),
    ]


def preview(session: Session, customer: Customer) -> Preview:
    """Field by field, what would be cleared (with the value it holds now) and what
    kept, the records that would go, and whether it can be done now."""
    fields = [
        FieldRow(label, _field_value(customer, name), True)
        for name, label in PERSONAL_FIELDS.items()
    ]
    return Preview(
        fields=fields + _kept_fields(customer),
        cleared=_counts(session, customer.id, utcnow()).phrases(),
        kept=_kept(session, customer),
        refusal=clear_refusal(session, customer),
        issued_documents=_count(session, Invoice, Invoice.customer_id == customer.id, _ISSUED)
        + _count(session, CreditNote, CreditNote.customer_id == customer.id),
    )


# -- clearing --------------------------------------------------------------------------


def clear_personal_data(session: Session, customer_id: int) -> ClearedCounts:
    """Clear the customer's personal data (see the module) and commit; returns what was cleared.
    Raises ``PersonalDataError`` (nothing written) if already cleared or a subscription is active,
    ``guard.CustomerGone`` once deleted. Finished exports are withdrawn (``withdraw_exports``)."""

    def work() -> tuple[ClearedCounts, list[Path]]:
        # Under the lock postings, subscriptions and records take: nothing can be added
        # between the checks and the commit.
        customer = guard.lock_customer(session, customer_id)  # CustomerGone when deleted
        refusal = clear_refusal(session, customer)
        if refusal is not None:
            raise PersonalDataError(refusal)
        now = utcnow()
        counts = _counts(session, customer.id, now)
        _clear(session, customer, now)
        history.record(session, customer.id, "personal_data.cleared", "Personal data cleared")
        summary = f"Cleared the personal data of {customer.customer_id}"
        phrases = counts.phrases()
        audit.record(
            session,
            "customer.personal_data_cleared",
            customer.customer_id,
            summary + (": " + ", ".join(phrases) + "." if phrases else "."),
        )
        because = "the personal data of a customer in it was cleared"
        return counts, exports.withdraw_exports(session, because)

    # The commit (or the rollback of a refusal) expires what the session holds, so the
    # customer is read afresh after these Core statements.
    counts, export_files = ledger.in_transaction(session, work)
    exports.delete_files(export_files)
    return counts


def _clear(session: Session, customer: Customer, now: datetime) -> None:
    mine = customer.id
    blank = {name: "" for name in PERSONAL_FIELDS}
    blank["name"] = CLEARED_NAME
    # The search text of the cleared profile (no external IDs: they are deleted).
    search_text = build_search_text(Customer(**blank), aliases=[])
    session.execute(
        update(Customer)
        .where(Customer.id == mine)
        .values(
            **blank,
            search_text=search_text,
            personal_data_cleared_at=now,
            updated_at=now,
            email_verified_at=None,
            email_undeliverable_at=None,
            email_undeliverable_reason="",
        )
    )
    receivables.rename(session, mine, CLEARED_NAME)
    # The customer-area account signs in with the address: it goes, with its sessions
    # and links (the emails that carried them keep their rows, without the link).
    accounts = select(CustomerAccount.id).where(CustomerAccount.customer_id == mine)
    tokens = select(CustomerAccountToken.id).where(CustomerAccountToken.account_id.in_(accounts))
    session.execute(
        update(Email).where(Email.account_token_id.in_(tokens)).values(account_token_id=None)
    )
    session.execute(
        delete(CustomerAccountToken).where(CustomerAccountToken.account_id.in_(accounts))
    )
    session.execute(delete(CustomerSession).where(CustomerSession.account_id.in_(accounts)))
    session.execute(delete(CustomerAccount).where(CustomerAccount.customer_id == mine))
    # Verify email links name the address: they go with it.
    session.execute(
        delete(EmailVerificationToken).where(EmailVerificationToken.customer_id == mine)
    )
    for model in (Contact, Address, Alias, Note):
        session.execute(delete(model).where(model.customer_id == mine))
    session.execute(
        update(Activity).where(Activity.customer_id == mine, Activity.notes != "").values(notes="")
    )
    session.execute(
        update(Ticket)
        .where(Ticket.customer_id == mine, Ticket.description != "")
        .values(description="")
    )
    # Waiting emails first, so none of them goes out to an address that is gone.
    session.execute(
        update(Email)
        .where(Email.customer_id == mine, Email.status.in_(_WAITING))
        .values(status=EmailStatus.FAILED, last_error=NOT_SENT_ERROR, retry_at=None)
    )
    session.execute(
        update(Email)
        .where(Email.customer_id == mine, Email.last_error.not_in(("", NO_MAIL_SERVER)))
        .where(Email.last_error != NOT_SENT_ERROR)
        .values(last_error=REASON_CLEARED)
    )
    session.execute(
        update(Email)
        .where(Email.customer_id == mine)
        .values(recipient="", html_body="", text_body="")
    )
    session.execute(
        update(PaymentLink)
        .where(PaymentLink.customer_id == mine, PaymentLink.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    history.clear_personal_values(session, mine)
