"""The audit trail admins read on the Audit page: deleted customers, cleared personal
data and staff-account changes. A line names the customer by its ID (or the staff
account by its email), never by a customer's personal data, so it outlives them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models.history import AuditEvent
from webapp.paging import FIRST, Keyset, Page, PageAt, keyset_page
from webapp.services.history import acting_staff_id

# Kinds, as the Audit page's filter offers them.
KINDS = {
    "customer.deleted": "Customer deleted",
    "customer.personal_data_cleared": "Personal data cleared",
    "staff.created": "Staff added",
    "staff.role_changed": "Role changed",
    "staff.password_changed": "Password changed",
    "staff.deactivated": "Staff deactivated",
    "staff.reactivated": "Staff reactivated",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
}

_UNSET: object = object()


def record(
    session: Session, kind: str, subject: str, summary: str, staff_id: int | None = _UNSET
) -> AuditEvent:
    """Add an audit line in the caller's transaction; ``staff_id`` defaults to the signed-in one."""
    entry = AuditEvent(
        kind=kind,
        subject=subject,
        summary=summary,
        staff_id=acting_staff_id() if staff_id is _UNSET else staff_id,
    )
    session.add(entry)
    return entry


def audit_page(session: Session, kind: str = "", at: PageAt = FIRST) -> Page:
    """A page of the Audit page, newest first; ``kind`` is one of KINDS or ''."""
    statement = select(AuditEvent)
    if kind in KINDS:
        statement = statement.where(AuditEvent.kind == kind)
    return keyset_page(session, statement, Keyset((AuditEvent.id,), ("id",)), at)
