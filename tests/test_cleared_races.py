"""A change in flight while Clear personal data or Delete customer commits (issue 7).

The routes refuse a cleared customer before any lock, so a request that read the
customer just before the clear committed gets past that check. Every service that adds
or changes something on a customer re-checks under the customer's lock: such a request
is refused ("can no longer be edited") and writes nothing, and one whose customer was
deleted meanwhile is refused too ("no longer exists"), never an IntegrityError or a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from webapp.models.customer import Customer
from webapp.services import (
    activities,
    addresses,
    aliases,
    contacts,
    deletion,
    guard,
    notes,
    payment_links,
    personal_data,
    sales,
    subscriptions,
    tags,
    tickets,
)
from webapp.services.guard import CUSTOMER_GONE, CustomerCleared, CustomerGone

CLEARED = "can no longer be edited"
ADDRESS = {
    "label": "Head office",
    "line1": "1 Written Back Road",
    "line2": "",
    "city": "Cupertino",
    "region": "CA",
    "postal_code": "95014",
    "country": "US",
}
ACTIVITY = {"title": "Renewal call", "kind": "call", "due_at": datetime(2030, 5, 6, 14, 30)}
SALE = {
    "sold_on": date(2026, 3, 1),
    "description": "Consulting",
    "amount_minor": 12000,
    "currency": "EUR",
    "status": "open",
}
SUBSCRIPTION = {
    "plan_name": "Pro",
    "amount_minor": 4900,
    "currency": "EUR",
    "interval": "monthly",
    "starts_on": date(2026, 12, 1),
}


@dataclass(frozen=True)
class Case:
    """One service that writes onto a customer: ``call(session, customer, record)``
    with the copies a request read; ``prepare(session, customer)`` makes the record a
    change needs first."""

    name: str
    call: Callable[[Session, Customer, Any], Any]
    prepare: Callable[[Session, Customer], Any] | None = None


CASES = [
    Case(
        "contacts.add",
        lambda session, customer, _: contacts.add(session, customer, None, {"name": "Grace"}),
    ),
    Case(
        "contacts.change",
        lambda session, customer, contact: contacts.change(
            session, customer, contact, {"name": "Written Back", "is_primary": True}
        ),
        prepare=lambda session, customer: contacts.add(session, customer, None, {"name": "Ada"}),
    ),
    Case(
        "addresses.add",
        lambda session, customer, _: addresses.add(session, customer, None, ADDRESS),
    ),
    Case(
        "addresses.change",
        lambda session, customer, address: addresses.change(
            session, customer, address, {**ADDRESS, "is_billing": True}
        ),
        prepare=lambda session, customer: addresses.add(
            session, customer, None, {**ADDRESS, "line1": "1 Infinite Loop"}
        ),
    ),
    Case(
        "aliases.add",
        lambda session, customer, _: aliases.add(
            session, customer, None, {"label": "Stripe", "value": "cus_WRITTEN"}
        ),
    ),
    Case(
        "aliases.change",
        lambda session, customer, alias: aliases.change(
            session, customer, alias, {"label": "Stripe", "value": "cus_WRITTEN"}
        ),
        prepare=lambda session, customer: aliases.add(
            session, customer, None, {"label": "Stripe", "value": "cus_FIRST"}
        ),
    ),
    Case(
        "activities.add",
        lambda session, customer, _: activities.add(session, customer, None, ACTIVITY),
    ),
    Case(
        "activities.change",
        lambda session, customer, activity: activities.change(
            session, customer, activity, {**ACTIVITY, "title": "Written back", "done": True}
        ),
        prepare=lambda session, customer: activities.add(session, customer, None, ACTIVITY),
    ),
    Case(
        "tickets.add",
        lambda session, customer, _: tickets.add(session, customer, None, {"subject": "Help"}),
    ),
    Case(
        "tickets.change",
        lambda session, customer, ticket: tickets.change(
            session, customer, ticket, {"subject": "Written back", "description": "Secret"}
        ),
        prepare=lambda session, customer: tickets.add(session, customer, None, {"subject": "Help"}),
    ),
    Case(
        "sales.add",
        lambda session, customer, _: sales.add(session, customer, None, SALE),
    ),
    Case(
        "sales.change",
        lambda session, customer, sale: sales.change(
            session, customer, sale, {**SALE, "description": "Written back"}
        ),
        prepare=lambda session, customer: sales.add(session, customer, None, SALE),
    ),
    Case(
        "subscriptions.add",
        lambda session, customer, _: subscriptions.add(session, customer, None, SUBSCRIPTION),
    ),
    Case(
        "notes.add_note",
        lambda session, customer, _: notes.add_note(session, customer.id, None, "Written back"),
    ),
    Case(
        "tags.add_tag",
        lambda session, customer, _: tags.add_tag(session, customer, "VIP"),
    ),
    Case(
        "payment_links.generate",
        lambda session, customer, _: payment_links.generate(session, customer, None, "90"),
    ),
    Case(
        "payment_links.email_link",
        lambda session, customer, _: payment_links.email_link(session, customer, None),
        prepare=lambda session, customer: payment_links.generate(session, customer, None, "90"),
    ),
]


@pytest.fixture
def customer(make_customer) -> Customer:
    return make_customer(
        name="Acme Ltd", email="billing@acme.example", country="DE", currency="EUR"
    )


def everything(db) -> dict[str, list[tuple]]:
    """Every row of every table, read on a connection of its own (not through the
    session holding the request's stale copies): for "nothing was written"."""
    with db.engine.connect() as reader:
        return {
            table.name: sorted((tuple(row) for row in reader.execute(table.select())), key=repr)
            for table in db.metadata.sorted_tables
        }


def clear_meanwhile(db, customer_id: int) -> None:
    """Another request (an admin) clears the customer's personal data and commits."""
    with Session(db.engine) as other:
        personal_data.clear_personal_data(other, customer_id)


def delete_meanwhile(db, customer_id: int, visible_id: str) -> None:
    """Another request (an admin) deletes the customer and commits."""
    with Session(db.engine) as other:
        deletion.delete_customer(other, customer_id, visible_id)


def read_as_a_request(db, case: Case, customer: Customer) -> tuple[Customer, Any]:
    """The customer (and the record to change) as a request reads them before it
    writes: loaded in the session, not yet cleared."""
    record = case.prepare(db.session, customer) if case.prepare else None
    db.session.expire_all()
    stale = db.session.get(Customer, customer.id)
    assert stale.personal_data_cleared_at is None
    if record is not None:
        db.session.refresh(record)
    return stale, record


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_change_in_flight_while_clearing_is_refused_under_the_lock(db, customer, case):
    stale, record = read_as_a_request(db, case, customer)
    clear_meanwhile(db, customer.id)
    assert stale.personal_data_cleared_at is None  # the request's copy does not know yet
    before = everything(db)
    with pytest.raises(CustomerCleared, match=CLEARED):
        case.call(db.session, stale, record)
    assert everything(db) == before
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).name == personal_data.CLEARED_NAME


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_change_in_flight_while_deleting_is_refused_not_a_server_error(db, customer, case):
    stale, record = read_as_a_request(db, case, customer)
    delete_meanwhile(db, customer.id, customer.customer_id)
    before = everything(db)
    with pytest.raises(CustomerGone, match=CUSTOMER_GONE):
        case.call(db.session, stale, record)
    assert everything(db) == before
    assert before["customers"] == []


# -- through the routes ------------------------------------------------------------------


def when_locking(monkeypatch, meanwhile: Callable[[], None]) -> None:
    """Run ``meanwhile`` (another request committing) once, just before the next
    customer lock is taken: after the route's own checks, before the service writes."""
    real_lock = guard.lock_customer

    def lock_after(session, customer_id):
        monkeypatch.setattr(guard, "lock_customer", real_lock)
        meanwhile()
        return real_lock(session, customer_id)

    monkeypatch.setattr(guard, "lock_customer", lock_after)


MARKER = "Written back"


def posts(db, customer: Customer) -> dict[str, tuple[str, dict]]:
    """A POST of each kind the customer page sends, valid for this customer, each
    writing ``MARKER``; the edits are of a contact and an activity added first."""
    contact = contacts.add(db.session, customer, None, {"name": "Ada"})
    activity = activities.add(db.session, customer, None, ACTIVITY)
    base = f"/customers/{customer.id}"
    return {
        "contact": (f"{base}/contacts/new", {"name": MARKER}),
        "contact edit": (
            f"{base}/contacts/{contact.id}/edit",
            {"name": MARKER, "is_primary": "y"},
        ),
        "activity edit": (
            f"{base}/activities/{activity.id}/edit",
            {"title": MARKER, "kind": "call", "due_at": "2030-05-06T14:30"},
        ),
        "note": (f"{base}/notes/", {"body": MARKER}),
        "tag": (f"{base}/tags", {"tag": MARKER}),
    }


def written_anywhere(db, text: str) -> bool:
    """Whether ``text`` is in any column of any row of any table."""
    return any(text in repr(row) for rows in everything(db).values() for row in rows)


KINDS = ["contact", "contact edit", "activity edit", "note", "tag"]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_post_for_a_customer_deleted_meanwhile_goes_to_the_list_saying_so(
    staff_client, db, customer, monkeypatch, kind, htmx
):
    url, data = posts(db, customer)[kind]
    visible_id = customer.customer_id
    when_locking(monkeypatch, lambda: delete_meanwhile(db, customer.id, visible_id))
    response = staff_client.post(url, data, htmx_target="form" if htmx else None)
    if htmx:  # a full page load of the list, not a fragment of a page that is gone
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == "/customers"
    else:
        assert response.status_code == 303
        assert response.headers["Location"] == "/customers"
    page = staff_client.get("/customers").get_data(as_text=True)
    assert CUSTOMER_GONE in page
    assert everything(db)["customers"] == []
    assert not written_anywhere(db, MARKER)


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_post_while_clearing_is_refused_like_one_after_it(
    staff_client, db, customer, monkeypatch, kind, htmx
):
    """The answer a change on a cleared customer always gets (409 with the refusal; the
    modal closed with htmx), not the form again: the page no longer offers it, and the
    record it edits may have been deleted by the clear."""
    url, data = posts(db, customer)[kind]
    when_locking(monkeypatch, lambda: clear_meanwhile(db, customer.id))
    response = staff_client.post(url, data, htmx_target="form" if htmx else None)
    assert response.status_code == 409
    db.session.expire_all()
    refusal = guard.edit_refusal(db.session.get(Customer, customer.id))
    assert refusal is not None and CLEARED in refusal
    if htmx:
        events = json.loads(response.headers["HX-Trigger"])
        assert events["showMessage"] == {"text": refusal, "level": "error"}
        assert events["closeModal"] is True
    else:
        assert refusal in response.get_data(as_text=True)
    assert not written_anywhere(db, MARKER)


@pytest.mark.parametrize("action", ["generate", "email"])
def test_a_payment_link_asked_for_while_clearing_is_refused(
    staff_client, db, customer, monkeypatch, action
):
    payment_links.generate(db.session, customer, None, "90")
    when_locking(monkeypatch, lambda: clear_meanwhile(db, customer.id))
    url = f"/customers/{customer.id}/payment-link/" + ("email" if action == "email" else "")
    response = staff_client.post(url, {"expiry": "90"}, htmx_target="payment_link")
    assert response.status_code == 204
    message = json.loads(response.headers["HX-Trigger"])["showMessage"]
    assert message["level"] == "error" and CLEARED in message["text"]
    stored = everything(db)
    assert stored["emails"] == []
    assert len(stored["payment_links"]) == 1  # the one generated before, revoked
    assert payment_links.current_link(db.session, customer.id) is None


def test_clearing_a_customer_deleted_meanwhile_goes_to_the_list_saying_so(
    admin_client, db, customer, monkeypatch
):
    visible_id = customer.customer_id
    when_locking(monkeypatch, lambda: delete_meanwhile(db, customer.id, visible_id))
    url = f"/customers/{customer.id}/clear-personal-data"
    response = admin_client.post(url, {})
    assert response.status_code == 303 and response.headers["Location"] == "/customers"
    assert CUSTOMER_GONE in admin_client.get("/customers").get_data(as_text=True)
    assert everything(db)["customers"] == []
