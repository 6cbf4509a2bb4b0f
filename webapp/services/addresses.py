"""Addresses: where a customer is. While a customer has addresses exactly one is the
billing address. The customer row keeps a copy of it (address_line1 … postal_code) so
the customer list, search, CSV export and invoices read it directly: every change to
the billing address copies it there in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from webapp.models.contacts import Address
from webapp.models.customer import Customer
from webapp.services import reference, versions
from webapp.services.guard import lock_editable
from webapp.services.ledger import lock_customer
from webapp.services.records import RecordError, current_record, customer_record
from webapp.services.search import build_search_text

FIELDS = ("label", "line1", "line2", "city", "region", "postal_code", "country")
# Address field -> the customer column that mirrors it for the billing address.
MIRRORED = {
    "line1": "address_line1",
    "line2": "address_line2",
    "city": "city",
    "region": "region",
    "postal_code": "postal_code",
}
# The label of a billing address made from the Add / Edit customer form.
PROFILE_LABEL = "Billing"

LINE1_NEEDED = "Enter the first line of the address."
COUNTRY_UNKNOWN = "Choose a country from the list."
BILLING_NEEDED = (
    "A customer with addresses always has one billing address: "
    "mark another address as the billing address instead."
)
MARK_ANOTHER_FIRST = (
    "Mark another address as the billing address first: a customer with addresses "
    "always has one billing address."
)
GONE = "This address has just been removed by someone else."


def addresses_of(session: Session, customer_id: int) -> list[Address]:
    """The billing address first, then the others in the order they were added."""
    return list(
        session.scalars(
            select(Address)
            .where(Address.customer_id == customer_id)
            .order_by(Address.is_billing.desc(), Address.id)
        )
    )


def billing_address_of(session: Session, customer_id: int) -> Address | None:
    """The customer's billing address, or None when they have no address."""
    return session.scalar(
        select(Address).where(Address.customer_id == customer_id, Address.is_billing.is_(True))
    )


def get(session: Session, customer_id: int, address_id: int) -> Address | None:
    return customer_record(session, Address, customer_id, address_id)


def describe(address: Address) -> str:
    """The address as it is written on an envelope, its label first, one part a line."""
    place = f"{address.postal_code} {address.city}".strip()
    parts = (address.label, address.line1, address.line2, place, address.region)
    return "\n".join([*(part for part in parts if part), reference.country_name(address.country)])


def _check(fields: Mapping[str, Any]) -> None:
    if not fields.get("line1"):
        raise RecordError(LINE1_NEEDED, "line1")
    if fields.get("country") not in reference.country_codes():
        raise RecordError(COUNTRY_UNKNOWN, "country")


def _refuse(session: Session, message: str, field: str | None = None) -> RecordError:
    """Let go of the customer lock before a refusal reaches the form."""
    session.rollback()
    return RecordError(message, field)


def _reread(session: Session, address: Address) -> Address:
    """The address read afresh under the customer lock (someone may have changed it meanwhile)."""
    current = current_record(session, Address, address.customer_id, address.id)
    if current is None:
        raise _refuse(session, GONE)
    return current


def _mirror(customer: Customer, billing: Address | None) -> None:
    """Copy the billing address onto the customer row (blank when there is none)."""
    for field, column in MIRRORED.items():
        setattr(customer, column, getattr(billing, field) if billing is not None else "")
    customer.search_text = build_search_text(customer)


def _mark_billing(session: Session, address: Address) -> None:
    """Unset the old billing address before setting the new one: the database allows one."""
    session.execute(
        sql_update(Address)
        .where(Address.customer_id == address.customer_id, Address.is_billing.is_(True))
        # The old billing address changes too: its edit form must see that.
        .values(is_billing=False, version=Address.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    address.is_billing = True


def add(session: Session, customer: Customer, staff_id: int | None, fields: Mapping) -> Address:
    """+ New address; the first is the billing address, ticking "Billing address" moves the mark."""
    _check(fields)
    customer = lock_editable(session, customer.id)
    address = Address(
        customer_id=customer.id,
        is_billing=False,
        **{name: fields.get(name, "") for name in FIELDS},
    )
    session.add(address)
    session.flush()
    if fields.get("is_billing") or billing_address_of(session, customer.id) is None:
        _mark_billing(session, address)
        _mirror(customer, address)
    session.commit()
    return address


def change(
    session: Session,
    customer: Customer,
    address: Address,
    fields: Mapping,
    opened: versions.Opened | None = None,
) -> Address:
    """Save changes; ticking "Billing address" moves the mark here, unticking it is refused.
    With ``opened``, raises ``versions.EditConflict`` if someone else saved it since."""
    _check(fields)
    customer = lock_editable(session, customer.id)
    address = _reread(session, address)
    versions.check(session, address, opened, fields)
    if address.is_billing and not fields.get("is_billing"):
        raise _refuse(session, BILLING_NEEDED, "is_billing")
    for name in FIELDS:
        if name in fields:
            setattr(address, name, fields[name])
    if fields.get("is_billing") and not address.is_billing:
        _mark_billing(session, address)
    if address.is_billing:
        _mirror(customer, address)
    session.commit()
    return address


def remove(session: Session, customer: Customer, address: Address) -> None:
    """Remove an address; the billing address only when it is the last (else mark another first)."""
    customer = lock_customer(session, customer.id)
    address = _reread(session, address)
    was_billing = address.is_billing
    if was_billing:
        others = session.scalar(
            select(Address.id)
            .where(Address.customer_id == customer.id, Address.id != address.id)
            .limit(1)
        )
        if others is not None:
            raise _refuse(session, MARK_ANOTHER_FIRST)
    session.delete(address)
    session.flush()
    if was_billing:
        _mirror(customer, None)
    session.commit()


def store_profile_address(session: Session, customer: Customer) -> None:
    """Make the billing address match the customer row's address fields (Add / Edit customer).
    The first non-empty one becomes billing; clearing removes it if it is the only address, else
    raises ``RecordError`` (``address_line1``). Does not commit (saved with the customer)."""
    if customer.id is None:
        session.flush()
    lock_customer(session, customer.id)
    typed = {field: getattr(customer, column) or "" for field, column in MIRRORED.items()}
    billing = billing_address_of(session, customer.id)
    if billing is None:
        if any(typed.values()):
            session.add(
                Address(
                    customer_id=customer.id,
                    label=PROFILE_LABEL,
                    country=customer.country,
                    is_billing=True,
                    **typed,
                )
            )
        return
    if any(typed.values()):
        for field, value in typed.items():
            setattr(billing, field, value)
        return
    others = session.scalar(
        select(Address.id)
        .where(Address.customer_id == customer.id, Address.id != billing.id)
        .limit(1)
    )
    if others is not None:
        raise RecordError(MARK_ANOTHER_FIRST, "address_line1")
    session.delete(billing)
