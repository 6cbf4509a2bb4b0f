"""The customer guard: whether a customer can still be changed, and the customer's lock.

Every service that adds or changes something on a customer takes the lock here
(``lock_editable``) and is refused with a ``CustomerRefusal`` when the customer was
deleted (``CustomerGone``) or its personal data cleared (``CustomerCleared``) while
the request ran. The routes answer a refusal in one place (an error handler), so no
route needs to look at the database again to learn which refusal it got.

This module is at the bottom of ``webapp.services``: the other services import it,
and it imports none of them.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.models.customer import Customer

CUSTOMER_GONE = "This customer no longer exists."


class CustomerRefusal(Exception):
    """Refused because of the customer itself; ``message`` is for the user, ``status`` HTTP."""

    status = 409

    def __init__(self, message: str, customer_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.customer_id = customer_id


class CustomerGone(CustomerRefusal):
    """The customer was deleted (perhaps while this request ran)."""

    status = 404

    def __init__(self, customer_id: int | None = None) -> None:
        super().__init__(CUSTOMER_GONE, customer_id)


class CustomerCleared(CustomerRefusal):
    """The customer's personal data was cleared: it can no longer be edited."""

    status = 409


def edit_refusal(customer: Customer) -> str | None:
    """Why this customer can no longer be edited, or None while it can."""
    cleared_at = customer.personal_data_cleared_at
    if cleared_at is None:
        return None
    return (
        f"Personal data was cleared on {cleared_at:%Y-%m-%d}: "
        "this customer can no longer be edited."
    )


def check_editable(customer: Customer) -> None:
    """Raise ``CustomerCleared`` when this customer (as read) can no longer be edited."""
    refusal = edit_refusal(customer)
    if refusal is not None:
        raise CustomerCleared(refusal, customer.id)


def lock_customer(session: Session, customer_id: int) -> Customer:
    """Re-read the customer under a row lock (serialises postings per customer), or
    raise ``CustomerGone`` when it was deleted.

    ``populate_existing`` refreshes a copy already in the session, which may have
    been read before another request moved the balance.
    """
    if session.get_bind().dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE and pysqlite begins a transaction only at the first
        # write: write first, so everything after is read under the database's write lock.
        session.execute(update(Customer).where(Customer.id == customer_id).values(id=Customer.id))
    customer = session.scalar(
        select(Customer)
        .where(Customer.id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if customer is None:
        raise CustomerGone(customer_id)
    return customer


def lock_editable(session: Session, customer_id: int) -> Customer:
    """Lock the customer before changing something on it and return it re-read under the lock.
    Raises ``CustomerCleared`` or ``CustomerGone`` (rolled back, lock let go) if it was cleared or
    deleted since the route checked it."""
    try:
        customer = lock_customer(session, customer_id)
        check_editable(customer)
    except CustomerRefusal:
        session.rollback()
        raise
    return customer
