"""Adding a line to a customer's history, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import g, has_app_context, has_request_context
from sqlalchemy.orm import Session

from webapp.models.customer import Customer
from webapp.models.history import CustomerEvent

_UNSET: Any = object()


_ACTING = "history_acting_staff_id"


@contextmanager
def acting_as(staff_id: int | None) -> Iterator[None]:
    """Within the block, History names ``staff_id`` as who made the changes: a job doing work a
    member of staff started (a CSV import) writes their name, not "System"."""
    before = g.get(_ACTING)
    setattr(g, _ACTING, staff_id)
    try:
        yield
    finally:
        setattr(g, _ACTING, before)


def acting_staff_id() -> int | None:
    """The signed-in staff member of this request, or the one a job acts for (``acting_as``);
    None for other jobs and the command line."""
    if not has_request_context():
        return g.get(_ACTING) if has_app_context() else None
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
    """Add a customer history line in the caller's transaction; ``staff_id`` defaults to the
    signed-in member; pass ``customer`` for one not flushed yet. Personal values go in
    ``old``/``new`` with ``personal=True``, never in ``summary``."""
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
