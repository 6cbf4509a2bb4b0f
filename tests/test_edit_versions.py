"""Two members of staff editing one row: the second save is not allowed to silently
undo the first. Each edit form carries the version it was opened at; a save after
someone else's answers 409 with the same form, still holding what this person typed,
and a message naming what changed; saving again then keeps both edits."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from tests.conftest import StaffClient, sign_in
from webapp.models.contacts import Address, Alias, Contact
from webapp.models.crm import Activity, Sale, Ticket
from webapp.models.customer import Customer
from webapp.models.history import CustomerEvent
from webapp.models.settings import LegalEntity, TaxClass

CONFLICT = "Someone else changed this {noun} while you were editing:"
AGAIN = "Check and Save changes again."


class _FormValues(HTMLParser):
    """What a browser would send for ``<form id="form">``: each named input, checked box
    or radio, selected option and textarea, as it is filled in."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == "form":
            self._in_form = True
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "on")
            else:
                self.values[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            if self._textarea:
                # A textarea's first line break belongs to the markup, not the value.
                self.values[self._textarea] = re.sub(r"^\r?\n", "", self.values[self._textarea])
            self._textarea = None


def form_values(html: str) -> dict[str, str]:
    parser = _FormValues()
    parser.feed(html)
    assert parser.values, "no form#form in the page"
    return parser.values


def opened(client: StaffClient, url: str) -> dict[str, str]:
    """Open an edit form, as a member of staff does before typing."""
    response = client.get(url)
    assert response.status_code == 200
    values = form_values(response.get_data(as_text=True))
    assert values["opened_version"] and values["seen"]
    return values


def alert(html: str) -> str:
    """The message above the form."""
    found = re.search(r'<p class="form-error" role="alert">(.*?)</p>', html, re.S)
    assert found, "no message above the form"
    return re.sub(r"\s+", " ", found.group(1)).replace("&#39;", "'").strip()


@pytest.fixture
def second_client(app, make_staff) -> StaffClient:
    """Another member of staff (an admin, so settings can be edited too), in a browser
    of their own."""
    member = make_staff(email="blake@example.com", name="Blake Admin", role="admin")
    client = app.test_client()
    assert sign_in(client, member.email).status_code == 303
    return StaffClient(client, member)


@pytest.fixture
def first_client(admin_client) -> StaffClient:
    return admin_client


def current(db, model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


# -- Edit customer ------------------------------------------------------------------


def test_the_second_save_of_edit_customer_is_refused_and_keeps_what_was_typed(
    first_client, second_client, make_customer, db
):
    customer = make_customer(phone="+442079460958")
    url = f"/customers/{customer.id}/edit"
    assert customer.version == 1
    form_a = opened(first_client, url)
    form_b = opened(second_client, url)

    saved = first_client.post(url, {**form_a, "email": "ada.king@example.com"})
    assert saved.status_code == 303
    assert current(db, Customer, customer.id).version == 2

    refused = second_client.post(url, {**form_b, "phone": "+44 20 7946 0000"})
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "<h1>Edit customer</h1>" in page  # without JS: the form page again
    message = alert(page)
    assert message.startswith(CONFLICT.format(noun="customer"))
    assert "Email: now ada.king@example.com" in message and message.endswith(AGAIN)
    assert "Phone" not in message  # only what the other person changed
    shown = form_values(page)
    assert shown["phone"] == "+442079460000"  # what B typed, as stored
    # B left the email as shown: the form now shows A's, so saving again keeps it.
    assert shown["email"] == "ada.king@example.com"
    assert shown["opened_version"] == "2"
    stored = current(db, Customer, customer.id)
    assert (stored.email, stored.phone, stored.version) == (
        "ada.king@example.com",
        "+442079460958",
        2,
    )

    # B saves the form as it came back: both edits are kept.
    again = second_client.post(url, shown)
    assert again.status_code == 303
    stored = current(db, Customer, customer.id)
    assert (stored.email, stored.phone, stored.version) == (
        "ada.king@example.com",
        "+442079460000",
        3,
    )


def test_saving_the_conflict_form_as_it_is_overwrites_deliberately(
    first_client, second_client, make_customer, db
):
    customer = make_customer()
    url = f"/customers/{customer.id}/edit"
    form_a, form_b = opened(first_client, url), opened(second_client, url)
    assert first_client.post(url, {**form_a, "company": "Engines"}).status_code == 303
    refused = second_client.post(url, {**form_b, "company": "Looms"})
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    # Both changed the company: the message says so, and B's value stays in the form.
    assert "Company: now Engines (you typed another value: yours is kept)" in alert(page)
    assert form_values(page)["company"] == "Looms"
    again = second_client.post(url, form_values(page))
    assert again.status_code == 303
    assert current(db, Customer, customer.id).company == "Looms"


def test_edit_customer_conflict_with_htmx_swaps_the_form_in_the_modal(
    first_client, second_client, make_customer, db
):
    customer = make_customer()
    url = f"/customers/{customer.id}/edit"
    form_a = form_values(first_client.get(url, htmx_target="modal").get_data(as_text=True))
    form_b = form_values(second_client.get(url, htmx_target="modal").get_data(as_text=True))
    done = first_client.post(url, {**form_a, "name": "Ada King"}, htmx_target="form")
    assert done.status_code == 204

    refused = second_client.post(url, {**form_b, "position": "Countess"}, htmx_target="form")
    assert refused.status_code == 409
    body = refused.get_data(as_text=True)
    assert body.lstrip().startswith('<form id="form"') and "<html" not in body
    assert "Name: now Ada King" in alert(body)
    assert form_values(body)["position"] == "Countess"
    assert current(db, Customer, customer.id).position == ""
    # The page tells htmx to swap a 409 into its target, as it does a 422.
    layout = first_client.get("/customers").get_data(as_text=True)
    assert '{"code": "409", "swap": true, "error": false}' in layout


def test_a_change_the_form_does_not_show_lets_the_save_through(
    first_client, second_client, make_customer, db
):
    """A status change (or a charge) bumps the version, but nothing on the form changed:
    nothing would be lost, so the save goes through."""
    customer = make_customer()
    url = f"/customers/{customer.id}/edit"
    form_b = opened(second_client, url)
    suspended = first_client.post(f"/customers/{customer.id}/status", {"status": "suspended"})
    assert suspended.status_code == 303
    assert current(db, Customer, customer.id).version == 2
    assert second_client.post(url, {**form_b, "company": "Engines"}).status_code == 303
    stored = current(db, Customer, customer.id)
    assert (stored.status, stored.company, stored.version) == ("suspended", "Engines", 3)


def test_the_same_change_made_twice_is_no_conflict(first_client, second_client, make_customer, db):
    customer = make_customer()
    url = f"/customers/{customer.id}/edit"
    form_a, form_b = opened(first_client, url), opened(second_client, url)
    assert first_client.post(url, {**form_a, "company": "Engines"}).status_code == 303
    assert second_client.post(url, {**form_b, "company": "Engines"}).status_code == 303
    assert current(db, Customer, customer.id).company == "Engines"


def test_a_billing_address_edit_meanwhile_is_named_on_edit_customer(
    first_client, second_client, make_customer, db
):
    customer = make_customer(address_line1="12 Byron Street", city="London")
    form_b = opened(second_client, f"/customers/{customer.id}/edit")
    address = db.session.scalar(select(Address).where(Address.customer_id == customer.id))
    address_form = opened(first_client, f"/customers/{customer.id}/addresses/{address.id}/edit")
    moved = first_client.post(
        f"/customers/{customer.id}/addresses/{address.id}/edit", {**address_form, "city": "Leeds"}
    )
    assert moved.status_code == 303
    refused = second_client.post(f"/customers/{customer.id}/edit", {**form_b, "fax": ""})
    assert refused.status_code == 409
    assert "City: now Leeds" in alert(refused.get_data(as_text=True))


def test_the_version_makes_no_history_line(first_client, make_customer, db):
    customer = make_customer()
    url = f"/customers/{customer.id}/edit"
    assert first_client.post(url, {**opened(first_client, url), "company": "Engines"}).status_code
    db.session.expire_all()
    fields = db.session.scalars(
        select(CustomerEvent.field).where(
            CustomerEvent.customer_id == customer.id, CustomerEvent.kind == "edited"
        )
    ).all()
    assert fields == ["company"]
    assert current(db, Customer, customer.id).version == 2


def test_an_update_from_a_stale_copy_matches_nothing(make_customer, db):
    """The mapper's version check: a copy read before someone else's save cannot be
    written back over it, even outside the forms."""
    customer = make_customer()
    assert customer.company == ""  # loaded at version 1
    with db.engine.begin() as connection:  # someone else saves meanwhile
        connection.execute(
            update(Customer)
            .where(Customer.id == customer.id)
            .values(company="Engines", version=Customer.version + 1)
        )
    customer.position = "Countess"
    with pytest.raises(StaleDataError):
        db.session.commit()
    db.session.rollback()
    stored = current(db, Customer, customer.id)
    assert (stored.company, stored.position, stored.version) == ("Engines", "", 2)


def test_a_form_without_a_version_is_not_compared(first_client, make_customer, db):
    """What a job or an old form sends: saved as before (nothing to compare with)."""
    customer = make_customer(first_name="Ada", last_name="Lovelace")
    url = f"/customers/{customer.id}/edit"
    values = opened(first_client, url)
    del values["opened_version"], values["seen"]
    first_client.post(url, {**opened(first_client, url), "company": "Engines"})
    assert first_client.post(url, {**values, "position": "Countess"}).status_code == 303
    assert current(db, Customer, customer.id).position == "Countess"


# -- every record kind's edit -------------------------------------------------------

# kind: (model, fields of the new record, A's change, B's change, what the message says)
RECORD_KINDS = {
    "contacts": (
        Contact,
        {"name": "Grace Hopper", "email": "grace@example.com", "position": "CTO"},
        ("email", "grace.h@example.com"),
        ("position", "CEO"),
        "Email: now grace.h@example.com",
    ),
    "addresses": (
        Address,
        {"label": "Office", "line1": "1 Main Street", "city": "London", "country": "GB"},
        ("city", "Leeds"),
        ("postal_code", "LS1 4AP"),
        "City: now Leeds",
    ),
    "aliases": (
        Alias,
        {"label": "Stripe", "value": "cus_1"},
        ("value", "cus_2"),
        ("label", "Stripe EU"),
        "ID: now cus_2",
    ),
    "activities": (
        Activity,
        {"title": "Call back", "kind": "call", "due_at": "2030-01-02T10:00", "notes": ""},
        ("title", "Call again"),
        ("notes", "Ask about the renewal"),
        "Title: now Call again",
    ),
    "tickets": (
        Ticket,
        {"subject": "Invoice address wrong", "description": ""},
        ("status", "solved"),
        ("description", "They moved in May"),
        "Status: now Solved",
    ),
    "sales": (
        Sale,
        {
            "sold_on": "2026-01-02",
            "description": "Widgets",
            "amount": "100.00",
            "currency": "GBP",
            "status": "open",
        },
        ("amount", "120.00"),
        ("description", "Blue widgets"),
        "Amount: now £120.00",
    ),
}
NOUNS = {"aliases": "external ID", "activities": "activity", "addresses": "address"}


@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_the_second_save_of_a_record_edit_is_refused_and_keeps_what_was_typed(
    kind, first_client, second_client, make_customer, db
):
    model, fields, (a_field, a_value), (b_field, b_value), said = RECORD_KINDS[kind]
    customer = make_customer()
    added = first_client.post(f"/customers/{customer.id}/{kind}/new", fields)
    assert added.status_code == 303, added.get_data(as_text=True)
    record = db.session.scalar(select(model).where(model.customer_id == customer.id))
    original_b, version = getattr(record, b_field), record.version
    url = f"/customers/{customer.id}/{kind}/{record.id}/edit"
    form_a, form_b = opened(first_client, url), opened(second_client, url)
    assert form_a["opened_version"] == str(version)

    assert first_client.post(url, {**form_a, a_field: a_value}).status_code == 303
    assert current(db, model, record.id).version == version + 1

    refused = second_client.post(url, {**form_b, b_field: b_value})
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    message = alert(page)
    noun = NOUNS.get(kind, kind.removesuffix("s"))
    assert message.startswith(CONFLICT.format(noun=noun)) and message.endswith(AGAIN)
    assert said in message
    shown = form_values(page)
    assert shown[b_field] == b_value  # what B typed is still there
    assert shown["opened_version"] == str(version + 1)
    stored = current(db, model, record.id)
    assert getattr(stored, b_field) == original_b  # B's change is not saved yet

    again = second_client.post(url, {**shown, a_field: a_value})
    assert again.status_code == 303
    stored = current(db, model, record.id)
    assert getattr(stored, b_field) == b_value and stored.version == version + 2
    # A's change is kept (as stored: the sale's amount in minor units).
    a_column, a_stored = ("amount_minor", 12000) if a_field == "amount" else (a_field, a_value)
    assert getattr(stored, a_column) == a_stored


def test_a_record_edit_conflict_with_htmx_swaps_the_form(
    first_client, second_client, make_customer, db
):
    customer = make_customer()
    first_client.post(f"/customers/{customer.id}/contacts/new", {"name": "Grace Hopper"})
    contact = db.session.scalar(select(Contact).where(Contact.customer_id == customer.id))
    url = f"/customers/{customer.id}/contacts/{contact.id}/edit"
    form_a = form_values(first_client.get(url, htmx_target="modal").get_data(as_text=True))
    form_b = form_values(second_client.get(url, htmx_target="modal").get_data(as_text=True))
    assert first_client.post(url, {**form_a, "name": "Grace M. Hopper"}, htmx_target="form")
    refused = second_client.post(url, {**form_b, "position": "Admiral"}, htmx_target="form")
    assert refused.status_code == 409
    body = refused.get_data(as_text=True)
    assert body.lstrip().startswith('<form id="form"')
    assert "Name: now Grace M. Hopper" in alert(body)
    assert form_values(body)["position"] == "Admiral"


def test_making_another_contact_primary_is_a_change_to_the_old_primary(
    first_client, second_client, make_customer, db
):
    customer = make_customer()
    first_client.post(f"/customers/{customer.id}/contacts/new", {"name": "Grace Hopper"})
    first_client.post(f"/customers/{customer.id}/contacts/new", {"name": "Alan Turing"})
    grace, alan = db.session.scalars(
        select(Contact).where(Contact.customer_id == customer.id).order_by(Contact.id)
    ).all()
    grace_url = f"/customers/{customer.id}/contacts/{grace.id}/edit"
    alan_url = f"/customers/{customer.id}/contacts/{alan.id}/edit"
    form_b = opened(second_client, grace_url)
    form_a = opened(first_client, alan_url)
    version = grace.version
    assert first_client.post(alan_url, {**form_a, "is_primary": "y"}).status_code == 303
    assert current(db, Contact, grace.id).version == version + 1
    refused = second_client.post(grace_url, {**form_b, "position": "Admiral"})
    assert refused.status_code == 409
    assert "Primary contact: now No" in alert(refused.get_data(as_text=True))


def test_a_record_removed_meanwhile_is_said_not_a_500(
    first_client, second_client, make_customer, db
):
    customer = make_customer()
    first_client.post(f"/customers/{customer.id}/activities/new", RECORD_KINDS["activities"][1])
    activity = db.session.scalar(select(Activity).where(Activity.customer_id == customer.id))
    url = f"/customers/{customer.id}/activities/{activity.id}/edit"
    form_b = opened(second_client, url)
    deleted = first_client.post(f"/customers/{customer.id}/activities/{activity.id}/delete")
    assert deleted.status_code == 303
    gone = second_client.post(url, {**form_b, "title": "Too late"})
    assert gone.status_code == 404  # the record no longer exists
    assert db.session.scalar(select(Activity.id)) is None


# -- settings -------------------------------------------------------------------------


def test_the_second_save_of_a_tax_class_edit_is_refused(first_client, second_client, db):
    tax_class = TaxClass(name="Standard", rate_bp=1900)
    db.session.add(tax_class)
    db.session.commit()
    url = f"/settings/tax-classes/{tax_class.id}/edit"
    form_a, form_b = opened(first_client, url), opened(second_client, url)
    assert first_client.post(url, {**form_a, "rate": "20"}).status_code == 303
    refused = second_client.post(url, {**form_b, "name": "Standard rate"})
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "Rate (%): now 20.00 %" in alert(page)
    assert form_values(page)["name"] == "Standard rate"
    stored = current(db, TaxClass, tax_class.id)
    assert (stored.name, stored.rate_bp, stored.version) == ("Standard", 2000, 2)
    assert second_client.post(url, {**form_values(page), "rate": "20"}).status_code == 303
    stored = current(db, TaxClass, tax_class.id)
    assert (stored.name, stored.rate_bp, stored.version) == ("Standard rate", 2000, 3)


def test_the_second_save_of_a_legal_entity_edit_is_refused(first_client, second_client, db):
    entity = LegalEntity(name="Tally Ltd", default_currency="GBP", country="GB")
    db.session.add(entity)
    db.session.commit()
    url = f"/settings/legal-entities/{entity.id}/edit"
    form_a, form_b = opened(first_client, url), opened(second_client, url)
    assert first_client.post(url, {**form_a, "country": "DE"}).status_code == 303
    refused = second_client.post(url, {**form_b, "number_prefix": "TLY"})
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "Country: now Germany" in alert(page)
    assert form_values(page)["number_prefix"] == "TLY"
    assert current(db, LegalEntity, entity.id).number_prefix == ""
    assert second_client.post(url, {**form_values(page), "country": "DE"}).status_code == 303
    stored = current(db, LegalEntity, entity.id)
    assert (stored.country, stored.number_prefix, stored.version) == ("DE", "TLY", 3)


def test_the_cleared_refusal_is_a_409_that_swaps_nothing(first_client, make_customer, db):
    """409 now swaps (a conflict brings its form back); the refusal for a cleared
    customer has no body, so it tells htmx not to swap, only to close the modal."""
    from webapp.services.personal_data import clear_personal_data

    customer = make_customer()
    url = f"/customers/{customer.id}/edit"
    values = form_values(first_client.get(url, htmx_target="modal").get_data(as_text=True))
    clear_personal_data(db.session, customer.id)
    refused = first_client.post(url, {**values, "company": "Engines"}, htmx_target="form")
    assert refused.status_code == 409
    assert refused.headers["HX-Reswap"] == "none" and refused.get_data() == b""
    assert '"closeModal": true' in refused.headers["HX-Trigger"]
