"""What every record kept on a customer (contacts, addresses, activities …) shares."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


class RecordError(Exception):
    """A rule refused the change. ``field`` names the form field the message belongs
    beside; without one it is shown above the form."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def customer_record(session: Session, model: type[T], customer_id: int, record_id: int) -> T | None:
    """The customer's record of ``model`` with this id, or None (also when it belongs to
    another customer, so one customer's URL never reaches another's data)."""
    record = session.get(model, record_id)
    return record if record is not None and record.customer_id == customer_id else None


def current_record(session: Session, model: type[T], customer_id: int, record_id: int) -> T | None:
    """``customer_record`` read again from the database, for use under the customer's
    lock: the record as it is now (another member of staff may have changed or removed
    it since this request first read it), not the copy already in the session."""
    record = session.get(model, record_id, populate_existing=True)
    return record if record is not None and record.customer_id == customer_id else None


def record_now(session: Session, model: type[T], customer_id: int, record_id: int, noun: str) -> T:
    """``current_record``, under the customer's lock, before a change: the record as it
    is now, or a refusal (rolled back, so the lock is let go) when someone else removed
    it meanwhile."""
    record = current_record(session, model, customer_id, record_id)
    if record is None:
        session.rollback()
        raise RecordError(f"This {noun} has just been removed by someone else.")
    return record


def plain_text(value: Any) -> str:
    """Typed text as stored: a plain form sends line breaks as CRLF and htmx as LF, so
    keep one form (and count lengths on it), trimmed."""
    return str(value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
