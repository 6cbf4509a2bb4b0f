"""A customer's history: every change, who made it and when, from what to what.

Changes made through the ORM are written down by one ``before_flush`` listener, in the
same flush as the change itself, so a new service cannot forget to record them: the
customer being created, each edited field, status changes, ledger entries, invoices
and their status, credit notes, subscriptions, and the records around a customer
(contacts, addresses, external IDs, notes, activities, tickets, sales). What is written
with Core statements calls ``record()`` itself: tags, emails sent, payment-link
actions, tax-class rate changes and clearing personal data.

A summary never holds personal data. A personal value (a name, an email address, a
note) is kept only in ``old_value``/``new_value`` with ``personal`` set, so Clear
personal data blanks exactly those and the rest of the history stays readable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import has_request_context
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from webapp.models.billing import CreditNote, Invoice, LedgerEntry
from webapp.models.contacts import Address, Alias, Contact
from webapp.models.crm import Activity, Sale, Subscription, Ticket
from webapp.models.customer import Customer
from webapp.models.history import CustomerEvent
from webapp.models.notes import Note
from webapp.models.settings import LegalEntity, TaxClass
from webapp.services.money import format_money
from webapp.services.paging import Page, page_of

# Kind groups, as the History tab's filter offers them. A kind is "group" or
# "group.detail" (entry.charge, record.contact.added, payment_link.revoked …).
GROUPS = {
    "created": "Created",
    "edited": "Edits",
    "status": "Status",
    "entry": "Charges and credits",
    "invoice": "Invoices",
    "credit_note": "Credit notes",
    "payment_link": "Payment link",
    "email": "Emails",
    "subscription": "Subscriptions",
    "record": "Contacts and records",
    "personal_data": "Personal data",
}

# The customer's own fields, as the history names them. The billing-address columns are
# left out: they mirror the billing Address, whose own changes are recorded.
CUSTOMER_FIELDS = {
    "name": "Name",
    "company": "Company",
    "first_name": "Contact first name",
    "last_name": "Contact last name",
    "email": "Email",
    "phone": "Phone",
    "mobile": "Mobile",
    "fax": "Fax",
    "position": "Position",
    "website": "Website",
    "country": "Country",
    "currency": "Billing currency",
    "tax_id": "Tax ID",
    "tax_class_id": "Tax class",
    "legal_entity_id": "Legal entity",
    "payment_terms_days": "Payment terms (days)",
    "invoicing_flow": "Invoicing flow",
    "auto_pay": "Auto pay",
    "footnotes": "Footnotes",
    "payment_gateway": "Payment gateway",
}
PERSONAL_CUSTOMER_FIELDS = frozenset(
    {
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
        "tax_id",
        "footnotes",
    }
)

_UNSET: Any = object()


def acting_staff_id() -> int | None:
    """The signed-in staff member of this request; None for jobs and the command line."""
    if not has_request_context():
        return None
    from flask_login import current_user

    return current_user.id if current_user and current_user.is_authenticated else None


def record(
    session: Session,
    customer_id: int | None,
    kind: str,
    summary: str,
    *,
    staff_id: int | None = _UNSET,
    field: str | None = None,
    old: str | None = None,
    new: str | None = None,
    personal: bool = False,
    customer: Customer | None = None,
) -> CustomerEvent:
    """Add a line to a customer's history in the caller's transaction. ``staff_id``
    defaults to the signed-in staff member; pass ``customer`` instead of its id for a
    customer that is not flushed yet."""
    entry = CustomerEvent(
        customer_id=customer_id,
        staff_id=acting_staff_id() if staff_id is _UNSET else staff_id,
        kind=kind,
        summary=summary,
        field=field,
        old_value=old,
        new_value=new,
        personal=personal,
    )
    if customer is not None:
        entry.customer = customer
    session.add(entry)
    return entry


def events_page(session: Session, customer_id: int, group: str = "", number: int = 1) -> Page:
    """A page of the History tab, newest first; ``group`` is one of GROUPS or ''."""
    statement = select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)
    if group in GROUPS:
        statement = statement.where(
            or_(CustomerEvent.kind == group, CustomerEvent.kind.startswith(group + "."))
        )
    return page_of(session, statement.order_by(CustomerEvent.id.desc()), number)


def events_of(session: Session, customer_id: int, prefix: str = "", limit: int = 10):
    """The newest events whose kind starts with ``prefix`` (the Billing tab's link log)."""
    statement = select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)
    if prefix:
        statement = statement.where(CustomerEvent.kind.startswith(prefix))
    return session.scalars(statement.order_by(CustomerEvent.id.desc()).limit(limit)).all()


def clear_personal_values(session: Session, customer_id: int) -> int:
    """Blank every personal value in a customer's history (Clear personal data)."""
    return session.execute(
        update(CustomerEvent)
        .where(CustomerEvent.customer_id == customer_id, CustomerEvent.personal.is_(True))
        .values(old_value=None, new_value=None)
    ).rowcount


# -- how values read -------------------------------------------------------------------


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _customer_value(session: Session, field: str, value: Any) -> str:
    if value is None:
        return ""
    if field == "tax_class_id":
        tax_class = session.get(TaxClass, value)
        return tax_class.label if tax_class else str(value)
    if field == "legal_entity_id":
        entity = session.get(LegalEntity, value)
        return entity.name if entity else str(value)
    if field == "auto_pay":
        return "On" if value else "Off"
    if field in {"status", "invoicing_flow"}:
        return _plain(value).capitalize()
    return _plain(value)


def _changes(obj: Any, fields: Iterable[str]) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for each field whose value really changed in this flush."""
    from sqlalchemy import inspect

    state = inspect(obj)
    found = []
    for name in fields:
        history = state.attrs[name].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old != new:
            found.append((name, old, new))
    return found


# -- what the listener records ---------------------------------------------------------


@dataclass(frozen=True)
class Watched:
    """A record around a customer whose additions, changes and removals are recorded."""

    noun: str  # "Contact": "Contact added", "Contact changed: Email"
    slug: str  # kind "record.<slug>.added"
    fields: dict[str, str]  # field -> label, whose changes are recorded
    personal: frozenset[str]  # of those fields, the personal ones
    label: Callable[[Any], str]  # how the record is named when added or removed
    label_is_personal: bool = True


WATCHED: dict[type, Watched] = {
    Contact: Watched(
        "Contact",
        "contact",
        {
            "name": "Name",
            "email": "Email",
            "phone": "Phone",
            "position": "Position",
            "is_primary": "Primary contact",
            "wants_billing": "Billing emails",
            "wants_updates": "Update emails",
            "wants_legal": "Legal emails",
        },
        frozenset({"name", "email", "phone", "position"}),
        lambda contact: contact.name,
    ),
    Address: Watched(
        "Address",
        "address",
        {
            "label": "Label",
            "line1": "Address line 1",
            "line2": "Address line 2",
            "city": "City",
            "region": "Region",
            "postal_code": "Postal code",
            "country": "Country",
            "is_billing": "Billing address",
        },
        frozenset({"label", "line1", "line2", "city", "region", "postal_code"}),
        lambda address: ", ".join(
            part for part in (address.line1, address.postal_code, address.city) if part
        ),
    ),
    Alias: Watched(
        "External ID",
        "external_id",
        {"label": "Label", "value": "ID"},
        frozenset({"label", "value"}),
        lambda alias: f"{alias.label}: {alias.value}",
    ),
    Note: Watched("Note", "note", {}, frozenset(), lambda note: note.body),
    Activity: Watched(
        "Activity",
        "activity",
        {"kind": "Kind", "title": "Title", "due_at": "When", "notes": "Notes", "done": "Done"},
        frozenset({"notes"}),
        lambda activity: activity.title,
        label_is_personal=False,
    ),
    Ticket: Watched(
        "Ticket",
        "ticket",
        {"subject": "Subject", "description": "Description", "status": "Status"},
        frozenset({"description"}),
        lambda ticket: ticket.subject,
        label_is_personal=False,
    ),
    Sale: Watched(
        "Sale",
        "sale",
        {
            "sold_on": "Date",
            "description": "Description",
            "amount_minor": "Amount",
            "currency": "Currency",
            "status": "Status",
        },
        frozenset(),
        lambda sale: f"{sale.description} ({format_money(sale.amount_minor, sale.currency)})",
        label_is_personal=False,
    ),
}


def _actor(obj: Any) -> int | None:
    """Who made a change: the record's own staff column when it has one, else the
    signed-in staff member."""
    return getattr(obj, "staff_id", None) or acting_staff_id()


def _customer_created(session: Session, customer: Customer) -> None:
    record(
        session,
        None,
        "created",
        "Customer created",
        staff_id=acting_staff_id(),
        field="name",
        new=customer.name,
        personal=True,
        customer=customer,
    )


def _customer_changed(session: Session, customer: Customer) -> None:
    for name, old, new in _changes(customer, [*CUSTOMER_FIELDS, "status"]):
        is_status = name == "status"
        record(
            session,
            customer.id,
            "status" if is_status else "edited",
            "Status changed" if is_status else f"Changed {CUSTOMER_FIELDS[name]}",
            field=name,
            old=_customer_value(session, name, old),
            new=_customer_value(session, name, new),
            personal=name in PERSONAL_CUSTOMER_FIELDS,
        )


def _entry_added(session: Session, entry: LedgerEntry) -> None:
    amount = format_money(entry.amount_minor, entry.currency)
    record(
        session,
        entry.customer_id,
        f"entry.{entry.kind}",
        f"{entry.kind.capitalize()} of {amount}",
        staff_id=_actor(entry),
        new=entry.description,
    )


def _invoice_added(session: Session, invoice: Invoice) -> None:
    total = format_money(invoice.total_minor, invoice.currency)
    record(
        session,
        invoice.customer_id,
        "invoice.issued",
        f"Invoice {invoice.number} issued, total {total}",
        staff_id=_actor(invoice),
    )


def _invoice_changed(session: Session, invoice: Invoice) -> None:
    for _name, old, new in _changes(invoice, ["status"]):
        record(
            session,
            invoice.customer_id,
            "invoice.status",
            f"Invoice {invoice.number} status changed",
            field="status",
            old=_plain(old).capitalize(),
            new=_plain(new).capitalize(),
        )


def _credit_note_added(session: Session, note: CreditNote) -> None:
    total = format_money(note.total_minor, note.currency)
    record(
        session,
        note.customer_id,
        "credit_note.issued",
        f"Credit note {note.number} issued, total {total}",
        staff_id=_actor(note),
    )


def _subscription_added(session: Session, subscription: Subscription) -> None:
    amount = format_money(subscription.amount_minor, subscription.currency)
    record(
        session,
        subscription.customer_id,
        "subscription.added",
        f"Subscription {subscription.plan_name} added ({amount} {subscription.interval})",
        staff_id=_actor(subscription),
    )


def _subscription_changed(session: Session, subscription: Subscription) -> None:
    for _name, old, new in _changes(subscription, ["status"]):
        record(
            session,
            subscription.customer_id,
            f"subscription.{new}",
            f"Subscription {subscription.plan_name} {new}",
            field="status",
            old=_plain(old).capitalize(),
            new=_plain(new).capitalize(),
        )


def _record_added(session: Session, obj: Any, watched: Watched) -> None:
    record(
        session,
        obj.customer_id,
        f"record.{watched.slug}.added",
        f"{watched.noun} added",
        staff_id=acting_staff_id() or getattr(obj, "staff_id", None),
        new=watched.label(obj),
        personal=watched.label_is_personal,
    )


def _record_changed(session: Session, obj: Any, watched: Watched) -> None:
    for name, old, new in _changes(obj, watched.fields):
        if name in {"amount_minor"}:
            old, new = (format_money(v, obj.currency) if v is not None else "" for v in (old, new))
        record(
            session,
            obj.customer_id,
            f"record.{watched.slug}.changed",
            f"{watched.noun} changed: {watched.fields[name]}",
            field=name,
            old=_plain(old),
            new=_plain(new),
            personal=name in watched.personal,
        )


def _record_removed(session: Session, obj: Any, watched: Watched) -> None:
    record(
        session,
        obj.customer_id,
        f"record.{watched.slug}.removed",
        f"{watched.noun} removed",
        old=watched.label(obj),
        personal=watched.label_is_personal,
    )


ADDED: dict[type, Callable[[Session, Any], None]] = {
    Customer: _customer_created,
    LedgerEntry: _entry_added,
    Invoice: _invoice_added,
    CreditNote: _credit_note_added,
    Subscription: _subscription_added,
}
CHANGED: dict[type, Callable[[Session, Any], None]] = {
    Customer: _customer_changed,
    Invoice: _invoice_changed,
    Subscription: _subscription_changed,
}

_NEW_IN_TRANSACTION = "history.new"


def _before_flush(session: Session, _context, _instances) -> None:
    """Record what this flush is about to write (see the module's docstring)."""
    created = session.info.setdefault(_NEW_IN_TRANSACTION, set())
    with session.no_autoflush:
        for obj in list(session.new):
            kind = type(obj)
            if kind in ADDED:
                ADDED[kind](session, obj)
            elif kind in WATCHED:
                _record_added(session, obj, WATCHED[kind])
            else:
                continue
            created.add(id(obj))
        for obj in list(session.dirty):
            kind = type(obj)
            # A row added earlier in this transaction was recorded as added, as it is
            # at the commit; the steps that finished it are not separate changes.
            if id(obj) in created or not session.is_modified(obj):
                continue
            if kind in CHANGED:
                CHANGED[kind](session, obj)
            elif kind in WATCHED:
                _record_changed(session, obj, WATCHED[kind])
        for obj in list(session.deleted):
            if type(obj) in WATCHED and id(obj) not in created:
                _record_removed(session, obj, WATCHED[type(obj)])


def _transaction_over(session: Session, *_args) -> None:
    session.info.pop(_NEW_IN_TRANSACTION, None)


def install() -> None:
    """Listen on every ORM session (requests, jobs, the command line); idempotent."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_commit", _transaction_over)
        event.listen(Session, "after_rollback", _transaction_over)
