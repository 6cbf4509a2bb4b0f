"""Tickets: questions, notes or problems a customer raised. A ticket starts as New and
moves between New, In progress, Solved and Cancelled; it is never deleted, because it
is the record of what the customer asked (Cancelled is how one is set aside)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models.crm import Ticket, TicketStatus
from webapp.models.customer import Customer
from webapp.paging import FIRST, Keyset, Page, PageAt, keyset_page
from webapp.services import versions
from webapp.services.guard import lock_editable
from webapp.services.ledger import LedgerError, lock_customer
from webapp.services.records import RecordError, customer_record, plain_text, record_now
from webapp.services.staff import assignable

STATUS_LABELS = {
    TicketStatus.NEW.value: "New",
    TicketStatus.IN_PROGRESS.value: "In progress",
    TicketStatus.SOLVED.value: "Solved",
    TicketStatus.CANCELLED.value: "Cancelled",
}
SUBJECT_MAX = 200
DESCRIPTION_MAX = 5000
CHOOSE_STATUS = "Choose new, in progress, solved or cancelled."
CHOOSE_ASSIGNEE = "Choose a staff member from the list, or Unassigned."
KEPT = "Tickets are kept as a record of what the customer raised: set it to Cancelled instead."


def get(session: Session, customer_id: int, ticket_id: int) -> Ticket | None:
    return customer_record(session, Ticket, customer_id, ticket_id)


def _checked_status(status: Any) -> str:
    if status not in STATUS_LABELS:
        raise RecordError(CHOOSE_STATUS, "status")
    return status


def _checked(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Subject and description as stored, or a RecordError beside the field at fault."""
    subject = str(fields.get("subject") or "").strip()
    if not subject:
        raise RecordError("Enter a subject.", "subject")
    if len(subject) > SUBJECT_MAX:
        raise RecordError(f"A subject can be at most {SUBJECT_MAX} characters.", "subject")
    # A plain form sends line breaks as CRLF, htmx as LF: store one form.
    description = plain_text(fields.get("description"))
    if len(description) > DESCRIPTION_MAX:
        raise RecordError(
            f"A description can be at most {DESCRIPTION_MAX:,} characters.", "description"
        )
    return {"subject": subject, "description": description}


def _checked_assignee(session: Session, assignee: Any, current: int | None = None) -> int | None:
    """None (unassigned), an active staff member, or the ticket's assignee as it was."""
    if assignee is not None and not assignable(session, assignee, current):
        raise RecordError(CHOOSE_ASSIGNEE, "assignee_id")
    return assignee


def add(
    session: Session, customer: Customer, staff_id: int | None, fields: Mapping[str, Any]
) -> Ticket:
    """+ New ticket, recorded by ``staff_id``. Every ticket starts as New, unassigned unless
    the fields name an assignee (``assignee_id``)."""
    values = _checked(fields)
    values["assignee_id"] = _checked_assignee(session, fields.get("assignee_id"))
    lock_editable(session, customer.id)
    ticket = Ticket(
        customer_id=customer.id, staff_id=staff_id, status=TicketStatus.NEW.value, **values
    )
    session.add(ticket)
    session.commit()
    return ticket


def change(
    session: Session,
    customer: Customer,
    ticket: Ticket,
    fields: Mapping[str, Any],
    opened: versions.Opened | None = None,
) -> Ticket:
    """Save subject, description and the status when the form has one.
    With ``opened``, raises ``versions.EditConflict`` if someone else saved it since."""
    values = _checked(fields)
    if "status" in fields:
        values["status"] = _checked_status(fields["status"])
    if "assignee_id" in fields:
        values["assignee_id"] = _checked_assignee(
            session, fields["assignee_id"], ticket.assignee_id
        )
    lock_editable(session, customer.id)
    ticket = record_now(session, Ticket, customer.id, ticket.id, "ticket")
    versions.check(session, ticket, opened, values)
    for name, value in values.items():
        setattr(ticket, name, value)
    session.commit()
    return ticket


def change_status(session: Session, customer: Customer, ticket: Ticket, status: Any) -> Ticket:
    """Set the status chosen in the row (whatever it was meanwhile), re-read under the lock."""
    status = _checked_status(status)
    try:
        lock_customer(session, customer.id)
    except LedgerError as gone:
        session.rollback()
        raise RecordError(str(gone)) from None
    ticket = record_now(session, Ticket, customer.id, ticket.id, "ticket")
    ticket.status = status
    session.commit()
    return ticket


def assign(session: Session, customer: Customer, ticket: Ticket, assignee_id: int | None) -> Ticket:
    """Assign the ticket (the Inbox's row form): to an active staff member, or to nobody."""
    assignee_id = _checked_assignee(session, assignee_id, ticket.assignee_id)
    lock_editable(session, customer.id)
    ticket = record_now(session, Ticket, customer.id, ticket.id, "ticket")
    ticket.assignee_id = assignee_id
    session.commit()
    return ticket


def remove(session: Session, customer: Customer, ticket: Ticket) -> None:
    """Refused: tickets are kept (the records routes do not offer it either)."""
    raise RecordError(KEPT)


def describe(ticket: Ticket) -> str:
    """One line naming the ticket: "Invoice address wrong (In progress)"."""
    return f"{ticket.subject} ({status_label(ticket.status)})"


def status_label(status: str) -> str:
    """The label people read: "In progress" for in_progress, and so on."""
    return STATUS_LABELS.get(status, status)


def status_filter(value: str | None) -> str:
    """The status a ?status= asks for, or "" (all tickets) for anything else."""
    return value if value in STATUS_LABELS else ""


def tickets_page(session: Session, customer_id: int, status: str = "", at: PageAt = FIRST) -> Page:
    """A customer's tickets, newest first; only those in ``status`` when it is given."""
    statement = select(Ticket).where(Ticket.customer_id == customer_id)
    if status:
        statement = statement.where(Ticket.status == _checked_status(status))
    return keyset_page(session, statement, Keyset((Ticket.id,), ("id",)), at)
