"""Contacts: the people at a customer. While a customer has contacts, exactly one is
the primary contact; invoices and credit notes also go to every contact who wants
billing emails.

The primary contact is one record, kept here. The contact fields of Add / Edit customer
(first name, last name, position) edit that record, and the customer row keeps a copy
of it (first_name, last_name, position) so the list, search and the CSV export read it
directly: every change to the primary contact, or of which contact is primary, copies
it there in the same transaction. The contact holds one name; the copy splits it into
first and last name, keeping the split typed on the customer form while it still fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from webapp.models.contacts import Contact
from webapp.models.customer import Customer
from webapp.services import history, versions
from webapp.services.guard import lock_editable
from webapp.services.ledger import lock_customer
from webapp.services.records import RecordError, customer_record, record_now
from webapp.services.search import build_search_text

FIELDS = ("name", "email", "phone", "position", "wants_billing", "wants_updates", "wants_legal")
PREFERENCES = {"wants_billing": "Billing", "wants_updates": "Updates", "wants_legal": "Legal"}
PRIMARY_NEEDED = (
    "A customer with contacts always has one primary contact: make another one primary instead."
)
# The customer columns that keep a copy of the primary contact (the contact fields of
# Add / Edit customer).
PROFILE_FIELDS = ("first_name", "last_name", "position")
NAME_MAX = 200
FIRST_NAME_MAX = LAST_NAME_MAX = 100
PROFILE_NAME_NEEDED = (
    "The primary contact needs a name. To remove the contact, use Remove on the Contacts tab."
)
POSITION_NEEDS_NAME = (
    "A position belongs to the primary contact: enter the contact's first or last name too, "
    "or leave Position empty."
)
PROFILE_NAME_TOO_LONG = (
    f"The contact's first and last name together can be at most {NAME_MAX} characters."
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


def primary_contact(session: Session, customer_id: int, fresh: bool = False) -> Contact | None:
    """The customer's primary contact, or None; ``fresh``: read afresh (under the lock)."""
    statement = select(Contact).where(
        Contact.customer_id == customer_id, Contact.is_primary.is_(True)
    )
    if fresh:
        statement = statement.execution_options(populate_existing=True)
    return session.scalar(statement)


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


def full_name(first_name: str, last_name: str) -> str:
    """The contact's one name from the customer form's two: "Grace Hopper"."""
    return " ".join(part for part in (first_name.strip(), last_name.strip()) if part)


def split_name(name: str, first_name: str = "", last_name: str = "") -> tuple[str, str]:
    """The contact's name as the customer form's first and last name. The split the form holds
    (``first_name``, ``last_name``) is kept while it still fits: the same name, or a name that
    still starts with that first name or ends with that last name. Otherwise the first word is
    the first name and the rest the last name; each fits its column."""
    name = name.strip()
    if name == full_name(first_name, last_name):
        return first_name.strip(), last_name.strip()
    first_name, last_name = first_name.strip(), last_name.strip()
    if first_name and name.startswith(first_name + " "):
        first, last = first_name, name[len(first_name) :].strip()
    elif last_name and name.endswith(" " + last_name):
        first, last = name[: -len(last_name)].strip(), last_name
    else:
        first, _, last = name.partition(" ")
        last = last.strip()
    if len(first) > FIRST_NAME_MAX or len(last) > LAST_NAME_MAX:
        first, last = name[:FIRST_NAME_MAX].strip(), name[FIRST_NAME_MAX:].strip()
    return first, last[:LAST_NAME_MAX]


def _copy_to_customer(
    session: Session,
    customer: Customer,
    primary: Contact | None,
    typed: tuple[str, str] | None = None,
) -> None:
    """Copy the primary contact onto the customer row (blank when there is none); ``typed``: the
    first and last name as the customer form split the contact's name.

    The contact's own history lines record its changes, so the copy makes none, except where
    the customer row changes without the contact: a new split of an unchanged name (typed on
    the customer form), or a position the row held with no contact at all (kept from before
    contacts were kept this way). The customer's own lines record those."""
    if primary is None:
        values = ("", "", "")
    else:
        first, last = typed or split_name(
            primary.name, customer.first_name or "", customer.last_name or ""
        )
        values = (first, last, primary.position or "")
    had_contact = bool(customer.first_name or customer.last_name)
    same_name = primary is not None and (
        primary.name == full_name(customer.first_name or "", customer.last_name or "")
    )
    own = set()
    if typed is not None and same_name:
        own.update(("first_name", "last_name"))
    if not had_contact and customer.position:
        own.add("position")
    history.copied_from_record(session, customer, set(PROFILE_FIELDS) - own)
    changed = False
    for name, value in zip(PROFILE_FIELDS, values, strict=True):
        if (getattr(customer, name) or "") != value:
            setattr(customer, name, value)
            changed = True
    if changed:
        customer.search_text = build_search_text(customer)


def store_profile_contact(session: Session, customer: Customer, fields: Mapping[str, Any]) -> None:
    """Make the primary contact match the contact fields of Add / Edit customer (``first_name``,
    ``last_name``, ``position``): a name creates the primary contact if there is none, or renames
    it; the customer row keeps the copy. Without a name: refused (``RecordError`` beside its field)
    while a primary contact exists, or when a position is typed; a position the row kept from
    before contacts were kept this way may stay or be cleared. A new customer (not flushed yet)
    already holds the typed values; a field left out of ``fields`` keeps its value. Does not
    commit (saved with the customer); call an existing customer under its lock."""
    is_new = customer.id is None
    # A field left out keeps its value (blank for a new customer).
    first, last, position = (
        (fields[name] if name in fields else "" if is_new else getattr(customer, name)) or ""
        for name in PROFILE_FIELDS
    )
    first, last, position = first.strip(), last.strip(), position.strip()
    name = full_name(first, last)
    primary = None if is_new else primary_contact(session, customer.id, fresh=True)
    if not name:
        if primary is not None:
            raise RecordError(PROFILE_NAME_NEEDED, "first_name")
        if position and (is_new or position != (customer.position or "")):
            raise RecordError(POSITION_NEEDS_NAME, "position")
        customer.position = position
        return
    if len(name) > NAME_MAX:
        raise RecordError(PROFILE_NAME_TOO_LONG, "last_name")
    if is_new:
        session.flush()
    if primary is None:
        primary = Contact(customer_id=customer.id, name=name, position=position, is_primary=True)
        session.add(primary)
    else:
        if (first, last) != (customer.first_name or "", customer.last_name or ""):
            primary.name = name
        primary.position = position
    _copy_to_customer(session, customer, primary, typed=(first, last))


def add(session: Session, customer: Customer, staff_id: int | None, fields: Mapping) -> Contact:
    """+ New contact. The first contact is the primary one whatever the box says."""
    _check(fields)
    customer = lock_editable(session, customer.id)
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
        _copy_to_customer(session, customer, contact)
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
    customer = lock_editable(session, customer.id)
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
    if contact.is_primary:
        _copy_to_customer(session, customer, contact)
    session.commit()
    return contact


def remove(session: Session, customer: Customer, contact: Contact) -> None:
    """Remove a contact; if it was the primary one, the oldest other contact takes over (and the
    customer row's copy with it; blank when none is left)."""
    customer = lock_customer(session, customer.id)
    was_primary = contact.is_primary
    session.delete(contact)
    session.flush()
    if was_primary:
        successor = session.scalar(
            select(Contact).where(Contact.customer_id == customer.id).order_by(Contact.id).limit(1)
        )
        if successor is not None:
            successor.is_primary = True
        _copy_to_customer(session, customer, successor)
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
