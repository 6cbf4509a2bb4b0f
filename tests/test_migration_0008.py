"""Migration 0008 on a database that already holds customers and invoices: every
customer gets a tax class (one per rate in use) and the configured seller as its
legal entity, its address becomes its billing address, issued documents keep their
numbers and the series carries on under that entity."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from tests.migrating import database_at
from webapp.extensions import db
from webapp.services.billing import capture_one_time_charge

CUSTOMER = (
    "INSERT INTO customers (id, name, company, first_name, last_name, email, phone, mobile,"
    " fax, position, website, country, currency, address_line1, address_line2, city, region,"
    " postal_code, tax_id, tax_rate_bp, payment_terms_days, invoicing_flow, auto_pay,"
    " footnotes, status, payment_gateway, balance_minor, search_text, created_at, updated_at)"
    " VALUES (:id, :name, '', '', '', :email, '', '', '', '', '', :country, 'EUR', :line1, '',"
    " :city, '', :postal_code, '', :rate, 14, 'automatic', :no, '', 'active', 'manual', 0, '',"
    " :now, :now)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0007(request, tmp_path, instance_dir):
    """A new database migrated only to 0007, with the app that uses it."""
    with database_at(
        request, request.param, "0007", tmp_path, instance_dir, SELLER_NAME="Configured Seller GmbH"
    ) as app:
        yield app


def rows(sql: str, **params) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(text(sql), params)]


def test_existing_data_is_carried_into_0008(database_at_0007, monkeypatch):
    app = database_at_0007
    monkeypatch.setenv("SELLER_NAME", "Configured Seller GmbH")
    now = datetime(2026, 1, 5, 9, 0)
    with app.app_context():
        for id_, rate, line1, city in (
            (1, 1900, "1 Main St", "Berlin"),
            (2, 0, "", ""),
            (3, 1900, "", ""),
        ):
            db.session.execute(
                text(CUSTOMER),
                {
                    "id": id_,
                    "name": f"Customer {id_}",
                    "email": f"c{id_}@example.com",
                    "country": "DE",
                    "line1": line1,
                    "city": city,
                    "postal_code": "10115" if line1 else "",
                    "rate": rate,
                    "no": False,
                    "now": now,
                },
            )
        db.session.execute(
            text(
                "INSERT INTO invoices (number, customer_id, currency, issue_date, due_date,"
                " subtotal_minor, tax_rate_bp, tax_minor, total_minor, status, created_at)"
                " VALUES ('INV-000001', 1, 'EUR', :day, :day, 1000, 1900, 190, 1190,"
                " 'open', :now)"
            ),
            {"day": date(2026, 1, 5), "now": now},
        )
        db.session.execute(
            text("INSERT INTO document_counters (series, last_number) VALUES ('INV', 1)")
        )
        db.session.commit()

        upgrade()

        assert rows("SELECT id, name, number_prefix, default_currency FROM legal_entities") == [
            (1, "Configured Seller GmbH", "", "EUR")
        ]
        assert rows("SELECT name, rate_bp FROM tax_classes ORDER BY rate_bp") == [
            ("No tax", 0),
            ("Rate 19.00 %", 1900),
        ]
        assert rows(
            "SELECT c.id, t.rate_bp, c.legal_entity_id FROM customers c"
            " JOIN tax_classes t ON t.id = c.tax_class_id ORDER BY c.id"
        ) == [(1, 1900, 1), (2, 0, 1), (3, 1900, 1)]
        assert rows("SELECT number, legal_entity_id, seller_name FROM invoices") == [
            ("INV-000001", 1, "Configured Seller GmbH")
        ]
        assert rows("SELECT series, last_number FROM document_counters") == [("INV:1", 1)]
        # Only the customer with an address has one, and it is the billing address.
        assert rows(
            "SELECT customer_id, line1, city, postal_code, country, is_billing FROM addresses"
        ) == [(1, "1 Main St", "Berlin", "10115", "DE", True)]
        db.session.commit()

        # The series carries on under the entity: the next invoice is INV-000002.
        charge = capture_one_time_charge(
            db.session,
            1,
            amount_minor=500,
            currency="EUR",
            description="After the migration",
            actor_id=None,
            key=None,
        )
        assert charge.invoice.number == "INV-000002"
        assert charge.invoice.legal_entity_id == 1
        assert charge.invoice.tax_rate_bp == 1900
