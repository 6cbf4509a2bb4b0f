"""Addresses tab: the shared record routes (page or modal, 422 beside the field,
confirmation before removing, sign-in and CSRF), the one-billing-address rule, the
customer row that mirrors the billing address, and Edit customer's address fields,
which edit the billing address."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from tests.conftest import csrf_token_from
from webapp.models.contacts import Address
from webapp.models.customer import Customer
from webapp.services import addresses
from webapp.services.customers import CustomerError, update_customer
from webapp.services.records import RecordError
from webapp.services.search import build_search_text

HEAD_OFFICE = {
    "label": "Head office",
    "line1": "1 Infinite Loop",
    "line2": "Building 4",
    "city": "Cupertino",
    "region": "CA",
    "postal_code": "95014",
    "country": "US",
}
WAREHOUSE = {
    "label": "Warehouse",
    "line1": "Lagerstraße 7",
    "line2": "",
    "city": "Hamburg",
    "region": "",
    "postal_code": "20095",
    "country": "DE",
}
MIRROR_COLUMNS = ("address_line1", "address_line2", "city", "region", "postal_code")


@pytest.fixture
def customer(make_customer):
    return make_customer(name="Acme Ltd", email="accounts@acme.example", country="GB")


def add(db, customer, values, **flags) -> Address:
    return addresses.add(db.session, customer, None, {**values, **flags})


def saved(db) -> list[tuple[str, bool]]:
    """(label, is_billing) of every address, oldest first, as the database holds them."""
    db.session.expire_all()
    rows = db.session.execute(select(Address.label, Address.is_billing).order_by(Address.id))
    return [tuple(row) for row in rows]


def mirror(db, customer) -> tuple[str, ...]:
    """The customer row's copy of the billing address."""
    db.session.expire_all()
    row = db.session.get(Customer, customer.id)
    return tuple(getattr(row, column) for column in MIRROR_COLUMNS)


def address_count(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Address))


# -- HTTP ------------------------------------------------------------------------------


def test_the_tab_is_a_page_and_a_fragment(staff_client, customer):
    page = staff_client.get(f"/customers/{customer.id}/addresses")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "No addresses yet." in html and "+ New address" in html
    fragment = staff_client.get(f"/customers/{customer.id}/addresses", htmx_target="customer_tab")
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="customer_tab">') and "+ New address" in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_the_tab_lists_each_address_with_the_billing_one_first(staff_client, db, customer):
    add(db, customer, WAREHOUSE)
    add(db, customer, HEAD_OFFICE, is_billing=True)
    html = staff_client.get(f"/customers/{customer.id}/addresses").get_data(as_text=True)
    assert html.count("<address>") == 2
    head_office = html.index("Head office")
    assert head_office < html.index("Warehouse")
    assert html.index("Billing address</span>") > head_office
    assert html.count('<span class="badge">Billing address</span>') == 1
    assert "1 Infinite Loop<br>Building 4<br>95014 Cupertino<br>CA<br>" in html
    assert "United States" in html and "Germany" in html
    assert html.count(">Edit</a>") == 2 and html.count(">Remove</a>") == 2


def test_new_address_is_a_modal_with_htmx_and_a_page_without(staff_client, customer):
    url = f"/customers/{customer.id}/addresses/new"
    page = staff_client.get(url).get_data(as_text=True)
    assert "<html" in page and "<h1>New address</h1>" in page
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal
    for label in ("Label", "Address line 1", "City", "Postal code", "Country", "Billing address"):
        assert label in modal
    # The country defaults to the customer's.
    assert '<option selected value="GB">' in modal


def test_adding_an_address_shows_it_as_the_billing_address(staff_client, db, customer):
    url = f"/customers/{customer.id}/addresses/new"
    response = staff_client.post(url, {**HEAD_OFFICE, "label": "  Head office  "})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}/addresses"
    html = staff_client.get(f"/customers/{customer.id}/addresses").get_data(as_text=True)
    assert "Address added." in html
    assert "Head office" in html and '<span class="badge">Billing address</span>' in html
    assert saved(db) == [("Head office", True)]
    assert mirror(db, customer) == ("1 Infinite Loop", "Building 4", "Cupertino", "CA", "95014")

    with_htmx = staff_client.post(url, WAREHOUSE, htmx_target="form")
    assert with_htmx.status_code == 204
    events = json.loads(with_htmx.headers["HX-Trigger"])
    assert events["closeModal"] and events["customerUpdated"] == customer.id
    assert events["showMessage"] == "Address added."
    assert saved(db) == [("Head office", True), ("Warehouse", False)]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"line1": "   "}, "line1", "Enter the first line of the address."),
        ({"country": "XX"}, "country", "Choose a country from the list."),
        ({"country": ""}, "country", "Choose a country."),
        ({"postal_code": "9" * 21}, "postal_code", "Field cannot be longer than 20 characters."),
    ],
)
def test_a_bad_address_is_refused_beside_the_field(
    staff_client, db, customer, change, field, message
):
    url = f"/customers/{customer.id}/addresses/new"
    plain = staff_client.post(url, {**HEAD_OFFICE, **change})
    assert plain.status_code == 422
    html = plain.get_data(as_text=True)
    assert "<html" in html and f'<small id="{field}-error" class="field-error">{message}' in html
    assert 'value="Cupertino"' in html  # what was typed is kept
    swapped = staff_client.post(url, {**HEAD_OFFICE, **change}, htmx_target="form")
    assert swapped.status_code == 422
    fragment = swapped.get_data(as_text=True)
    assert fragment.lstrip().startswith('<form id="form"') and message in fragment
    assert address_count(db) == 0
    assert mirror(db, customer) == ("", "", "", "", "")


def test_edit_moves_the_billing_mark_and_the_profile_follows(staff_client, db, customer):
    add(db, customer, HEAD_OFFICE)
    warehouse = add(db, customer, WAREHOUSE)
    url = f"/customers/{customer.id}/addresses/{warehouse.id}/edit"
    form = staff_client.get(url).get_data(as_text=True)
    assert "<h1>Edit address</h1>" in form and 'value="Lagerstraße 7"' in form
    assert '<option selected value="DE">' in form

    response = staff_client.post(url, {**WAREHOUSE, "is_billing": "y"})
    assert response.status_code == 303
    assert saved(db) == [("Head office", False), ("Warehouse", True)]
    profile = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "Lagerstraße 7<br>20095 Hamburg<br>" in profile and "Germany" in profile
    assert "Infinite Loop" not in profile


def test_unticking_the_billing_address_is_refused_beside_the_box(staff_client, db, customer):
    head_office = add(db, customer, HEAD_OFFICE)
    url = f"/customers/{customer.id}/addresses/{head_office.id}/edit"
    response = staff_client.post(url, {**HEAD_OFFICE, "city": "Palo Alto"}, htmx_target="form")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<small id="is_billing-error" class="field-error">' in html
    assert "mark another address as the billing address instead" in html
    assert saved(db) == [("Head office", True)]
    assert mirror(db, customer)[2] == "Cupertino"  # nothing was written


def test_remove_asks_first_then_removes(staff_client, db, customer):
    add(db, customer, HEAD_OFFICE)
    warehouse = add(db, customer, WAREHOUSE)
    url = f"/customers/{customer.id}/addresses/{warehouse.id}/delete"
    confirm = staff_client.get(url)
    assert confirm.status_code == 200
    html = confirm.get_data(as_text=True)
    assert "<h1>Remove address</h1>" in html and "Confirm" in html and "Cancel" in html
    assert "Warehouse\nLagerstraße 7\n20095 Hamburg\nGermany" in html
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal
    assert address_count(db) == 2  # looking at the confirmation removes nothing

    done = staff_client.post(url)
    assert done.status_code == 303
    assert done.headers["Location"] == f"/customers/{customer.id}/addresses"
    assert "Address removed." in staff_client.get(done.headers["Location"]).get_data(as_text=True)
    assert saved(db) == [("Head office", True)]
    assert staff_client.post(url).status_code == 404  # already gone


def test_removing_the_billing_address_while_others_exist_is_refused(staff_client, db, customer):
    head_office = add(db, customer, HEAD_OFFICE)
    add(db, customer, WAREHOUSE)
    url = f"/customers/{customer.id}/addresses/{head_office.id}/delete"
    response = staff_client.post(url, htmx_target="form")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<p class="form-error" role="alert">Mark another address as the billing' in html
    assert saved(db) == [("Head office", True), ("Warehouse", False)]


def test_the_profile_says_when_there_is_no_billing_address(staff_client, customer):
    html = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "<h2>Billing address</h2>" in html and "No billing address" in html


def test_an_address_of_another_customer_is_not_found(staff_client, db, make_customer):
    ada = make_customer()
    bob = make_customer(name="Bob", email="bob@example.com")
    address = add(db, ada, HEAD_OFFICE)
    for action in ("edit", "delete"):
        url = f"/customers/{bob.id}/addresses/{address.id}/{action}"
        assert staff_client.get(url).status_code == 404
        assert staff_client.post(url, HEAD_OFFICE).status_code == 404
    assert saved(db) == [("Head office", True)]


def test_addresses_need_a_sign_in_and_a_csrf_token(app, staff_client, db, customer):
    address = add(db, customer, HEAD_OFFICE)
    base = f"/customers/{customer.id}/addresses"
    for url in (f"{base}/new", f"{base}/{address.id}/edit", f"{base}/{address.id}/delete"):
        response = staff_client.post(url, {**WAREHOUSE, "is_billing": "y"}, csrf=False)
        assert response.status_code == 400, url
    assert saved(db) == [("Head office", True)]

    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    for method, url in [
        ("GET", base),
        ("GET", f"{base}/new"),
        ("POST", f"{base}/new"),
        ("GET", f"{base}/{address.id}/edit"),
        ("POST", f"{base}/{address.id}/edit"),
        ("GET", f"{base}/{address.id}/delete"),
        ("POST", f"{base}/{address.id}/delete"),
    ]:
        response = anonymous.open(url, method=method, data={"csrf_token": token, **WAREHOUSE})
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/sign-in")
    assert saved(db) == [("Head office", True)]


def test_clearing_the_address_on_edit_customer_is_refused_while_others_exist(
    staff_client, db, customer_data
):
    staff_client.post("/customers/new", customer_data)
    customer = db.session.scalars(select(Customer)).one()
    add(db, customer, WAREHOUSE)
    cleared = {**customer_data, "address_line1": "", "city": "", "postal_code": ""}
    response = staff_client.post(f"/customers/{customer.id}/edit", cleared, htmx_target="form")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<small id="address_line1-error" class="field-error">Mark another address' in html
    assert saved(db) == [("Billing", True), ("Warehouse", False)]
    assert mirror(db, customer) == ("12 Byron Street", "", "London", "", "W1 1AA")


# -- the rules (service) ---------------------------------------------------------------


def test_the_first_address_is_the_billing_address_whatever_the_box_says(db, customer):
    add(db, customer, HEAD_OFFICE, is_billing=False)
    add(db, customer, WAREHOUSE, is_billing=False)
    assert saved(db) == [("Head office", True), ("Warehouse", False)]
    assert mirror(db, customer) == ("1 Infinite Loop", "Building 4", "Cupertino", "CA", "95014")
    assert [a.label for a in addresses.addresses_of(db.session, customer.id)] == [
        "Head office",
        "Warehouse",
    ]


def test_marking_another_address_moves_the_mark_and_the_mirror(db, customer):
    add(db, customer, HEAD_OFFICE)
    warehouse = add(db, customer, WAREHOUSE)
    # A stale search text shows whether it is rebuilt with the move.
    db.session.execute(update(Customer).values(search_text="stale"))
    db.session.commit()

    addresses.change(db.session, customer, warehouse, {**WAREHOUSE, "is_billing": True})
    assert saved(db) == [("Head office", False), ("Warehouse", True)]
    assert mirror(db, customer) == ("Lagerstraße 7", "", "Hamburg", "", "20095")
    row = db.session.get(Customer, customer.id)
    assert row.search_text == build_search_text(row) != "stale"
    assert row.country == "GB"  # the customer's own country is not the address's
    assert addresses.addresses_of(db.session, customer.id)[0].label == "Warehouse"


def test_marking_a_new_address_as_billing_moves_the_mark(db, customer):
    add(db, customer, HEAD_OFFICE)
    add(db, customer, WAREHOUSE, is_billing=True)
    assert saved(db) == [("Head office", False), ("Warehouse", True)]
    assert mirror(db, customer)[0] == "Lagerstraße 7"


def test_editing_the_billing_address_updates_the_mirror(db, customer):
    head_office = add(db, customer, HEAD_OFFICE)
    moved = {**HEAD_OFFICE, "line1": "2 Park Avenue", "line2": "", "is_billing": True}
    addresses.change(db.session, customer, head_office, moved)
    assert mirror(db, customer) == ("2 Park Avenue", "", "Cupertino", "CA", "95014")


def test_editing_another_address_leaves_the_mirror_alone(db, customer):
    add(db, customer, HEAD_OFFICE)
    warehouse = add(db, customer, WAREHOUSE)
    addresses.change(db.session, customer, warehouse, {**WAREHOUSE, "city": "Bremen"})
    assert mirror(db, customer)[2] == "Cupertino"
    db.session.expire_all()
    assert db.session.get(Address, warehouse.id).city == "Bremen"


def test_the_billing_address_cannot_be_unticked(db, customer):
    head_office = add(db, customer, HEAD_OFFICE)
    add(db, customer, WAREHOUSE)
    with pytest.raises(RecordError) as refusal:
        addresses.change(db.session, customer, head_office, {**HEAD_OFFICE, "city": "Elsewhere"})
    assert refusal.value.field == "is_billing"
    assert saved(db) == [("Head office", True), ("Warehouse", False)]
    assert mirror(db, customer)[2] == "Cupertino"


def test_the_billing_address_cannot_be_removed_while_others_exist(db, customer):
    head_office = add(db, customer, HEAD_OFFICE)
    warehouse = add(db, customer, WAREHOUSE)
    with pytest.raises(RecordError, match="Mark another address as the billing address first"):
        addresses.remove(db.session, customer, head_office)
    assert saved(db) == [("Head office", True), ("Warehouse", False)]

    addresses.remove(db.session, customer, warehouse)  # any other one may go
    assert saved(db) == [("Head office", True)]
    assert mirror(db, customer)[0] == "1 Infinite Loop"


def test_removing_the_only_address_clears_the_mirror(db, customer):
    head_office = add(db, customer, HEAD_OFFICE)
    addresses.remove(db.session, customer, head_office)
    assert saved(db) == []
    assert mirror(db, customer) == ("", "", "", "", "")
    assert addresses.billing_address_of(db.session, customer.id) is None


def test_the_database_allows_one_billing_address_per_customer(db, customer):
    add(db, customer, HEAD_OFFICE)
    db.session.add(Address(customer_id=customer.id, line1="x", country="GB", is_billing=True))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert saved(db) == [("Head office", True)]


# -- Add / Edit customer: the address fields are the billing address -------------------


def test_add_customer_with_an_address_makes_it_the_billing_address(make_customer, db):
    customer = make_customer(address_line1="12 Byron Street", city="London", postal_code="W1")
    billing = addresses.billing_address_of(db.session, customer.id)
    assert (billing.label, billing.line1, billing.city, billing.postal_code) == (
        "Billing",
        "12 Byron Street",
        "London",
        "W1",
    )
    assert billing.country == "GB"
    assert saved(db) == [("Billing", True)]


def test_edit_customer_address_fields_update_the_billing_address(db, customer):
    update_customer(db.session, customer, {"address_line1": "5 Main St", "city": "Leeds"})
    assert saved(db) == [("Billing", True)]  # the first non-empty address

    head_office = add(db, customer, HEAD_OFFICE, is_billing=True)
    fields = {column: "" for column in MIRROR_COLUMNS}
    update_customer(db.session, customer, {**fields, "address_line1": "3 New Road"})
    db.session.expire_all()
    billing = db.session.get(Address, head_office.id)
    assert (billing.is_billing, billing.line1, billing.line2, billing.city) == (
        True,
        "3 New Road",
        "",
        "",
    )
    assert billing.label == "Head office" and billing.country == "US"  # kept as they were
    assert mirror(db, customer) == ("3 New Road", "", "", "", "")
    assert saved(db) == [("Billing", False), ("Head office", True)]


def test_clearing_the_address_on_edit_customer(db, customer):
    cleared = {column: "" for column in MIRROR_COLUMNS}
    update_customer(db.session, customer, {**cleared, "address_line1": "5 Main St"})
    add(db, customer, WAREHOUSE)
    with pytest.raises(CustomerError) as refusal:
        update_customer(db.session, customer, cleared)
    assert refusal.value.field == "address_line1"
    assert saved(db) == [("Billing", True), ("Warehouse", False)]
    assert mirror(db, customer)[0] == "5 Main St"

    warehouse = db.session.scalar(select(Address).where(Address.label == "Warehouse"))
    addresses.remove(db.session, customer, warehouse)
    update_customer(db.session, customer, cleared)  # the only address: it goes
    assert saved(db) == []
    assert mirror(db, customer) == ("", "", "", "", "")


def test_other_customer_edits_leave_the_addresses_alone(db, customer):
    add(db, customer, HEAD_OFFICE)
    update_customer(db.session, customer, {"name": "Acme Group"})
    assert saved(db) == [("Head office", True)]
    assert mirror(db, customer)[0] == "1 Infinite Loop"
