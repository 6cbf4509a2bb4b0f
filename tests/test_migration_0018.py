"""Migration 0018 on a database with a legal entity and a customer: the entity gets the
default onboarding text, the customer's address starts not verified and deliverable,
verification tokens can be stored, and a downgrade takes it all away again (and an
upgrade after it works)."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from tests.migrating import database_at
from tests.test_migration_0010 import rows
from tests.test_migration_0014 import add_customer
from webapp.extensions import db
from webapp.models.settings import DEFAULT_ONBOARDING_BODY, DEFAULT_ONBOARDING_SUBJECT

NOW = datetime(2026, 3, 1, 9, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0017(request, tmp_path, instance_dir):
    with database_at(request, request.param, "0017", tmp_path, instance_dir) as app:
        yield app


def test_existing_rows_get_the_defaults_and_a_downgrade_removes_it(database_at_0017):
    app = database_at_0017
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
        customer_id = add_customer("Anna")
        db.session.commit()

        upgrade()

        [(subject, body)] = rows("SELECT onboarding_subject, onboarding_body FROM legal_entities")
        assert (subject, body) == (DEFAULT_ONBOARDING_SUBJECT, DEFAULT_ONBOARDING_BODY)
        [state] = rows(
            "SELECT email_verified_at, email_undeliverable_at, email_undeliverable_reason"
            " FROM customers WHERE id = :c",
            c=customer_id,
        )
        assert state == (None, None, "")
        db.session.execute(
            text(
                "INSERT INTO email_verification_tokens (customer_id, address, nonce, token_hash,"
                " created_at, expires_at) VALUES (:c, 'a@example.com', 'n', 'h', :now, :now)"
            ),
            {"c": customer_id, "now": NOW},
        )
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            indexes = {index["name"] for index in inspect(db.engine).get_indexes("customers")}
            assert "ix_customers_unverified_created" in indexes
        db.session.remove()

        downgrade(revision="0017")

        inspector = inspect(db.engine)
        assert "email_verification_tokens" not in inspector.get_table_names()
        columns = {column["name"] for column in inspector.get_columns("customers")}
        assert not {"email_verified_at", "email_undeliverable_at"} & columns
        entity_columns = {column["name"] for column in inspector.get_columns("legal_entities")}
        assert "onboarding_body" not in entity_columns
        assert rows("SELECT name FROM customers") == [("Anna",)]
        db.session.remove()

        upgrade()
        assert rows("SELECT onboarding_subject FROM legal_entities") == [
            (DEFAULT_ONBOARDING_SUBJECT,)
        ]
