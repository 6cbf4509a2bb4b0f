"""Subscriptions: the plans a customer subscribes to (plan, amount per interval,
currency, monthly or yearly, start date), active until cancelled. Tally keeps them
as records; it does not bill them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.customer import Customer
from webapp.models.subscriptions import Subscription, SubscriptionInterval, SubscriptionStatus
from webapp.services.guard import lock_editable
from webapp.services.ledger import lock_customer
from webapp.services.money import format_money
from webapp.services.records import RecordError, current_record, customer_record
from webapp.services.reference import currency_codes

INTERVAL_LABELS = {
    SubscriptionInterval.MONTHLY.value: "Monthly",
    SubscriptionInterval.YEARLY.value: "Yearly",
}
STATUS_LABELS = {SubscriptionStatus.ACTIVE.value: "Active", "cancelled": "Cancelled"}
PLAN_MAX = 200
ALREADY_CANCELLED = "This subscription is already cancelled."


def get(session: Session, customer_id: int, subscription_id: int) -> Subscription | None:
    return customer_record(session, Subscription, customer_id, subscription_id)


def subscriptions_of(session: Session, customer_id: int) -> list[Subscription]:
    """Active ones first, then cancelled; each group newest start first."""
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.customer_id == customer_id)
            .order_by(
                (Subscription.status == SubscriptionStatus.ACTIVE).desc(),
                Subscription.starts_on.desc(),
                Subscription.id.desc(),
            )
        )
    )


def has_active(session: Session, customer_id: int) -> bool:
    """Whether the customer has an active subscription (delete and clear refuse while one is)."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Subscription.customer_id == customer_id,
                    Subscription.status == SubscriptionStatus.ACTIVE,
                )
            )
        )
    )


def _check(fields: Mapping[str, Any]) -> None:
    """The rules for what the form sends, each refused beside its field."""
    plan = (fields.get("plan_name") or "").strip()
    if not plan:
        raise RecordError("Enter the plan's name.", "plan_name")
    if len(plan) > PLAN_MAX:
        raise RecordError(f"A plan name can be at most {PLAN_MAX} characters.", "plan_name")
    if fields.get("currency") not in currency_codes():
        raise RecordError("Choose a currency from the list.", "currency")
    amount = fields.get("amount_minor")
    if not isinstance(amount, int) or amount <= 0:
        raise RecordError("Enter a positive amount.", "amount")
    if fields.get("interval") not in INTERVAL_LABELS:
        raise RecordError("Choose monthly or yearly.", "interval")
    if not isinstance(fields.get("starts_on"), date):
        raise RecordError("Enter the start date.", "starts_on")


def add(
    session: Session, customer: Customer, staff_id: int | None, fields: Mapping
) -> Subscription:
    """Add subscription: it starts active."""
    _check(fields)
    lock_editable(session, customer.id)
    subscription = Subscription(
        customer_id=customer.id,
        plan_name=fields["plan_name"].strip(),
        amount_minor=fields["amount_minor"],
        currency=fields["currency"],
        interval=fields["interval"],
        starts_on=fields["starts_on"],
        status=SubscriptionStatus.ACTIVE,
        staff_id=staff_id,
    )
    session.add(subscription)
    session.commit()
    return subscription


def change(session: Session, customer: Customer, subscription: Subscription, fields: Mapping):
    """Subscriptions are not edited: cancel one and add another."""
    raise RecordError("A subscription is not edited: cancel it and add a new one.")


def remove(session: Session, customer: Customer, subscription: Subscription) -> None:
    """Subscriptions are kept: Cancel subscription ends one."""
    raise RecordError("Subscriptions are kept as a record: cancel it instead.")


def cancel_refusal(subscription: Subscription) -> str | None:
    """Why this subscription cannot be cancelled, or None if it can."""
    if subscription.status != SubscriptionStatus.ACTIVE:
        return ALREADY_CANCELLED
    return None


def cancel(session: Session, customer: Customer, subscription_id: int) -> Subscription:
    """Cancel subscription (after a confirmation): active -> cancelled, once."""
    lock_customer(session, customer.id)
    current = current_record(session, Subscription, customer.id, subscription_id)
    if current is None:
        raise RecordError("This subscription no longer exists.")
    refusal = cancel_refusal(current)
    if refusal is not None:
        raise RecordError(refusal)
    current.status = SubscriptionStatus.CANCELLED
    current.cancelled_at = utcnow()
    session.commit()
    return current


def describe(subscription: Subscription) -> str:
    amount = format_money(subscription.amount_minor, subscription.currency)
    interval = INTERVAL_LABELS.get(subscription.interval, subscription.interval).lower()
    return f"{subscription.plan_name} · {amount} {interval} · from {subscription.starts_on}"
