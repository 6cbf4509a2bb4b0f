"""Contacts tab: the shared record routes (page or modal, 422 beside the field,
confirmation before removing, sign-in and CSRF), the one-primary-contact rule, and
invoice emails to contacts who want billing emails."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from sqlalchemy import select

from tests.test_edit_versions import form_values
from webapp.models.contacts import Contact
from webapp.models.customer import Customer
from webapp.models.email import Email
from webapp.models.history import CustomerEvent
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


# -- the primary contact is one record, also edited on Add / Edit customer ---------------------


def profile_contact(staff_client, customer_id: int) -> str:
    """What the Profile tab says beside "Primary contact"."""
    html = staff_client.get(f"/customers/{customer_id}").get_data(as_text=True)
    found = re.search(r"<dt>Primary contact</dt><dd>(.*?)</dd>", html, re.S)
    assert found, "no Primary contact on the profile"
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", found.group(1)))).strip()


def contact_rows(staff_client, customer_id: int) -> list[str]:
    """The Contacts tab's rows, as their text (name, Primary, email, phone, position …)."""
    html = staff_client.get(f"/customers/{customer_id}/contacts").get_data(as_text=True)
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S) if body else []
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split()).removesuffix(" Edit Remove")
        for row in rows
    ]


def edit_form(staff_client, url: str) -> dict[str, str]:
    return form_values(staff_client.get(url).get_data(as_text=True))


def stored_profile(db, customer_id: int) -> tuple[str, str, str]:
    db.session.expire_all()
    customer = db.session.get(Customer, customer_id)
    return customer.first_name, customer.last_name, customer.position


def record_lines(db, customer_id: int) -> list[tuple]:
    """The history lines of the contacts and of edits to the customer's own fields."""
    db.session.expire_all()
    events = db.session.scalars(
        select(CustomerEvent)
        .where(
            CustomerEvent.customer_id == customer_id,
            CustomerEvent.kind.startswith("record.contact.") | (CustomerEvent.kind == "edited"),
        )
        .order_by(CustomerEvent.id)
    )
    return [(e.summary, e.old_value, e.new_value) for e in events]


@pytest.fixture
def added(staff_client, db, customer_data):
    """A customer added through Add customer with a contact: Ada Lovelace, Director."""
    data = {**customer_data, "name": "Analytical Engines"}
    assert staff_client.post("/customers/new", data).status_code == 303
    return db.session.scalars(select(Customer).where(Customer.email == "ada@example.com")).one()


def test_the_contact_typed_in_add_customer_is_the_primary_contact(staff_client, db, added):
    assert saved(db) == [("Ada Lovelace", True)]
    contact = db.session.scalars(select(Contact)).one()
    assert (contact.customer_id, contact.position) == (added.id, "Director")
    [row] = contact_rows(staff_client, added.id)
    assert row.split() == ["Ada", "Lovelace", "Primary", "—", "—", "Director", "None"]
    html = staff_client.get(f"/customers/{added.id}/contacts").get_data(as_text=True)
    assert "No contacts yet" not in html
    assert profile_contact(staff_client, added.id) == "Ada Lovelace, Director"
    assert record_lines(db, added.id) == [("Contact added", None, "Ada Lovelace")]


def test_a_new_contact_on_the_contacts_tab_does_not_replace_the_primary_one(
    staff_client, db, added
):
    response = staff_client.post(
        f"/customers/{added.id}/contacts/new",
        {"name": "Charles Babbage", "email": "charles@example.com", "position": "Engineer"},
    )
    assert response.status_code == 303
    assert saved(db) == [("Ada Lovelace", True), ("Charles Babbage", False)]
    rows = contact_rows(staff_client, added.id)
    assert rows[0].startswith("Ada Lovelace Primary") and "Primary" not in rows[1]
    assert profile_contact(staff_client, added.id) == "Ada Lovelace, Director"
    form = edit_form(staff_client, f"/customers/{added.id}/edit")
    assert (form["first_name"], form["last_name"], form["position"]) == (
        "Ada",
        "Lovelace",
        "Director",
    )


def test_editing_the_primary_contact_on_the_contacts_tab_changes_profile_and_form(
    staff_client, db, added
):
    contact = db.session.scalars(select(Contact)).one()
    url = f"/customers/{added.id}/contacts/{contact.id}/edit"
    values = {**edit_form(staff_client, url), "name": "Ada King", "position": "Countess"}
    assert staff_client.post(url, values).status_code == 303

    assert saved(db) == [("Ada King", True)]
    assert profile_contact(staff_client, added.id) == "Ada King, Countess"
    form = edit_form(staff_client, f"/customers/{added.id}/edit")
    assert (form["first_name"], form["last_name"], form["position"]) == ("Ada", "King", "Countess")
    assert stored_profile(db, added.id) == ("Ada", "King", "Countess")
    # The list finds the customer by the contact's new name, no longer by the old one.
    for typed, found in (("king", True), ("lovelace", False)):
        html = staff_client.get("/customers", query_string={"q": typed}).get_data(as_text=True)
        assert (added.customer_id in html) is found, typed
    # One line per change, on the contact: the customer row's copy adds none.
    assert record_lines(db, added.id)[1:] == [
        ("Contact changed: Name", "Ada Lovelace", "Ada King"),
        ("Contact changed: Position", "Director", "Countess"),
    ]


def test_edit_customer_changes_the_same_contact_record(staff_client, db, added):
    contact_id = db.session.scalars(select(Contact.id)).one()
    url = f"/customers/{added.id}/edit"
    values = {**edit_form(staff_client, url), "first_name": "Augusta", "position": "Countess"}
    assert staff_client.post(url, values).status_code == 303

    contact = db.session.scalars(select(Contact)).one()
    assert (contact.id, contact.name, contact.position, contact.is_primary) == (
        contact_id,
        "Augusta Lovelace",
        "Countess",
        True,
    )
    assert contact_rows(staff_client, added.id)[0].startswith("Augusta Lovelace Primary")
    assert profile_contact(staff_client, added.id) == "Augusta Lovelace, Countess"
    assert stored_profile(db, added.id) == ("Augusta", "Lovelace", "Countess")
    assert record_lines(db, added.id)[1:] == [
        ("Contact changed: Name", "Ada Lovelace", "Augusta Lovelace"),
        ("Contact changed: Position", "Director", "Countess"),
    ]
    history = staff_client.get(f"/customers/{added.id}/history").get_data(as_text=True)
    assert "Contact changed: Name" in history and "Augusta Lovelace" in history


def test_the_customer_form_keeps_its_own_split_of_the_name(staff_client, db, added):
    """A two-word first name typed on the form stays as typed, also after the contact's
    surname is changed on the Contacts tab."""
    url = f"/customers/{added.id}/edit"
    values = {**edit_form(staff_client, url), "first_name": "Mary Ann", "last_name": "Evans"}
    assert staff_client.post(url, values).status_code == 303
    assert saved(db) == [("Mary Ann Evans", True)]
    contact = db.session.scalars(select(Contact)).one()
    contact_url = f"/customers/{added.id}/contacts/{contact.id}/edit"
    renamed = {**edit_form(staff_client, contact_url), "name": "Mary Ann Cross"}
    assert staff_client.post(contact_url, renamed).status_code == 303
    assert stored_profile(db, added.id)[:2] == ("Mary Ann", "Cross")
    # Saving the customer form unchanged changes nothing on the contact.
    assert staff_client.post(url, edit_form(staff_client, url)).status_code == 303
    assert saved(db) == [("Mary Ann Cross", True)]


def test_making_another_contact_primary_or_removing_it_moves_the_copy(staff_client, db, added):
    base = f"/customers/{added.id}/contacts"
    staff_client.post(f"{base}/new", {"name": "Charles Babbage", "position": "Engineer"})
    ada, charles = db.session.scalars(select(Contact).order_by(Contact.id)).all()
    values = {**edit_form(staff_client, f"{base}/{charles.id}/edit"), "is_primary": "y"}
    assert staff_client.post(f"{base}/{charles.id}/edit", values).status_code == 303
    assert profile_contact(staff_client, added.id) == "Charles Babbage, Engineer"
    assert stored_profile(db, added.id) == ("Charles", "Babbage", "Engineer")

    assert staff_client.post(f"{base}/{charles.id}/delete", {}).status_code == 303
    assert saved(db) == [("Ada Lovelace", True)]
    assert stored_profile(db, added.id) == ("Ada", "Lovelace", "Director")
    assert staff_client.post(f"{base}/{ada.id}/delete", {}).status_code == 303
    assert stored_profile(db, added.id) == ("", "", "")
    assert profile_contact(staff_client, added.id) == "—"


def test_a_customer_added_without_a_contact_has_none(staff_client, db, customer_data):
    data = {**customer_data, "first_name": "", "last_name": "", "position": ""}
    assert staff_client.post("/customers/new", data).status_code == 303
    assert saved(db) == []


def test_a_position_without_a_contact_name_is_refused_beside_it(staff_client, db, customer_data):
    data = {**customer_data, "first_name": "", "last_name": "", "position": "Director"}
    for target in (None, "form"):
        response = staff_client.post("/customers/new", data, htmx_target=target)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert 'id="position-error"' in html and "A position belongs to the primary" in html
    assert db.session.scalars(select(Customer)).all() == [] and saved(db) == []


def test_edit_customer_cannot_blank_the_primary_contact(staff_client, db, added):
    url = f"/customers/{added.id}/edit"
    values = {**edit_form(staff_client, url), "first_name": "", "last_name": "", "company": "X"}
    response = staff_client.post(url, values)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="first_name-error"' in html and "use Remove on the Contacts tab" in html
    assert saved(db) == [("Ada Lovelace", True)]
    assert stored_profile(db, added.id) == ("Ada", "Lovelace", "Director")
    db.session.expire_all()
    assert db.session.get(Customer, added.id).company == "Analytical Engines Ltd"


def test_an_edit_of_the_contact_meanwhile_is_named_on_edit_customer(staff_client, db, added):
    """Edit customer and the contact's own form are open while the contact is renamed on the
    Contacts tab (in another window): saving either answers 409 naming the change."""
    url = f"/customers/{added.id}/edit"
    customer_form = edit_form(staff_client, url)
    contact = db.session.scalars(select(Contact)).one()
    contact_url = f"/customers/{added.id}/contacts/{contact.id}/edit"
    contact_form = edit_form(staff_client, contact_url)
    renamed = {**edit_form(staff_client, contact_url), "name": "Ada King"}
    assert staff_client.post(contact_url, renamed).status_code == 303

    refused = staff_client.post(url, {**customer_form, "company": "Engines"})
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "Contact last name: now King (shown below)" in unescape(html)
    assert form_values(html)["last_name"] == "King"
    refused = staff_client.post(contact_url, {**contact_form, "position": "Countess"})
    assert refused.status_code == 409
    assert "Name: now Ada King" in unescape(refused.get_data(as_text=True))
    assert saved(db) == [("Ada King", True)]
    assert stored_profile(db, added.id) == ("Ada", "King", "Director")


def test_split_name():
    assert contacts.split_name("Grace Hopper") == ("Grace", "Hopper")
    assert contacts.split_name("Grace") == ("Grace", "")
    assert contacts.split_name("Grace Brewster Hopper") == ("Grace", "Brewster Hopper")
    assert contacts.split_name("Mary Ann Cross", "Mary Ann", "Evans") == ("Mary Ann", "Cross")
    assert contacts.split_name("Marian Evans", "Mary Ann", "Evans") == ("Marian", "Evans")
    assert contacts.split_name("Ada  Lovelace", "Ada", "Lovelace") == ("Ada", "Lovelace")
    first, last = contacts.split_name("x" * 150 + " y")
    assert (len(first), first + last) == (100, "x" * 150 + " y")


def test_a_change_of_one_contact_field_keeps_the_others(db, make_customer):
    """A caller (a job, an import) that sends only the first name changes only that."""
    from webapp.services.customers import update_customer

    customer = make_customer(first_name="Ada", last_name="Lovelace", position="Director")
    update_customer(db.session, customer, {"first_name": "Augusta"})
    assert saved(db) == [("Augusta Lovelace", True)]
    assert db.session.scalars(select(Contact.position)).one() == "Director"
