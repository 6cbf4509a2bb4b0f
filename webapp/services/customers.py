"""Customer lifecycle: create, edit, change status, find possible duplicates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
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
    session: Session,
    rows: list[tuple[Mapping[str, Any], str]],
    history_line: Mapping[str, Any] | None = None,
) -> list[int | CustomerError]:
    """``add_customer`` for many new customers at once (a CSV import's chunk), without the commit:
    each row is (fields checked by the form's rules, status). The same rules as Add customer
    and its Customer created line, plus ``history_line`` (kind, summary, staff_id: "Imported
    from <file>") for each. Unlike Add customer, the primary contact and billing address get
    no "added" lines of their own: they came with the customer, as the Profile shows, and
    two lines fewer per customer make a 100,000-row import about a fifth faster. The rows are
    written a table at a time (COPY on PostgreSQL) rather than by the ORM, several statements per
    customer. Returns, per row, the new customer's id or the ``CustomerError`` that refused it
    (nothing of that row is added)."""
    from webapp.models.history import CustomerEvent
    from webapp.services.history import added_line

    results: list[int | CustomerError] = []
    accepted: list[tuple[int, dict]] = []
    # The class sets the rate (as assign_defaults does), read once for the chunk.
    rates = {row.id: row.rate_bp for row in session.execute(select(TaxClass.id, TaxClass.rate_bp))}
    for fields, status in rows:
        first, last, position = (
            (fields.get(name) or "").strip() for name in contacts.PROFILE_FIELDS
        )
        name = contacts.full_name(first, last)
        if not name and position:
            results.append(CustomerError(contacts.POSITION_NEEDS_NAME, "position"))
        elif len(name) > contacts.NAME_MAX:
            results.append(CustomerError(contacts.PROFILE_NAME_TOO_LONG, "last_name"))
        elif fields.get("tax_class_id") not in rates or fields.get("legal_entity_id") is None:
            results.append(CustomerError("Choose a tax class from the list.", "tax_class_id"))
        else:
            values = _applied(fields, EDITABLE_FIELDS)
            values["status"] = status or CustomerStatus.ACTIVE.value
            values["tax_rate_bp"] = rates[fields["tax_class_id"]]
            values["search_text"] = build_search_text(SimpleNamespace(**values), aliases=())
            accepted.append((len(results), values))
            results.append(0)  # the id, once known
    if not accepted:
        return results
    customer_rows, contact_rows, address_rows, lines = [], [], [], []
    ids = _new_customer_ids(session, len(accepted))
    for (index, values), customer_id in zip(accepted, ids, strict=True):
        results[index] = customer_id
        customer_rows.append({**_customer_defaults(), **values, "id": customer_id})
        lines.append(added_line(SimpleNamespace(id=customer_id, name=values["name"]), Customer))
        name = contacts.full_name(values["first_name"], values["last_name"])
        if name:
            contact = {"customer_id": customer_id, "name": name, "position": values["position"]}
            contact_rows.append({**contact, "is_primary": True})
        typed = {field: values[column] for field, column in addresses.MIRRORED.items()}
        if any(typed.values()):
            address = {
                "customer_id": customer_id,
                "label": addresses.PROFILE_LABEL,
                "country": values["country"],
                "is_billing": True,
                **typed,
            }
            address_rows.append(address)
        if history_line is not None:
            lines.append({"customer_id": customer_id, **history_line})
    event_rows = [
        {
            "customer_id": line["customer_id"],
            "staff_id": line.get("staff_id"),
            "kind": line["kind"],
            "summary": line["summary"],
            "field": line.get("field"),
            "old_value": line.get("old"),
            "new_value": line.get("new"),
            "personal": line.get("personal", False),
        }
        for line in lines
    ]
    _insert_rows(session, Customer, customer_rows)
    _insert_rows(session, Contact, contact_rows)
    _insert_rows(session, Address, address_rows)
    _insert_rows(session, CustomerEvent, event_rows)
    return results


def _applied(fields: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The column values ``_apply`` sets from validated fields (text columns '' for None)."""
    values = {}
    for name in names:
        if name in fields:
            value = fields[name]
            values[name] = value if value is not None or name.endswith("_id") else ""
    if "external_id" in fields:
        values["external_id"] = fields["external_id"] or None
    return values


def _customer_defaults() -> dict[str, Any]:
    """Every column of a new customer row with its default (what the ORM would fill in)."""
    now = utcnow()
    values: dict[str, Any] = {}
    for column in Customer.__table__.columns:
        default = column.default
        if default is None:
            values[column.key] = None
        elif default.is_callable:
            values[column.key] = (
                now if column.key in ("created_at", "updated_at") else (default.arg(None))
            )
        else:
            values[column.key] = default.arg
    return values


def _new_customer_ids(session: Session, count: int) -> list[int]:
    """Ids for ``count`` new customers: from the table's sequence on PostgreSQL (so the rows can
    be copied in with them), else inserted as placeholders first (SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return list(
            session.scalars(
                text("SELECT nextval(pg_get_serial_sequence('customers', 'id')) "
                     "FROM generate_series(1, :count)"),
                {"count": count},
            )
        )  # fmt: skip
    top = session.scalar(select(func.max(Customer.id))) or 0
    # SQLite's AUTOINCREMENT never reuses an id: start above the highest ever handed out.
    used = session.execute(
        text("SELECT seq FROM sqlite_sequence WHERE name = 'customers'")
    ).scalar()
    start = max(top, used or 0) + 1
    return list(range(start, start + count))


def _insert_rows(session: Session, model, rows: list[dict]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL (one round trip, no
    statement per row), executemany elsewhere. The rows of a call share their keys."""
    if not rows:
        return
    table = model.__table__
    names = list(rows[0])
    if session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    missing = [
        column
        for column in table.columns
        if column.key not in names and column.default is not None and column.key != "id"
    ]
    now = utcnow()
    extra = {
        column.key: (now if column.key == "created_at" else column.default.arg(None))
        if column.default.is_callable
        else column.default.arg
        for column in missing
    }
    names += list(extra)
    connection = session.connection().connection.driver_connection
    command = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(command) as copy:
        for row in rows:
            copy.write_row([row[name] if name in row else extra[name] for name in names])
