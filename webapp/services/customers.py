"""Customer lifecycle: create, edit, change status, find possible duplicates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models.contacts import Address, Contact
from webapp.models.customer import Customer, CustomerStatus, format_customer_id
from webapp.models.settings import TaxClass
from webapp.services import addresses, contacts, reference, settings, versions
from webapp.services.guard import edit_refusal
from webapp.services.ledger import LedgerError, has_money_moved, lock_customer
from webapp.services.records import RecordError
from webapp.services.search import build_search_text


class CustomerError(Exception):
    """A rule refused the change; the message is shown to the user, beside ``field`` if named."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# Fields a staff member may set through the customer form.
EDITABLE_FIELDS = (
    "name",
    "company",
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "fax",
    "position",
    "website",
    "country",
    "currency",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "tax_id",
    "tax_class_id",
    "legal_entity_id",
    "payment_terms_days",
    "invoicing_flow",
    "auto_pay",
    "footnotes",
    "payment_gateway",
)

# The fields kept on the customer row itself; the others are the primary contact's.
OWN_FIELDS = tuple(name for name in EDITABLE_FIELDS if name not in contacts.PROFILE_FIELDS)

STATUS_LABELS = {status: status.label for status in CustomerStatus}


def _apply(
    customer: Customer, fields: Mapping[str, Any], names: tuple[str, ...] = EDITABLE_FIELDS
) -> None:
    for name in names:
        if name in fields:
            value = fields[name]
            setattr(customer, name, value if value is not None or name.endswith("_id") else "")
    if "external_id" in fields:  # set by the API and CSV import, checked by external_id_refusal
        customer.external_id = fields["external_id"] or None
    customer.search_text = build_search_text(customer)


EXTERNAL_ID_MAX = 100


class ExternalIdTaken(CustomerError):
    """Another customer already has this external ID (a conflict, not a typing mistake)."""


def normalise_external_id(value: Any) -> str | None:
    """An external ID as stored: trimmed text of at most 100 characters, or None for none."""
    if value is None:
        return None
    text = str(value).strip()
    if reference.has_unstorable_character(text):
        raise CustomerError(reference.UNSTORABLE_IN_FIELD, "external_id")
    if len(text) > EXTERNAL_ID_MAX:
        raise CustomerError(
            f"An external ID is at most {EXTERNAL_ID_MAX} characters.", "external_id"
        )
    return text or None


def check_external_id(session: Session, value: str | None, exclude_id: int | None = None) -> None:
    """Raise ``ExternalIdTaken`` when another customer has the external ID ``value``."""
    if value is None:
        return
    query = select(Customer.id).where(Customer.external_id == value)
    if exclude_id is not None:
        query = query.where(Customer.id != exclude_id)
    other = session.scalar(query.limit(1))
    if other is not None:
        raise ExternalIdTaken(
            f"Customer {format_customer_id(other)} already has this external ID.", "external_id"
        )


def create_customer(
    session: Session,
    fields: Mapping[str, Any],
    *,
    access: str = "none",
    password: str | None = None,
) -> Customer:
    """Add a customer from validated fields and commit; defaults the tax class and legal entity.

    ``access`` is Add customer's choice for the customer area (customer_accounts'
    ACCESS_CHOICES): "none", "invite" (the onboarding email with an invite link) or
    "password" (``password``, set by staff). All in one transaction: a refused account
    (``CustomerError`` on field "email", "access_password" or "access") adds nothing."""
    from webapp.services import customer_accounts

    try:
        customer = add_customer(session, fields)
    except CustomerError:
        session.rollback()
        raise
    if access != customer_accounts.ACCESS_NONE:
        session.flush()
        try:
            if access == customer_accounts.ACCESS_INVITE:
                customer_accounts.send_invite(session, customer)
            elif access == customer_accounts.ACCESS_PASSWORD:
                customer_accounts.set_password_by_staff(session, customer, password or "")
            else:
                raise customer_accounts.CustomerAccountError("Choose a kind of access.")
        except customer_accounts.CustomerAccountError as refusal:
            session.rollback()
            field = {"email": "email", "password": "access_password"}.get(refusal.field or "")
            raise CustomerError(str(refusal), field or "access") from None
    session.commit()
    return customer


def update_customer(
    session: Session,
    customer: Customer,
    fields: Mapping[str, Any],
    opened: versions.Opened | None = None,
) -> Customer:
    """Save validated edits and commit, under the lock postings and Clear personal data take (no
    charge between the currency check and the save; an edit racing a clear is refused).
    With ``opened``, raises ``versions.EditConflict`` if someone else saved it since."""
    try:
        change_customer(session, customer, fields, opened)
    except CustomerError:
        session.rollback()
        raise
    session.commit()
    return customer


def add_customer(session: Session, fields: Mapping[str, Any]) -> Customer:
    """Add customer's rules without the commit (Add customer, CSV import): the customer with its
    primary contact and billing address, the default tax class and legal entity; a refusal is a
    ``CustomerError`` and the caller rolls back (or its savepoint)."""
    if "external_id" in fields:
        check_external_id(session, fields["external_id"])
    customer = Customer(status=CustomerStatus.ACTIVE, tax_rate_bp=fields.get("tax_rate_bp", 0))
    _apply(customer, fields)
    settings.assign_defaults(session, customer)
    session.add(customer)
    _store_contact(session, customer, fields)
    _store_address(session, customer, fields)
    return customer


def change_customer(
    session: Session,
    customer: Customer,
    fields: Mapping[str, Any],
    opened: versions.Opened | None = None,
) -> Customer:
    """Edit customer's rules without the commit (Edit customer, CSV import), under the customer's
    lock; a refusal is a ``CustomerError`` and the caller rolls back (or its savepoint)."""
    currency = fields.get("currency", customer.currency)
    lock_customer(session, customer.id)  # re-reads the customer
    refusal = edit_refusal(customer)
    if refusal is not None:
        raise CustomerError(refusal, "name")
    versions.check(session, customer, opened, fields)
    if currency != customer.currency and currency_is_locked(session, customer):
        raise CustomerError(CURRENCY_LOCKED)
    if "external_id" in fields:
        check_external_id(session, fields["external_id"], exclude_id=customer.id)
    # The contact fields are the primary contact's: _store_contact saves them there.
    _apply(customer, fields, OWN_FIELDS)
    if "tax_class_id" in fields:
        tax_class = session.get(TaxClass, customer.tax_class_id)
        if tax_class is None:  # deleted while the form was open
            raise CustomerError("This tax class no longer exists: choose another.", "tax_class_id")
        customer.tax_rate_bp = tax_class.rate_bp
    _store_contact(session, customer, fields)
    _store_address(session, customer, fields)
    return customer


def _store_contact(session: Session, customer: Customer, fields: Mapping[str, Any]) -> None:
    """The form's contact fields are the primary contact: keep its Contact row in step."""
    if not any(name in fields for name in contacts.PROFILE_FIELDS):
        return
    try:
        contacts.store_profile_contact(session, customer, fields)
    except RecordError as refusal:
        raise CustomerError(str(refusal), refusal.field) from None


def _store_address(session: Session, customer: Customer, fields: Mapping[str, Any]) -> None:
    """The form's address fields are the billing address: keep its Address row in step."""
    if not any(column in fields for column in addresses.MIRRORED.values()):
        return
    try:
        addresses.store_profile_address(session, customer)
    except RecordError as refusal:
        raise CustomerError(str(refusal), refusal.field) from None


CURRENCY_LOCKED = (
    "The billing currency cannot change once money has moved: entries and invoices "
    "are in this currency."
)


def currency_is_locked(session: Session, customer: Customer) -> bool:
    """The billing currency is fixed once the customer has any ledger entry."""
    return has_money_moved(session, customer.id)


def change_status(session: Session, customer: Customer, status: str) -> Customer:
    """Move a customer to active, suspended or archived."""
    try:
        new_status = CustomerStatus(status)
    except ValueError:
        raise CustomerError("Choose active, suspended or archived.") from None
    try:
        # Read afresh under the lock: the copy in hand may be older than a save made
        # since, and the versioned update would not match it.
        customer = lock_customer(session, customer.id)
    except LedgerError as gone:
        session.rollback()
        raise CustomerError(str(gone)) from None
    if customer.status == new_status:
        session.rollback()
        raise CustomerError(f"This customer is already {STATUS_LABELS[new_status].lower()}.")
    customer.status = new_status
    session.commit()
    return customer


@dataclass(frozen=True)
class Duplicate:
    field: str
    customer_id: int
    display_id: str
    name: str

    @property
    def field_label(self) -> str:
        return "email" if self.field == "email" else "tax ID"


def find_duplicates(
    session: Session, email: str = "", tax_id: str = "", exclude_id: int | None = None
) -> list[Duplicate]:
    """Other customers with the same email or tax ID (a warning, never a refusal)."""
    found: list[Duplicate] = []
    for field, value in (("email", email), ("tax_id", tax_id)):
        if not value:
            continue
        column = getattr(Customer, field)
        query = select(Customer.id, Customer.name).where(column == value)
        if exclude_id is not None:
            query = query.where(Customer.id != exclude_id)
        for row in session.execute(query.order_by(Customer.id).limit(3)):
            found.append(Duplicate(field, row.id, format_customer_id(row.id), row.name))
    return found


def find_duplicates_of_input(
    session: Session, email: str, tax_id: str, country: str, exclude_id: int | None = None
) -> list[Duplicate]:
    """``find_duplicates`` on raw typed values, normalised as stored; invalid ones are skipped."""
    try:
        email = reference.normalise_email(email) if email.strip() else ""
    except ValueError:
        email = ""
    try:
        tax_id = reference.normalise_tax_id(tax_id, country or None)
    except ValueError:
        tax_id = ""
    return find_duplicates(session, email=email, tax_id=tax_id, exclude_id=exclude_id)


def add_customers(
    session: Session, rows: list[tuple[Mapping[str, Any], str]]
) -> list[Customer | CustomerError]:
    """``add_customer`` for many new customers at once (a CSV import's chunk), without the commit:
    each row is (fields checked by the form's rules, status). The same rules, but two flushes in
    all rather than several per customer: the primary contact and billing address are made as
    Add customer makes them for a new customer. Returns, per row, the customer or the
    ``CustomerError`` that refused it (nothing of that row is added)."""
    results: list[Customer | CustomerError] = []
    added: list[tuple[Customer, Mapping[str, Any]]] = []
    for fields, status in rows:
        first, last, position = (
            (fields.get(name) or "").strip() for name in contacts.PROFILE_FIELDS
        )
        name = contacts.full_name(first, last)
        if not name and position:
            results.append(CustomerError(contacts.POSITION_NEEDS_NAME, "position"))
            continue
        if len(name) > contacts.NAME_MAX:
            results.append(CustomerError(contacts.PROFILE_NAME_TOO_LONG, "last_name"))
            continue
        customer = Customer(status=status or CustomerStatus.ACTIVE, tax_rate_bp=0)
        _apply(customer, fields)
        settings.assign_defaults(session, customer)
        session.add(customer)
        added.append((customer, fields))
        results.append(customer)
    session.flush()
    for customer, _fields in added:
        name = contacts.full_name(customer.first_name or "", customer.last_name or "")
        if name:
            session.add(
                Contact(
                    customer_id=customer.id,
                    name=name,
                    position=customer.position or "",
                    is_primary=True,
                )
            )
        typed = {
            field: getattr(customer, column) or "" for field, column in addresses.MIRRORED.items()
        }
        if any(typed.values()):
            session.add(
                Address(
                    customer_id=customer.id,
                    label=addresses.PROFILE_LABEL,
                    country=customer.country,
                    is_billing=True,
                    **typed,
                )
            )
    return results
