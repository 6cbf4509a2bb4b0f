"""Migration 0015 on a database that already holds invoices and credit notes: each takes
the buyer from its customer as the customer reads now (the best there is), invoice
lines get their unit price and tax rate, the supply date stays empty (the issue date)
and legal entities get an empty footer; from then on the app keeps documents as issued."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.migrating import database_at
from tests.test_migration_0010 import rows
from webapp.extensions import db
from webapp.models.billing import Invoice
from webapp.services.documents import document_of

NOW = datetime(2026, 3, 1, 9, 0)
ISSUED = date(2026, 3, 1)
BUYER_COLUMNS = (
    "buyer_name, buyer_company, buyer_address, buyer_tax_id, buyer_customer_number, footer_text"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0014(request, tmp_path, instance_dir):
    with database_at(request, request.param, "0014", tmp_path, instance_dir) as app:
        yield app


def add_customer(name: str, company: str = "", tax_id: str = "", cleared: bool = False) -> int:
    """A customer as 0014 stores it, with a billing address on the row."""
    return db.session.execute(
        text(
            "INSERT INTO customers (name, company, first_name, last_name, email, phone,"
            " mobile, fax, position, website, country, currency, address_line1,"
            " address_line2, city, region, postal_code, tax_id, tax_class_id, tax_rate_bp,"
            " legal_entity_id, payment_terms_days, invoicing_flow, auto_pay, footnotes,"
            " status, payment_gateway, balance_minor, search_text, personal_data_cleared_at,"
            " created_at, updated_at)"
            " VALUES (:name, :company, '', '', :email, '', '', '', '', '', 'FR', 'EUR',"
            " :line1, '', :city, '', :postal, :tax_id, 1, 1900, 1, 30, 'automatic', :no,"
            " 'Internal note', 'active', 'manual', 0, :search, :cleared, :now, :now)"
            " RETURNING id"
        ),
        {
            "name": name,
            "company": company,
            "email": "" if cleared else f"{name.split()[0].lower()}@example.com",
            "line1": "" if cleared else "8 rue de la Paix",
            "city": "" if cleared else "Paris",
            "postal": "" if cleared else "75002",
            "tax_id": tax_id,
            "no": False,
            "search": name.lower(),
            "cleared": NOW if cleared else None,
            "now": NOW,
        },
    ).scalar_one()


def add_invoice(customer: int, number: str, lines: list[tuple[str, int, int]]) -> int:
    """An invoice as 0014 stores it: lines of (description, quantity, amount), 19 % tax."""
    net = sum(amount for _, _, amount in lines)
    tax = (net * 19 + 50) // 100  # half up, as the app rounds
    invoice = db.session.execute(
        text(
            "INSERT INTO invoices (number, legal_entity_id, customer_id, currency, issue_date,"
            " due_date, subtotal_minor, tax_rate_bp, tax_minor, total_minor, status,"
            " created_at, seller_name, seller_address, seller_tax_id)"
            " VALUES (:number, 1, :customer, 'EUR', :issued, :issued, :net, 1900, :tax,"
            " :total, 'open', :now, 'Seller GmbH', 'Ring 1', 'DE136695976') RETURNING id"
        ),
        {"number": number, "customer": customer, "issued": ISSUED, "net": net, "tax": tax,
         "total": net + tax, "now": NOW},
    ).scalar_one()  # fmt: skip
    for description, quantity, amount in lines:
        db.session.execute(
            text(
                "INSERT INTO invoice_lines (invoice_id, description, quantity, amount_minor)"
                " VALUES (:invoice, :description, :quantity, :amount)"
            ),
            {"invoice": invoice, "description": description, "quantity": quantity,
             "amount": amount},
        )  # fmt: skip
    return invoice


def add_credit_note(customer: int, number: str, amount: int) -> int:
    return db.session.execute(
        text(
            "INSERT INTO credit_notes (number, legal_entity_id, customer_id, currency,"
            " issue_date, description, total_minor, created_at, seller_name, seller_address,"
            " seller_tax_id) VALUES (:number, 1, :customer, 'EUR', :issued, 'Goodwill',"
            " :amount, :now, 'Seller GmbH', 'Ring 1', 'DE136695976') RETURNING id"
        ),
        {"number": number, "customer": customer, "issued": ISSUED, "amount": amount, "now": NOW},
    ).scalar_one()


def test_documents_take_the_buyer_as_the_customer_reads_now(database_at_0014):
    app = database_at_0014
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO legal_entities (name, address, tax_id, country, default_currency,"
                " number_prefix, created_at) VALUES ('Seller GmbH', 'Ring 1', 'DE136695976',"
                " 'DE', 'EUR', '', :now)"
            ),
            {"now": NOW},
        )
        db.session.execute(
            text("INSERT INTO tax_classes (name, rate_bp, created_at) VALUES ('Std', 1900, :now)"),
            {"now": NOW},
        )
        claire = add_customer("Claire Dubois", "Dubois Conseil SARL", "FR40303265045")
        gone = add_customer("Personal data cleared", cleared=True)
        idle = add_customer("No Documents Yet")
        first = add_invoice(claire, "INV-000001", [("Workshop", 1, 10_000), ("Books", 3, 3_750)])
        odd = add_invoice(gone, "INV-000002", [("Hours", 4, 1_001)])
        note = add_credit_note(claire, "CN-000001", 2_500)
        db.session.commit()

        upgrade()

        claire_buyer = (
            "Claire Dubois",
            "Dubois Conseil SARL",
            "8 rue de la Paix\n75002 Paris\nFrance",
            "FR40303265045",
            f"C-{claire:06d}",
            "",
        )
        assert rows(f"SELECT {BUYER_COLUMNS} FROM invoices WHERE id = :i", i=first) == [
            claire_buyer
        ]
        assert rows(f"SELECT {BUYER_COLUMNS} FROM credit_notes WHERE id = :i", i=note) == [
            claire_buyer
        ]
        # Cleared before this revision: only what is left (the placeholder, the country).
        assert rows(f"SELECT {BUYER_COLUMNS} FROM invoices WHERE id = :i", i=odd) == [
            ("Personal data cleared", "", "France", "", f"C-{gone:06d}", "")
        ]
        # Net amounts stay; unit price = amount / quantity (whole minor units), the
        # invoice's rate on each line; no supply date; legal entities without a footer.
        assert rows(
            "SELECT description, quantity, unit_price_minor, amount_minor, tax_rate_bp"
            " FROM invoice_lines ORDER BY id"
        ) == [
            ("Workshop", 1, 10_000, 10_000, 1900),
            ("Books", 3, 1_250, 3_750, 1900),
            ("Hours", 4, 250, 1_001, 1900),
        ]
        assert rows("SELECT supply_date FROM invoices ORDER BY id") == [(None,), (None,)]
        assert rows("SELECT invoice_footer FROM legal_entities") == [("",)]
        assert idle  # a customer without documents is left alone (nothing to fill)

        # The page reads the document alone: the date of supply is the issue date.
        doc = document_of(db.session.get(Invoice, first))
        assert doc.supply_date == ISSUED and doc.buyer.address_lines[-1] == "France"
        assert [(t.rate_bp, t.net_minor, t.tax_minor) for t in doc.taxes] == [(1900, 13_750, 2_613)]

        # Later edits no longer reach the documents.
        db.session.execute(text("UPDATE customers SET name = 'Claire Martin' WHERE id = :c"),
                           {"c": claire})  # fmt: skip
        db.session.commit()
        assert rows("SELECT buyer_name FROM invoices WHERE id = :i", i=first) == [
            ("Claire Dubois",)
        ]

        # Down and up again: the columns go and come back, filled the same way.
        db.session.remove()
        downgrade(revision="0014")
        assert rows("SELECT count(*) FROM invoice_lines") == [(3,)]
        db.session.remove()
        upgrade()
        assert rows("SELECT buyer_name FROM invoices WHERE id = :i", i=first) == [
            ("Claire Martin",)
        ]
        assert rows("SELECT unit_price_minor FROM invoice_lines ORDER BY id") == [
            (10_000,),
            (1_250,),
            (250,),
        ]
