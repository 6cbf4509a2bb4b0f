"""The team's work across customers: the Agenda (open activities), the Inbox (tickets)
and the Sales list. Each is a keyset-paged list read from an index of its own
(migration 0023), filtered by what the query string asks for; a filter value that is
not one of the choices is the default, never an error.

The Agenda's "today" is today's UTC date and "overdue" is due before now, the same
clock the Activities tab uses for its Overdue mark (``activities.is_overdue``); every
function takes ``now`` so tests can fix it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.crm import Activity, Sale, Ticket, TicketStatus
from webapp.models.customer import Customer
from webapp.models.staff import Staff
from webapp.paging import FIRST, Keyset, Page, PageAt, keyset_page
from webapp.services import sales as sales_service
from webapp.services import tickets as tickets_service

# -- who: the Agenda's and the Inbox's staff filter ------------------------------------

MINE = "mine"
ALL = "all"
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class Who:
    """A staff filter as asked (``value``: mine, all, unassigned or a staff id) and what it
    selects: ``everyone``, or the rows assigned to ``staff_id`` (None: to nobody)."""

    value: str
    everyone: bool = False
    staff_id: int | None = None


def who_filter(
    session: Session, value: str | None, me: int, choices: Iterable[str], default: str
) -> Who:
    """The staff filter ``value`` asks for: one of ``choices`` (mine, all, unassigned), an
    existing staff member's id, or else ``default``."""
    value = (value or "").strip()
    if value.isdigit() and len(value) < 10 and session.get(Staff, int(value)) is not None:
        staff_id = int(value)
        return Who(MINE if staff_id == me else value, staff_id=staff_id)
    if value not in choices:
        value = default
    if value == MINE:
        return Who(MINE, staff_id=me)
    if value == UNASSIGNED:
        return Who(UNASSIGNED, staff_id=None)
    return Who(ALL, everyone=True)


def customers_of(session: Session, rows: Iterable) -> dict[int, Customer]:
    """The customers of a page's rows, by id, in one query (each row links to its tab)."""
    ids = {row.customer_id for row in rows}
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}


# -- the Agenda -------------------------------------------------------------------------

WHEN_LABELS = {"overdue": "Overdue", "today": "Today", "upcoming": "Upcoming"}
DEFAULT_WHEN = "today"
AGENDA_WHO = (MINE, ALL)


def when_filter(value: str | None) -> str:
    """overdue, today or upcoming; anything else is today."""
    return value if value in WHEN_LABELS else DEFAULT_WHEN


def current_time() -> datetime:
    """Now, naive UTC: the Agenda's clock (tests set it)."""
    return utcnow()


def today_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The start of today (UTC) and of tomorrow."""
    now = now or current_time()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def agenda_page(
    session: Session, when: str, who: Who, at: PageAt = FIRST, now: datetime | None = None
) -> Page:
    """Open activities across customers, soonest due first: ``overdue`` (due before now),
    ``today`` (due on today's UTC date, overdue ones included) or ``upcoming`` (due from
    tomorrow on), of everyone or of ``who.staff_id``."""
    now = now or current_time()
    start, tomorrow = today_bounds(now)
    statement = select(Activity).where(Activity.done.is_(False))
    if not who.everyone:
        statement = statement.where(Activity.assigned_to_id == who.staff_id)
    when = when_filter(when)
    if when == "overdue":
        statement = statement.where(Activity.due_at < now)
    elif when == "today":
        statement = statement.where(Activity.due_at >= start, Activity.due_at < tomorrow)
    else:
        statement = statement.where(Activity.due_at >= tomorrow)
    keyset = Keyset((Activity.due_at, Activity.id), ("due_at", "id"), descending=False)
    return keyset_page(session, statement, keyset, at)


# -- the Inbox --------------------------------------------------------------------------

OPEN = "open"
OPEN_STATUSES = (TicketStatus.NEW.value, TicketStatus.IN_PROGRESS.value)
INBOX_STATUS_LABELS = {
    OPEN: "Open",
    **tickets_service.STATUS_LABELS,
    ALL: "All",
}
DEFAULT_INBOX_STATUS = OPEN
INBOX_WHO = (MINE, UNASSIGNED, ALL)
DEFAULT_INBOX_WHO = ALL


def inbox_status_filter(value: str | None) -> str:
    """open (New and In progress), one status, or all; anything else is open."""
    return value if value in INBOX_STATUS_LABELS else DEFAULT_INBOX_STATUS


def inbox_page(session: Session, status: str, who: Who, at: PageAt = FIRST) -> Page:
    """Tickets across customers, newest first, in ``status`` and assigned as ``who`` says."""
    statement = select(Ticket)
    status = inbox_status_filter(status)
    if status == OPEN:
        statement = statement.where(Ticket.status.in_(OPEN_STATUSES))
    elif status != ALL:
        statement = statement.where(Ticket.status == status)
    if not who.everyone:
        statement = statement.where(
            Ticket.assignee_id.is_(None)
            if who.staff_id is None
            else Ticket.assignee_id == who.staff_id
        )
    return keyset_page(session, statement, Keyset((Ticket.id,), ("id",)), at)


# -- Sales ------------------------------------------------------------------------------

SALES_STATUS_LABELS = {
    "": "All",
    **{status: sales_service.status_label(status) for status in ("open", "invoiced", "cancelled")},
}


def sales_status_filter(value: str | None) -> str:
    """open, invoiced or cancelled; anything else is "" (all)."""
    return value if value in sales_service.STATUS_LABELS else ""


def _sales_statement(status: str):
    statement = select(Sale)
    status = sales_status_filter(status)
    return statement.where(Sale.status == status) if status else statement


def sales_list_page(session: Session, status: str, at: PageAt = FIRST) -> Page:
    """Sales across customers, newest sale date first, in ``status`` (or all)."""
    keyset = Keyset((Sale.sold_on, Sale.id), ("sold_on", "id"))
    return keyset_page(session, _sales_statement(status), keyset, at)


@dataclass(frozen=True)
class Total:
    currency: str
    amount_minor: int
    count: int


def sales_totals(session: Session, status: str) -> list[Total]:
    """The sum of every sale in ``status`` (or all), per currency, largest count first."""
    filtered = _sales_statement(status).subquery()
    statement = (
        select(filtered.c.currency, func.sum(filtered.c.amount_minor), func.count())
        .group_by(filtered.c.currency)
        .order_by(func.count().desc(), filtered.c.currency)
    )
    rows = session.execute(statement)
    return [Total(code, int(amount or 0), count) for code, amount, count in rows]
