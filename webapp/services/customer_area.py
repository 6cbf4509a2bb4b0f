"""The customer's own area: what one signed-in customer may read of their account, and
the one thing they may change (their contacts' email preferences).

Every function takes the customer's id (from their session, never from the URL) and
answers only about that customer: a document or a contact of anyone else is None,
exactly as one that does not exist, so the routes answer both with the same 404. The
reads are the panel's own (``billing``, ``statements``, ``contacts``, ``ledger``);
nothing here has rules of its own beyond who may see what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.models.billing import CreditNote, Invoice
from webapp.models.contacts import Contact
from webapp.models.customer import Customer
from webapp.paging import FIRST, Page, PageAt
from webapp.services import billing, contacts, history, ledger, statements
from webapp.services.guard import lock_editable
from webapp.services.money import outstanding
from webapp.services.records import customer_record
from webapp.services.statements import Period, Statement

PREFERENCES = contacts.PREFERENCES  # field -> label: Billing, Updates, Legal
PREFERENCES_CHANGED = "Email preferences changed by the customer"
PREFERENCES_KIND = "record.contact.preferences_by_customer"


@dataclass(frozen=True)
class Balances:
    """The customer's balance per currency, the billing currency first."""

    # Every currency the customer has used: (amount_minor, currency); negative is owed.
    currencies: tuple[tuple[int, str], ...]
    # The currencies with a balance that is not zero, billing currency first.
    outstanding: tuple[tuple[int, str], ...]

    @property
    def owed(self) -> tuple[tuple[int, str], ...]:
        """What the customer owes, per currency, as positive amounts."""
        return tuple((-amount, currency) for amount, currency in self.outstanding if amount < 0)

    @property
    def paid_in_full(self) -> bool:
        """Every currency at zero (or no money moved yet)."""
        return not self.outstanding


def balances_of(session: Session, customer: Customer) -> Balances:
    """The customer's balance in each currency they have used (the ledger's balance rows)."""
    rows = [(row.balance_minor, row.currency) for row in ledger.balances(session, customer)]
    return Balances(tuple(rows), tuple(outstanding(rows, customer.currency)))


def history_page(session: Session, customer_id: int, at: PageAt = FIRST) -> Page:
    """The customer's billing history (ledger entries), newest first, paged as the panel's
    Billing tab is (keyset, ``?after=`` / ``?before=``)."""
    return billing.entries_page(session, customer_id, at)


def invoices_page(session: Session, customer_id: int, at: PageAt = FIRST) -> Page:
    """The customer's issued invoices, newest first; drafts are never shown."""
    return billing.invoices_page(session, customer_id, at=at, issued_only=True)


def credit_notes_page(session: Session, customer_id: int, at: PageAt = FIRST) -> Page:
    """The customer's credit notes, newest first."""
    return billing.credit_notes_page(session, customer_id, at)


def invoice_of(session: Session, customer_id: int, invoice_id: int) -> Invoice | None:
    """The customer's issued invoice with this id; None for a draft, another customer's
    invoice or one that does not exist."""
    invoice = customer_record(session, Invoice, customer_id, invoice_id)
    return None if invoice is None or invoice.is_draft else invoice


def credit_note_of(session: Session, customer_id: int, credit_note_id: int) -> CreditNote | None:
    """The customer's credit note with this id; None for another customer's or none."""
    return customer_record(session, CreditNote, customer_id, credit_note_id)


def statement_of(
    session: Session, customer: Customer, period: Period, made_on: date | None = None
) -> Statement:
    """The customer's statement of account for ``period``, as staff see it."""
    return statements.statement_for(session, customer, period, made_on)


def contacts_of(session: Session, customer_id: int) -> list[Contact]:
    """The customer's contacts, the primary one first."""
    return contacts.contacts_of(session, customer_id)


def contact_of(session: Session, customer_id: int, contact_id: int) -> Contact | None:
    """The customer's contact with this id; None for another customer's or none."""
    return contacts.get(session, customer_id, contact_id)


def set_email_preferences(
    session: Session, customer_id: int, contact_id: int, wanted: dict[str, bool]
) -> Contact | None:
    """Set which emails a contact of the customer receives (``wanted``: the keys of
    ``PREFERENCES``; a key left out keeps its value). One history line on the customer,
    "Email preferences changed by the customer", from what to what (nothing when nothing
    changed). None when the contact is not the customer's; ``CustomerRefusal`` when the
    customer was deleted or cleared. Commits."""
    lock_editable(session, customer_id)
    contact = session.get(Contact, contact_id, populate_existing=True)
    if contact is None or contact.customer_id != customer_id:
        session.rollback()
        return None
    values = {name: bool(wanted[name]) for name in PREFERENCES if name in wanted}
    before = contacts.preferences_label(contact) or "None"
    if all(getattr(contact, name) == value for name, value in values.items()):
        session.rollback()
        return contact
    # A Core update, so the history gets the one line below rather than the panel's
    # per-field "Contact changed" lines (which would read as a change by staff); the
    # version moves on, so a staff edit opened before this one meets a conflict.
    session.execute(
        update(Contact)
        .where(Contact.id == contact.id)
        .values(**values, version=Contact.version + 1)
    )
    contact = session.scalar(
        select(Contact).where(Contact.id == contact.id).execution_options(populate_existing=True)
    )
    history.record(
        session,
        customer_id,
        PREFERENCES_KIND,
        PREFERENCES_CHANGED,
        staff_id=None,
        field="email_preferences",
        old=f"{contact.name}: {before}",
        new=f"{contact.name}: {contacts.preferences_label(contact) or 'None'}",
        personal=True,
    )
    session.commit()
    return contact
