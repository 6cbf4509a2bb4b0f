"""Contacts: the people at a customer. While a customer has contacts, exactly one is
the primary contact; invoices and credit notes also go to every contact who wants
billing emails."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from webapp.models.contacts import Contact
from webapp.models.customer import Customer
from webapp.services import versions
from webapp.services.guard import lock_editable
from webapp.services.ledger import lock_customer
from webapp.services.records import RecordError, customer_record, record_now

FIELDS = ("name", "email", "phone", "position", "wants_billing", "wants_updates", "wants_legal")
PREFERENCES = {"wants_billing": "Billing", "wants_updates": "Updates", "wants_legal": "Legal"}
PRIMARY_NEEDED = (
    "A customer with contacts always has one primary contact: make another one primary instead."
)


def contacts_of(session: Session, customer_id: int) -> list[Contact]:
    """The primary contact first, then the others in the order they were added."""
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.customer_id == customer_id)
            .order_by(Contact.is_primary.desc(), Contact.id)
        )
    )


def primary_contact(session: Session, customer_id: int) -> Contact | None:
    return session.scalar(
        select(Contact).where(Contact.customer_id == customer_id, Contact.is_primary.is_(True))
    )


def get(session: Session, customer_id: int, contact_id: int) -> Contact | None:
    return customer_record(session, Contact, customer_id, contact_id)


def _check(fields: Mapping[str, Any]) -> None:
    if fields.get("wants_billing") and not fields.get("email"):
        raise RecordError("Billing emails need an email address.", "email")


def _make_primary(session: Session, contact: Contact) -> None:
    """Unset the old primary before setting the new one: the database allows one."""
    session.execute(
        sql_update(Contact)
        .where(Contact.customer_id == contact.customer_id, Contact.is_primary.is_(True))
        # The old primary contact changes too: its edit form must see that.
        .values(is_primary=False, version=Contact.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    contact.is_primary = True


def add(session: Session, customer: Customer, staff_id: int | None, fields: Mapping) -> Contact:
    """+ New contact. The first contact is the primary one whatever the box says."""
    _check(fields)
    lock_editable(session, customer.id)
    contact = Contact(
        customer_id=customer.id,
        is_primary=False,
        **{name: fields[name] for name in FIELDS if name in fields},
    )
    session.add(contact)
    session.flush()
    has_primary = session.scalar(
        select(Contact.id).where(Contact.customer_id == customer.id, Contact.is_primary.is_(True))
    )
    if fields.get("is_primary") or has_primary is None:
        _make_primary(session, contact)
    session.commit()
    return contact


def change(
    session: Session,
    customer: Customer,
    contact: Contact,
    fields: Mapping,
    opened: versions.Opened | None = None,
) -> Contact:
    """Save changes; making a contact primary moves the mark.
    With ``opened``, raises ``versions.EditConflict`` if someone else saved it since."""
    _check(fields)
    lock_editable(session, customer.id)
    contact = record_now(session, Contact, customer.id, contact.id, "contact")
    versions.check(session, contact, opened, fields)
    if contact.is_primary and not fields.get("is_primary"):
        session.rollback()  # let go of the lock
        raise RecordError(PRIMARY_NEEDED, "is_primary")
    for name in FIELDS:
        if name in fields:
            setattr(contact, name, fields[name])
    if fields.get("is_primary") and not contact.is_primary:
        _make_primary(session, contact)
    session.commit()
    return contact


def remove(session: Session, customer: Customer, contact: Contact) -> None:
    """Remove a contact; if it was the primary one, the oldest other contact takes over."""
    lock_customer(session, customer.id)
    was_primary = contact.is_primary
    session.delete(contact)
    session.flush()
    if was_primary:
        successor = session.scalar(
            select(Contact).where(Contact.customer_id == customer.id).order_by(Contact.id).limit(1)
        )
        if successor is not None:
            successor.is_primary = True
    session.commit()


def preferences_label(contact: Contact) -> str:
    """The emails a contact wants, as words: "Billing, Legal"."""
    return ", ".join(label for name, label in PREFERENCES.items() if getattr(contact, name))


def describe(contact: Contact) -> str:
    return ", ".join(part for part in (contact.name, contact.email, contact.position) if part)


def billing_recipients(session: Session, customer: Customer) -> list[str]:
    """Billing email recipients: the customer's email, then contacts who want them, each once."""
    addresses = [customer.email] if customer.email else []
    addresses += session.scalars(
        select(Contact.email)
        .where(
            Contact.customer_id == customer.id,
            Contact.wants_billing.is_(True),
            Contact.email != "",
        )
        .order_by(Contact.id)
    )
    seen: set[str] = set()
    unique = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique
