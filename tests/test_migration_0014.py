"""Migration 0014 on a database that already holds customers with a contact typed in
Add customer, contacts added on the Contacts tab, or both: every typed contact becomes a
contact record (the primary one unless the customer already had one), the customer row
becomes the copy of its primary contact, nothing typed is lost, and from then on the
app keeps the two in step."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.migrating import database_at
from tests.test_migration_0010 import rows
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.services import contacts, customers
from webapp.services.search import CustomerQuery, list_customers

NOW = datetime(2026, 3, 1, 9, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0013(request, tmp_path, instance_dir):
    with database_at(request, request.param, "0013", tmp_path, instance_dir) as app:
        yield app


def add_customer(name: str, first: str = "", last: str = "", position: str = "") -> int:
    """A customer as 0013 stores it, with the contact fields of the form."""
    return db.session.execute(
        text(
            "INSERT INTO customers (name, company, first_name, last_name, email, phone,"
            " mobile, fax, position, website, country, currency, address_line1,"
            " address_line2, city, region, postal_code, tax_id, tax_class_id, tax_rate_bp,"
            " legal_entity_id, payment_terms_days, invoicing_flow, auto_pay, footnotes,"
            " status, payment_gateway, balance_minor, search_text, created_at, updated_at)"
            " VALUES (:name, '', :first, :last, :email, '', '', '', :position, '', 'DE', 'EUR',"
            " '', '', '', '', '', '', 1, 0, 1, 14, 'automatic', :no, '', 'active', 'manual', 0,"
            " :search, :now, :now) RETURNING id"
        ),
        {
            "name": name,
            "first": first,
            "last": last,
            "position": position,
            "email": f"{name.lower()}@example.com",
            "search": f"{name} {first} {last}".lower(),
            "no": False,
            "now": NOW,
        },
    ).scalar_one()


def add_contact(customer: int, name: str, position: str = "", primary: bool = False) -> None:
    """A contact as the Contacts tab stored it at 0013."""
    db.session.execute(
        text(
            "INSERT INTO contacts (customer_id, name, email, phone, position, is_primary,"
            " wants_billing, wants_updates, wants_legal, created_at)"
            " VALUES (:c, :name, '', '', :position, :primary, :no, :no, :no, :now)"
        ),
        {"c": customer, "name": name, "position": position, "primary": primary, "no": False,
         "now": NOW},
    )  # fmt: skip


def contacts_of(customer: int) -> list[tuple]:
    return rows(
        "SELECT name, position, is_primary FROM contacts WHERE customer_id = :c ORDER BY id",
        c=customer,
    )


def copy_of(customer: int) -> tuple:
    return rows(
        "SELECT first_name, last_name, position, version FROM customers WHERE id = :c",
        c=customer,
    )[0]


def history_of(customer: int) -> list[tuple]:
    return rows(
        "SELECT kind, summary, field, old_value, new_value, personal, staff_id"
        " FROM customer_events WHERE customer_id = :c ORDER BY id",
        c=customer,
    )


def found_by(typed: str) -> list[str]:
    page = list_customers(db.session, CustomerQuery.from_args({"q": typed, "status": "all"}))
    return [customer.name for customer in page.customers]


def test_the_contacts_typed_on_the_form_become_contact_records(database_at_0013):
    app = database_at_0013
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO legal_entities (name, address, tax_id, country, default_currency,"
                " number_prefix, created_at) VALUES ('Seller', '', '', 'DE', 'EUR', '', :now)"
            ),
            {"now": NOW},
        )
        db.session.execute(
            text("INSERT INTO tax_classes (name, rate_bp, created_at) VALUES ('No tax', 0, :now)"),
            {"now": NOW},
        )
        # Typed in Add customer only: the Profile showed him, the Contacts tab did not.
        anna = add_customer("Anna", "Anna", "Adams", "CEO")
        # Typed in Add customer, then another contact added on the Contacts tab: that
        # one became primary and silently replaced him on the Profile.
        bert = add_customer("Bert", "Bert", "Brown", "CTO")
        add_contact(bert, "Grace Hopper", "CFO", primary=True)
        # No contact anywhere.
        carl = add_customer("Carl")
        # The same person in both places; only the form knew the position.
        dora = add_customer("Dora", "Dora", "Diaz", "Owner")
        add_contact(dora, "Dora Diaz", primary=True)
        # A position typed without a name, and no contacts: nothing to make a contact of.
        emil = add_customer("Emil", position="Director")
        # Contacts tab only.
        fay = add_customer("Fay")
        add_contact(fay, "Fred Foster", "Buyer", primary=True)
        add_contact(fay, "Gina Gray")
        db.session.commit()

        upgrade()

        assert contacts_of(anna) == [("Anna Adams", "CEO", True)]
        assert copy_of(anna) == ("Anna", "Adams", "CEO", 1)
        assert contacts_of(bert) == [("Grace Hopper", "CFO", True), ("Bert Brown", "CTO", False)]
        assert copy_of(bert) == ("Grace", "Hopper", "CFO", 2)
        assert history_of(bert) == [
            ("edited", "Changed Contact first name", "first_name", "Bert", "Grace", True, None),
            ("edited", "Changed Contact last name", "last_name", "Brown", "Hopper", True, None),
            ("edited", "Changed Position", "position", "CTO", "CFO", True, None),
        ]
        assert contacts_of(carl) == [] and copy_of(carl) == ("", "", "", 1)
        assert contacts_of(dora) == [("Dora Diaz", "Owner", True)]
        assert copy_of(dora) == ("Dora", "Diaz", "Owner", 1) and history_of(dora) == []
        assert contacts_of(emil) == [] and copy_of(emil) == ("", "", "Director", 1)
        assert contacts_of(fay) == [("Fred Foster", "Buyer", True), ("Gina Gray", "", False)]
        assert copy_of(fay) == ("Fred", "Foster", "Buyer", 2)
        # Search reads the copy: Bert's customer is found by its primary contact's name.
        assert found_by("hopper") == ["Bert"] and found_by("foster") == ["Fay"]
        assert found_by("anna adams") == ["Anna"]

        # From here the app keeps them in step: a contact added on the Contacts tab does
        # not replace Anna, and Edit customer renames the same record.
        customer = db.session.get(Customer, anna)
        contacts.add(db.session, customer, None, {"name": "Zoe Zed"})
        assert contacts_of(anna) == [("Anna Adams", "CEO", True), ("Zoe Zed", "", False)]
        customers.update_customer(
            db.session, customer, {"first_name": "Annabel", "last_name": "Adams", "position": "CEO"}
        )
        assert contacts_of(anna) == [("Annabel Adams", "CEO", True), ("Zoe Zed", "", False)]
        assert copy_of(anna)[:3] == ("Annabel", "Adams", "CEO")

        # Down and up again: the data stays, and a second run adds nothing.
        db.session.remove()
        downgrade(revision="0013")
        upgrade()
        assert rows("SELECT count(*) FROM contacts") == [(7,)]
        assert contacts_of(bert) == [("Grace Hopper", "CFO", True), ("Bert Brown", "CTO", False)]
        assert copy_of(bert) == ("Grace", "Hopper", "CFO", 2)
