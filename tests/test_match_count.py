"""The list says how many customers match: exactly up to 10,000, "more than 10,000" past
that, and never by counting the whole table."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import create_engine, insert, text

from webapp.models.customer import Customer
from webapp.services.search import COUNT_CAP

HTMX = {"HX-Request": "true", "HX-Target": "match-count"}
_COUNT = re.compile(r'<p class="match-count" id="match-count"[^>]*>\s*(.*?)\s*</p>', re.S)


def count_line(html: str) -> str:
    found = _COUNT.search(html)
    assert found, "no match count on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip()


@pytest.fixture
def add_customers(db, make_customer):
    """Add ``n`` customers in one statement, copies of a real one (half of them German)."""
    model = make_customer(name="Model Customer", email="model@example.com")
    db.session.commit()
    base = {
        "tax_class_id": model.tax_class_id,
        "legal_entity_id": model.legal_entity_id,
        "currency": "GBP",
    }

    def _add(n: int) -> None:
        rows = [
            {
                **base,
                "name": f"Bulk {number}",
                "email": f"bulk{number}@example.com",
                "country": ("DE", "GB")[number % 2],
                "search_text": f"bulk {number}",
            }
            for number in range(n)
        ]
        db.session.execute(insert(Customer), rows)
        db.session.commit()

    return _add


def test_a_view_on_one_page_states_its_count(staff_client, add_customers):
    add_customers(9)  # and the model: ten
    assert count_line(staff_client.get("/customers").get_data(as_text=True)) == "10 customers"
    html = staff_client.get("/customers?country=DE").get_data(as_text=True)
    assert count_line(html) == "5 customers match"
    html = staff_client.get("/customers?q=model").get_data(as_text=True)
    assert count_line(html) == "1 customer matches"


def test_a_longer_view_is_counted_by_its_own_request(staff_client, add_customers):
    add_customers(119)
    html = staff_client.get("/customers?country=GB").get_data(as_text=True)
    # The page itself doesn't count: htmx asks once it is shown, a link does without JS.
    assert 'hx-get="/customers/count?country=GB"' in html
    assert count_line(html) == "Count matching customers"
    assert 'href="?country=GB&amp;count=1"' in html

    fragment = staff_client.get("/customers/count?country=GB", headers=HTMX)
    assert fragment.status_code == 200
    assert count_line(fragment.get_data(as_text=True)) == "60 customers match"
    assert "<table" not in fragment.get_data(as_text=True)

    without_js = staff_client.get("/customers?country=GB&count=1").get_data(as_text=True)
    assert count_line(without_js) == "60 customers match"
    assert "<table" in without_js

    unfiltered = staff_client.get("/customers/count", headers=HTMX).get_data(as_text=True)
    assert count_line(unfiltered) == "120 customers"


def test_a_later_page_counts_the_whole_view(staff_client, add_customers):
    add_customers(119)
    first = staff_client.get("/customers").get_data(as_text=True)
    next_url = re.search(r'href="\?(after=[^"]+)" hx-get="[^"]*"\s+hx-target="#results"', first)
    assert next_url
    second = staff_client.get("/customers?" + next_url.group(1).replace("&amp;", "&"))
    html = second.get_data(as_text=True)
    assert 'hx-get="/customers/count"' in html  # the view, not the page
    counted = staff_client.get("/customers?" + next_url.group(1) + "&count=1")
    assert count_line(counted.get_data(as_text=True)) == "120 customers"


def test_past_the_cap_the_list_says_more_than(staff_client, add_customers):
    add_customers(COUNT_CAP + 5)
    html = staff_client.get("/customers/count", headers=HTMX).get_data(as_text=True)
    assert count_line(html) == "More than 10,000 customers"
    html = staff_client.get("/customers/count?country=GB", headers=HTMX).get_data(as_text=True)
    assert count_line(html) == "5,003 customers match"


def test_the_count_opened_as_a_page_shows_the_list_with_it(staff_client, add_customers):
    add_customers(60)
    response = staff_client.get("/customers/count?country=DE")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/customers?country=DE&count=1")


def test_the_count_needs_a_login(client, add_customers):
    add_customers(3)
    response = client.get("/customers/count", headers=HTMX)
    assert response.status_code in (302, 401)
    assert "customers match" not in response.get_data(as_text=True)


def test_a_count_that_would_hold_the_worker_gives_up(
    backend, database_url, staff_client, add_customers
):
    """PostgreSQL: the count runs under a statement timeout. Another transaction holding
    the table locked makes the count wait; it gives up and says so, and the list stays."""
    if backend != "postgresql":
        pytest.skip("the statement timeout is PostgreSQL's")
    add_customers(60)
    engine = create_engine(database_url)
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with engine.begin() as connection:
            connection.execute(text("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        html = staff_client.get("/customers/count", headers=HTMX).get_data(as_text=True)
    finally:
        release.set()
        holder.join()
        engine.dispose()
    assert count_line(html) == "Too many customers match to count quickly"
