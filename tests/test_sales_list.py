"""Sales (/sales): sales across customers, newest sale date first, filtered by status
(?status=), with the total of every filtered sale per currency (not only the page's);
rows link to the customer's Sales tab; paging, sign-in and bad filters."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from webapp.models.crm import Sale
from webapp.services import sales, work


@pytest.fixture
def ada(make_customer):
    return make_customer(name="Ada Ltd", email="ada@example.com")


@pytest.fixture
def bob(make_customer):
    return make_customer(name="Bob Inc", email="bob@example.com")


def add(db, customer, description, sold_on, amount_minor, currency="USD", status="open") -> Sale:
    fields = {
        "sold_on": sold_on,
        "description": description,
        "amount_minor": amount_minor,
        "currency": currency,
        "status": "cancelled" if status == "cancelled" else "open",
    }
    sale = sales.add(db.session, customer, None, fields)
    if status == "invoiced":  # what invoicing leaves (its own tests are in test_sales.py)
        sale.status = "invoiced"
        db.session.commit()
    return sale


@pytest.fixture
def sold(db, ada, bob):
    add(db, ada, "Setup", date(2030, 1, 5), 10000)
    add(db, bob, "Licences", date(2030, 1, 7), 250050, "EUR", "invoiced")
    add(db, ada, "Support", date(2030, 1, 6), 5025, "USD", "invoiced")
    add(db, bob, "Training", date(2030, 1, 8), 99900, "EUR")
    add(db, ada, "Hardware", date(2030, 1, 4), 120000, "JPY", "cancelled")
    add(db, bob, "Extra", date(2030, 1, 9), 1, "USD")


def descriptions(html: str) -> list[str]:
    return re.findall(r'<span class="sale-description">(.*?)</span>', html)


def totals(html: str) -> list[str]:
    block = html.split('<dl class="sales-totals"', 1)[1].split("</dl>", 1)[0]
    return [
        " ".join(re.sub(r"<[^>]+>", " ", item).split())
        for item in re.findall(r"<div>.*?</div>", block, re.S)
    ]


@pytest.mark.parametrize(
    "query, expected, expected_totals",
    [
        (
            "",
            ["Extra", "Training", "Licences", "Support", "Setup", "Hardware"],
            ["USD · 3 sales $150.26", "EUR · 2 sales €3,499.50", "JPY · 1 sale ¥120,000"],
        ),
        (
            "status=open",
            ["Extra", "Training", "Setup"],
            ["USD · 2 sales $100.01", "EUR · 1 sale €999.00"],
        ),
        (
            "status=invoiced",
            ["Licences", "Support"],
            ["EUR · 1 sale €2,500.50", "USD · 1 sale $50.25"],
        ),
        ("status=cancelled", ["Hardware"], ["JPY · 1 sale ¥120,000"]),
        (
            "status=bogus&after=zzz",
            ["Extra", "Training", "Licences", "Support", "Setup", "Hardware"],
            ["USD · 3 sales $150.26", "EUR · 2 sales €3,499.50", "JPY · 1 sale ¥120,000"],
        ),
    ],
)
def test_the_status_filter_and_its_totals(staff_client, sold, query, expected, expected_totals):
    page = staff_client.get("/sales?" + query)
    assert page.status_code == 200 and "HX-Request" in page.headers["Vary"]
    html = page.get_data(as_text=True)
    assert descriptions(html) == expected
    assert totals(html) == expected_totals
    fragment = staff_client.get("/sales?" + query, htmx_target="sales_results")
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="sales_results"') and "<html" not in html
    assert descriptions(html) == expected


def test_rows_link_to_the_customers_sales_tab(staff_client, sold, ada, bob):
    html = staff_client.get("/sales?status=cancelled").get_data(as_text=True)
    row = html.split('<tr id="sale-', 1)[1].split("</tr>", 1)[0]
    assert f'href="/customers/{ada.id}/sales">Ada Ltd</a>' in row
    assert "Cancelled</span>" in row and "¥120,000" in row
    assert 'aria-current="page">Cancelled</a>' in html


def test_the_totals_count_every_page(db, staff_client, ada):
    for number in range(60):
        add(db, ada, f"Sale {number:02d}", date(2030, 1, 1) + timedelta(days=number), 100)
    html = staff_client.get("/sales").get_data(as_text=True)
    assert len(descriptions(html)) == 50
    assert totals(html) == ["USD · 60 sales $60.00"]
    older = re.search(r'href="(/sales\?[^"]*after=[^"]*)"[^>]*rel="next"', html).group(1)
    second = staff_client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert descriptions(second) == [f"Sale {n:02d}" for n in range(9, -1, -1)]
    assert totals(second) == ["USD · 60 sales $60.00"]


def test_totals_are_integer_minor_units(db, ada):
    add(db, ada, "A", date(2030, 1, 1), 2**40, "USD")
    add(db, ada, "B", date(2030, 1, 2), 2**40 + 1, "USD")
    [total] = work.sales_totals(db.session, "")
    assert total == work.Total("USD", 2**41 + 1, 2)
    assert isinstance(total.amount_minor, int)


def test_no_sales_says_so(staff_client):
    html = staff_client.get("/sales").get_data(as_text=True)
    assert "No sales yet." in html and "sales-totals" not in html
    assert "No sales are invoiced." in staff_client.get("/sales?status=invoiced").get_data(
        as_text=True
    )


def test_sales_needs_a_sign_in(app, admin_client):
    assert app.test_client().get("/sales").status_code == 302
    assert admin_client.get("/sales").status_code == 200
