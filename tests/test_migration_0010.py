"""Migration 0010 on a database that already holds customers and their history: the
payment-link email address moves out of the summary into a personal value, customers
keep their ids, and from then on a deleted customer's ID is never handed out again."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from tests.migrating import database_at
from webapp.extensions import db

NOW = datetime(2026, 3, 1, 9, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0009(request, tmp_path, instance_dir):
    with database_at(request, request.param, "0009", tmp_path, instance_dir) as app:
        yield app


def rows(sql: str, **params) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(text(sql), params)]


def add_customer(name: str) -> int:
    """A customer as 0009 stores it; its id comes from the database, as in real use."""
    return db.session.execute(
        text(
            "INSERT INTO customers (name, company, first_name, last_name, email, phone,"
            " mobile, fax, position, website, country, currency, address_line1,"
            " address_line2, city, region, postal_code, tax_id, tax_class_id, tax_rate_bp,"
            " legal_entity_id, payment_terms_days, invoicing_flow, auto_pay, footnotes,"
            " status, payment_gateway, balance_minor, search_text, created_at, updated_at)"
            " VALUES (:name, '', '', '', :email, '', '', '', '', '', 'DE', 'EUR', '', '', '',"
            " '', '', '', 1, 0, 1, 14, 'automatic', :no, '', 'active', 'manual', 0, '',"
            " :now, :now) RETURNING id"
        ),
        {"name": name, "email": f"{name.lower()}@example.com", "no": False, "now": NOW},
    ).scalar_one()


def test_history_and_customers_are_carried_into_0010(database_at_0009):
    app = database_at_0009
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
        first, second, third = (add_customer(name) for name in ("Anna", "Bert", "Carl"))
        for kind, summary in (
            ("payment_link.generated", "Generated a payment link (never expires)."),
            ("payment_link.emailed", "Emailed the payment link to anna@example.com."),
        ):
            db.session.execute(
                text(
                    "INSERT INTO customer_events (customer_id, kind, summary, created_at)"
                    " VALUES (:customer, :kind, :summary, :now)"
                ),
                {"customer": first, "kind": kind, "summary": summary, "now": NOW},
            )
        db.session.commit()

        upgrade()

        assert rows(
            "SELECT kind, summary, new_value, personal FROM customer_events ORDER BY id"
        ) == [
            ("payment_link.generated", "Generated a payment link (never expires).", None, False),
            ("payment_link.emailed", "Emailed the payment link.", "anna@example.com", True),
        ]
        assert rows("SELECT id, name, personal_data_cleared_at FROM customers ORDER BY id") == [
            (first, "Anna", None),
            (second, "Bert", None),
            (third, "Carl", None),
        ]
        assert rows("SELECT count(*) FROM audit_events") == [(0,)]

        # The newest customer is deleted: its ID is not given to the next customer.
        db.session.execute(text("DELETE FROM customers WHERE id = :id"), {"id": third})
        fourth = add_customer("Dora")
        db.session.commit()
        assert fourth > third
