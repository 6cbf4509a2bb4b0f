"""Balances in every currency: the header, the list's Balance column and its filters, and
migration 0013 for customers who already have balances."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from tests.migrating import database_at
from tests.test_migration_0010 import add_customer
from webapp.extensions import db
from webapp.models.billing import EntryKind
from webapp.models.customer import Customer
from webapp.services import ledger


def post(db, customer_id: int, amount_minor: int, currency: str) -> None:
    ledger.post_entry(
        db.session,
        customer_id,
        kind=EntryKind.CHARGE if amount_minor < 0 else EntryKind.CREDIT,
        amount_minor=amount_minor,
        currency=currency,
        description="Entry",
        actor_id=None,
        key=None,
    )


def header_of(html: str) -> str:
    summary = re.search(r'<div class="balance-summary">(.*?)</div>', html, re.S).group(1)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", summary)).split())


def test_the_header_states_every_currency_and_paid_in_full_only_when_all_are_zero(
    staff_client, db, euro_customer
):
    url = f"/customers/{euro_customer.id}"
    assert header_of(staff_client.get(url).get_data(as_text=True)) == "Balance €0.00 paid in full"
    post(db, euro_customer.id, -146906, "USD")
    header = header_of(staff_client.get(url).get_data(as_text=True))
    assert header == "Balance Owes $1,469.06"  # not "€0.00 paid in full"
    post(db, euro_customer.id, 12500, "EUR")
    header = header_of(staff_client.get(url).get_data(as_text=True))
    assert header == "Balance €125.00 in credit · Owes $1,469.06"  # billing currency first
    post(db, euro_customer.id, 146906, "USD")
    post(db, euro_customer.id, -12500, "EUR")
    assert header_of(staff_client.get(url).get_data(as_text=True)) == "Balance €0.00 paid in full"


def test_the_flags_follow_every_posting(db, euro_customer):
    def flags():
        db.session.expire_all()
        customer = db.session.get(Customer, euro_customer.id)
        return customer.owes_any, customer.credit_any, customer.other_currencies

    assert flags() == (False, False, 0)
    post(db, euro_customer.id, -500, "USD")
    assert flags() == (True, False, 1)
    post(db, euro_customer.id, 700, "EUR")
    assert flags() == (True, True, 1)
    post(db, euro_customer.id, -200, "GBP")
    assert flags() == (True, True, 2)
    post(db, euro_customer.id, 500, "USD")
    post(db, euro_customer.id, 200, "GBP")
    assert flags() == (False, True, 0)


@pytest.fixture
def mixed(db, make_customer):
    """Four euro customers: owing dollars only, in euro credit, owing euros, settled."""
    customers = {
        "dollars": make_customer(name="Owes Dollars", email="d@example.com", currency="EUR"),
        "credit": make_customer(name="Euro Credit", email="c@example.com", currency="EUR"),
        "euros": make_customer(name="Owes Euros", email="e@example.com", currency="EUR"),
        "settled": make_customer(name="Settled", email="s@example.com", currency="EUR"),
    }
    post(db, customers["dollars"].id, -146906, "USD")
    post(db, customers["credit"].id, 12500, "EUR")
    post(db, customers["euros"].id, -9900, "EUR")
    post(db, customers["settled"].id, -100, "EUR")
    post(db, customers["settled"].id, 100, "EUR")
    return customers


def names(html: str) -> set[str]:
    return set(re.findall(r'href="/customers/\d+">([^<]+)</a>', html)) - {
        name for name in re.findall(r">(C-\d{6})<", html)
    }


@pytest.mark.parametrize(
    ("balance", "expected"),
    [
        ("owes", {"Owes Dollars", "Owes Euros"}),
        ("credit", {"Euro Credit"}),
        ("paid", {"Settled"}),
    ],
)
def test_the_balance_filters_count_every_currency(staff_client, mixed, balance, expected):
    html = staff_client.get(f"/customers?balance={balance}").get_data(as_text=True)
    shown = {name for name in names(html) if not name.startswith("C-")}
    assert shown == expected


def test_the_balance_column_marks_other_currencies(staff_client, mixed):
    html = staff_client.get("/customers?sort=balance&dir=asc").get_data(as_text=True)
    row = re.search(r"Owes Dollars.*?</tr>", html, re.S).group(0)
    assert "€0.00" in row and "+1 currency" in row
    assert f'href="/customers/{mixed["dollars"].id}/billing"' in row
    assert "+1 currency" not in re.search(r"Owes Euros.*?</tr>", html, re.S).group(0)
    assert "Sorted by the balance in each customer's billing currency" in unescape(html)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0012(request, tmp_path, instance_dir):
    with database_at(request, request.param, "0012", tmp_path, instance_dir) as app:
        yield app


def test_migration_0013_sets_the_flags_of_existing_balances(database_at_0012):
    app = database_at_0012
    now = datetime(2026, 3, 1, 9, 0)
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO legal_entities (name, address, tax_id, country, default_currency,"
                " number_prefix, created_at) VALUES ('Seller', '', '', 'DE', 'EUR', '', :now)"
            ),
            {"now": now},
        )
        db.session.execute(
            text("INSERT INTO tax_classes (name, rate_bp, created_at) VALUES ('No tax', 0, :n)"),
            {"n": now},
        )
        dollars, credit, quiet = add_customer("Dora"), add_customer("Cred"), add_customer("Quinn")
        for customer_id, currency, amount in (
            (dollars, "EUR", 0),
            (dollars, "USD", -146906),
            (credit, "EUR", 12500),
        ):
            db.session.execute(
                text(
                    "INSERT INTO customer_balances (customer_id, currency, balance_minor,"
                    " updated_at) VALUES (:c, :cur, :a, :now)"
                ),
                {"c": customer_id, "cur": currency, "a": amount, "now": now},
            )
        db.session.commit()
        upgrade(revision="0013")
        found = {
            row.id: (bool(row.owes_any), bool(row.credit_any), row.other_currencies)
            for row in db.session.execute(
                text("SELECT id, owes_any, credit_any, other_currencies FROM customers")
            )
        }
    assert found == {
        dollars: (True, False, 1),
        credit: (False, True, 0),
        quiet: (False, False, 0),
    }
