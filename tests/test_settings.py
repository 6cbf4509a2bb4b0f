"""Tax classes and legal entities: the Settings pages over HTTP (page vs fragment, 422
beside the field, delete refused while in use, CSRF, sign-in), numbering per legal
entity, class rate changes, and the customer form's choices reaching the invoice."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.conftest import csrf_token_from
from tests.document_pages import seller_block
from webapp.models.billing import CreditNote, DocumentCounter, Invoice, InvoiceStatus
from webapp.models.customer import Customer
from webapp.models.email import Email
from webapp.models.settings import LegalEntity, TaxClass
from webapp.services import settings
from webapp.services.billing import capture_one_time_charge

TODAY = date(2026, 1, 31)


# -- helpers ----------------------------------------------------------------------------


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def error_beside(html: str, field: str) -> str:
    """The message shown beside ``field``; fails if there is none."""
    found = re.search(rf'<small id="{field}-error" class="field-error">([^<]*)</small>', html)
    assert found, f"no error beside {field}"
    assert f'aria-describedby="{field}-error' in html
    return found.group(1)


def add_class(db, name: str, rate_bp: int) -> TaxClass:
    return settings.create_tax_class(db.session, name, rate_bp)


def add_entity(db, name: str, prefix: str = "", **fields) -> LegalEntity:
    return settings.create_legal_entity(
        db.session,
        {"name": name, "default_currency": "EUR", "number_prefix": prefix, **fields},
    )


def capture(db, customer_id: int, minor: int, currency: str = "EUR"):
    return capture_one_time_charge(
        db.session,
        customer_id,
        amount_minor=minor,
        currency=currency,
        description="Workshop" if minor > 0 else "Goodwill",
        actor_id=None,
        key=None,
        today=TODAY,
    )


def counter(db, series: str, entity: LegalEntity) -> int | None:
    key = settings.document_series(series, entity.id)
    return db.session.scalar(
        select(DocumentCounter.last_number).where(DocumentCounter.series == key)
    )


ENTITY_FORM = {
    "name": "Acme Europe GmbH",
    "address": "Hauptstraße 1\r\n10115 Berlin",
    "country": "DE",
    "tax_id": "DE 136.695.976",
    "default_currency": "EUR",
    "number_prefix": "acme",
}


# -- pages and fragments ----------------------------------------------------------------


def test_settings_is_in_the_navigation_and_starts_with_tax_classes(admin_client):
    page = admin_client.get("/customers").get_data(as_text=True)
    assert '<a href="/settings/tax-classes">Settings</a>' in page
    response = admin_client.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/tax-classes"


@pytest.mark.parametrize(
    ("url", "heading", "row"),
    [
        ("/settings/tax-classes", "Tax classes", "Standard"),
        ("/settings/legal-entities", "Legal entities", "Acme Europe GmbH"),
    ],
)
def test_lists_are_pages_and_their_table_a_fragment(admin_client, db, url, heading, row):
    add_class(db, "Standard", 1900)
    add_entity(db, "Acme Europe GmbH", "ACME")
    full = admin_client.get(url)
    html = full.get_data(as_text=True)
    assert full.status_code == 200 and html.startswith("<!doctype html>")
    assert f'aria-current="page">{heading}</a>' in html and row in html
    fragment = admin_client.get(url, htmx_target="settings_list")
    part = fragment.get_data(as_text=True)
    assert "<html" not in part and part.lstrip().startswith('<div id="settings_list"')
    assert row in part and 'hx-trigger="settingsChanged from:body"' in part
    assert "HX-Request" in fragment.headers["Vary"]


def test_lists_show_rates_and_how_each_entity_numbers(admin_client, db):
    add_class(db, "Reduced", 700)
    add_entity(db, "Acme Europe GmbH", "ACME", country="DE", tax_id="DE136695976")
    classes = admin_client.get("/settings/tax-classes").get_data(as_text=True)
    assert re.search(r"<td>Reduced</td>\s*<td class=\"amount\">7.00 %</td>", classes)
    entities = admin_client.get("/settings/legal-entities").get_data(as_text=True)
    assert "Germany" in entities and "DE136695976" in entities
    assert "ACME-INV-000001, ACME-CN-000001" in entities


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("/settings/tax-classes/new", "Add tax class"),
        ("/settings/legal-entities/new", "Add legal entity"),
    ],
)
def test_add_forms_are_pages_without_js_and_modals_with_htmx(admin_client, url, title):
    page = admin_client.get(url).get_data(as_text=True)
    assert page.startswith("<!doctype html>") and f"<h1>{title}</h1>" in page
    assert '<form id="form" method="post"' in page and 'name="csrf_token"' in page
    modal = admin_client.get(url, htmx_target="modal")
    html = modal.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<div id="modal">')
    assert "<dialog" in html and f'<h2 id="modal-title">{title}</h2>' in html
    for field_id in re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', html):
        if field_id not in ("csrf_token", "opened_version", "seen"):  # hidden
            assert f'<label for="{field_id}">' in html, field_id


# -- tax classes --------------------------------------------------------------------------


def test_add_tax_class_without_js_goes_back_to_the_list(admin_client, db):
    response = admin_client.post("/settings/tax-classes/new", {"name": "Standard", "rate": "19"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings/tax-classes"
    tax_class = db.session.scalar(select(TaxClass))
    assert (tax_class.name, tax_class.rate_bp) == ("Standard", 1900)
    page = admin_client.get("/settings/tax-classes").get_data(as_text=True)
    assert "Tax class Standard (19.00 %) added." in page


def test_add_tax_class_with_htmx_closes_the_modal_and_refreshes_the_list(admin_client, db):
    response = admin_client.post(
        "/settings/tax-classes/new", {"name": "Reduced", "rate": "7,5 %"}, htmx_target="form"
    )
    assert response.status_code == 204
    trigger = response.headers["HX-Trigger"]
    assert '"closeModal"' in trigger and '"settingsChanged"' in trigger
    assert "Reduced (7.50 %) added." in trigger
    assert db.session.scalar(select(TaxClass.rate_bp)) == 750


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "", "rate": "19"}, "name", "Enter the name of the tax class."),
        ({"name": "   ", "rate": "19"}, "name", "Enter the name of the tax class."),
        ({"name": "x" * 101, "rate": "19"}, "name", "at most 100 characters"),
        ({"name": "Standard", "rate": ""}, "rate", "Enter the rate"),
        ({"name": "Standard", "rate": "101"}, "rate", "between 0 and 100"),
        ({"name": "Standard", "rate": "-1"}, "rate", "between 0 and 100"),
        ({"name": "Standard", "rate": "19.555"}, "rate", "at most two decimals"),
        ({"name": "Standard", "rate": "abc"}, "rate", "as a number"),
        ({"name": "Standard", "rate": "NaN"}, "rate", "as a number"),
        ({"name": "Standard", "rate": "Infinity"}, "rate", "as a number"),
    ],
)
def test_a_bad_tax_class_is_refused_beside_the_field(admin_client, db, form, field, message):
    response = admin_client.post("/settings/tax-classes/new", form, htmx_target="form")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in html and html.lstrip().startswith('<form id="form"')
    assert message in error_beside(html, field)
    assert count(db, TaxClass) == 0


def test_a_bad_tax_class_without_js_is_the_page_again_with_what_was_typed(admin_client, db):
    response = admin_client.post("/settings/tax-classes/new", {"name": "Odd", "rate": "1.234"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and html.startswith("<!doctype html>")
    assert "at most two decimals" in error_beside(html, "rate")
    assert 'value="Odd"' in html and 'value="1.234"' in html


def test_a_tax_class_name_is_unique_ignoring_case(admin_client, db):
    add_class(db, "Standard", 1900)
    response = admin_client.post(
        "/settings/tax-classes/new", {"name": " standard ", "rate": "20"}, htmx_target="form"
    )
    assert response.status_code == 422
    assert "Another tax class is already called standard." in error_beside(
        response.get_data(as_text=True), "name"
    )
    assert count(db, TaxClass) == 1
    other = add_class(db, "Reduced", 700)
    renamed = admin_client.post(
        f"/settings/tax-classes/{other.id}/edit", {"name": "STANDARD", "rate": "7"}
    )
    assert renamed.status_code == 422
    assert "already called STANDARD" in error_beside(renamed.get_data(as_text=True), "name")
    db.session.refresh(other)
    assert other.name == "Reduced"


def test_editing_a_rate_moves_its_customers_and_says_so(admin_client, db, make_customer):
    standard = add_class(db, "Standard", 1900)
    reduced = add_class(db, "Reduced", 700)
    first = make_customer(tax_class_id=standard.id)
    second = make_customer(name="Grace Hopper", email="g@example.com", tax_class_id=standard.id)
    other = make_customer(name="Other", email="o@example.com", tax_class_id=reduced.id)
    page = admin_client.get(f"/settings/tax-classes/{standard.id}/edit").get_data(as_text=True)
    assert "<h1>Edit tax class</h1>" in page and 'value="19.00"' in page
    assert "Invoices already issued keep the rate they were issued at." in page
    response = admin_client.post(
        f"/settings/tax-classes/{standard.id}/edit",
        {"name": "Standard", "rate": "20"},
        htmx_target="form",
    )
    assert response.status_code == 204
    assert "2 customers are now taxed at 20.00 %." in response.headers["HX-Trigger"]
    for customer in (first, second, other):
        db.session.refresh(customer)
    assert (first.tax_rate_bp, second.tax_rate_bp, other.tax_rate_bp) == (2000, 2000, 700)


def test_a_tax_class_in_use_cannot_be_deleted(admin_client, db, make_customer):
    standard = add_class(db, "Standard", 1900)
    make_customer(tax_class_id=standard.id)
    make_customer(name="Grace Hopper", email="g@example.com", tax_class_id=standard.id)
    url = f"/settings/tax-classes/{standard.id}/delete"
    asked = admin_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in asked and "is the tax class of 2 customers" in asked
    assert ">Confirm</button>" not in asked
    refused = admin_client.post(url, htmx_target="form")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert html.lstrip().startswith('<form id="form"')
    assert "Standard is the tax class of 2 customers." in html
    assert count(db, TaxClass, TaxClass.id == standard.id) == 1


def test_an_unused_tax_class_is_deleted_after_confirmation(admin_client, db):
    unused = add_class(db, "Old rate", 1600)
    url = f"/settings/tax-classes/{unused.id}/delete"
    asked = admin_client.get(url).get_data(as_text=True)
    assert "<h1>Delete tax class</h1>" in asked and ">Confirm</button>" in asked
    assert count(db, TaxClass) == 1  # asking changes nothing
    response = admin_client.post(url)
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings/tax-classes"
    assert count(db, TaxClass) == 0
    page = admin_client.get("/settings/tax-classes").get_data(as_text=True)
    assert "Tax class Old rate (16.00 %) deleted." in page
    again = add_class(db, "Another", 0)
    with_htmx = admin_client.post(f"/settings/tax-classes/{again.id}/delete", htmx_target="form")
    assert with_htmx.status_code == 204
    assert '"settingsChanged"' in with_htmx.headers["HX-Trigger"]


# -- legal entities ----------------------------------------------------------------------


def test_add_legal_entity_stores_what_invoices_print(admin_client, db):
    response = admin_client.post("/settings/legal-entities/new", ENTITY_FORM)
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings/legal-entities"
    entity = db.session.scalar(select(LegalEntity))
    assert (entity.name, entity.country, entity.tax_id, entity.default_currency) == (
        "Acme Europe GmbH",
        "DE",
        "DE136695976",  # checked for Germany, stored compact
        "EUR",
    )
    assert entity.address == "Hauptstraße 1\n10115 Berlin"
    assert entity.number_prefix == "ACME"
    page = admin_client.get("/settings/legal-entities").get_data(as_text=True)
    assert "Legal entity Acme Europe GmbH added." in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Enter the name of the legal entity."),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"country": "XX"}, "country", "Choose a country from the list."),
        ({"tax_id": "DE 123"}, "tax_id", "not a valid VAT number for Germany"),
        ({"country": "", "tax_id": "12 34-x!"}, "tax_id", "only letters and digits"),
        ({"default_currency": "XYZ"}, "default_currency", "Choose a currency from the list."),
        ({"default_currency": ""}, "default_currency", "Choose a currency from the list."),
        ({"number_prefix": "ABCDEFGHIJK"}, "number_prefix", "up to 10 letters"),
        ({"number_prefix": "AC-ME"}, "number_prefix", "up to 10 letters"),
        ({"number_prefix": "ÄCME"}, "number_prefix", "up to 10 letters"),
        ({"address": "x" * 1001}, "address", "at most 1,000 characters"),
    ],
)
def test_a_bad_legal_entity_is_refused_beside_the_field(admin_client, db, changes, field, message):
    form = {**ENTITY_FORM, **changes}
    response = admin_client.post("/settings/legal-entities/new", form, htmx_target="form")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in html and html.lstrip().startswith('<form id="form"')
    assert message in error_beside(html, field)
    assert count(db, LegalEntity) == 0


def test_legal_entity_names_and_number_prefixes_are_unique(admin_client, db):
    add_entity(db, "Tally Ltd")  # numbers without a prefix
    add_entity(db, "Acme Europe GmbH", "ACME")
    cases = [
        ({"name": "acme europe gmbh", "number_prefix": "AE"}, "name", "already called"),
        ({"name": "Acme UK", "number_prefix": "Acme"}, "number_prefix", "prefix ACME"),
        ({"name": "Acme UK", "number_prefix": ""}, "number_prefix", "without a prefix"),
    ]
    for changes, field, message in cases:
        response = admin_client.post(
            "/settings/legal-entities/new", {**ENTITY_FORM, **changes}, htmx_target="form"
        )
        assert response.status_code == 422, changes
        assert message in error_beside(response.get_data(as_text=True), field), changes
    assert count(db, LegalEntity) == 2


def test_edit_legal_entity_is_filled_in_and_saves(admin_client, db):
    entity = add_entity(db, "Acme Europe GmbH", "ACME", country="DE")
    url = f"/settings/legal-entities/{entity.id}/edit"
    page = admin_client.get(url).get_data(as_text=True)
    assert "<h1>Edit legal entity</h1>" in page and 'value="Acme Europe GmbH"' in page
    assert '<option selected value="DE">Germany</option>' in page
    response = admin_client.post(
        url, {**ENTITY_FORM, "name": "Acme GmbH", "number_prefix": "AG"}, htmx_target="form"
    )
    assert response.status_code == 204
    assert "Legal entity Acme GmbH saved." in response.headers["HX-Trigger"]
    db.session.refresh(entity)
    assert (entity.name, entity.number_prefix) == ("Acme GmbH", "AG")


def test_a_legal_entity_in_use_cannot_be_deleted(admin_client, db, make_customer):
    acme = add_entity(db, "Acme Europe GmbH", "ACME")
    spare = add_entity(db, "Spare Ltd", "SPARE")
    customer = make_customer(currency="EUR", legal_entity_id=acme.id)
    url = f"/settings/legal-entities/{acme.id}/delete"
    asked = admin_client.get(url).get_data(as_text=True)
    assert "Acme Europe GmbH bills 1 customer." in asked and ">Confirm</button>" not in asked
    refused = admin_client.post(url, htmx_target="form")
    assert refused.status_code == 422
    assert "Acme Europe GmbH bills 1 customer." in refused.get_data(as_text=True)

    # Once the customer is billed by another entity, the invoice still names Acme.
    capture(db, customer.id, 10000)
    customer.legal_entity_id = spare.id
    db.session.commit()
    refused = admin_client.post(url)
    assert refused.status_code == 422 and refused.get_data(as_text=True).startswith("<!doctype")
    assert "Acme Europe GmbH is the seller on 1 invoice;" in refused.get_data(as_text=True)
    assert count(db, LegalEntity, LegalEntity.id == acme.id) == 1

    unused = add_entity(db, "Unused Ltd", "UNUSED")
    deleted = admin_client.post(f"/settings/legal-entities/{unused.id}/delete")
    assert deleted.status_code == 303
    assert count(db, LegalEntity, LegalEntity.id == unused.id) == 0


def test_unknown_settings_rows_are_404(admin_client):
    for url in (
        "/settings/tax-classes/999/edit",
        "/settings/tax-classes/999/delete",
        "/settings/legal-entities/999/edit",
        "/settings/legal-entities/999/delete",
    ):
        assert admin_client.get(url).status_code == 404, url


# -- CSRF and sign-in ---------------------------------------------------------------------


def test_every_settings_post_needs_a_csrf_token(admin_client, db):
    tax_class = add_class(db, "Standard", 1900)
    entity = add_entity(db, "Acme Europe GmbH", "ACME")
    posts = [
        ("/settings/tax-classes/new", {"name": "New", "rate": "5"}),
        (f"/settings/tax-classes/{tax_class.id}/edit", {"name": "Changed", "rate": "5"}),
        (f"/settings/tax-classes/{tax_class.id}/delete", {}),
        ("/settings/legal-entities/new", {**ENTITY_FORM, "name": "New", "number_prefix": "N"}),
        (f"/settings/legal-entities/{entity.id}/edit", {**ENTITY_FORM, "name": "Changed"}),
        (f"/settings/legal-entities/{entity.id}/delete", {}),
    ]
    for url, data in posts:
        response = admin_client.post(url, data, csrf=False)
        assert response.status_code == 400, url
        assert "This form has expired" in response.get_data(as_text=True)
    db.session.expire_all()
    assert [(c.name, c.rate_bp) for c in db.session.scalars(select(TaxClass))] == [
        ("Standard", 1900)
    ]
    assert [e.name for e in db.session.scalars(select(LegalEntity))] == ["Acme Europe GmbH"]


def test_csrf_token_in_the_htmx_header_is_accepted(admin_client, db):
    response = admin_client.client.post(
        "/settings/tax-classes/new",
        data={"name": "Standard", "rate": "19"},
        headers={"HX-Request": "true", "HX-Target": "form", "X-CSRFToken": admin_client.token()},
    )
    assert response.status_code == 204
    assert count(db, TaxClass) == 1


def test_settings_need_a_sign_in(app, db):
    tax_class = add_class(db, "Standard", 1900)
    entity = add_entity(db, "Acme Europe GmbH", "ACME")
    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    routes = [
        ("GET", "/settings"),
        ("GET", "/settings/tax-classes"),
        ("GET", "/settings/tax-classes/new"),
        ("POST", "/settings/tax-classes/new"),
        ("GET", f"/settings/tax-classes/{tax_class.id}/edit"),
        ("POST", f"/settings/tax-classes/{tax_class.id}/edit"),
        ("GET", f"/settings/tax-classes/{tax_class.id}/delete"),
        ("POST", f"/settings/tax-classes/{tax_class.id}/delete"),
        ("GET", "/settings/legal-entities"),
        ("GET", "/settings/legal-entities/new"),
        ("POST", "/settings/legal-entities/new"),
        ("GET", f"/settings/legal-entities/{entity.id}/edit"),
        ("POST", f"/settings/legal-entities/{entity.id}/edit"),
        ("GET", f"/settings/legal-entities/{entity.id}/delete"),
        ("POST", f"/settings/legal-entities/{entity.id}/delete"),
    ]
    for method, url in routes:
        data = {"csrf_token": token, "name": "Changed", "rate": "5"} if method == "POST" else None
        response = anonymous.open(url, method=method, data=data)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/sign-in"), (method, url)
    htmx = anonymous.get("/settings/tax-classes", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/sign-in")
    db.session.expire_all()
    assert db.session.scalar(select(TaxClass.name)) == "Standard"
    assert count(db, LegalEntity) == 1


# -- numbering per legal entity ---------------------------------------------------------


def test_each_legal_entity_numbers_invoices_and_credit_notes_in_its_own_series(db, make_customer):
    plain = add_entity(db, "Tally Ltd")
    acme = add_entity(db, "Acme Europe GmbH", "ACME")
    ada = make_customer(currency="EUR", legal_entity_id=plain.id)
    grace = make_customer(
        name="Grace Hopper", email="g@example.com", currency="EUR", legal_entity_id=acme.id
    )
    numbers = [
        capture(db, ada.id, 1000).invoice.number,
        capture(db, grace.id, 1000).invoice.number,
        capture(db, grace.id, -500).credit_note.number,
        capture(db, ada.id, 2000).invoice.number,
        capture(db, grace.id, 3000).invoice.number,
        capture(db, ada.id, -700).credit_note.number,
        capture(db, grace.id, 4000).invoice.number,
        capture(db, grace.id, -800).credit_note.number,
    ]
    assert numbers == [
        "INV-000001",
        "ACME-INV-000001",
        "ACME-CN-000001",
        "INV-000002",
        "ACME-INV-000002",
        "CN-000001",
        "ACME-INV-000003",
        "ACME-CN-000002",
    ]
    # Each series is gapless on its own, and each document names its entity.
    assert (counter(db, "INV", plain), counter(db, "CN", plain)) == (2, 1)
    assert (counter(db, "INV", acme), counter(db, "CN", acme)) == (3, 2)
    by_entity = sorted(
        map(tuple, db.session.execute(select(Invoice.legal_entity_id, Invoice.number)))
    )
    assert by_entity == [
        (plain.id, "INV-000001"),
        (plain.id, "INV-000002"),
        (acme.id, "ACME-INV-000001"),
        (acme.id, "ACME-INV-000002"),
        (acme.id, "ACME-INV-000003"),
    ]
    notes = sorted(
        map(tuple, db.session.execute(select(CreditNote.legal_entity_id, CreditNote.number)))
    )
    assert notes == [
        (plain.id, "CN-000001"),
        (acme.id, "ACME-CN-000001"),
        (acme.id, "ACME-CN-000002"),
    ]


def test_the_same_number_may_exist_under_two_entities_but_not_twice_under_one(db, make_customer):
    first = add_entity(db, "Tally Ltd")
    second = add_entity(db, "Acme Europe GmbH", "ACME")
    customer = make_customer(currency="EUR")

    def invoice(entity: LegalEntity) -> Invoice:
        return Invoice(
            number="INV-000001",
            legal_entity_id=entity.id,
            customer_id=customer.id,
            currency="EUR",
            issue_date=TODAY,
            due_date=TODAY,
            subtotal_minor=100,
            total_minor=100,
            status=InvoiceStatus.OPEN,
        )

    db.session.add_all([invoice(first), invoice(second)])
    db.session.commit()
    assert count(db, Invoice, Invoice.number == "INV-000001") == 2
    db.session.add(invoice(first))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_new_prefix_applies_to_the_next_document_and_the_series_continues(
    staff_client, db, make_customer
):
    acme = add_entity(db, "Acme Europe GmbH", "ACME")
    customer = make_customer(currency="EUR", legal_entity_id=acme.id)
    first = capture(db, customer.id, 1000).invoice
    settings.update_legal_entity(
        db.session, acme, {"name": acme.name, "default_currency": "EUR", "number_prefix": "AEG"}
    )
    second = capture(db, customer.id, 1000).invoice
    assert (first.number, second.number) == ("ACME-INV-000001", "AEG-INV-000002")


# -- tax class rates ----------------------------------------------------------------------


def test_a_class_rate_change_moves_its_customers_and_not_issued_invoices(db, make_customer):
    standard = add_class(db, "Standard", 1900)
    reduced = add_class(db, "Reduced", 700)
    ada = make_customer(currency="EUR", tax_class_id=standard.id)
    grace = make_customer(
        name="Grace Hopper", email="g@example.com", currency="EUR", tax_class_id=reduced.id
    )
    issued = capture(db, ada.id, 10000).invoice
    assert (issued.tax_rate_bp, issued.tax_minor, issued.total_minor) == (1900, 1900, 11900)

    moved = settings.update_tax_class(db.session, standard, "Standard", 2000)

    assert moved == 1
    db.session.expire_all()
    assert db.session.get(Customer, ada.id).tax_rate_bp == 2000
    assert db.session.get(Customer, grace.id).tax_rate_bp == 700  # another class
    kept = db.session.get(Invoice, issued.id)
    assert (kept.tax_rate_bp, kept.tax_minor, kept.total_minor) == (1900, 1900, 11900)
    after = capture(db, ada.id, 10000).invoice
    assert (after.tax_rate_bp, after.tax_minor, after.total_minor) == (2000, 2000, 12000)


def test_a_customer_moved_to_another_class_takes_its_rate(db, make_customer):
    from webapp.services.customers import update_customer

    standard = add_class(db, "Standard", 1900)
    reduced = add_class(db, "Reduced", 700)
    customer = make_customer(tax_class_id=standard.id)
    assert customer.tax_rate_bp == 1900
    update_customer(db.session, customer, {"tax_class_id": reduced.id})
    db.session.refresh(customer)
    assert (customer.tax_class_id, customer.tax_rate_bp) == (reduced.id, 700)


# -- the customer form, the invoice and its email -----------------------------------------


def selected_option(html: str, field: str) -> str:
    select_html = re.search(rf'<select[^>]*id="{field}"[^>]*>(.*?)</select>', html, re.S)
    assert select_html, f"no select {field}"
    chosen = re.search(r"<option selected value=\"[^\"]*\">([^<]*)</option>", select_html.group(1))
    assert chosen, f"nothing selected in {field}"
    return chosen.group(1)


def test_on_a_new_database_the_customer_form_offers_the_defaults(staff_client, app, db):
    html = staff_client.get("/customers/new").get_data(as_text=True)
    assert '<label for="tax_class_id">Tax class' in html
    assert '<label for="legal_entity_id">Legal entity' in html
    assert "Tax rate (%)" not in html
    assert selected_option(html, "tax_class_id") == "No tax (0.00 %)"
    assert selected_option(html, "legal_entity_id") == app.config["SELLER_NAME"]
    db.session.expire_all()
    assert count(db, TaxClass) == 1 and count(db, LegalEntity) == 1  # made once, kept
    staff_client.get("/customers/new")
    assert count(db, TaxClass) == 1 and count(db, LegalEntity) == 1


def test_a_new_customer_starts_in_the_lowest_rate_class_and_the_oldest_entity(staff_client, db):
    add_entity(db, "Zeta Holding")  # oldest, though last by name
    add_entity(db, "Acme Europe GmbH", "ACME")
    add_class(db, "Standard", 1900)
    add_class(db, "Reduced", 700)
    html = staff_client.get("/customers/new").get_data(as_text=True)
    assert selected_option(html, "tax_class_id") == "Reduced (7.00 %)"
    assert selected_option(html, "legal_entity_id") == "Zeta Holding"
    assert html.index("Reduced (7.00 %)") < html.index("Standard (19.00 %)")


def test_the_customer_form_picks_class_and_entity_and_the_invoice_follows(
    staff_client, db, customer_data
):
    add_class(db, "Standard", 1900)
    reduced = add_class(db, "Reduced", 700)
    acme = add_entity(
        db,
        "Acme Europe GmbH",
        "ACME",
        address="Hauptstraße 1\n10115 Berlin",
        country="DE",
        tax_id="DE136695976",
    )
    customer_data.update(
        country="DE",
        currency="EUR",
        tax_class_id=str(reduced.id),
        legal_entity_id=str(acme.id),
    )
    created = staff_client.post("/customers/new", customer_data)
    assert created.status_code == 303
    customer = db.session.scalar(select(Customer))
    assert (customer.tax_class_id, customer.tax_rate_bp) == (reduced.id, 700)
    assert customer.legal_entity_id == acme.id

    profile = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "<dt>Tax class</dt><dd>Reduced (7.00 %)</dd>" in profile
    assert "<dt>Legal entity</dt><dd>Acme Europe GmbH</dd>" in profile
    edit = staff_client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert selected_option(edit, "tax_class_id") == "Reduced (7.00 %)"
    assert selected_option(edit, "legal_entity_id") == "Acme Europe GmbH"

    charged = staff_client.post(
        f"/customers/{customer.id}/charges/new",
        {"amount": "100", "currency": "EUR", "description": "Workshop", "key": uuid.uuid4().hex},
    )
    assert charged.status_code == 303
    invoice = db.session.scalar(select(Invoice))
    assert (invoice.number, invoice.legal_entity_id) == ("ACME-INV-000001", acme.id)
    assert (invoice.tax_rate_bp, invoice.tax_minor, invoice.total_minor) == (700, 700, 10700)

    page = staff_client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    seller = seller_block(page)
    assert "<strong>Acme Europe GmbH</strong>" in seller
    assert "Hauptstraße 1<br>10115 Berlin" in seller
    assert "Tax ID / VAT number: DE136695976" in seller
    assert "Tax (7.00 %)" in page

    email = db.session.scalar(select(Email).where(Email.kind == "invoice"))
    assert email.subject == "Invoice ACME-INV-000001 from Acme Europe GmbH"
    assert "Acme Europe GmbH has issued invoice ACME-INV-000001" in email.text_body
    assert "Hauptstraße 1\n10115 Berlin\nTax ID: DE136695976" in email.text_body
    assert "Acme Europe GmbH has issued invoice ACME-INV-000001" in email.html_body
    assert "Tax ID: DE136695976" in email.html_body


def test_a_credit_note_names_its_entity_as_the_seller(staff_client, db, make_customer):
    acme = add_entity(db, "Acme Europe GmbH", "ACME", address="Hauptstraße 1", tax_id="X1")
    customer = make_customer(currency="EUR", legal_entity_id=acme.id)
    credit_note = capture(db, customer.id, -2500).credit_note
    assert credit_note.number == "ACME-CN-000001"
    page = staff_client.get(f"/credit-notes/{credit_note.id}").get_data(as_text=True)
    seller = seller_block(page)
    assert "<strong>Acme Europe GmbH</strong>" in seller
    assert "Tax ID / VAT number: X1" in seller
    email = db.session.scalar(select(Email).where(Email.kind == "credit_note"))
    assert email.subject == "Credit note ACME-CN-000001 from Acme Europe GmbH"
    assert "Acme Europe GmbH has credited" in email.text_body
    assert "Hauptstraße 1" in email.text_body and "Tax ID: X1" in email.text_body


def test_editing_an_entity_does_not_rewrite_issued_documents(admin_client, db, make_customer):
    acme = add_entity(db, "Acme Europe GmbH", "ACME", address="Hauptstraße 1", tax_id="X1")
    customer = make_customer(currency="EUR", legal_entity_id=acme.id)
    invoice = capture(db, customer.id, 10_000).invoice
    credit_note = capture(db, customer.id, -2500).credit_note
    response = admin_client.post(
        f"/settings/legal-entities/{acme.id}/edit",
        {**ENTITY_FORM, "name": "Acme Holding AG", "number_prefix": "ACME", "address": "Ring 9"},
    )
    assert response.status_code == 303

    def seller_on(url: str) -> str:
        page = admin_client.get(url).get_data(as_text=True)
        return seller_block(page)

    for url in (f"/invoices/{invoice.id}", f"/credit-notes/{credit_note.id}"):
        issued = seller_on(url)
        assert "<strong>Acme Europe GmbH</strong>" in issued and "Hauptstraße 1" in issued
        assert "Acme Holding AG" not in issued
    later = capture(db, customer.id, 500).invoice
    assert later.number == "ACME-INV-000002"
    now = seller_on(f"/invoices/{later.id}")
    assert "<strong>Acme Holding AG</strong>" in now and "Ring 9" in now
