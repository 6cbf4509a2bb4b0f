"""What every record kept on a customer (contacts, addresses, activities …) shares."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


class RecordError(Exception):
    """A rule refused the change; ``field``: the form field it goes by (None: above the form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def customer_record(session: Session, model: type[T], customer_id: int, record_id: int) -> T | None:
    """The customer's ``model`` record with this id, or None (also when another customer's)."""
    record = session.get(model, record_id)
    return record if record is not None and record.customer_id == customer_id else None


def current_record(session: Session, model: type[T], customer_id: int, record_id: int) -> T | None:
    """``customer_record`` read afresh, under the customer's lock: the record as it is now."""
    record = session.get(model, record_id, populate_existing=True)
    return record if record is not None and record.customer_id == customer_id else None


def record_now(session: Session, model: type[T], customer_id: int, record_id: int, noun: str) -> T:
    """``current_record`` under the lock, or a refusal (rolled back, lock let go) if removed."""
    record = current_record(session, model, customer_id, record_id)
    if record is None:
        session.rollback()
        raise RecordError(f"This {noun} has just been removed by someone else.")
    return record


def plain_text(value: Any) -> str:
    """Typed text, trimmed, line breaks as LF (plain forms send CRLF), so lengths count alike."""
    return str(value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
