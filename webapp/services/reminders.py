"""Payment reminders: each legal entity's schedule, and the job that sends what is due.

A schedule is a list of steps, each so many days before (negative), on (0) or after
(positive) an invoice's due date, with the invoice PDF attached or the customer's payment
link in the text. ``send_due_reminders(session, now)`` is the job's work (jobs.reminders);
it takes ``now`` so tests can run it at any fixed time. "Today" is ``now``'s UTC date, as
elsewhere in the app (invoice dates, statements).

Which steps are sent (the backlog rule): for an open invoice, the step that counts is the
latest one whose day has come. It is sent if it was not sent before and its day is at
most REMINDERS_GRACE_DAYS ago; earlier steps it passed are skipped for good, never sent
late. So a job that did not run for a while (a worker down over a weekend, a customer on
Do not remind for a month) sends one reminder per invoice, the one that fits the day,
not a pile of stale ones; and a schedule added today does not mail every old invoice.
No step is sent on or before the day the invoice was issued (the invoice email itself
went out then).

Never twice: each reminder is a ``sent_reminders`` row, unique per invoice and step,
inserted first in the transaction that records its emails and its history line, under
the customer's lock. A second job racing this one is refused by the constraint and its
transaction rolls back, emails and all. Reminders stop when the invoice is paid or
voided: the job reads the status under the customer's lock (the lock Mark as paid and
Void take), and an email still waiting when that happens is cancelled when its turn
comes (``reminder_stops.stop_reason``, asked by the mailer).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.billing import Invoice, InvoiceStatus
from webapp.models.customer import Customer, CustomerStatus
from webapp.models.reminders import (
    ReminderAttachment,
    ReminderStep,
    SentReminder,
)
from webapp.models.settings import LegalEntity
from webapp.services import history, payment_links
from webapp.services.contacts import billing_recipients
from webapp.services.guard import CustomerRefusal, lock_editable
from webapp.services.mailer import queue_email
from webapp.services.payment_link_tokens import LINK_PLACEHOLDER
from webapp.services.reminder_stops import EMAIL_KIND

SEND_REMINDERS_JOB = "jobs.reminders.send_reminders"
# What a step's offset may be: two months before the due date to a year after it.
OFFSET_MIN = -60
OFFSET_MAX = 365
MAX_STEPS = 10
BATCH = 500

log = logging.getLogger(__name__)


class ReminderError(Exception):
    """A schedule change that cannot be made; ``field`` names the form field it belongs to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# -- wording -------------------------------------------------------------------------


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def step_label(offset_days: int) -> str:
    """3 days before the due date, On the due date, 7 days after the due date."""
    if offset_days == 0:
        return "On the due date"
    side = "before" if offset_days < 0 else "after"
    return f"{_days(abs(offset_days))} {side} the due date"


def due_wording(due: date, today: date) -> str:
    """How a reminder sent ``today`` says when ``due`` is: is due in 3 days, is due today,
    is overdue by 7 days."""
    ahead = (due - today).days
    if ahead > 1:
        return f"is due in {ahead} days"
    if ahead == 1:
        return "is due tomorrow"
    if ahead == 0:
        return "is due today"
    return f"is overdue by {_days(-ahead)}"


def reminder_subject(invoice: Invoice, today: date) -> str:
    return f"Reminder: invoice {invoice.number} {due_wording(invoice.due_date, today)}"


# -- the schedule --------------------------------------------------------------------


def steps(session: Session, entity_id: int) -> list[ReminderStep]:
    return list(
        session.scalars(
            select(ReminderStep)
            .where(ReminderStep.legal_entity_id == entity_id)
            .order_by(ReminderStep.offset_days)
        )
    )


def parse_offset(days_text: str, when: str) -> int:
    """The signed offset from the form's "days" and "before / on / after"; raises ReminderError."""
    if when == "on":
        return 0
    if when not in ("before", "after"):
        raise ReminderError("Choose before, on or after the due date.", "when")
    text = (days_text or "").strip()
    if not text:
        raise ReminderError("Enter a number of days.", "days")
    if not text.isdigit():
        raise ReminderError("Enter a whole number of days, e.g. 7.", "days")
    days = int(text)
    limit = -OFFSET_MIN if when == "before" else OFFSET_MAX
    if days < 1 or days > limit:
        raise ReminderError(
            f"Enter between 1 and {limit} days {when} the due date"
            + (" (or choose On the due date)." if days == 0 else "."),
            "days",
        )
    return -days if when == "before" else days


def add_step(session: Session, entity: LegalEntity, offset_days: int, attach: str) -> ReminderStep:
    """Add a step to the entity's schedule and commit; refused for a duplicate day, a bad
    attachment or a full schedule."""
    if attach not in {choice.value for choice in ReminderAttachment}:
        raise ReminderError("Choose the invoice PDF or the payment link.", "attach")
    if not OFFSET_MIN <= offset_days <= OFFSET_MAX:
        raise ReminderError(
            f"A step is between {-OFFSET_MIN} days before and {OFFSET_MAX} days after.", "days"
        )
    existing = steps(session, entity.id)
    if any(step.offset_days == offset_days for step in existing):
        raise ReminderError(
            f"The schedule already has a step {step_label(offset_days).lower()}.", "days"
        )
    if len(existing) >= MAX_STEPS:
        raise ReminderError(f"A schedule has at most {MAX_STEPS} steps: remove one first.")
    step = ReminderStep(legal_entity_id=entity.id, offset_days=offset_days, attach=attach)
    session.add(step)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ReminderError(
            f"The schedule already has a step {step_label(offset_days).lower()}.", "days"
        ) from None
    return step


def remove_step(session: Session, entity: LegalEntity, step_id: int) -> int:
    """Remove a step from the entity's schedule and commit; returns its offset. Reminders
    already sent for it stay recorded."""
    step = session.get(ReminderStep, step_id)
    if step is None or step.legal_entity_id != entity.id:
        raise ReminderError("This step is no longer in the schedule.")
    offset = step.offset_days
    session.delete(step)
    session.commit()
    return offset


# -- Do not remind -------------------------------------------------------------------


def set_do_not_remind(
    session: Session, customer_id: int, paused: bool, staff_id: int | None
) -> bool:
    """Pause (Do not remind) or resume the customer's reminders, with a History line, and commit.
    Returns False when it already was so (nothing written)."""
    customer = lock_editable(session, customer_id)
    if customer.do_not_remind == paused:
        session.rollback()
        return False
    customer.do_not_remind = paused
    history.record(
        session,
        customer.id,
        "reminder.paused" if paused else "reminder.resumed",
        "Do not remind: payment reminders paused." if paused else "Payment reminders resumed.",
        staff_id=staff_id,
    )
    session.commit()
    return True


def sent_for_customer(session: Session, customer_id: int, limit: int = 10) -> list[SentReminder]:
    """The customer's latest reminders, newest first (for the Billing tab)."""
    return list(
        session.scalars(
            select(SentReminder)
            .where(SentReminder.customer_id == customer_id)
            .order_by(SentReminder.id.desc())
            .limit(limit)
        )
    )


# -- the job -------------------------------------------------------------------------


@dataclass
class ReminderRun:
    """What one run did: reminders sent (one per invoice and step) and emails recorded."""

    reminders: int = 0
    emails: int = 0
    # Refused by the unique constraint: another job sent the same step first.
    raced: int = 0
    # Failed on an error (logged; nothing of it written): tried again by the next run.
    failed: int = 0
    sent: list[tuple[int, int]] = field(default_factory=list)  # (invoice id, offset)


def due_step(
    schedule: Iterable[Step | ReminderStep], issued: date, due: date, today: date, grace_days: int
) -> Step | ReminderStep | None:
    """The step an invoice is at today (the backlog rule, see the module): the latest step
    whose day has come and is after the day of issue, if at most ``grace_days`` ago."""
    come = [step for step in schedule if issued < due + timedelta(days=step.offset_days) <= today]
    if not come:
        return None
    latest = max(come, key=lambda step: step.offset_days)
    if (today - (due + timedelta(days=latest.offset_days))).days > grace_days:
        return None
    return latest


@dataclass(frozen=True)
class Step:
    """A step as the job reads it (plain values: the job's transactions come and go)."""

    offset_days: int
    attach: str


def _schedules(session: Session) -> dict[int, list[Step]]:
    found: dict[int, list[Step]] = {}
    rows = session.execute(
        select(ReminderStep.legal_entity_id, ReminderStep.offset_days, ReminderStep.attach)
    )
    for entity_id, offset, attach in rows:
        found.setdefault(entity_id, []).append(Step(offset, attach))
    return found


def _remindable():
    """Customers who get reminders: not Do not remind, not archived, personal data not
    cleared. (Suspended customers still do: they usually are for not paying.)"""
    return and_(
        Customer.do_not_remind.is_(False),
        Customer.status != CustomerStatus.ARCHIVED,
        Customer.personal_data_cleared_at.is_(None),
    )


def send_due_reminders(session: Session, now: datetime | None = None) -> ReminderRun:
    """Send every reminder due at ``now`` (see the module for which), each in its own
    transaction; safe to run twice and beside another run."""
    now = now or utcnow()
    today = now.date()
    grace = current_app.config["REMINDERS_GRACE_DAYS"]
    schedules = _schedules(session)
    run = ReminderRun()
    if not schedules:
        return run
    offsets = [step.offset_days for entity_steps in schedules.values() for step in entity_steps]
    # A step's day (due + offset) between today - grace and today: due dates in this range.
    earliest_due = today - timedelta(days=grace + max(offsets))
    latest_due = today - timedelta(days=min(offsets))
    after: tuple[date, int] | None = None
    while True:
        statement = (
            select(Invoice.id, Invoice.legal_entity_id, Invoice.issue_date, Invoice.due_date)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(
                Invoice.status == InvoiceStatus.OPEN,
                Invoice.due_date.is_not(None),
                Invoice.due_date >= earliest_due,
                Invoice.due_date <= latest_due,
                Invoice.legal_entity_id.in_(schedules),
                _remindable(),
            )
            .order_by(Invoice.due_date, Invoice.id)
            .limit(BATCH)
        )
        if after is not None:
            statement = statement.where(
                or_(
                    Invoice.due_date > after[0],
                    and_(Invoice.due_date == after[0], Invoice.id > after[1]),
                )
            )
        rows = session.execute(statement).all()
        session.rollback()  # hold nothing while sending
        if not rows:
            return run
        after = (rows[-1].due_date, rows[-1].id)
        wanted = {}
        for row in rows:
            schedule = schedules[row.legal_entity_id]
            step = due_step(schedule, row.issue_date, row.due_date, today, grace)
            if step is not None:
                wanted[row.id] = step
        if wanted:
            done = set(
                session.execute(
                    select(SentReminder.invoice_id, SentReminder.offset_days).where(
                        SentReminder.invoice_id.in_(wanted)
                    )
                ).all()
            )
            session.rollback()
            for invoice_id, step in wanted.items():
                if (invoice_id, step.offset_days) in done:
                    continue
                try:
                    _send_one(session, invoice_id, step.offset_days, step.attach, now, run)
                except Exception:
                    # One invoice that cannot be reminded (nothing of it was written) does
                    # not hold up the others; the next run tries it again.
                    session.rollback()
                    run.failed += 1
                    log.exception("The reminder for invoice %s failed", invoice_id)
        if len(rows) < BATCH:
            return run


def _send_one(
    session: Session, invoice_id: int, offset: int, attach: str, now: datetime, run: ReminderRun
) -> None:
    """One reminder in one transaction: the sent row first, then its emails and History line."""
    today = now.date()
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        session.rollback()
        return
    try:
        customer = lock_editable(session, invoice.customer_id)
    except CustomerRefusal:
        return  # deleted or cleared meanwhile (rolled back)
    session.refresh(invoice)
    if (
        invoice.status != InvoiceStatus.OPEN
        or customer.do_not_remind
        or customer.status == CustomerStatus.ARCHIVED
    ):
        session.rollback()
        return
    recipients = billing_recipients(session, customer)
    if not recipients:
        session.rollback()
        return
    session.add(
        SentReminder(
            invoice_id=invoice.id,
            customer_id=customer.id,
            offset_days=offset,
            attach=attach,
            recipients=len(recipients),
            sent_on=today,
            created_at=now,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()  # another job sent this step first
        run.raced += 1
        return
    link = None
    if attach == ReminderAttachment.LINK:
        link = payment_links.link_for_reminder(session, customer)
    wording = due_wording(invoice.due_date, today)
    for recipient in recipients:
        email = queue_email(
            session,
            kind=EMAIL_KIND,
            name=f"Reminder for invoice {invoice.number}",
            recipient=recipient,
            subject=reminder_subject(invoice, today),
            template="reminder",
            customer_id=customer.id,
            customer=customer,
            invoice=invoice,
            wording=wording,
            seller_name=invoice.seller_name,
            seller_address=invoice.seller_address,
            seller_tax_id=invoice.seller_tax_id,
            link=link,
            link_url=LINK_PLACEHOLDER if link is not None else None,
        )
        if link is not None:
            email.payment_link_id = link.id
    history.record(
        session,
        customer.id,
        "reminder.sent",
        f"Reminder sent: invoice {invoice.number} {wording} "
        f"({step_label(offset).lower()}, "
        + ("with the payment link" if link is not None else "with the invoice PDF")
        + f", to {len(recipients)} recipient{'s' if len(recipients) != 1 else ''}).",
        staff_id=None,
        field="recipient",
        new=", ".join(recipients),
        personal=True,
    )
    session.commit()
    run.reminders += 1
    run.emails += len(recipients)
    run.sent.append((invoice_id, offset))
