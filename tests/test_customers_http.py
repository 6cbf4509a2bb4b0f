"""HTTP shape of the customer pages: page vs fragment, Vary, 422 with the form, CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from tests.pages import follow, link
from webapp.models.customer import Customer


def customer_ids(html: str) -> list[str]:
    return re.findall(r'<td class="col-id"><a href="/customers/\d+">(C-\d{6})</a></td>', html)


# -- the list ---------------------------------------------------------------


def test_list_is_a_full_page_with_the_columns(staff_client, make_customer):
    make_customer(name="Ada Lovelace", company="Engines Ltd", email="ada@example.com")
    response = staff_client.get("/customers")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.startswith("<!doctype html>")
    for column in ("Customer ID", "Name", "Company", "Email", "Country", "Currency"):
        assert f">{column}" in html
    assert "Status" in html and "Created" in html
    assert "Ada Lovelace" in html and "Engines Ltd" in html
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_search_returns_only_the_results_block(staff_client, make_customer):
    make_customer(name="Ada Lovelace")
    make_customer(name="Grace Hopper", email="grace@example.com")
    response = staff_client.get("/customers?q=grace", htmx_target="results")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="results"')
    assert "Grace Hopper" in html and "Ada Lovelace" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_unknown_htmx_target_gets_the_full_page(staff_client):
    response = staff_client.get("/customers", htmx_target="something-else")
    assert "<html" in response.get_data(as_text=True)


def test_boosted_and_history_restore_requests_get_the_full_page(staff_client):
    for extra in ({"HX-Boosted": "true"}, {"HX-History-Restore-Request": "true"}):
        response = staff_client.get("/customers", htmx_target="results", headers=extra)
        assert "<html" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("grace", ["Grace Hopper"]),
        ("HOPPER", ["Grace Hopper"]),
        ("navy", ["Grace Hopper"]),  # company
        ("amazing", ["Grace Hopper"]),  # contact first name
        ("grace@navy.example", ["Grace Hopper"]),
        ("+1 202 555 0143", ["Grace Hopper"]),  # phone, as typed with spaces
        ("muller", ["Jürgen Müller"]),  # accents folded
        ("Müller", ["Jürgen Müller"]),
        ("030 1234567", ["Jürgen Müller"]),  # national format finds the E.164 number
        ("ada engines", ["Ada Lovelace"]),  # every word must match
        ("nobody-like-this", []),
    ],
)
def test_search_covers_name_company_contact_email_phone(
    staff_client, make_customer, query, expected
):
    make_customer(name="Ada Lovelace", company="Analytical Engines", email="ada@example.com")
    make_customer(
        name="Grace Hopper",
        company="US Navy",
        first_name="Amazing",
        last_name="Grace",
        email="grace@navy.example",
        phone="+12025550143",
        country="US",
        currency="USD",
    )
    make_customer(
        name="Jürgen Müller",
        email="jm@example.de",
        phone="+49301234567",
        country="DE",
        currency="EUR",
    )
    html = staff_client.get("/customers", query_string={"q": query}).get_data(as_text=True)
    names = re.findall(r'<td class="col-customer"><a href="/customers/\d+">([^<]+)</a>', html)
    assert sorted(names) == sorted(expected)


def test_search_by_customer_id_in_any_usual_form(staff_client, make_customer):
    make_customer(name="First")
    target = make_customer(name="Second", email="second@example.com")
    for typed in (target.customer_id, target.customer_id.lower(), str(target.id)):
        html = staff_client.get("/customers", query_string={"q": typed}).get_data(as_text=True)
        assert customer_ids(html) == [target.customer_id], typed


def test_search_treats_like_wildcards_literally(staff_client, make_customer):
    make_customer(name="100% Cotton", email="cotton@example.com")
    make_customer(name="Plain", email="plain@example.com")
    html = staff_client.get("/customers", query_string={"q": "%"}).get_data(as_text=True)
    assert "100% Cotton" in html and "Plain" not in html
    html = staff_client.get("/customers", query_string={"q": "_"}).get_data(as_text=True)
    assert "No customers match" in html


def test_filters_by_status_currency_and_country(staff_client, make_customer, db):
    make_customer(name="Euro Active", country="DE", currency="EUR", email="a@example.com")
    make_customer(name="Pound Active", country="GB", currency="GBP", email="b@example.com")
    archived = make_customer(name="Old Archived", country="DE", currency="EUR", email="c@e.com")
    archived.status = "archived"
    db.session.commit()

    def names(**args):
        html = staff_client.get("/customers", query_string=args).get_data(as_text=True)
        return {name for name in ("Euro Active", "Pound Active", "Old Archived") if name in html}

    assert names() == {"Euro Active", "Pound Active"}  # archived hidden by default
    assert names(status="archived") == {"Old Archived"}
    assert names(status="all") == {"Euro Active", "Pound Active", "Old Archived"}
    assert names(currency="EUR") == {"Euro Active"}
    assert names(country="GB") == {"Pound Active"}
    assert names(country="DE", status="all") == {"Euro Active", "Old Archived"}


def test_sort_by_each_column_both_directions(staff_client, make_customer):
    make_customer(name="Bravo", company="Zulu Co", email="z@example.com", country="GB")
    make_customer(
        name="Alpha", company="Yankee Co", email="y@example.com", country="DE", currency="EUR"
    )
    make_customer(name="Charlie", company="", email="x@example.com", country="FR", currency="EUR")

    def order(sort, direction):
        html = staff_client.get(f"/customers?sort={sort}&dir={direction}").get_data(as_text=True)
        return [n for n in re.findall(r">(Alpha|Bravo|Charlie)</a>", html)]

    assert order("name", "asc") == ["Alpha", "Bravo", "Charlie"]
    assert order("name", "desc") == ["Charlie", "Bravo", "Alpha"]
    assert order("company", "asc") == ["Charlie", "Alpha", "Bravo"]
    assert order("email", "asc") == ["Charlie", "Alpha", "Bravo"]
    assert order("country", "desc") == ["Bravo", "Charlie", "Alpha"]
    assert order("customer_id", "asc") == ["Bravo", "Alpha", "Charlie"]
    assert order("customer_id", "desc") == ["Charlie", "Alpha", "Bravo"]
    assert order("created", "desc") == ["Charlie", "Alpha", "Bravo"]
    for column in ("currency", "status"):
        for direction in ("asc", "desc"):
            assert len(order(column, direction)) == 3


def test_column_heading_links_flip_the_direction_and_keep_the_filters(staff_client, make_customer):
    make_customer(name="Ada Lovelace")
    html = staff_client.get("/customers?q=ada&sort=name&dir=asc").get_data(as_text=True)
    assert 'href="?q=ada&amp;sort=name&amp;dir=desc"' in html
    assert 'aria-sort="ascending"' in html
    # the sort travels with the search form, so typing keeps it
    assert '<input type="hidden" name="sort" value="name">' in html


def test_pages_of_fifty_with_next_and_previous(staff_client, make_customer, db):
    from webapp.services.customers import create_customer

    for number in range(120):
        create_customer(
            db.session,
            {
                "name": f"Customer {number:03d}",
                "email": f"c{number}@example.com",
                "country": "GB",
                "currency": "GBP",
            },
        )
    first = staff_client.get("/customers?sort=name&dir=asc").get_data(as_text=True)
    assert len(customer_ids(first)) == 50
    assert "Customer 000" in first and "Customer 050" not in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = follow(staff_client, first, "next", "/customers")
    assert "Customer 050" in second and "Customer 099" in second and "Customer 049" not in second
    third = follow(staff_client, second, "next", "/customers")
    assert len(customer_ids(third)) == 20 and "Customer 100" in third and "20 shown" in third
    assert 'rel="prev"' in third and 'rel="next"' not in third
    assert 'rel="first"' in third
    back = follow(staff_client, third, "prev", "/customers")
    assert customer_ids(back) == customer_ids(second)
    last_url = link(third, "next", "/customers") or link(second, "next", "/customers")
    # The last 20 leave the view (archived) before Next is clicked: nothing comes after.
    archived = update(Customer).where(Customer.name >= "Customer 100").values(status="archived")
    db.session.execute(archived)
    db.session.commit()
    beyond = staff_client.get(last_url).get_data(as_text=True)
    assert "No more customers" in beyond


def test_bad_query_string_values_fall_back_instead_of_failing(staff_client, make_customer):
    make_customer()
    for query in (
        "page=abc",
        "page=-4",
        "sort=password_hash",
        "dir=sideways",
        "country=XX",
        "currency=ZZZ",
        "status=deleted",
        "q=" + "x" * 5000,
    ):
        response = staff_client.get(f"/customers?{query}")
        assert response.status_code == 200, query


def test_empty_states_say_what_to_do_next(staff_client, make_customer):
    html = staff_client.get("/customers").get_data(as_text=True)
    assert "No customers yet" in html and "Add customer" in html
    make_customer()
    html = staff_client.get("/customers?q=zzzz").get_data(as_text=True)
    assert "No customers match this view" in html
    assert "clear the search and filters" in html
    assert "include archived customers" in html


# -- Add customer -------------------------------------------------------------


def test_add_customer_form_is_a_page_without_js_and_a_modal_with_htmx(staff_client):
    page = staff_client.get("/customers/new").get_data(as_text=True)
    assert "<html" in page and "<h1>Add customer</h1>" in page and "<dialog" not in page
    modal = staff_client.get("/customers/new", htmx_target="modal").get_data(as_text=True)
    assert "<html" not in modal
    assert modal.lstrip().startswith('<div id="modal">') and "<dialog" in modal
    assert 'id="form"' in modal


def test_add_customer_form_has_a_visible_label_for_every_field(staff_client):
    html = staff_client.get("/customers/new").get_data(as_text=True)
    inputs = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html)
    hidden = ("csrf_token", "currency_chosen", "opened_version", "seen", "q")
    fields = [i for i in inputs if i not in hidden]
    assert len(fields) >= 23
    for field_id in fields:
        assert f'<label for="{field_id}"' in html, field_id


def test_country_and_currency_lists_come_from_reference_data(staff_client):
    html = staff_client.get("/customers/new").get_data(as_text=True)
    assert html.count('<option value="') > 400  # ~249 countries + ~178 currencies
    assert '<option value="DE">Germany</option>' in html
    assert 'value="JPY">JPY — Yen</option>' in html


def test_add_customer_without_js_redirects_to_the_new_customer(staff_client, db, customer_data):
    response = staff_client.post("/customers/new", customer_data)
    assert response.status_code == 303
    customer = db.session.query(Customer).one()
    assert response.headers["Location"] == f"/customers/{customer.id}"
    assert customer.currency == "GBP"  # followed the country
    assert customer.phone == "+442079460958"  # E.164
    assert customer.tax_rate_bp == 2000
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Customer {customer.customer_id} added." in page
    assert "+44 20 7946 0958" in page  # shown nicely


def test_add_customer_with_htmx_opens_the_new_customer_with_the_message(
    staff_client, db, customer_data, make_customer
):
    """As without JS: the customer's page, the message (and a duplicate's warning) on it.
    A 204 with HX-Redirect (a page load), not a 303 htmx would follow into the modal."""
    existing = make_customer(name="Existing Co", email="ada@example.com")
    response = staff_client.post("/customers/new", customer_data, htmx_target="form")
    assert response.status_code == 204
    customer = db.session.query(Customer).filter(Customer.id != existing.id).one()
    assert response.headers["HX-Redirect"] == f"/customers/{customer.id}"
    assert "HX-Trigger" not in response.headers
    assert "HX-Request" in response.headers["Vary"]
    page = staff_client.get(response.headers["HX-Redirect"]).get_data(as_text=True)
    added = f"Customer {customer.customer_id} added."
    assert f'<p class="flash flash-success" role="status">{added}</p>' in page
    assert f"Note: {existing.customer_id} (Existing Co) has the same email." in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Enter the customer&#39;s name."),
        ({"email": ""}, "email", "Enter the customer&#39;s email address."),
        ({"email": "not-an-email"}, "email", "An email address must have an @-sign."),
        ({"country": ""}, "country", "Choose a country."),
        ({"country": "XX"}, "country", "Choose a country from the list."),
        ({"currency": "XYZ"}, "currency", "Choose a currency from the list."),
        ({"country": "AQ", "currency": ""}, "currency", "no currency of its own"),
        ({"phone": "12"}, "phone", "phone number"),
        ({"mobile": "+44 1"}, "mobile", "phone number"),
        ({"website": "ftp://example.com"}, "website", "Only http:// and https://"),
        ({"website": "javascript:alert(1)"}, "website", "Only http:// and https://"),
        # Rates themselves are checked in the tax class form (tests/test_settings.py).
        ({"tax_class_id": ""}, "tax_class_id", "Choose a tax class from the list."),
        ({"tax_class_id": "999999"}, "tax_class_id", "Choose a tax class from the list."),
        ({"tax_class_id": "abc"}, "tax_class_id", "Choose a tax class from the list."),
        ({"legal_entity_id": "999999"}, "legal_entity_id", "Choose a legal entity from the list."),
        ({"legal_entity_id": "1e3"}, "legal_entity_id", "Choose a legal entity from the list."),
        ({"payment_terms_days": "366"}, "payment_terms_days", "from 0 to 365"),
        ({"payment_terms_days": "-1"}, "payment_terms_days", "from 0 to 365"),
        ({"payment_terms_days": "ten"}, "payment_terms_days", "from 0 to 365"),
        ({"country": "DE", "tax_id": "DE 123"}, "tax_id", "not a valid VAT number for Germany"),
        ({"name": "x" * 201}, "name", "200"),
        ({"invoicing_flow": "sometimes"}, "invoicing_flow", "Not a valid choice"),
    ],
)
def test_invalid_customer_is_refused_with_422_and_the_message_beside_the_field(
    staff_client, db, customer_data, changes, field, message
):
    customer_data.update(changes)
    response = staff_client.post("/customers/new", customer_data, htmx_target="form")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in html and html.lstrip().startswith('<form id="form"')
    error = re.search(rf'<small id="{field}-error" class="field-error">([^<]*)</small>', html)
    assert error, f"no error beside {field}"
    assert message in error.group(1)
    assert f'aria-describedby="{field}-error' in html
    assert db.session.query(Customer).count() == 0


def test_invalid_form_keeps_what_was_typed(staff_client, customer_data):
    customer_data.update(email="broken", company="Kept Company Ltd")
    html = staff_client.post("/customers/new", customer_data).get_data(as_text=True)
    assert 'value="Kept Company Ltd"' in html
    assert 'value="broken"' in html
    assert "<html" in html  # without htmx the whole page comes back, with the form


def test_vat_number_is_validated_for_the_country_and_stored_compact(
    staff_client, db, customer_data
):
    customer_data.update(country="DE", tax_id="DE 136.695.976", currency="")
    assert staff_client.post("/customers/new", customer_data).status_code == 303
    customer = db.session.query(Customer).one()
    assert customer.tax_id == "DE136695976"
    assert customer.currency == "EUR"


def test_tax_id_for_a_country_without_a_validator_is_kept_compact(staff_client, db, customer_data):
    customer_data.update(country="AQ", currency="USD", tax_id="ab-12 34.5")
    assert staff_client.post("/customers/new", customer_data).status_code == 303
    assert db.session.query(Customer).one().tax_id == "AB12345"


def test_duplicate_email_or_tax_id_warns_without_blocking(
    staff_client, db, customer_data, make_customer
):
    existing = make_customer(name="Existing Co", email="ada@example.com")
    response = staff_client.post("/customers/new", customer_data)
    assert response.status_code == 303
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Note: {existing.customer_id} (Existing Co) has the same email." in page
    assert db.session.query(Customer).count() == 2
    live = staff_client.get("/customers/form/duplicates?email=ADA@example.com")
    html = live.get_data(as_text=True)
    assert f'href="/customers/{existing.id}"' in html and "has the same email" in html


def test_currency_field_follows_the_country_until_chosen(staff_client):
    html = staff_client.get("/customers/form/currency?country=JP").get_data(as_text=True)
    assert '<option selected value="JPY">' in html
    chosen = staff_client.get(
        "/customers/form/currency?country=JP&currency=EUR&currency_chosen=1"
    ).get_data(as_text=True)
    assert '<option selected value="EUR">' in chosen


def test_every_post_needs_a_csrf_token(staff_client, make_customer, customer_data, db):
    customer = make_customer()
    posts = [
        ("/customers/new", customer_data),
        (f"/customers/{customer.id}/edit", customer_data),
        (f"/customers/{customer.id}/status", {"status": "archived"}),
        ("/sign-out", {}),
    ]
    for url, data in posts:
        response = staff_client.post(url, data, csrf=False)
        assert response.status_code == 400, url
        assert "This form has expired" in response.get_data(as_text=True)
        bad = staff_client.post(url, {**data, "csrf_token": "forged"}, csrf=False)
        assert bad.status_code == 400, url
    assert db.session.query(Customer).count() == 1
    assert db.session.get(Customer, customer.id).status == "active"


def test_csrf_token_in_the_htmx_header_is_accepted(staff_client, customer_data):
    response = staff_client.client.post(
        "/customers/new",
        data=customer_data,
        headers={"HX-Request": "true", "HX-Target": "form", "X-CSRFToken": staff_client.token()},
    )
    assert response.status_code == 204


# -- Customer page, edit, status -----------------------------------------------


def test_customer_page_shows_header_tabs_and_profile(staff_client, make_customer):
    customer = make_customer(name="Ada Lovelace", phone="+442079460958", tax_rate_bp=2000)
    response = staff_client.get(f"/customers/{customer.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Ada Lovelace</h1>" in html
    assert customer.customer_id in html and "Active" in html
    assert 'aria-current="page">Profile</a>' in html
    for heading in ("Business information", "Contact details", "Billing address", "Tax settings"):
        assert heading in html
    assert "+44 20 7946 0958" in html and "20.00 %" in html
    assert "Edit customer" in html and "Suspend" in html and "Archive" in html


def test_tab_is_a_url_fragment_with_htmx_and_a_full_page_without(staff_client, make_customer):
    customer = make_customer()
    fragment = staff_client.get(f"/customers/{customer.id}", htmx_target="customer_tab")
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<section id="customer_tab">')
    assert "HX-Request" in fragment.headers["Vary"]
    full = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "<html" in full and '<section id="customer_tab">' in full


def test_unknown_customer_or_tab_is_404(staff_client, make_customer):
    customer = make_customer()
    assert staff_client.get("/customers/999999").status_code == 404
    assert staff_client.get(f"/customers/{customer.id}/nope").status_code == 404


def test_edit_form_is_filled_in_and_saves_changes(staff_client, make_customer, db):
    from webapp.services.settings import tax_class_for_rate

    customer = make_customer(phone="+442079460958")
    reduced = tax_class_for_rate(db.session, 550)
    db.session.commit()
    form = staff_client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert "<h1>Edit customer</h1>" in form and "Save changes" in form
    assert 'value="Ada Lovelace"' in form and 'value="+44 20 7946 0958"' in form
    data = {
        "name": "Ada King",
        "email": "ada.king@example.com",
        "country": "GB",
        "currency": "GBP",
        "phone": "+44 20 7946 0958",
        "tax_class_id": str(reduced.id),
        "payment_terms_days": "14",
        "invoicing_flow": "manual",
        "auto_pay": "y",
    }
    response = staff_client.post(f"/customers/{customer.id}/edit", data)
    assert response.status_code == 303
    db.session.refresh(customer)
    assert (customer.name, customer.email, customer.tax_rate_bp) == (
        "Ada King",
        "ada.king@example.com",
        550,
    )
    assert customer.invoicing_flow == "manual" and customer.auto_pay is True
    page = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "<h1>Ada King</h1>" in page and "Net 14 days" in page
    found = staff_client.get("/customers?q=king").get_data(as_text=True)
    assert "Ada King" in found  # the search text follows edits


def test_edit_with_htmx_fires_customer_updated(staff_client, make_customer):
    customer = make_customer()
    data = {
        "name": "Renamed",
        "email": "ada@example.com",
        "country": "GB",
        "currency": "GBP",
        "payment_terms_days": "30",
        "invoicing_flow": "automatic",
    }
    response = staff_client.post(f"/customers/{customer.id}/edit", data, htmx_target="form")
    assert response.status_code == 204
    assert '"customerUpdated"' in response.headers["HX-Trigger"]
    region = staff_client.get(f"/customers/{customer.id}", htmx_target="customer")
    assert "<h1>Renamed</h1>" in region.get_data(as_text=True)


def test_invalid_edit_is_422_and_changes_nothing(staff_client, make_customer, db):
    customer = make_customer()
    response = staff_client.post(
        f"/customers/{customer.id}/edit", {"name": "", "email": "x"}, htmx_target="form"
    )
    assert response.status_code == 422
    db.session.refresh(customer)
    assert customer.name == "Ada Lovelace"


def test_status_change_asks_for_confirmation_on_the_server(staff_client, make_customer, db):
    customer = make_customer()
    confirm = staff_client.get(f"/customers/{customer.id}/status?to=suspended")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "Suspend customer" in html and "Change it to <strong>suspended</strong>?" in html
    db.session.refresh(customer)
    assert customer.status == "active"  # asking changes nothing
    response = staff_client.post(f"/customers/{customer.id}/status", {"status": "suspended"})
    assert response.status_code == 303
    db.session.refresh(customer)
    assert customer.status == "suspended"
    page = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "is now suspended" in page


@pytest.mark.parametrize("status", ["active", "suspended", "archived"])
def test_every_status_can_be_reached(staff_client, make_customer, db, status):
    customer = make_customer()
    if status == "active":
        customer.status = "archived"
        db.session.commit()
    response = staff_client.post(
        f"/customers/{customer.id}/status", {"status": status}, htmx_target="form"
    )
    assert response.status_code == 204
    assert '"customerUpdated"' in response.headers["HX-Trigger"]
    db.session.refresh(customer)
    assert customer.status == status


def test_bad_status_is_refused_with_a_message(staff_client, make_customer, db):
    customer = make_customer()
    for value in ("deleted", "active"):
        response = staff_client.post(
            f"/customers/{customer.id}/status", {"status": value}, htmx_target="form"
        )
        assert response.status_code == 422
        assert 'class="form-error"' in response.get_data(as_text=True)
    assert staff_client.get(f"/customers/{customer.id}/status?to=bogus").status_code == 404
    db.session.refresh(customer)
    assert customer.status == "active"


def test_the_home_page_goes_to_the_customer_list_with_the_query_kept(staff_client, make_customer):
    make_customer(name="Ada Lovelace")
    make_customer(name="Alan Turing")
    response = staff_client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/customers"

    response = staff_client.get("/?q=ada+lovelace&status=all&tag=a&tag=b%26c")
    assert response.status_code == 302
    assert response.headers["Location"] == "/customers?q=ada+lovelace&status=all&tag=a&tag=b%26c"
    html = staff_client.get("/?q=lovelace", follow_redirects=True).get_data(as_text=True)
    assert "Ada Lovelace" in html and "Alan Turing" not in html


def header_line(html: str) -> str:
    """The line under the customer's name: ID, status and company, as read."""
    header = html.split('<header class="customer-header">', 1)[1].split("</header>", 1)[0]
    line = header.split('<p class="muted">', 1)[1].split("</p>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", "", line).split())


def test_the_header_names_the_company_only_when_it_is_not_the_name(staff_client, make_customer):
    firm = make_customer(name="Harrison Inc", company="Harrison  inc")
    person = make_customer(name="Ada Lovelace", company="Analytical Engines Ltd")
    alone = make_customer(name="Grace Hopper", company="")

    firm_line = header_line(staff_client.get(f"/customers/{firm.id}").get_data(as_text=True))
    assert firm_line == f"{firm.customer_id} · Active"
    person_line = header_line(staff_client.get(f"/customers/{person.id}").get_data(as_text=True))
    assert person_line == f"{person.customer_id} · Active · Analytical Engines Ltd"
    alone_line = header_line(staff_client.get(f"/customers/{alone.id}").get_data(as_text=True))
    assert alone_line == f"{alone.customer_id} · Active"
    # The Profile tab still lists the company.
    html = staff_client.get(f"/customers/{firm.id}").get_data(as_text=True)
    assert "<dt>Company</dt><dd>Harrison  inc</dd>" in html


def test_user_text_is_escaped(staff_client, make_customer):
    customer = make_customer(name="<script>alert(1)</script>", company="<b>bold</b>")
    for url in ("/customers", f"/customers/{customer.id}", f"/customers/{customer.id}/edit"):
        html = staff_client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, url
        assert "&lt;script&gt;" in html, url


def test_active_search_pushes_the_canonical_url(staff_client):
    response = staff_client.get(
        "/customers?q=ada&status=&currency=&country=DE",
        htmx_target="results",
        headers={"HX-Trigger": "search"},
    )
    assert response.headers["HX-Push-Url"] == "/customers?q=ada&country=DE"


def test_a_sort_heading_sends_the_search_form_and_pushes_the_canonical_url(
    staff_client, make_customer
):
    make_customer(name="Ada Lovelace")
    html = staff_client.get("/customers?q=ada&sort=name&dir=asc").get_data(as_text=True)
    heading = re.search(r'<a href="\?q=ada&amp;sort=name&amp;dir=desc"[^>]*>', html).group(0)
    # With htmx the heading sends the form as it is now (a search typed but not sent yet),
    # its own sort and direction over the form's hidden ones; without JS, the link.
    assert 'hx-get="/customers"' in heading and 'hx-include="#search"' in heading
    assert """hx-vals='{"dir": "desc", "sort": "name"}'""" in heading
    assert 'hx-sync="this:replace"' in re.search(r'<form[^>]*id="search"[^>]*>', html).group(0)

    # What the heading sends: the form's fields, empty ones too; the URL pushed is canonical.
    response = staff_client.get(
        "/customers?q=ada&status=&currency=&country=&balance=&tag=&sort=name&dir=desc",
        htmx_target="results",
    )
    assert response.headers["HX-Push-Url"] == "/customers?q=ada&sort=name&dir=desc"
    assert "Ada Lovelace" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"payment_terms_days": "²"}, "payment_terms_days"),
        ({"payment_terms_days": "٣٠"}, "payment_terms_days"),
        ({"website": "a" * 292 + ".com"}, "website"),
    ],
)
def test_tricky_values_are_refused_with_422_not_500(
    staff_client, db, customer_data, changes, field
):
    customer_data.update(changes)
    response = staff_client.post("/customers/new", customer_data, htmx_target="form")
    assert response.status_code == 422
    assert f'<small id="{field}-error"' in response.get_data(as_text=True)
    assert db.session.query(Customer).count() == 0


def test_currency_endpoint_ignores_unknown_countries(staff_client):
    response = staff_client.get("/customers/form/currency?country=ZZZZ")
    assert response.status_code == 200
    assert '<option selected value="">' in response.get_data(as_text=True)
