"""Keyset paging: every sort, ties, rows added or removed between two pages, every long tab.

The truth each walk is checked against is the database's own ORDER BY of the whole
view, so collation and ties are whatever the database says they are.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from tests.pages import follow, link
from webapp.models.customer import Customer, CustomerStatus
from webapp.models.email import Email
from webapp.paging import PER_PAGE, decode_cursor, encode_cursor
from webapp.services import audit, deletion, history, notes
from webapp.services.customers import create_customer
from webapp.services.search import SORT_COLUMNS, CustomerQuery, list_keyset

ROWS = 2 * PER_PAGE + 23  # three pages, the last one short
NAMES = ("Adams", "Baker", "Clark")  # many customers share each name
BALANCES = (-2500, 0, 0, 1200)  # many share each balance
START = datetime(2025, 3, 1, 9, 0, 0)
_ID = re.compile(r'href="/customers/(\d+)">C-')


def ids_on(html: str) -> list[int]:
    """Customer ids in list order (each row links its ID and name: keep the first)."""
    seen: list[int] = []
    for found in _ID.findall(html):
        if not seen or seen[-1] != int(found):
            seen.append(int(found))
    return seen


def walk(client, first_url: str, rel: str = "next") -> list[list[int]]:
    """Every page's ids from ``first_url`` on, following ``rel`` links to the end."""
    html = client.get(first_url).get_data(as_text=True)
    pages = [ids_on(html)]
    while link(html, rel, "/customers"):
        html = follow(client, html, rel, "/customers")
        pages.append(ids_on(html))
        assert len(pages) < 20, "paging does not end"
    return pages


@pytest.fixture
def many_customers(db):
    """ROWS customers with repeating names, balances, companies and creation times
    (ten created in the same microsecond), a few archived (hidden by default)."""
    ids = []
    for number in range(ROWS):
        customer = create_customer(
            db.session,
            {
                "name": NAMES[number % 3],
                "company": ("", "Acme")[number % 2],
                "email": f"c{number:04d}@example.com",
                "country": ("DE", "GB", "FR")[number % 3],
                "currency": ("EUR", "GBP")[number % 2],
            },
        )
        ids.append(customer.id)
    for number, customer_id in enumerate(ids):
        db.session.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(
                balance_minor=BALANCES[number % 4],
                created_at=START + timedelta(minutes=number // 10),
                status=CustomerStatus.SUSPENDED if number % 7 == 0 else CustomerStatus.ACTIVE,
            )
        )
    db.session.execute(
        update(Customer).where(Customer.id.in_(ids[5:8])).values(status=CustomerStatus.ARCHIVED)
    )
    db.session.commit()
    return ids


def expected_order(db, query: CustomerQuery) -> list[int]:
    """The whole view in the database's own order (no paging)."""
    from webapp.services.search import narrow_to_view

    keyset = list_keyset(query)
    statement = narrow_to_view(query, select(Customer.id)).order_by(*keyset.order())
    return list(db.session.scalars(statement))


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("sort", sorted(SORT_COLUMNS))
def test_next_links_walk_every_row_once_under_every_sort(
    staff_client, db, many_customers, sort, direction
):
    query = CustomerQuery(sort=sort, direction=direction)
    expected = expected_order(db, query)
    pages = walk(staff_client, f"/customers?{query.url_query()}")
    assert [len(page) for page in pages] == [PER_PAGE, PER_PAGE, len(expected) - 2 * PER_PAGE]
    assert [row for page in pages for row in page] == expected
    # And back: Previous from the last page shows the same pages in reverse.
    html = staff_client.get(f"/customers?{query.url_query()}").get_data(as_text=True)
    while link(html, "next", "/customers"):
        html = follow(staff_client, html, "next", "/customers")
    backwards = [ids_on(html)]
    while link(html, "prev", "/customers"):
        html = follow(staff_client, html, "prev", "/customers")
        backwards.append(ids_on(html))
    assert backwards == pages[::-1]
    assert 'rel="prev"' not in html and 'rel="first"' not in html  # back at the start


def test_filters_and_search_are_kept_from_page_to_page(staff_client, db, many_customers):
    query = CustomerQuery(q="acme", currency="GBP", sort="balance", direction="desc", status="all")
    expected = expected_order(db, query)
    assert PER_PAGE < len(expected) < 2 * PER_PAGE
    pages = walk(staff_client, f"/customers?{query.url_query()}")
    assert [row for page in pages for row in page] == expected
    html = staff_client.get(f"/customers?{query.url_query()}").get_data(as_text=True)
    after = link(html, "next", "/customers")
    assert "q=acme" in after and "currency=GBP" in after and "sort=balance" in after


def test_a_reloaded_or_bookmarked_page_shows_the_same_rows(staff_client, many_customers):
    first = staff_client.get("/customers?sort=name").get_data(as_text=True)
    second_url = link(first, "next", "/customers")
    shown = ids_on(staff_client.get(second_url).get_data(as_text=True))
    assert len(shown) == PER_PAGE
    assert ids_on(staff_client.get(second_url).get_data(as_text=True)) == shown
    # htmx swaps just the results for the same URL, with the same rows.
    swapped = staff_client.get(second_url, htmx_target="results").get_data(as_text=True)
    assert "<html" not in swapped and ids_on(swapped) == shown


def test_rows_added_or_removed_between_two_pages_are_never_skipped_or_repeated(
    staff_client, db, many_customers
):
    first = staff_client.get("/customers").get_data(as_text=True)
    page_one = ids_on(first)
    before_change = expected_order(db, CustomerQuery())
    # Meanwhile: a new customer (the newest, so above page 1), one on page 1 archived,
    # one that would open page 2 deleted.
    newcomer = create_customer(
        db.session,
        {"name": "Newer", "email": "new@example.com", "country": "DE", "currency": "EUR"},
    )
    db.session.execute(
        update(Customer).where(Customer.id == page_one[3]).values(status=CustomerStatus.ARCHIVED)
    )
    gone = before_change[PER_PAGE]
    deletion.delete_customer(db.session, gone, db.session.get(Customer, gone).customer_id)
    db.session.commit()

    second = ids_on(follow(staff_client, first, "next", "/customers"))
    # Page 2 starts right after the last row page 1 showed: nothing skipped, nothing twice.
    assert second == [row for row in before_change[PER_PAGE + 1 : 2 * PER_PAGE + 1]]
    assert newcomer.id not in second and not set(second) & set(page_one)


def test_a_page_back_that_comes_up_short_is_the_first_page(staff_client, db, many_customers):
    first = staff_client.get("/customers").get_data(as_text=True)
    second = follow(staff_client, first, "next", "/customers")
    # Most of page 1 leaves the view; Previous then shows the first page, full.
    db.session.execute(
        update(Customer)
        .where(Customer.id.in_(ids_on(first)[:40]))
        .values(status=CustomerStatus.ARCHIVED)
    )
    db.session.commit()
    back = follow(staff_client, second, "prev", "/customers")
    assert ids_on(back) == expected_order(db, CustomerQuery())[:PER_PAGE]
    assert 'rel="prev"' not in back


@pytest.mark.parametrize(
    "bad",
    [
        "after=not-base64!",
        "before=%FF%FE",
        "after=" + encode_cursor(["a string where a date belongs", 1]),
        "after=" + encode_cursor([1, 2, 3]),
        "before=" + encode_cursor([True, False]),
        "after=" + "A" * 5000,
        "page=99999999999999999999",
    ],
)
def test_an_unusable_cursor_shows_the_first_page(staff_client, many_customers, bad):
    response = staff_client.get(f"/customers?{bad}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert len(ids_on(html)) == PER_PAGE and 'rel="prev"' not in html


def test_cursors_round_trip_every_key_type():
    key = (datetime(2025, 3, 1, 9, 0, 0, 123456), date(2025, 3, 1), -2500, "Łódź 日本 Müller", 42)
    cursor = encode_cursor(key)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)  # safe in a URL as it is
    assert decode_cursor(cursor, [datetime, date, int, str, int]) == key
    assert decode_cursor(cursor, [datetime, date, int, str]) is None
    assert decode_cursor(encode_cursor(["x\x00y"]), [str]) is None
    assert decode_cursor(encode_cursor([2**70]), [int]) is None


# -- the long tabs ------------------------------------------------------------------------


def tab_walk(client, url: str) -> tuple[list[str], list[str]]:
    """Every page of a tab, following Older links, then back with Newer: the rows' text."""
    html = client.get(url).get_data(as_text=True)
    forward = [html]
    while link(html, "next"):
        html = follow(client, html, "next")
        forward.append(html)
    backward = [html]
    while link(html, "prev"):
        html = follow(client, html, "prev")
        backward.append(html)
    return forward, backward


def _marks(pages: list[str], pattern: str) -> list[list[str]]:
    return [re.findall(pattern, html) for html in pages]


def test_history_pages_with_lines_added_between_them(staff_client, db, customer):
    for number in range(1, ROWS):
        history.record(db.session, customer.id, "edited", f"Change {number:03d}")
    db.session.commit()
    url = f"/customers/{customer.id}/history"
    forward, backward = tab_walk(staff_client, url)
    lines = _marks(forward, r"Change (\d{3})")
    assert [len(page) for page in lines] == [PER_PAGE, PER_PAGE, ROWS - 1 - 2 * PER_PAGE]
    assert [n for page in lines for n in page] == [f"{n:03d}" for n in range(ROWS - 1, 0, -1)]
    assert _marks(backward, r"Change (\d{3})") == lines[::-1]
    # A line recorded after page 1 was shown does not push a line from page 1 onto page 2.
    first = staff_client.get(url).get_data(as_text=True)
    history.record(db.session, customer.id, "edited", "Change 999")
    db.session.commit()
    second = follow(staff_client, first, "next")
    assert re.findall(r"Change (\d{3})", second) == lines[1]


def test_billing_entries_with_equal_times_page_by_id(staff_client, db, euro_customer):
    from webapp.models.billing import EntryKind, LedgerEntry
    from webapp.services import ledger

    for number in range(ROWS):
        ledger.post_entry(
            db.session,
            euro_customer.id,
            kind=EntryKind.CHARGE,
            amount_minor=-(number + 1),
            currency="EUR",
            description=f"Entry {number:03d}",
            actor_id=None,
            key=None,
        )
    # Posted in one instant, as an import would: the id orders them.
    db.session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.customer_id == euro_customer.id)
        .values(created_at=START)
    )
    db.session.commit()
    forward, backward = tab_walk(staff_client, f"/customers/{euro_customer.id}/billing")
    entries = _marks(forward, r"Entry (\d{3})")
    assert [n for page in entries for n in page] == [f"{n:03d}" for n in range(ROWS - 1, -1, -1)]
    assert _marks(backward, r"Entry (\d{3})") == entries[::-1]


def test_invoices_credit_notes_and_sales_on_the_same_day_page_by_id(
    staff_client, db, euro_customer
):
    from webapp.services.billing import capture_one_time_charge

    for number in range(PER_PAGE + 3):
        capture_one_time_charge(
            db.session,
            euro_customer.id,
            amount_minor=100 + number,
            currency="EUR",
            description=f"Service {number:03d}",
            actor_id=None,
            key=None,
        )
    db.session.execute(text("UPDATE invoices SET issue_date = :day"), {"day": date(2025, 3, 1)})
    db.session.commit()
    forward, backward = tab_walk(staff_client, f"/customers/{euro_customer.id}/invoices")
    numbers = _marks(forward, r">(INV-\d{6})<")
    flat = [n for page in numbers for n in page]
    assert len(flat) == len(set(flat)) == PER_PAGE + 3
    assert flat == sorted(flat, reverse=True)
    assert _marks(backward, r">(INV-\d{6})<") == numbers[::-1]


def test_emails_notes_and_audit_page_newest_first(staff_client, admin_client, db, customer):
    for number in range(PER_PAGE + 4):
        db.session.add(
            Email(
                customer_id=customer.id,
                kind="invoice",
                name=f"Letter {number:03d}",
                recipient="ada@example.com",
                subject="Your invoice",
                html_body="<p>Hello</p>",
                text_body="Hello",
                status="sent",
            )
        )
        notes.add_note(db.session, customer.id, None, f"Memo {number:03d}")
        audit.record(db.session, "customer.deleted", f"C-{number:06d}", f"Gone {number:03d}", None)
    db.session.commit()
    expected = [f"{n:03d}" for n in range(PER_PAGE + 3, -1, -1)]
    for client, url, pattern in (
        (staff_client, f"/customers/{customer.id}/emails", r"Letter (\d{3})"),
        (staff_client, f"/customers/{customer.id}/notes", r"Memo (\d{3})"),
        (admin_client, "/audit?kind=customer.deleted", r"Gone (\d{3})"),
    ):
        forward, backward = tab_walk(client, url)
        found = _marks(forward, pattern)
        assert [n for page in found for n in page] == expected, url
        assert _marks(backward, pattern) == found[::-1], url


def test_tab_links_are_htmx_swaps_that_push_the_url(staff_client, db, customer):
    for number in range(PER_PAGE + 1):
        history.record(db.session, customer.id, "edited", f"Change {number:03d}")
    db.session.commit()
    html = staff_client.get(f"/customers/{customer.id}/history", htmx_target="customer_tab")
    html = html.get_data(as_text=True)
    older = link(html, "next")
    assert f'hx-get="{older}"' in html and 'hx-target="#customer_tab"' in html
    assert 'hx-push-url="true"' in html


@pytest.fixture
def customer(make_customer):
    return make_customer()
