"""The customer area over HTTP: each page shows the signed-in customer's own data (the
balance and what is owed, the billing history, invoices and credit notes with their PDFs,
the statement, contacts' email preferences); every route, tried with another customer's
ids, answers 404 and shows nothing of them; every route without a customer session sends
to Sign in; every answer carries the panel's security headers."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.conftest import CustomerClient, csrf_token_from, customer_client_for, sign_in
from tests.crawl import error_beside
from tests.customer_area_data import AreaData, fill
from tests.test_security_headers import assert_panel_headers
from webapp.models.contacts import Contact
from webapp.models.history import CustomerEvent

PASSWORD = "a long customer password 42"
NEIGHBOUR_WORDS = ("Nora", "nora@")


@pytest.fixture
def owner(make_customer, db):
    return make_customer(name="Olive Owner", email="olive@example.com", currency="EUR")


@pytest.fixture
def neighbour(make_customer, db):
    return make_customer(name="Nora Neighbour", email="nora@example.com", currency="EUR")


@pytest.fixture
def mine(db, owner) -> AreaData:
    return fill(db.session, owner, "Olive")


@pytest.fixture
def theirs(db, neighbour) -> AreaData:
    return fill(db.session, neighbour, "Nora")


@pytest.fixture
def customer(app, customer_account, owner, mine, theirs) -> CustomerClient:
    """A test client with Olive Owner's customer session (signed in through the form)."""
    return customer_client_for(app, customer_account(owner.id, password=PASSWORD), PASSWORD)


def text_of(response) -> str:
    """The body as text (a PDF's bytes too, for looking for a name in it)."""
    return response.get_data().decode("utf-8", errors="replace")


def shows_nothing_of_the_neighbour(html: str) -> bool:
    return not any(word in html for word in NEIGHBOUR_WORDS)


# -- the pages ---------------------------------------------------------------------------


def test_home_shows_what_is_owed_and_the_history_newest_first(customer, owner):
    response = customer.get("/account/")
    html = text_of(response)
    assert response.status_code == 200
    assert "Olive Owner" in html
    owed = re.search(r"You owe</span> <strong class=\"money owes\">([^<]+)</strong>", html)
    assert owed is not None
    assert "USD · In credit $25.00" in html
    history = html[html.index("Billing history") :]
    assert history.index("Olive prepayment") < history.index("Olive consulting")
    assert shows_nothing_of_the_neighbour(html)
    assert_panel_headers(response)


def test_the_history_alone_for_htmx(customer):
    response = customer.get("/account/", headers={"HX-Request": "true", "HX-Target": "history"})
    html = text_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="history">')
    assert "Olive consulting" in html and "<html" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_invoices_list_leaves_out_drafts(customer, mine):
    html = text_of(customer.get("/account/invoices"))
    assert f"/account/invoices/{mine.invoice_id}" in html
    assert f"/account/invoices/{mine.paid_invoice_id}" in html
    assert f"/account/invoices/{mine.draft_id}" not in html
    assert "Paid" in html and "Open" in html
    assert shows_nothing_of_the_neighbour(html)


def test_an_invoice_page_and_its_pdf(customer, mine):
    response = customer.get(f"/account/invoices/{mine.invoice_id}")
    html = text_of(response)
    assert response.status_code == 200
    assert "Olive consulting" in html and "Bill to" in html
    assert f'href="/account/invoices/{mine.invoice_id}.pdf"' in html
    pdf = customer.get(f"/account/invoices/{mine.invoice_id}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert "Invoice-" in pdf.headers["Content-Disposition"]
    assert pdf.headers["Cache-Control"] == "private, no-store"


def test_a_draft_is_not_an_invoice_to_the_customer(customer, mine):
    assert customer.get(f"/account/invoices/{mine.draft_id}").status_code == 404
    assert customer.get(f"/account/invoices/{mine.draft_id}.pdf").status_code == 404


def test_credit_notes_list_page_and_pdf(customer, mine):
    html = text_of(customer.get("/account/credit-notes"))
    assert f"/account/credit-notes/{mine.credit_note_id}" in html
    page = text_of(customer.get(f"/account/credit-notes/{mine.credit_note_id}"))
    assert "Credited to" in page and "Olive goodwill credit" in page
    pdf = customer.get(f"/account/credit-notes/{mine.credit_note_id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_statement_defaults_to_the_last_90_days(customer, mine):
    response = customer.get("/account/statement")
    html = text_of(response)
    today = date.today()
    assert response.status_code == 200
    assert 'name="from"' in html and 'name="to"' in html
    assert f'value="{(today - timedelta(days=89)).isoformat()}"' in html
    assert f'value="{today.isoformat()}"' in html
    assert "Statement of account" in html and "Entries in EUR" in html
    # Its documents link into the customer area, not the panel.
    assert f'href="/account/invoices/{mine.invoice_id}"' in html
    assert 'href="/invoices/' not in html
    assert shows_nothing_of_the_neighbour(html)


def test_a_bad_statement_period_is_422_beside_the_field(customer):
    response = customer.get("/account/statement?from=2026-03-10&to=2026-03-01")
    assert response.status_code == 422
    assert error_beside(text_of(response), "from") == (
        "The start date must be on or before the end date."
    )
    assert customer.get("/account/statement.pdf?from=nope&to=2026-03-01").status_code == 422


def test_statement_pdf(customer):
    today = date.today()
    start = (today - timedelta(days=29)).isoformat()
    response = customer.get(f"/account/statement.pdf?from={start}&to={today.isoformat()}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert f"{start}-to-{today.isoformat()}.pdf" in response.headers["Content-Disposition"]


# -- contacts' email preferences -----------------------------------------------------------


def test_contacts_show_each_contacts_preferences(customer, mine):
    html = text_of(customer.get("/account/contacts"))
    assert "Olive Primary" in html and "Olive Second" in html
    ticked = rf'<input[^>]* checked [^>]*id="contact-{mine.contact_id}-wants_billing"'
    assert re.search(ticked, html)
    unticked = rf'<input[^>]* checked [^>]*id="contact-{mine.contact_id}-wants_legal"'
    assert not re.search(unticked, html)
    assert shows_nothing_of_the_neighbour(html)


def preferences_post(client, contact_id: int, token: str | None = None, **boxes):
    page = text_of(client.get("/account/contacts"))
    prefix = f"contact-{contact_id}-"
    data = {f"{prefix}{name}": value for name, value in boxes.items()}
    data["csrf_token"] = token if token is not None else csrf_token_from(page)
    return client.post(f"/account/contacts/{contact_id}", data=data)


def test_switching_preferences_saves_and_writes_history(customer, db, owner, mine):
    response = preferences_post(customer, mine.contact_id, wants_updates="y", wants_legal="y")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/account/contacts"
    db.session.expire_all()
    contact = db.session.get(Contact, mine.contact_id)
    assert (contact.wants_billing, contact.wants_updates, contact.wants_legal) == (
        False,
        True,
        True,
    )
    summaries = db.session.scalars(
        select(CustomerEvent.summary).where(CustomerEvent.customer_id == owner.id)
    ).all()
    assert summaries.count("Email preferences changed by the customer") == 1
    page = text_of(customer.get("/account/contacts"))
    assert "Email preferences saved for Olive Primary." in page


def test_a_bad_preference_value_is_422_beside_the_box(customer, db, mine):
    response = preferences_post(customer, mine.contact_id, wants_legal="perhaps")
    assert response.status_code == 422
    field_id = f"contact-{mine.contact_id}-wants_legal"
    assert error_beside(text_of(response), field_id) == (
        "Tick the box to receive these emails, or leave it empty."
    )
    db.session.expire_all()
    assert db.session.get(Contact, mine.contact_id).wants_billing is True  # nothing written


def test_preferences_need_the_csrf_token(customer, db, mine):
    response = preferences_post(customer, mine.contact_id, token="forged", wants_legal="y")
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Contact, mine.contact_id).wants_legal is False


# -- another customer's ids, no session --------------------------------------------------------


def area_rules(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("customer_area.")),
        key=lambda rule: rule.rule,
    )


ID_NAMES = {"invoice_id", "credit_note_id", "contact_id"}


def test_every_customer_area_route_is_walked(app):
    rules = area_rules(app)
    assert {rule.endpoint for rule in rules} >= {
        "customer_area.home",
        "customer_area.invoices",
        "customer_area.invoice",
        "customer_area.invoice_pdf",
        "customer_area.credit_notes",
        "customer_area.credit_note",
        "customer_area.credit_note_pdf",
        "customer_area.statement",
        "customer_area.statement_download",
        "customer_area.contacts",
        "customer_area.save_preferences",
    }
    for rule in rules:
        assert rule.arguments <= ID_NAMES, f"{rule.endpoint}: add its ids to this test"


def test_every_route_with_another_customers_ids_is_404_and_shows_nothing(
    app, customer, mine, theirs
):
    """Each customer-area route, built with Nora's ids while Olive is signed in: 404 for a
    route that takes an id, Olive's own page for one that takes none; never Nora's data."""
    their_ids = {
        "invoice_id": theirs.invoice_id,
        "credit_note_id": theirs.credit_note_id,
        "contact_id": theirs.contact_id,
    }
    adapter = app.url_map.bind("localhost")
    token = csrf_token_from(text_of(customer.get("/account/contacts")))
    tried = 0
    for rule in area_rules(app):
        url = adapter.build(rule.endpoint, {name: their_ids[name] for name in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = customer.get(url)
            else:
                data = {"csrf_token": token, f"contact-{theirs.contact_id}-wants_legal": "y"}
                response = customer.post(url, data=data)
            tried += 1
            expected = 404 if rule.arguments else 200
            assert response.status_code == expected, (method, url, response.status_code)
            assert shows_nothing_of_the_neighbour(text_of(response)), (method, url)
            assert_panel_headers(response, url)
    assert tried >= 11
    contact = app.extensions["sqlalchemy"].session.get(Contact, theirs.contact_id)
    assert contact.wants_legal is False


def test_every_route_without_a_customer_session_goes_to_sign_in(app, client, mine, admin):
    """Signed out, and signed in as staff: a staff session never opens the customer area."""
    ids = {"invoice_id": mine.invoice_id, "credit_note_id": mine.credit_note_id}
    ids["contact_id"] = mine.contact_id
    adapter = app.url_map.bind("localhost")
    staff = app.test_client()
    assert sign_in(staff, admin.email).status_code == 303
    for who, token_page in ((client, "/sign-in"), (staff, "/customers")):
        token = csrf_token_from(text_of(who.get(token_page)))
        for rule in area_rules(app):
            url = adapter.build(rule.endpoint, {name: ids[name] for name in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                data = {"csrf_token": token} if method == "POST" else None
                response = who.open(url, method=method, data=data)
                assert response.status_code == 303, (method, url, response.status_code)
                location = urlsplit(response.headers["Location"])
                assert location.path == "/account/sign-in", (method, url)
                if method == "GET":
                    assert parse_qs(location.query)["next"][0].startswith(url)
                assert_panel_headers(response, url)
                assert "Olive" not in text_of(response)


def test_staff_see_the_customers_change_in_history(customer, admin_client, owner, mine):
    assert preferences_post(customer, mine.contact_id, wants_legal="y").status_code == 303
    html = text_of(admin_client.get(f"/customers/{owner.id}/history"))
    assert "Email preferences changed by the customer" in html
    # Boxes left out of the form are off: Billing went, Legal came.
    assert "Olive Primary: Billing" in html and "Olive Primary: Legal" in html
    # Who: the customer, not "System" (no member of staff made it).
    row = re.search(
        r"<tr[^>]*>(?:(?!</tr>).)*Email preferences changed(?:(?!</tr>).)*</tr>", html, re.S
    )
    assert row and "<td>The customer</td>" in row.group(0)
