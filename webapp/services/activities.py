"""Activities: meetings, calls and tasks planned for a customer. Times are naive UTC,
typed and shown in UTC. The tab lists them "upcoming first": open activities due now
or later (soonest first), then overdue open ones (most recently due first), then done
ones (most recent first)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.crm import Activity, ActivityKind
from webapp.models.customer import Customer
from webapp.paging import Page, page_of
from webapp.services import versions
from webapp.services.guard import lock_editable
from webapp.services.records import RecordError, customer_record, plain_text, record_now
from webapp.services.staff import assignable

KIND_LABELS = {
    ActivityKind.MEETING.value: "Meeting",
    ActivityKind.CALL.value: "Call",
    ActivityKind.TASK.value: "Task",
}
TITLE_MAX = 200
NOTES_MAX = 5000
CHOOSE_KIND = "Choose meeting, call or task."
BAD_WHEN = "Enter a date and time, e.g. 2025-03-14 15:30 (UTC)."
CHOOSE_STAFF = "Choose a staff member from the list."


def get(session: Session, customer_id: int, activity_id: int) -> Activity | None:
    return customer_record(session, Activity, customer_id, activity_id)


def _checked(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The stored values of an activity, or a RecordError beside the field at fault."""
    title = str(fields.get("title") or "").strip()
    if not title:
        raise RecordError("Enter a title.", "title")
    if len(title) > TITLE_MAX:
        raise RecordError(f"A title can be at most {TITLE_MAX} characters.", "title")
    kind = fields.get("kind")
    if kind not in KIND_LABELS:
        raise RecordError(CHOOSE_KIND, "kind")
    due_at = fields.get("due_at")
    if not isinstance(due_at, datetime):
        raise RecordError(BAD_WHEN, "due_at")
    notes = plain_text(fields.get("notes"))
    if len(notes) > NOTES_MAX:
        raise RecordError(f"Notes can be at most {NOTES_MAX:,} characters.", "notes")
    return {
        "title": title,
        "kind": kind,
        # Minutes are what people type; drop any time zone and smaller units.
        "due_at": due_at.replace(second=0, microsecond=0, tzinfo=None),
        "notes": notes,
        "done": bool(fields.get("done")),
    }


def _assigned(
    session: Session, fields: Mapping[str, Any], values: dict[str, Any], current: int | None
) -> None:
    """Add ``assigned_to_id`` to ``values`` when the fields have it: an active staff member,
    None (nobody), or whoever it was assigned to already."""
    if "assigned_to_id" not in fields:
        return
    assigned = fields["assigned_to_id"]
    if assigned is not None and not assignable(session, assigned, current):
        raise RecordError(CHOOSE_STAFF, "assigned_to_id")
    values["assigned_to_id"] = assigned


def add(
    session: Session, customer: Customer, staff_id: int | None, fields: Mapping[str, Any]
) -> Activity:
    """+ New activity, planned by ``staff_id`` and assigned to them unless the fields
    name someone else (``assigned_to_id``)."""
    values = _checked(fields)
    values["assigned_to_id"] = staff_id
    _assigned(session, fields, values, current=staff_id)
    lock_editable(session, customer.id)
    activity = Activity(customer_id=customer.id, staff_id=staff_id, **values)
    session.add(activity)
    session.commit()
    return activity


def change(
    session: Session,
    customer: Customer,
    activity: Activity,
    fields: Mapping[str, Any],
    opened: versions.Opened | None = None,
) -> Activity:
    """Save changes (marking it done is one of them). With ``opened``, a change someone
    else saved since the form was opened is refused (``versions.EditConflict``)."""
    values = _checked(fields)
    _assigned(session, fields, values, current=activity.assigned_to_id)
    lock_editable(session, customer.id)
    activity = record_now(session, Activity, customer.id, activity.id, "activity")
    versions.check(session, activity, opened, values)
    for name, value in values.items():
        setattr(activity, name, value)
    session.commit()
    return activity


def mark_done(session: Session, customer: Customer, activity: Activity) -> Activity:
    """Mark done (the Agenda's button): done, whatever else changed meanwhile; History
    records it as any change of Done is."""
    lock_editable(session, customer.id)
    activity = record_now(session, Activity, customer.id, activity.id, "activity")
    activity.done = True
    session.commit()
    return activity


def remove(session: Session, customer: Customer, activity: Activity) -> None:
    """Delete an activity."""
    session.delete(activity)
    session.commit()


def describe(activity: Activity) -> str:
    """One line for the delete confirmation: "Call: Renewal, 2025-03-14 15:30 UTC"."""
    when = activity.due_at.strftime("%Y-%m-%d %H:%M") + " UTC"
    return f"{KIND_LABELS.get(activity.kind, activity.kind)}: {activity.title}, {when}"


def activities_page(
    session: Session, customer_id: int, number: int = 1, now: datetime | None = None
) -> Page:
    """A customer's activities, upcoming first (see the module docstring)."""
    now = now or utcnow()
    group = case((Activity.done.is_(True), 2), (Activity.due_at >= now, 0), else_=1)
    # Only upcoming ones run forward in time; overdue and done ones run back from now.
    upcoming_due = case((group == 0, Activity.due_at), else_=None)
    statement = (
        select(Activity)
        .where(Activity.customer_id == customer_id)
        .order_by(group, upcoming_due.asc(), Activity.due_at.desc(), Activity.id.desc())
    )
    return page_of(session, statement, number)


def is_overdue(activity: Activity, now: datetime | None = None) -> bool:
    """Open and due before ``now``."""
    return not activity.done and activity.due_at < (now or utcnow())


def overdue_ids(activities: Iterable[Activity], now: datetime | None = None) -> set[int]:
    """The ids of the activities to mark "Overdue"."""
    now = now or utcnow()
    return {activity.id for activity in activities if is_overdue(activity, now)}
