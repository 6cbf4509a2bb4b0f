"""What the history watches: the customer's own fields, and the records around a
customer whose additions, changes and removals are recorded, with how their fields
are named and read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from webapp.models.contacts import Address, Alias, Contact
from webapp.models.crm import Activity, Sale, Ticket
from webapp.models.customer import PERSONAL_COLUMNS, Customer
from webapp.models.notes import Note
from webapp.services.history.display import (
    Shown,
    _as_country,
    _as_gateway,
    _as_legal_entity,
    _as_money,
    _as_on_off,
    _as_staff,
    _as_tax_class,
    _as_word,
    _plain,
)
from webapp.services.money import format_money

# The customer's own fields, as the history names them, in the order of the form. The
# billing-address columns are left out: they mirror the billing Address, whose own
# changes are recorded.
CUSTOMER_FIELDS = {
    "name": "Name",
    "company": "Company",
    "first_name": "Contact first name",
    "last_name": "Contact last name",
    "email": "Email",
    "phone": "Phone",
    "mobile": "Mobile",
    "fax": "Fax",
    "position": "Position",
    "website": "Website",
    "country": "Country",
    "currency": "Billing currency",
    "tax_id": "Tax ID",
    "tax_class_id": "Tax class",
    "legal_entity_id": "Legal entity",
    "payment_terms_days": "Payment terms (days)",
    "invoicing_flow": "Invoicing flow",
    "auto_pay": "Auto pay",
    "footnotes": "Footnotes",
    "payment_gateway": "Payment gateway",
    "external_id": "External ID",
}
PERSONAL_CUSTOMER_FIELDS = frozenset(PERSONAL_COLUMNS)


CUSTOMER_SHOWN: dict[str, Shown] = {
    "status": _as_word,
    "invoicing_flow": _as_word,
    "country": _as_country,
    "tax_class_id": _as_tax_class,
    "legal_entity_id": _as_legal_entity,
    "payment_gateway": _as_gateway,
    "auto_pay": _as_on_off,
}


@dataclass(frozen=True)
class Watched:
    """A record around a customer whose additions, changes and removals are recorded."""

    noun: str  # "Contact": "Contact added", "Contact changed: Email"
    slug: str  # kind "record.<slug>.added"
    fields: dict[str, str]  # field -> label, whose changes are recorded
    personal: frozenset[str]  # of those fields, the personal ones
    label: Callable[[Any], str]  # how the record is named when added or removed
    label_is_personal: bool = True
    shown: dict[str, Shown] = field(default_factory=dict)  # how a field's values read


WATCHED: dict[type, Watched] = {
    Contact: Watched(
        "Contact",
        "contact",
        {
            "name": "Name",
            "email": "Email",
            "phone": "Phone",
            "position": "Position",
            "is_primary": "Primary contact",
            "wants_billing": "Billing emails",
            "wants_updates": "Update emails",
            "wants_legal": "Legal emails",
        },
        frozenset({"name", "email", "phone", "position"}),
        lambda contact: contact.name,
    ),
    Address: Watched(
        "Address",
        "address",
        {
            "label": "Label",
            "line1": "Address line 1",
            "line2": "Address line 2",
            "city": "City",
            "region": "Region",
            "postal_code": "Postal code",
            "country": "Country",
            "is_billing": "Billing address",
        },
        frozenset({"label", "line1", "line2", "city", "region", "postal_code"}),
        lambda address: ", ".join(
            part for part in (address.line1, address.postal_code, address.city) if part
        ),
        shown={"country": _as_country},
    ),
    Alias: Watched(
        "External ID",
        "external_id",
        {"label": "Label", "value": "ID"},
        frozenset({"label", "value"}),
        lambda alias: f"{alias.label}: {alias.value}",
    ),
    Note: Watched("Note", "note", {}, frozenset(), lambda note: note.body),
    # Clear personal data keeps activity titles and ticket subjects (and empties the
    # notes and descriptions), so only those are personal here.
    Activity: Watched(
        "Activity",
        "activity",
        {
            "kind": "Kind",
            "title": "Title",
            "due_at": "When",
            "notes": "Notes",
            "done": "Done",
            "assigned_to_id": "Assigned to",
        },
        frozenset({"notes"}),
        lambda activity: activity.title,
        label_is_personal=False,
        shown={"kind": _as_word, "assigned_to_id": _as_staff},
    ),
    Ticket: Watched(
        "Ticket",
        "ticket",
        {
            "subject": "Subject",
            "description": "Description",
            "status": "Status",
            "assignee_id": "Assigned to",
        },
        frozenset({"description"}),
        lambda ticket: ticket.subject,
        label_is_personal=False,
        shown={"status": _as_word, "assignee_id": _as_staff},
    ),
    Sale: Watched(
        "Sale",
        "sale",
        {
            "sold_on": "Date",
            "description": "Description",
            "amount_minor": "Amount",
            "currency": "Currency",
            "status": "Status",
        },
        frozenset(),
        lambda sale: f"{sale.description} ({format_money(sale.amount_minor, sale.currency)})",
        label_is_personal=False,
        shown={"amount_minor": _as_money, "status": _as_word},
    ),
}


def shown_value(session: Session, obj: Any, name: str, value: Any) -> str:
    """A value as history lines read it (country names, tax class labels, money …); "" if empty."""
    if isinstance(obj, Customer):
        shown = CUSTOMER_SHOWN.get(name)
    else:
        watched = WATCHED.get(type(obj))
        shown = watched.shown.get(name) if watched is not None else None
    return shown(session, obj, value) if shown is not None else _plain(value)
