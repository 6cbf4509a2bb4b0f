"""check_customer_input: the Add/Edit customer rules for values from outside the panel
(CSV import, the API), with the form's own messages."""

from __future__ import annotations

from webapp.blueprints.customers.forms import check_customer_input
from webapp.services.customers import create_customer


def test_a_new_customer_gets_the_forms_defaults_and_normalised_values(db):
    fields, errors = check_customer_input(
        {"name": " Ada Ltd ", "email": "ADA@Example.com", "country": "DE", "phone": "030 1234567"}
    )
    assert errors == {}
    assert fields["name"] == "Ada Ltd"
    assert fields["email"] == "ada@example.com"
    assert fields["currency"] == "EUR"
    assert fields["phone"] == "+49301234567"
    assert fields["payment_terms_days"] == 30
    assert fields["tax_class_id"] is not None and fields["legal_entity_id"] is not None
    customer = create_customer(db.session, fields)
    assert customer.currency == "EUR"


def test_each_refused_field_has_the_forms_message(db):
    fields, errors = check_customer_input(
        {
            "name": "",
            "email": "not an email",
            "country": "XX",
            "currency": "ABC",
            "payment_terms_days": "400",
            "invoicing_flow": "sometimes",
        }
    )
    assert fields is None
    assert errors["name"] == "Enter the customer's name."
    assert "email" in errors
    assert errors["country"] == "Choose a country from the list."
    assert errors["payment_terms_days"] == "Payment terms are a whole number of days from 0 to 365."
    assert "invoicing_flow" in errors


def test_an_update_keeps_what_it_does_not_name(db):
    fields, _ = check_customer_input({"name": "Bo", "email": "bo@example.com", "country": "GB"})
    customer = create_customer(db.session, {**fields, "phone": "+442079460000"})
    fields, errors = check_customer_input({"city": "Leeds"}, customer)
    assert errors == {}
    assert fields["name"] == "Bo"
    assert fields["city"] == "Leeds"
    assert fields["currency"] == "GBP"
    assert fields["phone"] == "+442079460000"


def test_a_locked_currency_refuses_another(db):
    fields, _ = check_customer_input({"name": "Cy", "email": "cy@example.com", "country": "FR"})
    customer = create_customer(db.session, fields)
    _, errors = check_customer_input({"currency": "USD"}, customer, locked_currency="EUR")
    assert "currency" in errors
