"""Migration 0016 on a database with issued invoices: they keep their number and due date
at version 1, drafts can be saved without a number afterwards, and downgrading deletes
the drafts (an older release cannot show them), reopening a sale invoiced into one."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.migrating import database_at
from tests.test_migration_0010 import rows
from tests.test_migration_0014 import add_customer
from webapp.extensions import db
from webapp.models.crm import Sale
from webapp.services import drafts
from webapp.services.drafts import DraftLine

NOW = datetime(2026, 3, 1, 9, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0015(request, tmp_path, instance_dir):
    with database_at(request, request.param, "0015", tmp_path, instance_dir) as app:
        yield app


def test_issued_invoices_are_kept_and_drafts_go_on_a_downgrade(database_at_0015):
    app = database_at_0015
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
        issued = db.session.execute(
            text(
                "INSERT INTO invoices (number, legal_entity_id, customer_id, currency,"
                " issue_date, due_date, subtotal_minor, tax_rate_bp, tax_minor, total_minor,"
                " status, created_at, seller_name, seller_address, seller_tax_id)"
                " VALUES ('INV-000001', 1, :c, 'EUR', :day, :due, 1000, 0, 0, 1000, 'open',"
                " :now, 'Seller', '', '') RETURNING id"
            ),
            {"c": customer_id, "day": date(2026, 3, 1), "due": date(2026, 3, 15), "now": NOW},
        ).scalar_one()
        db.session.commit()

        upgrade()

        [(number, due, version, key)] = rows(
            "SELECT number, due_date, version, draft_key FROM invoices WHERE id = :i", i=issued
        )
        # SQLite hands a date back as its text through a plain SELECT.
        assert (number, str(due), version, key) == ("INV-000001", "2026-03-15", 1, None)
        draft = drafts.start_draft(
            db.session,
            customer_id,
            currency="EUR",
            lines=[DraftLine("Consulting", 2, 5000)],
            actor_id=None,
            key="f" * 32,
        ).invoice
        draft_id = draft.id
        sale = Sale(
            customer_id=customer_id,
            sold_on=date(2026, 3, 2),
            description="Consulting",
            amount_minor=10000,
            currency="EUR",
            status="invoiced",
            invoice_id=draft_id,
        )
        db.session.add(sale)
        db.session.commit()
        sale_id = sale.id
        assert rows("SELECT number, due_date FROM invoices WHERE id = :i", i=draft_id) == [
            (None, None)
        ]

        db.session.remove()
        downgrade(revision="0015")
        assert rows("SELECT id, number FROM invoices") == [(issued, "INV-000001")]
        assert rows("SELECT count(*) FROM invoice_lines WHERE invoice_id = :i", i=draft_id) == [
            (0,)
        ]
        assert rows("SELECT status, invoice_id FROM sales WHERE id = :s", s=sale_id) == [
            ("open", None)
        ]
        db.session.remove()  # a reading transaction would hold the table the upgrade alters
        upgrade()
        assert rows("SELECT number, version FROM invoices") == [("INV-000001", 1)]
