"""External IDs (aliases): the identifiers other systems know a customer by, a label
and a value ("Stripe", "cus_N4x…"). A value belongs to one customer only, compared
without case, accents or repeated spaces; archived customers keep theirs. The values
are part of the customer's search text, so typing one in the list finds the customer.

The record interface of ``blueprints.records``: get, add, change, remove, describe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.models.contacts import Alias
from webapp.models.customer import Customer
from webapp.services import versions
from webapp.services.guard import lock_editable
from webapp.services.ledger import LedgerError, lock_customer
from webapp.services.records import RecordError, customer_record, record_now
from webapp.services.reference import fold_text
from webapp.services.search import build_search_text

LABEL_MAX = 50
VALUE_MAX = 200
LABEL_REQUIRED = "Enter where the ID comes from, e.g. Stripe."
LABEL_TOO_LONG = f"A label can be at most {LABEL_MAX} characters."
VALUE_REQUIRED = "Enter the ID."
VALUE_TOO_LONG = f"An ID can be at most {VALUE_MAX} characters."
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def value_key(value: str) -> str:
    """The form values are compared in: folded, whitespace collapsed."""
    return fold_text(" ".join(value.split()))


def aliases_of(session: Session, customer_id: int) -> list[Alias]:
    """A customer's external IDs in the order they were added."""
    return list(
        session.scalars(select(Alias).where(Alias.customer_id == customer_id).order_by(Alias.id))
    )


def get(session: Session, customer_id: int, alias_id: int) -> Alias | None:
    return customer_record(session, Alias, customer_id, alias_id)


def _clean(fields: Mapping) -> tuple[str, str, str]:
    """(label, value, value_key) from the form, or a ``RecordError`` beside the field."""
    label = (fields.get("label") or "").strip()
    value = (fields.get("value") or "").strip()
    if not label:
        raise RecordError(LABEL_REQUIRED, "label")
    if len(label) > LABEL_MAX:
        raise RecordError(LABEL_TOO_LONG, "label")
    if _CONTROL.search(label):
        raise RecordError("A label cannot contain control characters.", "label")
    if not value:
        raise RecordError(VALUE_REQUIRED, "value")
    key = value_key(value)
    # Folding can lengthen a value ("ß" becomes "ss"); the key must fit too.
    if len(value) > VALUE_MAX or len(key) > VALUE_MAX:
        raise RecordError(VALUE_TOO_LONG, "value")
    if _CONTROL.search(value):
        raise RecordError("An ID cannot contain control characters or line breaks.", "value")
    return label, value, key


def _named(alias: Alias) -> str:
    """ "Stripe ID cus_123"; a label that already says ID is not repeated."""
    label = alias.label
    suffix = "" if re.search(r"(?:^|\W)id$", fold_text(label)) else " ID"
    return f"{label}{suffix} {alias.value}"


def _clash_message(session: Session, customer: Customer, key: str, own_id: int | None):
    """The refusal for a value another external ID already has, or None."""
    query = select(Alias).where(Alias.value_key == key)
    if own_id is not None:
        query = query.where(Alias.id != own_id)
    other = session.scalar(query)
    if other is None:
        return None
    if other.customer_id == customer.id:
        return f"{_named(other)} is already on this customer."
    owner = session.get(Customer, other.customer_id)
    return f"{_named(other)} already belongs to {owner.customer_id} ({owner.name})."


def _refuse_clash(session: Session, customer: Customer, key: str, own_id: int | None) -> None:
    message = _clash_message(session, customer, key, own_id)
    if message:
        session.rollback()  # let go of the customer's lock
        raise RecordError(message, "value")


def _refresh_search_text(session: Session, customer_id: int) -> None:
    """Rebuild the customer's search text with the external IDs as they now are, under
    the customer's row lock so two changes at once cannot each drop the other's."""
    try:
        customer = lock_customer(session, customer_id)
    except LedgerError:
        session.rollback()
        raise RecordError("This customer no longer exists.") from None
    session.flush()
    values = session.scalars(select(Alias.value).where(Alias.customer_id == customer_id))
    customer.search_text = build_search_text(customer, aliases=list(values))


def _commit(session: Session, customer: Customer, key: str, own_id: int | None) -> None:
    """Commit; a value taken meanwhile (the unique index) is refused like a clash, not a 500."""
    customer_id, customer_name = customer.id, customer.name
    try:
        _refresh_search_text(session, customer_id)
        session.commit()
    except IntegrityError:
        session.rollback()
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise RecordError("This customer no longer exists.") from None
        message = _clash_message(session, customer, key, own_id)
        raise RecordError(
            message or f"This ID could not be saved for {customer_name}: try again.", "value"
        ) from None


def add(session: Session, customer: Customer, staff_id: int | None, fields: Mapping) -> Alias:
    """+ Add external ID, refused beside the value when any customer already has it."""
    label, value, key = _clean(fields)
    lock_editable(session, customer.id)
    _refuse_clash(session, customer, key, None)
    alias = Alias(customer_id=customer.id, label=label, value=value, value_key=key)
    session.add(alias)
    _commit(session, customer, key, None)
    return alias


def change(
    session: Session,
    customer: Customer,
    alias: Alias,
    fields: Mapping,
    opened: versions.Opened | None = None,
) -> Alias:
    """Save changes; its own value (in any case) is no clash.
    With ``opened``, raises ``versions.EditConflict`` if someone else saved it since."""
    label, value, key = _clean(fields)
    lock_editable(session, customer.id)
    alias = record_now(session, Alias, customer.id, alias.id, "external ID")
    versions.check(session, alias, opened, {"label": label, "value": value})
    _refuse_clash(session, customer, key, alias.id)
    alias.label, alias.value, alias.value_key = label, value, key
    _commit(session, customer, key, alias.id)
    return alias


def remove(session: Session, customer: Customer, alias: Alias) -> None:
    """Remove an external ID; its value is free again and no longer finds this customer."""
    session.delete(alias)
    _refresh_search_text(session, customer.id)
    session.commit()


def describe(alias: Alias) -> str:
    """The external ID in one line, as the Remove confirmation quotes it."""
    return f"{alias.label}: {alias.value}"
