"""Receivables aging (/receivables): open invoices by days past due, per currency and
customer; the figures equal what the ledger says the open invoices owe."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, timedelta

import pytest

from webapp.services import billing, drafts, receivables

TODAY = date(2026, 6, 15)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    """The report's day is TODAY, whatever the machine's clock says."""
    monkeypatch.setattr(receivables, "today", lambda: TODAY)


@pytest.fixture
def customer(make_customer):
    """Make a customer billed at 0 % tax, due on the day of issue (Net 0)."""
    count = iter(range(1, 1000))

    def _make(name: str, currency: str = "EUR", **fields):
        n = next(count)
        return make_customer(
            name=name,
            email=f"c{n}-{uuid.uuid4().hex[:6]}@example.com",
            country="DE",
            currency=currency,
            tax_rate_bp=0,
            payment_terms_days=0,
            **fields,
        )

    return _make


def invoice(db, customer, amount_minor: int, days_past_due: int, currency: str | None = None):
    """Issue an invoice of ``amount_minor`` due ``days_past_due`` days before TODAY (Net 0:
    issued on its due date)."""
    result = billing.capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=amount_minor,
        currency=currency or customer.currency,
        description="Services",
        actor_id=None,
        key=uuid.uuid4().hex,
        today=TODAY - timedelta(days=days_past_due),
    )
    return result.invoice


def report(db, **args) -> receivables.AgingReport:
    return receivables.aging_report(db.session, receivables.AgingQuery(**args), TODAY)


def amounts(row) -> list[int]:
    return [row.amount(key) for key in receivables.AMOUNT_KEYS]


# -- buckets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-10, "current"),  # not due yet
        (0, "current"),  # due today
        (1, "d1_30"),
        (30, "d1_30"),
        (31, "d31_60"),
        (60, "d31_60"),
        (61, "d61_90"),
        (90, "d61_90"),
        (91, "d90_plus"),
        (400, "d90_plus"),
    ],
)
def test_an_invoice_falls_in_its_bucket_at_the_boundaries(db, customer, days, bucket):
    owner = customer("Boundary GmbH")
    invoice(db, owner, 1234, days)
    found = report(db)
    (row,) = found.rows
    expected = {key: 0 for key in receivables.AMOUNT_KEYS} | {bucket: 1234, "total": 1234}
    assert {key: row.amount(key) for key in receivables.AMOUNT_KEYS} == expected
    assert amounts(found.totals) == amounts(row)


def test_paid_void_refunded_and_draft_invoices_are_not_owed(db, customer):
    owner = customer("Mixed Ltd")
    invoice(db, owner, 100, 5)  # stays open
    paid = invoice(db, owner, 200, 5)
    billing.change_invoice_status(db.session, paid.id, "pay", None)
    void = invoice(db, owner, 400, 40)
    billing.change_invoice_status(db.session, void.id, "void", None)
    refunded = invoice(db, owner, 800, 70)
    billing.change_invoice_status(db.session, refunded.id, "pay", None)
    billing.change_invoice_status(db.session, refunded.id, "refund", None)
    drafts.start_draft(
        db.session,
        owner.id,
        currency="EUR",
        lines=[drafts.DraftLine("Later", 1, 1600)],
        actor_id=None,
        key=None,
        due_date=TODAY - timedelta(days=100),
        today=TODAY - timedelta(days=120),
    )
    found = report(db)
    assert [amounts(row) for row in found.rows] == [[0, 100, 0, 0, 0, 100]]
    assert found.totals.total == 100 and found.totals.customers == 1


def test_nothing_open_says_so(staff_client, db, customer):
    paid = invoice(db, customer("Paid Up"), 500, 3)
    billing.change_invoice_status(db.session, paid.id, "pay", None)
    html = staff_client.get("/receivables/").get_data(as_text=True)
    assert "Nothing is owed" in html and "Paid Up" not in html


# -- currencies and the ledger ---------------------------------------------------------


def test_currencies_are_kept_apart(db, customer):
    both = customer("Two Currencies", "EUR")
    invoice(db, both, 1000, 10)
    invoice(db, both, 7000, 10, currency="USD")
    invoice(db, customer("Dollar Inc", "USD"), 300, 45)
    assert receivables.open_currencies(db.session, TODAY) == ["EUR", "USD"]
    euros = report(db, currency="EUR")
    assert [(row.name, row.total) for row in euros.rows] == [("Two Currencies", 1000)]
    assert euros.totals.total == 1000
    dollars = report(db, currency="USD")
    assert [(row.name, amounts(row)) for row in dollars.rows] == [
        ("Two Currencies", [0, 7000, 0, 0, 0, 7000]),
        ("Dollar Inc", [0, 0, 300, 0, 0, 300]),
    ]
    assert amounts(dollars.totals) == [0, 7000, 300, 0, 0, 7300]
    by_currency = {
        row.currency: row.total for row in receivables.currency_totals(db.session, TODAY)
    }
    assert by_currency == {"EUR": 1000, "USD": 7300}


def test_totals_equal_what_the_ledger_says_open_invoices_owe(db, customer):
    codes = ["EUR", "EUR", "EUR", "USD", "USD", "GBP"]
    people = [customer(f"Customer {n}", code) for n, code in enumerate(codes)]
    written = []
    for n, person in enumerate(people):
        for k, days in enumerate([-3, 0, 12, 33, 64, 95, 200][: 3 + n]):
            written.append(invoice(db, person, 1000 + 37 * n + 11 * k, days))
    billing.change_invoice_status(db.session, written[0].id, "pay", None)
    billing.change_invoice_status(db.session, written[5].id, "void", None)
    ledger = receivables.ledger_outstanding(db.session)
    assert ledger  # something is owed
    for currency in ("EUR", "USD", "GBP"):
        found = report(db, currency=currency)
        per_customer = {row.customer_id: row.total for row in found.rows}
        expected = {cid: owed for (cid, code), owed in ledger.items() if code == currency}
        assert per_customer == expected
        assert found.totals.total == sum(expected.values())
        # Each row's buckets add up to its total, and the totals row to the columns.
        for row in found.rows:
            assert sum(row.amount(key) for key in receivables.BUCKET_KEYS) == row.total
        for key in receivables.AMOUNT_KEYS:
            assert found.totals.amount(key) == sum(row.amount(key) for row in found.rows)


# -- sorting and paging ---------------------------------------------------------------


@pytest.fixture
def three(db, customer):
    """Anna owes 300 now, Bert 100 at 45 days, Cleo 200 at 100 days (all EUR)."""
    anna, bert, cleo = customer("Anna"), customer("Bert"), customer("Cleo")
    invoice(db, anna, 300, 0)
    invoice(db, bert, 100, 45)
    invoice(db, cleo, 200, 100)
    return anna, bert, cleo


@pytest.mark.parametrize(
    ("args", "names"),
    [
        ({}, ["Anna", "Cleo", "Bert"]),  # total, largest first
        ({"sort": "total", "direction": "asc"}, ["Bert", "Cleo", "Anna"]),
        ({"sort": "name", "direction": "asc"}, ["Anna", "Bert", "Cleo"]),
        ({"sort": "name", "direction": "desc"}, ["Cleo", "Bert", "Anna"]),
        ({"sort": "d90_plus"}, ["Cleo", "Bert", "Anna"]),  # ties: newest customer first
        ({"sort": "d31_60"}, ["Bert", "Cleo", "Anna"]),
        ({"sort": "current", "direction": "asc"}, ["Bert", "Cleo", "Anna"]),
    ],
)
def test_sort_orders(db, three, args, names):
    assert [row.name for row in report(db, **args).rows] == names


def test_sort_headings_are_links_in_the_query_string(staff_client, three):
    html = staff_client.get("/receivables/?sort=name").get_data(as_text=True)
    rows = re.findall(r'/invoices\?status=open">([^<]+)</a>', html)
    assert rows == ["Anna", "Bert", "Cleo"]
    # The links carry the view as shown (the currency included), so they work without JS.
    assert 'href="/receivables/?currency=EUR&amp;sort=name&amp;dir=desc"' in html  # flipped
    assert 'href="/receivables/?currency=EUR&amp;sort=d90_plus"' in html  # its default dir
    assert 'aria-sort="ascending"' in html


def test_paging(db, customer, staff_client, monkeypatch):
    monkeypatch.setattr(receivables, "PER_PAGE", 2)
    for n in range(5):
        invoice(db, customer(f"Owner {n}"), 100 * (n + 1), 10)
    first = report(db)
    assert [row.total for row in first.rows] == [500, 400] and first.has_next
    assert not first.has_prev
    third = report(db, page=3)
    assert [row.total for row in third.rows] == [100] and not third.has_next
    assert third.totals.total == 1500  # the totals are of every customer, on every page
    html = staff_client.get("/receivables/?page=2").get_data(as_text=True)
    assert 'href="/receivables/?currency=EUR&amp;page=3" hx-get' in html
    assert 'href="/receivables/?currency=EUR" hx-get' in html  # Previous: page 1
    beyond = staff_client.get("/receivables/?page=9")
    assert beyond.status_code == 200
    assert "No customers on this page" in beyond.get_data(as_text=True)
    assert "€15.00" in beyond.get_data(as_text=True)  # the totals row still shows


# -- the page ---------------------------------------------------------------------------


def test_page_shows_totals_rows_and_links_to_open_invoices(staff_client, db, customer):
    owner = customer("Clicker & Co")
    invoice(db, owner, 12345, 35)
    html = staff_client.get("/receivables/").get_data(as_text=True)
    assert "<h1>Receivables</h1>" in html and "as of 2026-06-15" in html
    assert f'href="/customers/{owner.id}/invoices?status=open">Clicker &amp; Co</a>' in html
    # The row's bucket and total, the totals row's, and each once more for phones.
    assert html.count("€123.45") == 6
    tab = staff_client.get(f"/customers/{owner.id}/invoices?status=open").get_data(as_text=True)
    assert "€123.45" in tab and 'aria-current="page">Open<' in tab


def test_htmx_swaps_the_report_block(staff_client, db, customer):
    invoice(db, customer("Fragmented"), 500, 2)
    response = staff_client.get("/receivables/?sort=name", htmx_target="aging")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="aging">') and "Fragmented" in html
    assert "HX-Request" in response.headers["Vary"]


def test_currency_choice(staff_client, db, customer):
    invoice(db, customer("Euro One", "EUR"), 100, 1)
    invoice(db, customer("Pound One", "GBP"), 200, 1)
    html = staff_client.get("/receivables/").get_data(as_text=True)
    assert "Euro One" in html and "Pound One" not in html  # the first currency, A–Z
    assert '<option value="GBP" >GBP</option>' in html or 'value="GBP"' in html
    html = staff_client.get("/receivables/?currency=gbp").get_data(as_text=True)
    assert "Pound One" in html and "Euro One" not in html


@pytest.mark.parametrize(
    "query",
    [
        "sort=drop+table",
        "sort=total&dir=sideways",
        "currency=XXX",
        "currency=%00%01",
        "currency=EURO",
        "page=-3",
        "page=abc",
        "page=99999999999999999999",
    ],
)
def test_bad_arguments_fall_back_to_the_defaults(staff_client, db, customer, query):
    invoice(db, customer("Robust"), 100, 1)
    response = staff_client.get(f"/receivables/?{query}")
    if "%00" in query:  # the app refuses a NUL byte in any argument, before the route
        assert response.status_code == 422
        return
    assert response.status_code == 200
    assert "Robust" in response.get_data(as_text=True) or "page=" in query
    download = staff_client.get(f"/receivables/aging.csv?{query}")
    assert download.status_code == 200


def test_sign_in_required(client, db, customer):
    invoice(db, customer("Secret"), 100, 1)
    for url in ("/receivables/", "/receivables/aging.csv"):
        response = client.get(url)
        assert response.status_code in (302, 303)
        assert "/sign-in" in response.headers["Location"]


def test_nav_has_a_receivables_link(staff_client):
    html = staff_client.get("/customers").get_data(as_text=True)
    assert '<a href="/receivables/">Receivables</a>' in html


# -- CSV -------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_csv_has_every_customer_of_the_currency_in_the_page_order(
    staff_client, db, customer, monkeypatch
):
    monkeypatch.setattr(receivables, "PER_PAGE", 1)  # the page shows one; the CSV all
    invoice(db, customer('=HYPERLINK("http://x")'), 1050, 95)
    invoice(db, customer("Plain Name"), 99, 0)
    invoice(db, customer("Yen Person", "JPY"), 5000, 20)
    response = staff_client.get("/receivables/aging.csv?currency=EUR&sort=name")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "receivables-aging-EUR-2026-06-15.csv" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == [
        "Currency",
        "Customer ID",
        "Name",
        "Current",
        "1–30",
        "31–60",
        "61–90",
        "90+",
        "Total",
    ]
    assert [row[2:] for row in rows[1:]] == [
        ['\'=HYPERLINK("http://x")', "0.00", "0.00", "0.00", "0.00", "10.50", "10.50"],
        ["Plain Name", "0.99", "0.00", "0.00", "0.00", "0.00", "0.99"],
    ]
    assert all(row[0] == "EUR" and row[1].startswith("C-") for row in rows[1:])
    every = read_csv(staff_client.get("/receivables/aging.csv?currency=all&sort=name"))
    assert [(row[0], row[2], row[-1]) for row in every[1:]] == [
        ("EUR", '\'=HYPERLINK("http://x")', "10.50"),
        ("EUR", "Plain Name", "0.99"),
        ("JPY", "Yen Person", "5000"),
    ]


# -- the kept rows: invoice changes, the day moving on, deleting a customer ------------


def kept(db) -> tuple[list, list]:
    """The receivables rows and totals rows as stored."""
    from sqlalchemy import select

    from webapp.models.billing import Receivable, ReceivablesTotal

    rows = db.session.execute(select(Receivable).order_by("customer_id", "currency"))
    totals = db.session.execute(select(ReceivablesTotal).order_by("currency", "shard"))

    def plain(objects, keys):
        return [tuple(getattr(o, key) for key in keys) for (o,) in objects]

    amounts = receivables.AMOUNT_KEYS
    return (
        plain(rows, ["customer_id", "currency", *amounts]),
        [row for row in plain(totals, ["currency", "shard", *amounts, "customers"]) if row[-1]],
    )


def recounted(db, day: date) -> tuple[list, list]:
    """What the rows would be if every one were counted again from the invoices on ``day``."""
    receivables.rebuild(db.session, day)
    return kept(db)


def test_invoice_changes_after_a_report_are_counted_in_their_transaction(db, customer):
    anna, bert = customer("Anna"), customer("Bert", "USD")
    first = invoice(db, anna, 100, 10)
    assert report(db).totals.total == 100  # counts everything once
    second = invoice(db, anna, 250, 40)
    invoice(db, bert, 999, 95)
    billing.change_invoice_status(db.session, first.id, "pay", None)
    assert [amounts(row) for row in report(db).rows] == [[0, 0, 250, 0, 0, 250]]
    assert report(db, currency="USD").totals.d90_plus == 999
    billing.change_invoice_status(db.session, second.id, "void", None)
    assert receivables.open_currencies(db.session, TODAY) == ["USD"]
    stored = kept(db)
    assert stored == recounted(db, TODAY)
    ledger = receivables.ledger_outstanding(db.session)
    assert {(row[0], row[1]): row[-1] for row in stored[0]} == ledger


def test_the_day_moving_on_moves_invoices_to_their_next_bucket(db, customer, monkeypatch):
    people = [customer(f"Mover {n}", code) for n, code in enumerate(["EUR", "EUR", "GBP"])]
    for n, person in enumerate(people):
        for days in (-5, 0, 1, 29, 30, 31, 59, 60, 61, 89, 90, 91)[n::2]:
            invoice(db, person, 1000 + days, days)
    day = TODAY
    report(db)  # counted as of TODAY
    for step in (1, 1, 1, 5, 28, 30, 31, 2):
        day += timedelta(days=step)
        monkeypatch.setattr(receivables, "today", lambda day=day: day)
        found = receivables.aging_report(db.session, receivables.AgingQuery(), day)
        assert found.as_of == day
        assert kept(db) == recounted(db, day), f"moved on {step} day(s) to {day}"
    # Going back (a clock put right) counts everything again too.
    receivables.bring_to(db.session, TODAY)
    assert kept(db) == recounted(db, TODAY)


def test_deleting_a_customer_takes_them_out_of_the_totals(db, customer):
    from webapp.services import deletion

    stays, goes = customer("Stays"), customer("Goes")
    invoice(db, stays, 100, 3)
    invoice(db, goes, 700, 3)
    assert report(db).totals.total == 800
    deletion.delete_customer(db.session, goes.id, goes.customer_id)
    found = report(db)
    assert [row.name for row in found.rows] == ["Stays"]
    assert (found.totals.total, found.totals.customers) == (100, 1)


def test_sort_by_name_follows_a_rename_and_clear_personal_data(db, customer):
    from webapp.services import personal_data
    from webapp.services.customers import update_customer

    anna, bert = customer("Anna"), customer("Bert")
    invoice(db, anna, 100, 1)
    invoice(db, bert, 100, 1)
    assert [row.name for row in report(db, sort="name", direction="asc").rows] == ["Anna", "Bert"]
    update_customer(db.session, anna, {"name": "Zora"})
    assert [row.name for row in report(db, sort="name", direction="asc").rows] == ["Bert", "Zora"]
    personal_data.clear_personal_data(db.session, bert.id)
    names = kept_names(db)
    shown = report(db, sort="name", direction="asc").rows
    assert "Bert" not in names and names == {row.name for row in shown}


def kept_names(db) -> set[str]:
    from sqlalchemy import select

    from webapp.models.billing import Receivable

    return set(db.session.scalars(select(Receivable.name)))
