"""Contacts tab: the shared record routes (page or modal, 422 beside the field,
confirmation before removing, sign-in and CSRF), the one-primary-contact rule, and
invoice emails to contacts who want billing emails."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from webapp.models.contacts import Contact
from webapp.models.email import Email
from webapp.services import contacts
from webapp.services.billing import capture_one_time_charge
from webapp.services.records import RecordError


@pytest.fixture
def customer(make_customer):
    return make_customer(name="Acme Ltd", email="accounts@acme.example", country="GB")


def saved(db) -> list[tuple[str, bool]]:
    db.session.expire_all()
    rows = db.session.execute(select(Contact.name, Contact.is_primary).order_by(Contact.id))
    return [tuple(row) for row in rows]


def add(db, customer, name, **fields) -> Contact:
    return contacts.add(db.session, customer, None, {"name": name, **fields})


# -- HTTP ------------------------------------------------------------------------------


def test_the_tab_is_a_page_and_a_fragment(staff_client, customer):
    page = staff_client.get(f"/customers/{customer.id}/contacts")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "No contacts yet." in html and "+ New contact" in html
    fragment = staff_client.get(f"/customers/{customer.id}/contacts", htmx_target="customer_tab")
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and "+ New contact" in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_new_contact_is_a_modal_with_htmx_and_a_page_without(staff_client, customer):
    url = f"/customers/{customer.id}/contacts/new"
    page = staff_client.get(url).get_data(as_text=True)
    assert "<html" in page and "<h1>New contact</h1>" in page
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal
    for label in ("Name", "Email", "Phone", "Position", "Primary contact", "Billing", "Updates"):
        assert f">{label}" in modal or f"{label}\n" in modal or f" {label}" in modal
    assert "<legend>Email preferences</legend>" in modal


def test_adding_a_contact_shows_it_as_the_primary_one(staff_client, db, customer):
    url = f"/customers/{customer.id}/contacts/new"
    data = {
        "name": "Grace Hopper",
        "email": "Grace@Acme.example",
        "phone": "020 7946 0958",
        "position": "CFO",
        "wants_billing": "y",
        "wants_legal": "y",
    }
    response = staff_client.post(url, data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}/contacts"
    html = staff_client.get(f"/customers/{customer.id}/contacts").get_data(as_text=True)
    assert "Contact added." in html
    assert "Grace Hopper" in html and "Primary" in html and "+44 20 7946 0958" in html
    assert "grace@acme.example" in html and "Billing, Legal" in html
    contact = db.session.scalars(select(Contact)).one()
    assert (contact.email, contact.phone, contact.is_primary) == (
        "grace@acme.example",
        "+442079460958",
        True,
    )
    assert (contact.wants_billing, contact.wants_updates, contact.wants_legal) == (
        True,
        False,
        True,
    )


def test_with_htmx_a_saved_contact_closes_the_modal_and_refreshes(staff_client, customer):
    response = staff_client.post(
        f"/customers/{customer.id}/contacts/new", {"name": "Grace"}, htmx_target="form"
    )
    assert response.status_code == 204
    events = json.loads(response.headers["HX-Trigger"])
    assert events == {
        "closeModal": True,
        "customerUpdated": customer.id,
        "showMessage": "Contact added.",
    }


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "name", "Enter the contact&#39;s name."),
        ({"name": "G", "email": "not-an-email"}, "email", "An email address must have an @"),
        ({"name": "G", "phone": "12"}, "phone", "phone number"),
        ({"name": "x" * 201}, "name", "200 characters"),
        ({"name": "G", "wants_billing": "y"}, "email", "Billing emails need an email address."),
    ],
)
def test_a_bad_contact_is_refused_beside_the_field(
    staff_client, db, customer, data, field, message
):
    url = f"/customers/{customer.id}/contacts/new"
    for target in (None, "form"):
        response = staff_client.post(url, data, htmx_target=target)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert f'id="{field}-error"' in html and message in html
        assert ("<html" in html) is (target is None)
    assert saved(db) == []


def test_editing_fills_the_form_in_and_saves(staff_client, db, customer):
    contact = add(db, customer, "Grace", phone="+442079460958", email="g@acme.example")
    url = f"/customers/{customer.id}/contacts/{contact.id}/edit"
    form = staff_client.get(url).get_data(as_text=True)
    assert 'value="Grace"' in form and 'value="+44 20 7946 0958"' in form
    assert "<h1>Edit contact</h1>" in form and "Save changes" in form
    response = staff_client.post(
        url, {"name": "Grace Hopper", "email": "g@acme.example", "is_primary": "y"}
    )
    assert response.status_code == 303
    assert saved(db) == [("Grace Hopper", True)]


def test_the_primary_contact_cannot_be_unticked(staff_client, db, customer):
    contact = add(db, customer, "Grace")
    response = staff_client.post(
        f"/customers/{customer.id}/contacts/{contact.id}/edit", {"name": "Grace"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="is_primary-error"' in html and "always has one primary contact" in html
    assert saved(db) == [("Grace", True)]


def test_removing_asks_first_then_removes_only_that_contact(staff_client, db, customer):
    grace = add(db, customer, "Grace")
    add(db, customer, "Alan")
    url = f"/customers/{customer.id}/contacts/{grace.id}/delete"
    confirm = staff_client.get(url).get_data(as_text=True)
    assert "Remove this contact from Acme Ltd" in confirm and "Grace" in confirm
    assert "Confirm" in confirm and "Cancel" in confirm
    assert saved(db) == [("Grace", True), ("Alan", False)]
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal
    response = staff_client.post(url, {})
    assert response.status_code == 303
    assert saved(db) == [("Alan", True)]  # the next contact became primary
    assert staff_client.post(url, {}).status_code == 404


def test_another_customers_contact_is_not_found(staff_client, db, customer, make_customer):
    other = make_customer(name="Other", email="other@example.com")
    contact = add(db, other, "Someone else")
    for suffix in ("edit", "delete"):
        url = f"/customers/{customer.id}/contacts/{contact.id}/{suffix}"
        assert staff_client.get(url).status_code == 404
        assert staff_client.post(url, {"name": "Taken over"}).status_code == 404
    assert saved(db) == [("Someone else", True)]
    assert staff_client.get(f"/customers/{customer.id}/widgets/new").status_code == 404


def test_every_route_needs_sign_in(client, db, customer):
    contact = add(db, customer, "Grace")
    base = f"/customers/{customer.id}/contacts"
    for url in (f"{base}/new", f"{base}/{contact.id}/edit", f"{base}/{contact.id}/delete", base):
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
        if url != base:
            assert client.post(url, data={"name": "X"}).status_code in (302, 400)
    assert saved(db) == [("Grace", True)]


def test_changes_need_the_csrf_token(staff_client, db, customer):
    contact = add(db, customer, "Grace")
    base = f"/customers/{customer.id}/contacts"
    assert staff_client.post(f"{base}/new", {"name": "X"}, csrf=False).status_code == 400
    assert (
        staff_client.post(f"{base}/{contact.id}/edit", {"name": "X"}, csrf=False).status_code == 400
    )
    assert staff_client.post(f"{base}/{contact.id}/delete", {}, csrf=False).status_code == 400
    assert saved(db) == [("Grace", True)]


def test_names_and_positions_are_shown_escaped(staff_client, db, customer):
    add(db, customer, "<script>alert(1)</script>", position="<b>Boss</b>")
    html = staff_client.get(f"/customers/{customer.id}/contacts").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "&lt;b&gt;Boss&lt;/b&gt;" in html


# -- the rules -------------------------------------------------------------------------


def test_the_first_contact_is_primary_and_making_another_primary_moves_it(db, customer):
    add(db, customer, "Grace")
    alan = add(db, customer, "Alan")
    assert saved(db) == [("Grace", True), ("Alan", False)]
    contacts.change(db.session, customer, alan, {"name": "Alan", "is_primary": True})
    assert saved(db) == [("Grace", False), ("Alan", True)]
    ada = add(db, customer, "Ada", is_primary=True)
    assert saved(db) == [("Grace", False), ("Alan", False), ("Ada", True)]
    assert [c.name for c in contacts.contacts_of(db.session, customer.id)] == [
        "Ada",
        "Grace",
        "Alan",
    ]
    with pytest.raises(RecordError) as refusal:
        contacts.change(db.session, customer, ada, {"name": "Ada", "is_primary": False})
    assert refusal.value.field == "is_primary"
    db.session.rollback()
    assert saved(db) == [("Grace", False), ("Alan", False), ("Ada", True)]


def test_each_customer_has_its_own_primary_contact(db, customer, make_customer):
    other = make_customer(name="Other", email="other@example.com")
    add(db, customer, "Grace")
    add(db, other, "Alan")
    assert saved(db) == [("Grace", True), ("Alan", True)]


def test_removing_the_primary_contact_promotes_the_oldest_other(db, customer):
    grace = add(db, customer, "Grace")
    add(db, customer, "Alan")
    add(db, customer, "Ada")
    contacts.remove(db.session, customer, grace)
    assert saved(db) == [("Alan", True), ("Ada", False)]


def test_the_database_refuses_a_second_primary_contact(db, customer):
    from sqlalchemy.exc import IntegrityError

    add(db, customer, "Grace")
    db.session.add(Contact(customer_id=customer.id, name="Sneaky", is_primary=True))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_invoices_go_to_the_customer_and_every_contact_who_wants_billing(db, customer):
    add(db, customer, "Grace", email="grace@acme.example", wants_billing=True)
    add(db, customer, "Alan", email="alan@acme.example", wants_updates=True, wants_legal=True)
    add(db, customer, "Ada", email="ACCOUNTS@acme.example", wants_billing=True)  # the same box
    add(db, customer, "Linus", email="linus@acme.example", wants_billing=True)
    assert contacts.billing_recipients(db.session, customer) == [
        "accounts@acme.example",
        "grace@acme.example",
        "linus@acme.example",
    ]
    charge = capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=10_000,
        currency="GBP",
        description="Consulting",
        actor_id=None,
        key=None,
    )
    number = charge.invoice.number
    emails = db.session.scalars(select(Email).order_by(Email.id)).all()
    assert [(e.recipient, e.name) for e in emails] == [
        ("accounts@acme.example", f"Invoice {number}"),
        ("grace@acme.example", f"Invoice {number}"),
        ("linus@acme.example", f"Invoice {number}"),
    ]
    assert {e.customer_id for e in emails} == {customer.id}
    credit = capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=-500,
        currency="GBP",
        description="Goodwill",
        actor_id=None,
        key=None,
    )
    credit_emails = db.session.scalars(
        select(Email.recipient).where(Email.name == f"Credit note {credit.credit_note.number}")
    ).all()
    assert sorted(credit_emails) == [
        "accounts@acme.example",
        "grace@acme.example",
        "linus@acme.example",
    ]
