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

Who made a change: for a row added with a staff column of its own (an entry, an
invoice, a note …) the member of staff it names, the one the service was told acted;
for everything else the signed-in member of staff; nobody ("System") in a job or on
the command line.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import has_request_context
from sqlalchemy import event, inspect, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import NO_VALUE

from webapp.models.billing import CreditNote, Invoice, LedgerEntry
from webapp.models.contacts import Address, Alias, Contact
from webapp.models.crm import Activity, Sale, Subscription, Ticket
from webapp.models.customer import PERSONAL_COLUMNS, Customer
from webapp.models.history import CustomerEvent
from webapp.models.notes import Note
from webapp.models.settings import LegalEntity, TaxClass
from webapp.services.gateways import gateway_for
from webapp.services.money import format_money
from webapp.services.paging import Page, page_of
from webapp.services.reference import country_name

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

# The customer's own fields, as the history names them, in the order of the form. The
# billing-address columns are left out: they mirror the billing Address, whose own
# changes are recorded.
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
PERSONAL_CUSTOMER_FIELDS = frozenset(PERSONAL_COLUMNS)

# How an invoice's new status reads: "Invoice INV-000001 marked as paid".
INVOICE_STATUS_VERBS = {"paid": "marked as paid", "refunded": "refunded", "void": "voided"}

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
    customer that is not flushed yet. ``summary`` must hold nothing personal: a
    personal value goes in ``old``/``new`` with ``personal=True``."""
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


def _of_group(group: str):
    # autoescape: "_" in credit_note and payment_link is a LIKE wildcard otherwise.
    return or_(
        CustomerEvent.kind == group, CustomerEvent.kind.startswith(group + ".", autoescape=True)
    )


def events_page(session: Session, customer_id: int, group: str = "", number: int = 1) -> Page:
    """A page of the History tab, newest first; ``group`` is one of GROUPS or ''
    (anything else shows every kind)."""
    statement = select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)
    if group in GROUPS:
        statement = statement.where(_of_group(group))
    return page_of(session, statement.order_by(CustomerEvent.id.desc()), number)


def events_of(session: Session, customer_id: int, prefix: str = "", limit: int = 10):
    """The newest events whose kind starts with ``prefix`` (the Billing tab's link log)."""
    statement = select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)
    if prefix:
        statement = statement.where(CustomerEvent.kind.startswith(prefix, autoescape=True))
    return session.scalars(statement.order_by(CustomerEvent.id.desc()).limit(limit)).all()


def clear_personal_values(session: Session, customer_id: int) -> int:
    """Blank every personal value in a customer's history (Clear personal data); the
    History tab then reads "cleared with personal data" on those lines."""
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
        return value.strftime("%Y-%m-%d %H:%M") + " UTC"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _word(value: Any) -> str:
    """A stored code as people read it: in_progress is "In progress"."""
    return _plain(value).replace("_", " ").capitalize()


# How a value is shown: (the session, the record, the value) -> text.
Shown = Callable[[Session, Any, Any], str]


def _as_word(_session: Session, _obj: Any, value: Any) -> str:
    return _word(value)


def _as_country(_session: Session, _obj: Any, value: Any) -> str:
    return country_name(value) if value else ""


def _as_money(_session: Session, obj: Any, value: Any) -> str:
    return format_money(value, obj.currency) if value is not None else ""


def _as_tax_class(session: Session, _obj: Any, value: Any) -> str:
    tax_class = session.get(TaxClass, value) if value is not None else None
    return tax_class.label if tax_class else _plain(value)


def _as_legal_entity(session: Session, _obj: Any, value: Any) -> str:
    entity = session.get(LegalEntity, value) if value is not None else None
    return entity.name if entity else _plain(value)


def _as_gateway(_session: Session, _obj: Any, value: Any) -> str:
    return gateway_for(value).name if value else ""


def _as_on_off(_session: Session, _obj: Any, value: Any) -> str:
    return "On" if value else "Off"


CUSTOMER_SHOWN: dict[str, Shown] = {
    "status": _as_word,
    "invoicing_flow": _as_word,
    "country": _as_country,
    "tax_class_id": _as_tax_class,
    "legal_entity_id": _as_legal_entity,
    "payment_gateway": _as_gateway,
    "auto_pay": _as_on_off,
}


def shown_value(session: Session, obj: Any, name: str, value: Any) -> str:
    """A customer's or a watched record's value as its history lines read it (country
    names, tax class labels, money …); "" for an empty one."""
    if isinstance(obj, Customer):
        shown = CUSTOMER_SHOWN.get(name)
    else:
        watched = WATCHED.get(type(obj))
        shown = watched.shown.get(name) if watched is not None else None
    return shown(session, obj, value) if shown is not None else _plain(value)


def _stored_value(session: Session, obj: Any, name: str) -> Any:
    """The value a column holds in the database now (for an attribute that was set
    without being loaded first, so the session does not know what it replaces)."""
    model = type(obj)
    key = inspect(obj).identity
    primary = inspect(model).primary_key
    statement = select(getattr(model, name)).where(
        *(column == value for column, value in zip(primary, key, strict=True))
    )
    return session.execute(statement).scalar()


def _same(old: Any, new: Any) -> bool:
    # Text columns are '' rather than NULL, but an older row may hold NULL.
    return old == new or (old in (None, "") and new in (None, ""))


def _changes(session: Session, obj: Any, fields: Iterable[str]) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for each field whose value really changed in this flush."""
    state = inspect(obj)
    found = []
    for name in fields:
        history = state.attrs[name].history
        if not history.has_changes():
            continue
        new = history.added[0] if history.added else None
        if history.deleted:
            old = history.deleted[0]
        elif state.committed_state.get(name, NO_VALUE) is NO_VALUE and state.key is not None:
            old = _stored_value(session, obj, name)  # set while expired (after a commit)
        else:
            old = None  # it was NULL
        if not _same(old, new):
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
    shown: dict[str, Shown] = field(default_factory=dict)  # how a field's values read


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
        shown={"country": _as_country},
    ),
    Alias: Watched(
        "External ID",
        "external_id",
        {"label": "Label", "value": "ID"},
        frozenset({"label", "value"}),
        lambda alias: f"{alias.label}: {alias.value}",
    ),
    Note: Watched("Note", "note", {}, frozenset(), lambda note: note.body),
    # Clear personal data keeps activity titles and ticket subjects (and empties the
    # notes and descriptions), so only those are personal here.
    Activity: Watched(
        "Activity",
        "activity",
        {"kind": "Kind", "title": "Title", "due_at": "When", "notes": "Notes", "done": "Done"},
        frozenset({"notes"}),
        lambda activity: activity.title,
        label_is_personal=False,
        shown={"kind": _as_word},
    ),
    Ticket: Watched(
        "Ticket",
        "ticket",
        {"subject": "Subject", "description": "Description", "status": "Status"},
        frozenset({"description"}),
        lambda ticket: ticket.subject,
        label_is_personal=False,
        shown={"status": _as_word},
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
        shown={"amount_minor": _as_money, "status": _as_word},
    ),
}


def _actor(obj: Any) -> int | None:
    """Who added a record: its own staff column when it has one, else the signed-in
    staff member."""
    staff_id = getattr(obj, "staff_id", None)
    return staff_id if staff_id is not None else acting_staff_id()


def _customer_created(session: Session, customer: Customer) -> None:
    record(
        session,
        None,
        "created",
        "Customer created",
        field="name",
        new=customer.name,
        personal=True,
        customer=customer,
    )


def _customer_changed(session: Session, customer: Customer) -> None:
    for name, old, new in _changes(session, customer, [*CUSTOMER_FIELDS, "status"]):
        is_status = name == "status"
        shown = CUSTOMER_SHOWN.get(name)
        old_text, new_text = (
            (shown(session, customer, old), shown(session, customer, new))
            if shown
            else (_plain(old), _plain(new))
        )
        record(
            session,
            customer.id,
            "status" if is_status else "edited",
            "Status changed" if is_status else f"Changed {CUSTOMER_FIELDS[name]}",
            field=name,
            old=old_text,
            new=new_text,
            personal=name in PERSONAL_CUSTOMER_FIELDS,
        )


def _document_of(session: Session, entry: LedgerEntry) -> str:
    """The document an entry belongs to, as the summary names it ("invoice INV-000001")."""
    if entry.invoice_id is not None:
        invoice = session.get(Invoice, entry.invoice_id)
        return f"invoice {invoice.number}" if invoice else ""
    if entry.credit_note_id is not None:
        note = session.get(CreditNote, entry.credit_note_id)
        return f"credit note {note.number}" if note else ""
    return ""


def _entry_added(session: Session, entry: LedgerEntry) -> None:
    # A charge or refund is negative and a credit or payment positive by its kind, so
    # the summary names the amount without a sign; an adjustment goes either way.
    amount = entry.amount_minor if entry.kind == "adjustment" else abs(entry.amount_minor)
    summary = f"{_word(entry.kind)} of {format_money(amount, entry.currency)}"
    document = _document_of(session, entry)
    record(
        session,
        entry.customer_id,
        f"entry.{entry.kind}",
        summary + (f" ({document})" if document else ""),
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
    for _name, old, new in _changes(session, invoice, ["status"]):
        verb = INVOICE_STATUS_VERBS.get(new, f"changed to {_word(new).lower()}")
        record(
            session,
            invoice.customer_id,
            f"invoice.{new}",
            f"Invoice {invoice.number} {verb}",
            field="status",
            old=_word(old),
            new=_word(new),
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
        f"Subscription {subscription.plan_name} added ({amount} {subscription.interval}, "
        f"from {_plain(subscription.starts_on)})",
        staff_id=_actor(subscription),
    )


def _subscription_changed(session: Session, subscription: Subscription) -> None:
    for _name, old, new in _changes(session, subscription, ["status"]):
        record(
            session,
            subscription.customer_id,
            f"subscription.{new}",
            f"Subscription {subscription.plan_name} {new}",
            field="status",
            old=_word(old),
            new=_word(new),
        )


def _record_added(session: Session, obj: Any, watched: Watched) -> None:
    record(
        session,
        obj.customer_id,
        f"record.{watched.slug}.added",
        f"{watched.noun} added",
        staff_id=_actor(obj),
        new=watched.label(obj),
        personal=watched.label_is_personal,
    )


def _record_changed(session: Session, obj: Any, watched: Watched) -> None:
    for name, old, new in _changes(session, obj, watched.fields):
        shown = watched.shown.get(name)
        old_text, new_text = (
            (shown(session, obj, old), shown(session, obj, new))
            if shown
            else (_plain(old), _plain(new))
        )
        record(
            session,
            obj.customer_id,
            f"record.{watched.slug}.changed",
            f"{watched.noun} changed: {watched.fields[name]}",
            field=name,
            old=old_text,
            new=new_text,
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
    # The rows added in this transaction; weak, so a row the session let go of cannot
    # be mistaken for another one that later takes its place in memory.
    created = session.info.setdefault(_NEW_IN_TRANSACTION, weakref.WeakSet())
    with session.no_autoflush:
        for obj in list(session.new):
            kind = type(obj)
            if kind in ADDED:
                ADDED[kind](session, obj)
            elif kind in WATCHED:
                _record_added(session, obj, WATCHED[kind])
            else:
                continue
            created.add(obj)
        for obj in list(session.dirty):
            kind = type(obj)
            if kind not in CHANGED and kind not in WATCHED:
                continue
            # A row added earlier in this transaction was recorded as added, as it is
            # at the commit; the steps that finished it are not separate changes.
            if obj in created or not session.is_modified(obj):
                continue
            if kind in CHANGED:
                CHANGED[kind](session, obj)
            else:
                _record_changed(session, obj, WATCHED[kind])
        for obj in list(session.deleted):
            if type(obj) in WATCHED and obj not in created:
                _record_removed(session, obj, WATCHED[type(obj)])


def _transaction_over(session: Session, *_args) -> None:
    session.info.pop(_NEW_IN_TRANSACTION, None)


def install() -> None:
    """Listen on every ORM session (requests, jobs, the command line); idempotent."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_commit", _transaction_over)
        event.listen(Session, "after_rollback", _transaction_over)
