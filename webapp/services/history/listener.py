"""The ``before_flush`` listener recording ORM changes (see the package), and ``install``."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import NO_VALUE

from webapp.models.billing import CreditNote, Invoice, InvoiceStatus, LedgerEntry
from webapp.models.customer import Customer
from webapp.models.subscriptions import Subscription
from webapp.services.history.display import _plain, _word
from webapp.services.history.recorder import acting_staff_id, record
from webapp.services.history.registry import (
    CUSTOMER_FIELDS,
    CUSTOMER_SHOWN,
    PERSONAL_CUSTOMER_FIELDS,
    WATCHED,
    Watched,
)
from webapp.services.money import format_money

# How an invoice's new status reads: "Invoice INV-000001 marked as paid".
INVOICE_STATUS_VERBS = {"paid": "marked as paid", "refunded": "refunded", "void": "voided"}


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


def _actor(obj: Any) -> int | None:
    """Who added a record: its own staff column if it has one, else the signed-in member."""
    staff_id = getattr(obj, "staff_id", None)
    return staff_id if staff_id is not None else acting_staff_id()


def added_line(obj: Any, model: type | None = None) -> dict[str, Any]:
    """The history line a new customer or watched record gets (``record``'s arguments but the
    session), for code that adds many with Core statements (CSV import) instead of the ORM;
    ``model``: what ``obj`` stands for when it is a plain object with its values."""
    model = model or type(obj)
    if model is Customer:
        return {
            "customer_id": obj.id,
            "kind": "created",
            "summary": "Customer created",
            "staff_id": acting_staff_id(),
            "field": "name",
            "new": obj.name,
            "personal": True,
        }
    watched = WATCHED[model]
    return {
        "customer_id": obj.customer_id,
        "kind": f"record.{watched.slug}.added",
        "summary": f"{watched.noun} added",
        "staff_id": _actor(obj),
        "new": watched.label(obj),
        "personal": watched.label_is_personal,
    }


def _customer_created(session: Session, customer: Customer) -> None:
    line = added_line(customer)
    customer_id, kind, summary = line.pop("customer_id"), line.pop("kind"), line.pop("summary")
    record(session, customer_id, kind, summary, customer=customer, **line)


def _customer_changed(session: Session, customer: Customer) -> None:
    copied = session.info.get(_COPIED, set())
    for name, old, new in _changes(session, customer, [*CUSTOMER_FIELDS, "status"]):
        if (customer.id, name) in copied:
            continue  # the record it was copied from records the change
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


def _draft_size(invoice: Invoice) -> str:
    """ "2 lines, total €238.00" """
    count = len(invoice.lines)
    total = format_money(invoice.total_minor, invoice.currency)
    return f"{count} line{'s' if count != 1 else ''}, total {total}"


def _invoice_added(session: Session, invoice: Invoice) -> None:
    if invoice.status == InvoiceStatus.DRAFT:
        record(
            session,
            invoice.customer_id,
            "invoice.draft_created",
            f"Draft invoice created: {_draft_size(invoice)}",
            staff_id=_actor(invoice),
        )
        return
    total = format_money(invoice.total_minor, invoice.currency)
    record(
        session,
        invoice.customer_id,
        "invoice.issued",
        f"Invoice {invoice.number} issued, total {total}",
        staff_id=_actor(invoice),
    )


def _invoice_changed(session: Session, invoice: Invoice) -> None:
    changed = _changes(session, invoice, ["status"])
    if not changed and invoice.status == InvoiceStatus.DRAFT:
        _draft_edited(session, invoice)
    for _name, old, new in changed:
        if old == InvoiceStatus.DRAFT:
            record(
                session,
                invoice.customer_id,
                "invoice.finalized",
                f"Draft invoice finalized as {invoice.number}: {_draft_size(invoice)}",
                field="status",
                old=_word(old),
                new=_word(new),
            )
            continue
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


def _draft_edited(session: Session, invoice: Invoice) -> None:
    # One line per draft per transaction, however many flushes the save takes.
    edited = session.info.setdefault(_DRAFTS_EDITED, set())
    if invoice.id in edited:
        return
    edited.add(invoice.id)
    old_total = next(
        (old for _name, old, _new in _changes(session, invoice, ["total_minor"])), None
    )
    record(
        session,
        invoice.customer_id,
        "invoice.draft_edited",
        f"Draft invoice edited: {_draft_size(invoice)}",
        field="total_minor" if old_total is not None else None,
        old=format_money(old_total, invoice.currency) if old_total is not None else None,
        new=(
            format_money(invoice.total_minor, invoice.currency) if old_total is not None else None
        ),
    )


def _invoice_removed(session: Session, invoice: Invoice) -> None:
    # Only a draft is ever deleted on its own (a customer's are deleted with it, by Core).
    record(
        session,
        invoice.customer_id,
        "invoice.draft_deleted",
        f"Draft invoice deleted: {_draft_size(invoice)}",
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
    line = added_line(obj)
    record(session, line.pop("customer_id"), line.pop("kind"), line.pop("summary"), **line)


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

REMOVED: dict[type, Callable[[Session, Any], None]] = {
    Invoice: _invoice_removed,
}

_NEW_IN_TRANSACTION = "history.new"
_COPIED = "history.copied"
_DRAFTS_EDITED = "history.drafts_edited"


def copied_from_record(session: Session, customer: Customer, fields: Iterable[str]) -> None:
    """Say that ``fields`` of the customer are being set, in this transaction, to a copy of a
    watched record's values (the primary contact's name and position): that record's own lines
    record the change, so these fields get no line of their own. Call before setting them."""
    if customer.id is not None:  # a new customer's fields get no lines anyway
        session.info.setdefault(_COPIED, set()).update((customer.id, name) for name in fields)


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
            if obj in created:
                continue
            if type(obj) in REMOVED:
                REMOVED[type(obj)](session, obj)
            elif type(obj) in WATCHED:
                _record_removed(session, obj, WATCHED[type(obj)])


def _transaction_over(session: Session, *_args) -> None:
    session.info.pop(_NEW_IN_TRANSACTION, None)
    session.info.pop(_COPIED, None)
    session.info.pop(_DRAFTS_EDITED, None)


def install() -> None:
    """Listen on every ORM session (requests, jobs, the command line); idempotent."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_commit", _transaction_over)
        event.listen(Session, "after_rollback", _transaction_over)
