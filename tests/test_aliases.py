"""External IDs (aliases) on the Profile tab: the shared record routes (page or modal,
422 beside the field, confirmation before removing, sign-in and CSRF) with the links
back to the customer page, one value per customer across all customers (the refusal
names the other customer, also when two requests race), and the customer list finding
a customer by an external ID until it is removed."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select, text

from tests.waiting import start_and_wait_for_lock
from webapp.extensions import db as _db
from webapp.models.contacts import Alias
from webapp.models.customer import Customer
from webapp.services import aliases
from webapp.services.customers import change_status, update_customer
from webapp.services.records import RecordError
from webapp.services.search import CustomerQuery, list_customers


@pytest.fixture
def customer(make_customer):
    return make_customer(name="Acme Ltd", email="accounts@acme.example")


@pytest.fixture
def other(make_customer):
    return make_customer(name="Globex <Corp>", email="billing@globex.example")


def saved(db) -> list[tuple[str, str, str, str]]:
    """(customer name, label, value, value_key) of every external ID, oldest first."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Customer.name, Alias.label, Alias.value, Alias.value_key)
        .join(Customer, Customer.id == Alias.customer_id)
        .order_by(Alias.id)
    )
    return [tuple(row) for row in rows]


def add(db, customer, label, value) -> Alias:
    return aliases.add(db.session, customer, None, {"label": label, "value": value})


def found(db, q: str, **view) -> list[str]:
    """Names of the customers the list shows for a search."""
    db.session.expire_all()
    page = list_customers(db.session, CustomerQuery(q=q, **view))
    return sorted(customer.name for customer in page.customers)


def ids_article(html: str) -> str:
    start = html.index('<article id="external_ids"')
    return html[start : html.index("</article>", start)]


# -- HTTP ------------------------------------------------------------------------------


def test_the_profile_tab_lists_external_ids(staff_client, db, customer):
    empty = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    article = ids_article(empty)
    assert "External IDs</h2>" in article and "No external IDs yet" in article
    assert f'href="/customers/{customer.id}/aliases/new"' in article
    assert "+ Add external ID" in article
    alias = add(db, customer, "Stripe", "cus_N4xQ9")
    page = staff_client.get(f"/customers/{customer.id}")
    article = ids_article(page.get_data(as_text=True))
    assert "<dt>Stripe</dt>" in article and "<code>cus_N4xQ9</code>" in article
    assert f'href="/customers/{customer.id}/aliases/{alias.id}/edit"' in article
    assert f'href="/customers/{customer.id}/aliases/{alias.id}/delete"' in article
    assert ">Remove</a>" in article
    fragment = staff_client.get(f"/customers/{customer.id}", htmx_target="customer_tab")
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "<code>cus_N4xQ9</code>" in ids_article(body)


def test_add_is_a_modal_with_htmx_and_a_page_that_leads_back_to_the_profile(staff_client, customer):
    url = f"/customers/{customer.id}/aliases/new"
    page = staff_client.get(url).get_data(as_text=True)
    assert "<html" in page and "<h1>New external ID</h1>" in page
    assert '<label for="label">Label <span aria-hidden="true">*</span></label>' in page
    assert '<label for="value">ID <span aria-hidden="true">*</span></label>' in page
    assert "Add external ID</button>" in page
    # Back and Cancel go to the customer page (the Profile tab), not a missing tab page.
    assert page.count(f'href="/customers/{customer.id}"') >= 2
    assert f"/customers/{customer.id}/profile" not in page
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal and "New external ID" in modal


def test_adding_without_js_comes_back_to_the_profile(staff_client, db, customer):
    response = staff_client.post(
        f"/customers/{customer.id}/aliases/new", {"label": " Stripe ", "value": "  cus_N4xQ9 "}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}"
    html = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "External ID added." in html and "<code>cus_N4xQ9</code>" in ids_article(html)
    assert saved(db) == [("Acme Ltd", "Stripe", "cus_N4xQ9", "cus_n4xq9")]


def test_adding_with_htmx_closes_the_modal_and_refreshes(staff_client, db, customer):
    response = staff_client.post(
        f"/customers/{customer.id}/aliases/new",
        {"label": "Stripe", "value": "cus_1"},
        htmx_target="form",
    )
    assert response.status_code == 204
    assert json.loads(response.headers["HX-Trigger"]) == {
        "closeModal": True,
        "customerUpdated": customer.id,
        "showMessage": "External ID added.",
    }
    assert saved(db) == [("Acme Ltd", "Stripe", "cus_1", "cus_1")]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"label": "", "value": "cus_1"}, "label", "Enter where the ID comes from, e.g. Stripe."),
        ({"label": "Stripe", "value": "   "}, "value", "Enter the ID."),
        ({"label": "x" * 51, "value": "cus_1"}, "label", "A label can be at most 50 characters."),
        ({"label": "Stripe", "value": "9" * 201}, "value", "An ID can be at most 200 characters."),
        ({"label": "Stripe", "value": "cus\x07 1"}, "value", "cannot contain control characters"),
        # NUL is refused by every form before the service is asked.
        ({"label": "Stripe", "value": "cus\x00 1"}, "value", "Remove the invisible control"),
        (
            {"label": "Stripe", "value": "cus_123"},
            "value",
            "Stripe ID cus_123 already belongs to C-000002 (Globex &lt;Corp&gt;).",
        ),
        (
            {"label": "Billing", "value": "  CUS_123 "},
            "value",
            "Stripe ID cus_123 already belongs to C-000002 (Globex &lt;Corp&gt;).",
        ),
        ({"label": "CRM", "value": "SF 42"}, "value", "Salesforce ID SF  42 is already on this"),
    ],
)
def test_a_bad_external_id_is_refused_beside_the_field(
    staff_client, db, customer, other, data, field, message
):
    add(db, other, "Stripe", "cus_123")
    add(db, customer, "Salesforce", "SF  42")
    before = saved(db)
    url = f"/customers/{customer.id}/aliases/new"
    for target in (None, "form"):
        response = staff_client.post(url, data, htmx_target=target)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert f'id="{field}-error"' in html and message in html
        assert ("<html" in html) is (target is None)
    assert saved(db) == before


def test_editing_keeps_its_own_value_and_refuses_another_customers(
    staff_client, db, customer, other
):
    mine = add(db, customer, "Stripe", "cus_1")
    add(db, other, "Stripe", "cus_2")
    url = f"/customers/{customer.id}/aliases/{mine.id}/edit"
    form = staff_client.get(url).get_data(as_text=True)
    assert "<h1>Edit external ID</h1>" in form and 'value="cus_1"' in form
    assert 'value="Stripe"' in form and "Save changes" in form
    # Its own value, in another case and a new label: no clash with itself.
    response = staff_client.post(url, {"label": "Stripe (live)", "value": "CUS_1"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}"
    refused = staff_client.post(url, {"label": "Stripe", "value": "cus_2"})
    assert refused.status_code == 422
    assert "Stripe ID cus_2 already belongs to C-000002" in refused.get_data(as_text=True)
    assert saved(db) == [
        ("Acme Ltd", "Stripe (live)", "CUS_1", "cus_1"),
        ("Globex <Corp>", "Stripe", "cus_2", "cus_2"),
    ]


def test_removing_asks_first_and_frees_the_value(staff_client, db, customer, other):
    alias = add(db, customer, "Stripe", "cus_1")
    url = f"/customers/{customer.id}/aliases/{alias.id}/delete"
    confirm = staff_client.get(url).get_data(as_text=True)
    assert "<h1>Remove external ID</h1>" in confirm
    assert "Remove this external ID from Acme Ltd" in confirm and "Stripe: cus_1" in confirm
    assert f'href="/customers/{customer.id}" role="button"' in confirm  # Cancel
    assert staff_client.get(url, htmx_target="modal").status_code == 200
    assert len(saved(db)) == 1
    response = staff_client.post(url, {})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}"
    assert "External ID removed." in staff_client.get(f"/customers/{customer.id}").get_data(
        as_text=True
    )
    assert saved(db) == []
    assert staff_client.post(url, {}).status_code == 404
    # The value is free again, for any customer.
    response = staff_client.post(
        f"/customers/{other.id}/aliases/new", {"label": "Stripe", "value": "cus_1"}
    )
    assert response.status_code == 303
    assert saved(db) == [("Globex <Corp>", "Stripe", "cus_1", "cus_1")]


def test_another_customers_external_id_is_not_found(staff_client, db, customer, other):
    alias = add(db, other, "Stripe", "cus_2")
    for suffix in ("edit", "delete"):
        url = f"/customers/{customer.id}/aliases/{alias.id}/{suffix}"
        assert staff_client.get(url).status_code == 404
        assert staff_client.post(url, {"label": "X", "value": "taken"}).status_code == 404
    assert saved(db) == [("Globex <Corp>", "Stripe", "cus_2", "cus_2")]


def test_every_route_needs_sign_in(client, db, customer):
    alias = add(db, customer, "Stripe", "cus_1")
    base = f"/customers/{customer.id}/aliases"
    for url in (f"{base}/new", f"{base}/{alias.id}/edit", f"{base}/{alias.id}/delete"):
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
        assert client.post(url, data={"label": "X", "value": "Y"}).status_code in (302, 400)
    assert saved(db) == [("Acme Ltd", "Stripe", "cus_1", "cus_1")]


def test_changes_need_the_csrf_token(staff_client, db, customer):
    alias = add(db, customer, "Stripe", "cus_1")
    base = f"/customers/{customer.id}/aliases"
    data = {"label": "X", "value": "Y"}
    assert staff_client.post(f"{base}/new", data, csrf=False).status_code == 400
    assert staff_client.post(f"{base}/{alias.id}/edit", data, csrf=False).status_code == 400
    assert staff_client.post(f"{base}/{alias.id}/delete", {}, csrf=False).status_code == 400
    assert saved(db) == [("Acme Ltd", "Stripe", "cus_1", "cus_1")]


def test_labels_and_values_are_shown_escaped(staff_client, db, customer):
    add(db, customer, "<b>CRM</b>", "<script>alert(1)</script>")
    html = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    article = ids_article(html)
    assert "&lt;b&gt;CRM&lt;/b&gt;" in article
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in article and "<script>alert" not in html


def test_the_list_finds_a_customer_by_an_external_id(staff_client, db, customer, other):
    add(db, customer, "Stripe", "cus_N4xQ9")
    page = staff_client.get("/customers?q=cus_N4xQ9").get_data(as_text=True)
    assert "Acme Ltd" in page and "Globex" not in page
    fragment = staff_client.get("/customers?q=CUS_n4xq9", htmx_target="results")
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "Acme Ltd" in body and "Globex" not in body


# -- the rules ---------------------------------------------------------------------------


def test_a_value_belongs_to_one_customer_whatever_its_case_accents_or_spaces(db, customer, other):
    add(db, other, "Legacy ERP", "Müller  42")
    for typed in ("müller 42", "MULLER 42", " Muller   42 "):
        with pytest.raises(RecordError) as refusal:
            add(db, customer, "ERP", typed)
        assert str(refusal.value) == (
            "Legacy ERP ID Müller  42 already belongs to C-000002 (Globex <Corp>)."
        )
        assert refusal.value.field == "value"
        db.session.rollback()
    assert saved(db) == [("Globex <Corp>", "Legacy ERP", "Müller  42", "muller 42")]


def test_a_label_that_says_id_is_not_repeated(db, customer, other):
    add(db, other, "Salesforce ID", "0015g00000XyZ")
    with pytest.raises(RecordError, match=r"^Salesforce ID 0015g00000XyZ already belongs"):
        add(db, customer, "SF", "0015G00000xyz")


def test_archived_customers_keep_their_external_ids(db, customer, other):
    add(db, other, "Stripe", "cus_9")
    change_status(db.session, other, "archived")
    with pytest.raises(RecordError, match="already belongs to C-000002"):
        add(db, customer, "Stripe", "cus_9")


def test_search_finds_by_external_id_until_it_is_removed(db, customer, other):
    stripe = add(db, customer, "Stripe", "cus_N4xQ9")
    add(db, other, "Stripe", "cus_Other")
    assert found(db, "cus_N4xQ9") == ["Acme Ltd"]
    assert found(db, "CUS_N4XQ9") == ["Acme Ltd"]
    # A profile edit rebuilds the search text and keeps the external IDs in it.
    update_customer(db.session, customer, {"name": "Acme Limited"})
    assert found(db, "cus_N4xQ9") == ["Acme Limited"]
    # Archived customers are found when the view includes them.
    change_status(db.session, customer, "archived")
    assert found(db, "cus_N4xQ9") == []
    assert found(db, "cus_N4xQ9", status="all") == ["Acme Limited"]
    aliases.change(db.session, customer, stripe, {"label": "Stripe", "value": "cus_New1"})
    assert found(db, "cus_N4xQ9", status="all") == []
    assert found(db, "cus_New1", status="all") == ["Acme Limited"]
    aliases.remove(db.session, customer, stripe)
    assert found(db, "cus_New1", status="all") == []
    assert found(db, "cus_Other") == ["Globex <Corp>"]


def test_an_id_written_like_a_phone_number_is_found_as_typed(db, customer, other):
    add(db, customer, "Old system", "0049-301-234")
    add(db, other, "Old system", "ACC 7781 2290")
    assert found(db, "0049-301-234") == ["Acme Ltd"]
    assert found(db, "0049301234") == ["Acme Ltd"]
    assert found(db, "ACC 7781 2290") == ["Globex <Corp>"]


def test_two_requests_taking_the_same_value_at_once(app, db, customer, other):
    """Both pass the check before either commits: the unique index stops the second,
    which is refused with the same message, not a server error."""
    customer_id, other_id = customer.id, other.id
    db.session.commit()
    outcome: dict = {}

    def add_in_its_own_request():
        try:
            with app.app_context():
                mine = _db.session.get(Customer, customer_id)
                aliases.add(_db.session, mine, None, {"label": "Billing", "value": "CUS_7"})
                outcome["added"] = True
        except RecordError as refusal:
            outcome["refused"] = (str(refusal), refusal.field)
        except Exception as error:  # noqa: BLE001 - reported by the test
            outcome["error"] = repr(error)

    with _db.engine.connect() as first:
        first.execute(
            text(
                "INSERT INTO customer_aliases (customer_id, label, value, value_key, created_at)"
                " VALUES (:c, 'Stripe', 'cus_7', 'cus_7', CURRENT_TIMESTAMP)"
            ),
            {"c": other_id},
        )
        worker = threading.Thread(target=add_in_its_own_request)
        start_and_wait_for_lock(worker, _db.engine)
        assert worker.is_alive(), "the second request did not wait for the first"
        first.commit()
    worker.join(timeout=30)
    assert outcome == {
        "refused": ("Stripe ID cus_7 already belongs to C-000002 (Globex <Corp>).", "value")
    }
    assert saved(db) == [("Globex <Corp>", "Stripe", "cus_7", "cus_7")]
    assert found(db, "cus_7") == []  # the customer row was not left half-changed
