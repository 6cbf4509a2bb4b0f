"""Reading a customer's history (History tab, Billing link log) and blanking personal values."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from webapp.models.history import CustomerEvent
from webapp.paging import FIRST, Keyset, Page, PageAt, keyset_page

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
    "reminder": "Reminders",
    "subscription": "Subscriptions",
    "record": "Contacts and records",
    "account": "Customer area access",
    "personal_data": "Personal data",
    "imported": "Imports",
}

# Lines written by the customer themselves, in the customer area or through a link
# (no member of staff): the History's Who column says so rather than "System".
BY_THE_CUSTOMER = frozenset(
    {
        "account.invite_accepted",
        "account.password_reset",
        "account.password_changed",
        "record.contact.preferences_by_customer",
        "email.verified",
    }
)


def who(event) -> str:
    """Who made the change: the API key (``API key "Shop sync"``), the member of staff,
    "The customer", or "System" (a job)."""
    if event.api_key is not None:
        return event.api_key.actor_name
    if event.staff is not None:
        return event.staff.name
    return "The customer" if event.kind in BY_THE_CUSTOMER else "System"


def _of_group(group: str):
    # autoescape: "_" in credit_note and payment_link is a LIKE wildcard otherwise.
    return or_(
        CustomerEvent.kind == group, CustomerEvent.kind.startswith(group + ".", autoescape=True)
    )


def events_page(session: Session, customer_id: int, group: str = "", at: PageAt = FIRST) -> Page:
    """A History tab page, newest first; ``group`` is one of GROUPS, else every kind shows."""
    statement = select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)
    if group in GROUPS:
        statement = statement.where(_of_group(group))
    return keyset_page(session, statement, Keyset((CustomerEvent.id,), ("id",)), at)


def events_of(session: Session, customer_id: int, prefix: str = "", limit: int = 10):
    """The newest events whose kind starts with ``prefix`` (the Billing tab's link log)."""
    statement = select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)
    if prefix:
        statement = statement.where(CustomerEvent.kind.startswith(prefix, autoescape=True))
    return session.scalars(statement.order_by(CustomerEvent.id.desc()).limit(limit)).all()


def clear_personal_values(session: Session, customer_id: int) -> int:
    """Blank a customer's personal history values (Clear personal data); returns how many."""
    return session.execute(
        update(CustomerEvent)
        .where(CustomerEvent.customer_id == customer_id, CustomerEvent.personal.is_(True))
        .values(old_value=None, new_value=None)
    ).rowcount
