"""Migration 0024 on a database with a legal entity and a customer: the customer is not on
Do not remind, the existing entity gets no reminder schedule (an upgrade sends nothing on its
own), and a downgrade takes the tables and the column away again, keeping customers'
AUTOINCREMENT on SQLite (a deleted customer's ID is never handed out again)."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from tests.migrating import database_at
from tests.test_migration_0010 import rows
from tests.test_migration_0014 import add_customer
from webapp.extensions import db

NOW = datetime(2026, 3, 1, 9, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0023(request, tmp_path, instance_dir):
    with database_at(request, request.param, "0023", tmp_path, instance_dir) as app:
        yield app


def test_existing_rows_get_no_schedule_and_a_downgrade_removes_it(database_at_0023):
    app = database_at_0023
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
        add_customer("Anna")
        db.session.commit()

        upgrade()

        assert rows("SELECT name, do_not_remind FROM customers") == [("Anna", False)]
        assert rows("SELECT count(*) FROM reminder_steps") == [(0,)]
        db.session.remove()

        downgrade(revision="0023")

        inspector = inspect(db.engine)
        assert not {"reminder_steps", "sent_reminders"} & set(inspector.get_table_names())
        columns = {column["name"] for column in inspector.get_columns("customers")}
        assert "do_not_remind" not in columns
        if db.engine.dialect.name == "sqlite":
            [(ddl,)] = rows("SELECT sql FROM sqlite_master WHERE name = 'customers'")
            assert "AUTOINCREMENT" in ddl
        db.session.remove()
        upgrade()
        assert rows("SELECT do_not_remind FROM customers") == [(False,)]
        db.session.remove()
