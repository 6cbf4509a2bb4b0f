"""Migration 0012 on a database that already holds customers and their records: every
edited row gets version 1, keeps its id, and a deleted customer's ID is still never
handed out again (SQLite's customers table keeps AUTOINCREMENT)."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.migrating import database_at
from tests.test_migration_0010 import add_customer, rows
from webapp.extensions import db
from webapp.models.customer import Customer

NOW = datetime(2026, 3, 1, 9, 0)
VERSIONED = (
    "customers",
    "contacts",
    "addresses",
    "customer_aliases",
    "activities",
    "tickets",
    "sales",
    "tax_classes",
    "legal_entities",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0010(request, tmp_path, instance_dir):
    with database_at(request, request.param, "0010", tmp_path, instance_dir) as app:
        yield app


def insert(sql: str, **params) -> None:
    db.session.execute(text(sql), {"now": NOW, "no": False, **params})


def test_existing_rows_are_at_version_one_after_0012(database_at_0010):
    app = database_at_0010
    with app.app_context():
        insert(
            "INSERT INTO legal_entities (name, address, tax_id, country, default_currency,"
            " number_prefix, created_at) VALUES ('Seller', '', '', 'DE', 'EUR', '', :now)"
        )
        insert("INSERT INTO tax_classes (name, rate_bp, created_at) VALUES ('No tax', 0, :now)")
        first, second = add_customer("Anna"), add_customer("Bert")
        insert(
            "INSERT INTO contacts (customer_id, name, email, phone, position, is_primary,"
            " wants_billing, wants_updates, wants_legal, created_at)"
            " VALUES (:c, 'Grace', '', '', '', :no, :no, :no, :no, :now)",
            c=first,
        )
        insert(
            "INSERT INTO addresses (customer_id, label, line1, line2, city, region,"
            " postal_code, country, is_billing, created_at)"
            " VALUES (:c, '', '1 Main St', '', '', '', '', 'DE', :no, :now)",
            c=first,
        )
        insert(
            "INSERT INTO customer_aliases (customer_id, label, value, value_key, created_at)"
            " VALUES (:c, 'Stripe', 'cus_1', 'cus_1', :now)",
            c=first,
        )
        insert(
            "INSERT INTO activities (customer_id, kind, title, due_at, notes, done, created_at)"
            " VALUES (:c, 'call', 'Call', :now, '', :no, :now)",
            c=first,
        )
        insert(
            "INSERT INTO tickets (customer_id, subject, description, status, created_at,"
            " updated_at) VALUES (:c, 'Help', '', 'new', :now, :now)",
            c=first,
        )
        insert(
            "INSERT INTO sales (customer_id, sold_on, description, amount_minor, currency,"
            " status, created_at) VALUES (:c, :day, 'Widgets', 100, 'EUR', 'open', :now)",
            c=first,
            day=NOW.date(),
        )
        db.session.commit()

        upgrade()

        for table in VERSIONED:
            assert rows(f"SELECT DISTINCT version FROM {table}") == [(1,)], table
        assert rows("SELECT id, name FROM customers ORDER BY id") == [
            (first, "Anna"),
            (second, "Bert"),
        ]
        # The ORM counts on from there, with the version check in the UPDATE.
        anna = db.session.get(Customer, first)
        anna.company = "Engines"
        db.session.commit()
        assert rows("SELECT version FROM customers WHERE id = :id", id=first) == [(2,)]

        # The newest customer is deleted: its ID is not given to the next customer.
        db.session.execute(text("DELETE FROM customers WHERE id = :id"), {"id": second})
        third = add_customer("Carl")
        db.session.commit()
        assert third > second

        # And back: the column goes, the customers keep their ids and AUTOINCREMENT.
        db.session.remove()
        downgrade(revision="0010")
        assert rows("SELECT id FROM customers ORDER BY id") == [(first,), (third,)]
        db.session.execute(text("DELETE FROM customers WHERE id = :id"), {"id": third})
        fourth = add_customer("Dora")
        db.session.commit()
        assert fourth > third
        columns = db.session.execute(text("SELECT * FROM customers")).keys()
        assert "version" not in columns
