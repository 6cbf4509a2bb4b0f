"""Bulk actions on the customer list: add a tag, remove a tag, change the status or delete
several customers at once.

A selection is either the ticked customers (their ids) or every customer a view of the list
holds ("select all N matching": the list's own ``CustomerQuery``, resolved by the same
``narrow_to_view`` the list uses). Each action works through the selection in batches of
``BATCH_SIZE`` customers, one transaction per batch (all of a batch or none of it), and
writes the same history lines (and, for a deletion, the same audit lines) as the change
made on one customer's page. A customer the action does not apply to (it already has the
tag, is already archived, has an active subscription …) is skipped and named with why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, and_, delete, exists, select, update
from sqlalchemy.orm import Session

from webapp.extensions import jobs
from webapp.models.base import utcnow
from webapp.models.bulk import BulkAction, BulkStatus
from webapp.models.crm import Tag, customer_tags
from webapp.models.customer import Customer, CustomerStatus, format_customer_id
from webapp.models.subscriptions import Subscription, SubscriptionStatus
from webapp.services import deletion, history
from webapp.services.guard import CustomerGone, edit_refusal, lock_customer
from webapp.services.ledger import in_transaction
from webapp.services.search import CustomerQuery, _as_shown, narrow_to_view
from webapp.services.sweeping import lease_due
from webapp.services.tags import TagError, clean_tag_name, tag_key
from webapp.services.wording import counted

log = logging.getLogger(__name__)

TAG_ADD = "tag_add"
TAG_REMOVE = "tag_remove"
STATUS = "status"
DELETE = "delete"
EXPORT = "export"
# The actions, as the list's picker names them.
ACTIONS = {
    TAG_ADD: "Add tag",
    TAG_REMOVE: "Remove tag",
    STATUS: "Change status",
    EXPORT: "Export selected",
    DELETE: "Delete customers",
}
ADMIN_ACTIONS = {DELETE}

BATCH_SIZE = 100
# "Select all N matching" resolves at most this many customers in one request.
MAX_SELECTION = 10_000
# The confirmation names this many customers; the rest are counted.
LISTED = 50


class BulkError(Exception):
    """A bulk action refused as a whole (nothing changed); ``field``: where the message goes."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Selection:
    """The customers a bulk action is for: ``ids`` ticked, or every customer of ``query``
    (the list's view) when ``all_matching``."""

    ids: tuple[int, ...] = ()
    query: CustomerQuery = field(default_factory=CustomerQuery)
    all_matching: bool = False

    def id_statement(self, session: Session) -> Select:
        """A SELECT of the chosen customers' ids (the view's, or the ticked ones that exist)."""
        if self.all_matching:
            query, tag_id = _as_shown(session, self.query)
            return narrow_to_view(query, select(Customer.id), tag_id)
        return select(Customer.id).where(Customer.id.in_(self.ids))

    def customer_ids(self, session: Session) -> list[int]:
        """The chosen customers' ids in id order; ``BulkError`` past ``MAX_SELECTION``."""
        ids = list(
            session.scalars(
                self.id_statement(session).order_by(Customer.id).limit(MAX_SELECTION + 1)
            )
        )
        if len(ids) > MAX_SELECTION:
            raise BulkError(
                f"More than {MAX_SELECTION:,} customers match: narrow the view with the "
                "search or the filters first."
            )
        return ids


@dataclass
class BulkResult:
    """What a bulk action did: how many customers it changed and who it skipped, and why."""

    done: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # The tag's name as stored (it may differ from what was typed in case).
    tag_name: str = ""

    def add(self, other: BulkResult) -> None:
        self.done.extend(other.done)
        self.skipped.extend(other.skipped)
        self.tag_name = other.tag_name or self.tag_name


def batches(ids: Sequence[int], size: int = BATCH_SIZE) -> Iterator[list[int]]:
    """``ids`` in slices of ``size``."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _locked(session: Session, customer_ids: list[int]) -> Iterator[Customer]:
    """Each customer still there, locked, in id order (one lock order: no deadlock)."""
    for customer_id in sorted(customer_ids):
        try:
            yield lock_customer(session, customer_id)
        except CustomerGone:
            continue


def _tag_by_name(session: Session, name: str) -> Tag:
    """The tag named ``name`` (any case), made when new, in the caller's transaction."""
    name, key = clean_tag_name(name)
    tag = session.scalar(select(Tag).where(Tag.key == key))
    if tag is None:
        tag = Tag(name=name, key=key)
        session.add(tag)
        session.flush()
    return tag


def check_tag_name(name: str) -> None:
    """``BulkError`` (field ``tag_name``) unless ``name`` can be a tag."""
    try:
        clean_tag_name(name)
    except TagError as refusal:
        raise BulkError(str(refusal), "tag_name") from None


def add_tag(session: Session, customer_ids: list[int], name: str) -> BulkResult:
    """Put the tag on every customer of the batch that can take it: one "Tag added" history
    line each, as Add tag on the customer page writes. Skipped: customers that have it, and
    those whose personal data was cleared. One transaction; commits."""
    check_tag_name(name)

    def work() -> BulkResult:
        tag = _tag_by_name(session, name)
        result = BulkResult(tag_name=tag.name)
        having = set(
            session.scalars(
                select(customer_tags.c.customer_id).where(
                    customer_tags.c.tag_id == tag.id,
                    customer_tags.c.customer_id.in_(customer_ids),
                )
            )
        )
        for customer in _locked(session, customer_ids):
            refusal = edit_refusal(customer)
            if refusal is not None:
                result.skipped.append((customer.customer_id, refusal))
            elif customer.id in having:
                result.skipped.append((customer.customer_id, f"Already has the tag {tag.name}."))
            else:
                session.execute(
                    customer_tags.insert().values(customer_id=customer.id, tag_id=tag.id)
                )
                history.record(session, customer.id, "record.tag.added", "Tag added", new=tag.name)
                result.done.append(customer.customer_id)
        return result

    return in_transaction(session, work)


def remove_tag(session: Session, customer_ids: list[int], name: str) -> BulkResult:
    """Take the tag off every customer of the batch that has it: one "Tag removed" history
    line each, as on the customer page. The tag itself stays. One transaction; commits."""
    check_tag_name(name)
    tag = session.scalar(select(Tag).where(Tag.key == tag_key(name)))
    if tag is None:
        raise BulkError(f"There is no tag {name.strip()}.", "tag_name")
    tag_id, tag_name = tag.id, tag.name

    def work() -> BulkResult:
        result = BulkResult(tag_name=tag_name)
        for customer in _locked(session, customer_ids):
            removed = session.execute(
                delete(customer_tags).where(
                    customer_tags.c.customer_id == customer.id, customer_tags.c.tag_id == tag_id
                )
            ).rowcount
            if not removed:
                result.skipped.append((customer.customer_id, f"Does not have the tag {tag_name}."))
                continue
            history.record(session, customer.id, "record.tag.removed", "Tag removed", old=tag_name)
            result.done.append(customer.customer_id)
        return result

    return in_transaction(session, work)


def check_status(status: str) -> CustomerStatus:
    """The status named, or ``BulkError`` (field ``new_status``)."""
    try:
        return CustomerStatus(status)
    except ValueError:
        raise BulkError("Choose active, suspended or archived.", "new_status") from None


def change_status(session: Session, customer_ids: list[int], status: str) -> BulkResult:
    """Move every customer of the batch to ``status``; the history listener writes each one's
    "Status changed" line, as the status change on the customer page. Customers already in
    that status are skipped. One transaction; commits."""
    new_status = check_status(status)

    def work() -> BulkResult:
        result = BulkResult()
        for customer in _locked(session, customer_ids):
            if customer.status == new_status:
                label = new_status.label.lower()
                result.skipped.append((customer.customer_id, f"Already {label}."))
                continue
            customer.status = new_status
            result.done.append(customer.customer_id)
        session.flush()
        return result

    return in_transaction(session, work)


def delete_customers(session: Session, customer_ids: list[int]) -> BulkResult:
    """Delete every customer of the batch that can be deleted (``services.deletion``: the same
    rows go and the same audit line stays as with Delete customer); the refused are skipped."""
    outcome = deletion.delete_customers(session, customer_ids)
    return BulkResult(done=outcome.deleted, skipped=outcome.refused)


def run(session: Session, action: str, customer_ids: list[int], value: str = "") -> BulkResult:
    """Run ``action`` over ``customer_ids`` batch by batch; ``value``: the tag or the status.
    Each batch commits on its own; a refusal of the whole action comes before the first."""
    check_value(session, action, value)
    result = BulkResult()
    for batch in batches(customer_ids):
        result.add(_run_batch(session, action, batch, value))
    return result


@dataclass(frozen=True)
class Listed:
    """A customer as the confirmation names it; ``refusal``: why it cannot be deleted."""

    id: int
    customer_id: str
    name: str
    status: str
    refusal: str | None = None


@dataclass
class Preview:
    """The confirmation of a bulk action: how many customers, the first ``LISTED`` of them,
    and for a deletion what goes in total and the customers refused."""

    count: int
    listed: list[Listed]
    refused_count: int = 0
    what_goes: deletion.WhatGoes | None = None

    @property
    def more(self) -> int:
        return self.count - len(self.listed)

    @property
    def deletable(self) -> int:
        return self.count - self.refused_count

    def phrase(self) -> str:
        return counted(self.count, "customer", "customers")


def refused_for_deletion(session: Session, selection: Selection) -> set[int]:
    """The ids of the selection's customers that cannot be deleted (``deletion.delete_refusal``:
    an active subscription), found in one query for the confirmation."""
    return set(
        session.scalars(
            select(Subscription.customer_id)
            .where(
                Subscription.status == SubscriptionStatus.ACTIVE,
                Subscription.customer_id.in_(selection.id_statement(session)),
            )
            .distinct()
        )
    )


def preview(session: Session, selection: Selection, action: str) -> Preview:
    """What the confirmation of ``action`` shows for ``selection``."""
    ids = selection.customer_ids(session)
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.status)
        .where(Customer.id.in_(ids[:LISTED]))
        .order_by(Customer.id)
    ).all()
    if action != DELETE:
        listed = [Listed(row.id, _visible(row.id), row.name, row.status) for row in rows]
        return Preview(count=len(ids), listed=listed)
    chosen = selection.id_statement(session)
    refused_ids = refused_for_deletion(session, selection)
    listed = []
    for row in rows:
        refusal = None
        if row.id in refused_ids:
            refusal = "Has an active subscription: cancel it on the Subscriptions tab first."
        listed.append(Listed(row.id, _visible(row.id), row.name, row.status, refusal))
    # Refused customers past the first LISTED are named too: staff must see every one.
    for customer_id in sorted(refused_ids - {row.id for row in rows}):
        name = session.scalar(select(Customer.name).where(Customer.id == customer_id))
        listed.append(
            Listed(
                customer_id,
                _visible(customer_id),
                name or "",
                "",
                "Has an active subscription: cancel it on the Subscriptions tab first.",
            )
        )
    deletable = select(Customer.id).where(
        Customer.id.in_(chosen), Customer.id.not_in(list(refused_ids) or [0])
    )
    return Preview(
        count=len(ids),
        listed=listed,
        refused_count=len(refused_ids),
        what_goes=deletion.what_goes_of_many(session, deletable),
    )


def _visible(customer_id: int) -> str:
    return format_customer_id(customer_id)


def summary(action: str, value: str, result: BulkResult) -> str:
    """The message after a bulk action: what was done to how many, and who was skipped."""
    done = counted(len(result.done), "customer", "customers")
    tag = result.tag_name or " ".join(value.split())
    if action == TAG_ADD:
        message = f"Tag {tag} added to {done}."
    elif action == TAG_REMOVE:
        message = f"Tag {tag} removed from {done}."
    elif action == STATUS:
        label = CustomerStatus(value).label.lower()
        verb = "is" if len(result.done) == 1 else "are"
        message = f"{done} {verb} now {label}." if result.done else "No customer changed."
    else:
        message = f"{done} deleted."
    if result.skipped:
        shown = result.skipped[:LISTED]
        names = "; ".join(f"{customer_id}: {why}" for customer_id, why in shown)
        rest = len(result.skipped) - len(shown)
        verb = "Refused" if action == DELETE else "Skipped"
        message += f" {verb} {len(result.skipped)}: {names}" + (
            f" (and {rest} more)." if rest else ""
        )
    return message


# -- over the threshold: one background job ------------------------------------------------

RUN_BULK_JOB = "jobs.bulk.run_bulk_action"
# A running job moves its heartbeat after every batch; one this old is taken for lost.
STALE_AFTER = timedelta(seconds=120)
MAX_ATTEMPTS = 3
# The skipped customers kept to show on the progress page.
SKIPPED_KEPT = LISTED


def runs_as_job(customer_ids: Sequence[int]) -> bool:
    """Whether an action over these customers runs as a background job (``BULK_JOB_THRESHOLD``)."""
    return len(customer_ids) > current_app.config["BULK_JOB_THRESHOLD"]


def check_value(session: Session, action: str, value: str) -> None:
    """``BulkError`` unless ``value`` suits ``action`` (before anything is started)."""
    if action in (TAG_ADD, TAG_REMOVE):
        check_tag_name(value)
        if action == TAG_REMOVE and not session.scalar(
            select(exists().where(Tag.key == tag_key(value)))
        ):
            raise BulkError(f"There is no tag {value.strip()}.", "tag_name")
    elif action == STATUS:
        check_status(value)
    elif action not in (DELETE, EXPORT):
        raise BulkError("Choose an action.", "action")


def start_job(
    session: Session,
    staff_id: int,
    action: str,
    customer_ids: list[int],
    value: str = "",
    view: str = "",
) -> BulkAction:
    """Record the action over ``customer_ids`` and enqueue its job after the commit."""
    check_value(session, action, value)
    job = BulkAction(
        staff_id=staff_id,
        action=action,
        value=value,
        customer_ids=json.dumps(customer_ids),
        view=view,
        status=BulkStatus.QUEUED,
        total=len(customer_ids),
        next_attempt_at=utcnow() + STALE_AFTER,
    )
    session.add(job)
    session.flush()
    jobs.enqueue_after_commit(session, RUN_BULK_JOB, job.id)
    session.commit()
    return job


def run_job(session: Session, bulk_id: int) -> str | None:
    """Run a queued bulk action batch by batch, committing its progress after each; safe to
    run twice (what is done is skipped: a tag there, a status set, a customer gone), and
    after a lost worker it starts again from its first batch. Returns its status."""
    now = utcnow()
    claimed = session.execute(
        update(BulkAction)
        .where(BulkAction.id == bulk_id, BulkAction.status == BulkStatus.QUEUED)
        .values(
            status=BulkStatus.RUNNING,
            attempts=BulkAction.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            processed=0,
        )
    ).rowcount
    session.commit()
    if not claimed:
        return None
    job = session.get(BulkAction, bulk_id)
    attempt, action, value, staff_id = job.attempts, job.action, job.value, job.staff_id
    customer_ids = json.loads(job.customer_ids)
    processed = 0
    result = BulkResult()
    try:
        with history.acting_as(staff_id):
            for batch in batches(customer_ids):
                part = _run_batch(session, action, batch, value)
                result.add(part)
                processed += len(batch)
                still_ours = session.execute(
                    update(BulkAction)
                    .where(*_owned_by(bulk_id, attempt))
                    .values(
                        processed=processed,
                        done_count=BulkAction.done_count + len(part.done),
                        skipped=json.dumps(result.skipped[:SKIPPED_KEPT]),
                        tag_name=result.tag_name,
                        heartbeat_at=utcnow(),
                    )
                ).rowcount
                session.commit()
                if not still_ours:
                    return None
    except Exception:
        session.rollback()
        log.exception("Bulk action %s failed on attempt %s", bulk_id, attempt)
        failed = attempt >= MAX_ATTEMPTS
        session.execute(
            update(BulkAction)
            .where(*_owned_by(bulk_id, attempt))
            .values(
                status=BulkStatus.FAILED if failed else BulkStatus.QUEUED,
                next_attempt_at=utcnow() + timedelta(seconds=30 * attempt),
                finished_at=utcnow() if failed else None,
                last_error="It stopped on an error; the details are in the server log."
                + ("" if failed else " It starts again shortly."),
            )
        )
        session.commit()
        return BulkStatus.FAILED if failed else BulkStatus.QUEUED
    session.execute(
        update(BulkAction)
        .where(*_owned_by(bulk_id, attempt))
        .values(status=BulkStatus.DONE, finished_at=utcnow())
    )
    session.commit()
    return BulkStatus.DONE


def _run_batch(session: Session, action: str, batch: list[int], value: str) -> BulkResult:
    if action == TAG_ADD:
        return add_tag(session, batch, value)
    if action == TAG_REMOVE:
        return remove_tag(session, batch, value)
    if action == STATUS:
        return change_status(session, batch, value)
    return delete_customers(session, batch)


def _owned_by(bulk_id: int, attempt: int) -> tuple:
    return (
        BulkAction.id == bulk_id,
        BulkAction.attempts == attempt,
        BulkAction.status == BulkStatus.RUNNING,
    )


def due_to_run(session: Session, now: datetime | None = None) -> list[int]:
    """Bulk actions to enqueue again (the sweeper): a running one whose heartbeat went stale
    is queued again (failed once out of attempts), and queued ones whose job was lost."""
    now = now or utcnow()
    stale = and_(
        BulkAction.status == BulkStatus.RUNNING, BulkAction.heartbeat_at < now - STALE_AFTER
    )
    session.execute(
        update(BulkAction)
        .where(stale, BulkAction.attempts >= MAX_ATTEMPTS)
        .values(
            status=BulkStatus.FAILED,
            finished_at=now,
            last_error="It stopped before it finished (the worker running it was lost).",
        )
    )
    session.execute(
        update(BulkAction)
        .where(stale)
        .values(
            status=BulkStatus.QUEUED,
            next_attempt_at=now,
            last_error="The worker running it was lost; it starts again.",
        )
    )
    ids = lease_due(session, BulkAction, BulkStatus.QUEUED, now, STALE_AFTER)
    session.commit()
    return ids


def job_message(job: BulkAction) -> str:
    """The job's result as the list's message says it after a bulk action in the request."""
    skipped = [tuple(pair) for pair in json.loads(job.skipped or "[]")]
    result = BulkResult(done=[""] * job.done_count, skipped=skipped, tag_name=job.tag_name)
    return summary(job.action, job.value, result)


def export_label(selection: Selection, count: int) -> str:
    """What an Export selected holds, as the Exports page names it."""
    chosen = counted(count, "customer", "customers")
    if not selection.all_matching:
        return f"{chosen} ticked on the list"
    filters = {
        key: value
        for key, value in selection.query.to_args().items()
        if key not in ("sort", "dir", "after", "before")
    }
    if not filters:
        return f"{chosen}: every customer of the list"
    shown = ", ".join(f"{key} {value}" for key, value in filters.items())
    return f"{chosen} matching {shown}"[:200]
