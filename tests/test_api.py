"""The JSON API (/api/v1): keys and scopes, customers, entries with Idempotency-Key,
documents scoped to their customer, payment links, problem+json errors, the rate limit
per key, and History naming the key."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import make_app
from webapp.blueprints.customers.forms import check_customer_input
from webapp.models.api_keys import ApiKey, IdempotencyRecord
from webapp.models.billing import LedgerEntry
from webapp.models.customer import Customer
from webapp.models.history import AuditEvent, CustomerEvent
from webapp.services import api_keys, billing, history
from webapp.services.reference import UNSTORABLE_IN_FIELD

PROBLEM = "application/problem+json"


@pytest.fixture
def make_key(db):
    def _make(name="Shop sync", scope="read_write"):
        return api_keys.create_key(db.session, name, scope, None).token

    return _make


@pytest.fixture
def api(client, make_key):
    """A client for the API with a read-write key named "Shop sync"."""
    return Api(client, make_key())


class Api:
    def __init__(self, client, token):
        self.client = client
        self.token = token

    def headers(self, extra=None):
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, url, **kwargs):
        return self.client.get(url, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, url, json=None, **kwargs):
        headers = self.headers(kwargs.pop("headers", None))
        return self.client.post(
            url, json=json if json is not None else {}, headers=headers, **kwargs
        )

    def patch(self, url, json, **kwargs):
        headers = self.headers(kwargs.pop("headers", None))
        return self.client.patch(url, json=json, headers=headers, **kwargs)

    def delete(self, url, **kwargs):
        return self.client.delete(url, headers=self.headers(kwargs.pop("headers", None)), **kwargs)


def assert_problem(response, status, field=None, message=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"] and body["detail"]
    if field is not None:
        errors = {error["field"]: error["message"] for error in body["errors"]}
        assert field in errors, errors
        if message is not None:
            assert errors[field] == message
    return body


NEW = {"name": "Ada Lovelace", "email": "ada@example.com", "country": "DE"}


# -- customers -------------------------------------------------------------------------


def test_create_read_update_and_archive_a_customer(api, db):
    created = api.post(
        "/api/v1/customers", {**NEW, "external_id": "shop-1", "phone": "030 1234567"}
    )
    assert created.status_code == 201
    customer = created.get_json()
    assert created.headers["Location"] == f"/api/v1/customers/{customer['id']}"
    # The form's defaults and normalisation: the country's currency, an E.164 phone.
    assert customer["currency"] == "EUR" and customer["phone"] == "+49301234567"
    assert customer["external_id"] == "shop-1" and customer["status"] == "active"
    assert customer["balances"] == [{"amount_minor": 0, "currency": "EUR"}]
    assert customer["payment_terms_days"] == 30 and customer["customer_number"] == "C-000001"

    url = f"/api/v1/customers/{customer['id']}"
    assert api.get(url).get_json() == customer

    updated = api.patch(url, {"city": "Berlin", "external_id": "shop-1b"})
    assert updated.status_code == 200
    assert updated.get_json()["city"] == "Berlin"
    assert updated.get_json()["external_id"] == "shop-1b"
    assert updated.get_json()["name"] == "Ada Lovelace"  # not sent: kept
    stored = db.session.get(Customer, customer["id"])
    db.session.refresh(stored)
    assert (stored.city, stored.external_id) == ("Berlin", "shop-1b")

    archived = api.post(f"{url}/archive")
    assert archived.status_code == 200 and archived.get_json()["status"] == "archived"
    assert_problem(api.post(f"{url}/archive"), 409)
    # The list's default view leaves archived customers out, as the panel's does.
    assert api.get("/api/v1/customers").get_json()["data"] == []
    archived_list = api.get("/api/v1/customers?status=archived").get_json()["data"]
    assert [row["id"] for row in archived_list] == [customer["id"]]


def test_the_list_has_the_panels_search_filters_and_cursor(api, make_customer):
    for number in range(51):
        make_customer(name=f"Customer {number:02}", email=f"c{number}@example.com")
    make_customer(name="Grace Hopper", email="grace@example.com", country="US", currency="USD")
    first = api.get("/api/v1/customers?sort=name&dir=asc").get_json()
    assert len(first["data"]) == 50 and first["next_cursor"]
    second = api.get(f"/api/v1/customers?sort=name&dir=asc&cursor={first['next_cursor']}")
    names = [row["name"] for row in first["data"] + second.get_json()["data"]]
    assert names == sorted(names) and len(set(names)) == 52
    assert second.get_json()["next_cursor"] is None

    found = api.get("/api/v1/customers?q=hopper").get_json()["data"]
    assert [row["name"] for row in found] == ["Grace Hopper"]
    assert found[0]["balance"] == {"amount_minor": 0, "currency": "USD"}
    by_country = api.get("/api/v1/customers?country=us").get_json()["data"]
    assert [row["name"] for row in by_country] == ["Grace Hopper"]
    # What the panel quietly drops widens nothing here: it is refused.
    assert_problem(api.get("/api/v1/customers?country=XX"), 422, "country")
    assert_problem(api.get("/api/v1/customers?tag=nosuchtag"), 422, "tag")
    assert_problem(api.get("/api/v1/customers?sort=shoe_size"), 422, "sort")
    assert_problem(api.get("/api/v1/customers?cursor=not-a-cursor"), 422, "cursor")
    assert_problem(api.get("/api/v1/customers?colour=red"), 422, "colour")


def test_refused_values_get_the_add_customer_forms_own_messages(api, db):
    sent = {"name": "", "email": "not an address", "country": "DE", "payment_terms_days": 999}
    _, form_errors = check_customer_input(sent)
    body = assert_problem(api.post("/api/v1/customers", sent), 422)
    assert {error["field"]: error["message"] for error in body["errors"]} == form_errors
    assert set(form_errors) == {"name", "email", "payment_terms_days"}
    # Wrong shapes and unknown fields are named too.
    assert_problem(api.post("/api/v1/customers", {**NEW, "colour": "red"}), 422, "colour")
    assert_problem(api.post("/api/v1/customers", {**NEW, "auto_pay": "maybe"}), 422, "auto_pay")
    # A NUL is refused beside its field, never a server error.
    assert_problem(
        api.post("/api/v1/customers", {**NEW, "city": "Ber\x00lin"}),
        422,
        "city",
        UNSTORABLE_IN_FIELD,
    )
    assert_problem(
        api.post("/api/v1/customers", {**NEW, "external_id": "a\x00b"}),
        422,
        "external_id",
        UNSTORABLE_IN_FIELD,
    )
    assert_problem(
        api.client.post(
            "/api/v1/customers",
            data="{not json",
            headers=api.headers({"Content-Type": "application/json"}),
        ),
        400,
    )
    assert_problem(
        api.client.post("/api/v1/customers", data="name=Ada", headers=api.headers()), 415
    )
    assert_problem(api.post("/api/v1/customers", [1, 2]), 422)
    assert db.session.scalar(select(func.count(Customer.id))) == 0


def test_the_billing_currency_is_fixed_once_money_has_moved(api, euro_customer):
    api.post(
        f"/api/v1/customers/{euro_customer.id}/entries",
        {"kind": "charge", "amount": {"amount_minor": 100, "currency": "EUR"}, "description": "A"},
    )
    response = api.patch(f"/api/v1/customers/{euro_customer.id}", {"currency": "USD"})
    assert_problem(
        response,
        422,
        "currency",
        check_customer_input({"currency": "USD"}, euro_customer, locked_currency="EUR")[1][
            "currency"
        ],
    )


def test_an_external_id_taken_by_another_customer_is_a_conflict(api, make_customer):
    other = make_customer(external_id="shop-7")
    body = assert_problem(api.post("/api/v1/customers", {**NEW, "external_id": "shop-7"}), 409)
    assert body["errors"][0]["field"] == "external_id"
    assert f"C-{other.id:06}" in body["detail"]
    mine = api.post("/api/v1/customers", {**NEW, "external_id": "shop-8"}).get_json()
    assert_problem(
        api.patch(f"/api/v1/customers/{mine['id']}", {"external_id": "shop-7"}),
        409,
        "external_id",
    )


def test_unknown_ids_paths_and_methods_are_problems(api):
    assert_problem(api.get("/api/v1/customers/999"), 404)
    assert_problem(api.get("/api/v1/nothing-here"), 404)
    assert_problem(api.patch("/api/v1/customers/999", {"city": "Berlin"}), 404)
    not_allowed = assert_problem(api.delete("/api/v1/customers"), 405)
    assert not_allowed["status"] == 405


# -- keys ---------------------------------------------------------------------------------


def test_without_a_key_or_with_a_bad_one_the_answer_is_401(client, make_key):
    assert_problem(client.get("/api/v1/customers"), 401)
    response = client.get("/api/v1/customers", headers={"Authorization": "Bearer tally_x_y"})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    token = make_key()
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert_problem(
        client.get("/api/v1/customers", headers={"Authorization": f"Bearer {tampered}"}), 401
    )
    ok = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200


def test_a_staff_session_does_not_open_the_api(staff_client):
    response = staff_client.client.get("/api/v1/customers")
    assert_problem(response, 401)
    assert "Set-Cookie" not in response.headers
    # Nor does a signed-in member's POST need or use a CSRF token there: still 401.
    assert_problem(staff_client.client.post("/api/v1/customers", json=NEW), 401)


def test_the_api_never_sets_a_cookie(api):
    response = api.post("/api/v1/customers", NEW)
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    assert "Set-Cookie" not in api.get("/api/v1/customers").headers


def test_a_read_key_reads_and_may_not_write(client, make_key, make_customer):
    customer = make_customer()
    reader = Api(client, make_key("Reporting", "read"))
    assert reader.get(f"/api/v1/customers/{customer.id}").status_code == 200
    assert_problem(reader.post("/api/v1/customers", NEW), 403)
    assert_problem(reader.patch(f"/api/v1/customers/{customer.id}", {"city": "X"}), 403)
    assert_problem(reader.delete(f"/api/v1/customers/{customer.id}/payment-link"), 403)


def test_a_revoked_key_is_refused_at_once(api, db):
    assert api.get("/api/v1/customers").status_code == 200
    key = db.session.scalar(select(ApiKey))
    api_keys.revoke(db.session, key.id, None)
    assert_problem(api.get("/api/v1/customers"), 401)


def test_last_use_is_noted_at_most_once_a_minute(api, db):
    key = db.session.scalar(select(ApiKey))
    assert key.last_used_at is None
    api.get("/api/v1/customers")
    db.session.refresh(key)
    first = key.last_used_at
    assert first is not None
    api.get("/api/v1/customers")
    db.session.refresh(key)
    assert key.last_used_at == first
    assert api_keys.touch(db.session, key, now=first) is False


def test_only_a_hash_of_the_key_is_stored(db, make_key):
    token = make_key()
    stored = db.session.scalar(select(ApiKey))
    secret = token.rsplit("_", 1)[1]
    assert secret not in stored.secret_hash and len(stored.secret_hash) == 64
    assert token.startswith(f"tally_{stored.prefix}_")


# -- rate limit -----------------------------------------------------------------------


def test_the_rate_limit_counts_per_key(database_url, instance_dir):
    app = make_app(database_url, instance_dir, API_RATE_LIMIT=3)
    from webapp.extensions import db

    with app.app_context():
        first = api_keys.create_key(db.session, "First", "read", None).token
        second = api_keys.create_key(db.session, "Second", "read", None).token
        client = app.test_client()
        try:
            for _ in range(3):
                ok = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {first}"})
                assert ok.status_code == 200
            limited = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {first}"})
            assert_problem(limited, 429)
            assert int(limited.headers["Retry-After"]) > 0
            other = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {second}"})
            assert other.status_code == 200
            # Without a live key the count is per client address: guessing is slow too.
            guess = {"Authorization": "Bearer tally_aaaaaaaa_" + "b" * 43}
            for _ in range(3):
                assert_problem(client.get("/api/v1/customers", headers=guess), 401)
            assert_problem(client.get("/api/v1/customers", headers=guess), 429)
            elsewhere = {"REMOTE_ADDR": "203.0.113.7"}
            again = client.get("/api/v1/customers", headers=guess, environ_base=elsewhere)
            assert again.status_code == 401
        finally:
            db.session.remove()
            db.session.execute(ApiKey.__table__.delete())
            db.session.commit()


# -- entries and Idempotency-Key -------------------------------------------------------------

CHARGE = {
    "kind": "charge",
    "amount": {"amount_minor": 1500, "currency": "EUR"},
    "description": "Setup fee",
}


def test_a_charge_and_a_credit_post_to_the_ledger(api, euro_customer, db):
    url = f"/api/v1/customers/{euro_customer.id}/entries"
    charge = api.post(url, CHARGE)
    assert charge.status_code == 201
    assert charge.get_json()["amount"] == {"amount_minor": -1500, "currency": "EUR"}
    credit = api.post(
        url,
        {
            "kind": "credit",
            "amount": {"amount_minor": 500, "currency": "EUR"},
            "description": "Goodwill",
            "payment_method": "Bank transfer",
        },
    )
    assert credit.get_json()["amount"]["amount_minor"] == 500
    assert credit.get_json()["payment_method"] == "Bank transfer"
    listed = api.get(url).get_json()
    assert [row["amount"]["amount_minor"] for row in listed["data"]] == [500, -1500]
    balance = api.get(f"/api/v1/customers/{euro_customer.id}").get_json()["balances"]
    assert balance == [{"amount_minor": -1000, "currency": "EUR"}]


def test_entries_are_refused_by_add_entrys_own_rules(api, euro_customer):
    url = f"/api/v1/customers/{euro_customer.id}/entries"
    negative = {**CHARGE, "amount": {"amount_minor": -5, "currency": "EUR"}}
    assert_problem(api.post(url, negative), 422, "amount.amount_minor", "Enter a positive amount.")
    zero = {**CHARGE, "amount": {"amount_minor": 0, "currency": "EUR"}}
    assert_problem(api.post(url, zero), 422, "amount.amount_minor", "The amount cannot be zero.")
    bad_currency = {**CHARGE, "amount": {"amount_minor": 5, "currency": "EUX"}}
    assert_problem(api.post(url, bad_currency), 422, "amount.currency")
    assert_problem(api.post(url, {**CHARGE, "description": " "}), 422, "description")
    assert_problem(api.post(url, {**CHARGE, "kind": "refund"}), 422, "kind")
    # The same charge moments later must be confirmed, as the panel asks.
    assert api.post(url, CHARGE).status_code == 201
    again = assert_problem(api.post(url, CHARGE), 409)
    assert '"record_again": true' in again["detail"]
    assert api.post(url, {**CHARGE, "record_again": True}).status_code == 201


def test_an_idempotency_key_replays_the_first_response(api, euro_customer, db):
    url = f"/api/v1/customers/{euro_customer.id}/entries"
    key = {"Idempotency-Key": "order-1001"}
    first = api.post(url, CHARGE, headers=key)
    again = api.post(url, CHARGE, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 1
    # The same parameters in another order and spacing are the same request.
    reordered = api.client.post(
        url,
        data='{"description": "Setup fee",  "amount": {"currency": "EUR", "amount_minor": 1500},'
        ' "kind": "charge"}',
        headers=api.headers({**key, "Content-Type": "application/json"}),
    )
    assert reordered.status_code == 201 and reordered.headers["Idempotent-Replayed"] == "true"
    # The same key for another request is refused, and posts nothing.
    other = {**CHARGE, "amount": {"amount_minor": 999, "currency": "EUR"}}
    assert_problem(api.post(url, other, headers=key), 422, "Idempotency-Key")
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 1
    # Customers too: one customer for two sends.
    created = api.post("/api/v1/customers", NEW, headers={"Idempotency-Key": "new-ada"})
    replayed = api.post("/api/v1/customers", NEW, headers={"Idempotency-Key": "new-ada"})
    assert replayed.get_json() == created.get_json()
    assert replayed.headers["Location"] == created.headers["Location"]
    assert db.session.scalar(select(func.count(Customer.id))) == 2


def test_a_refused_request_does_not_use_up_its_idempotency_key(api, euro_customer, db):
    url = f"/api/v1/customers/{euro_customer.id}/entries"
    key = {"Idempotency-Key": "retry-me"}
    zero = {**CHARGE, "amount": {"amount_minor": 0, "currency": "EUR"}}
    assert_problem(api.post(url, zero, headers=key), 422)
    assert db.session.scalar(select(func.count(IdempotencyRecord.id))) == 0


def test_a_request_in_progress_with_the_same_key_is_a_conflict(api, euro_customer, db):
    from webapp.services import idempotency

    url = f"/api/v1/customers/{euro_customer.id}/entries"
    key = db.session.scalar(select(ApiKey))
    body = json.dumps(CHARGE, sort_keys=True, separators=(",", ":")).encode()  # as compared
    fingerprint = idempotency.request_hash("POST", url, body)
    idempotency.begin(db.session, key.id, "busy", fingerprint)
    assert_problem(api.post(url, CHARGE, headers={"Idempotency-Key": "busy"}), 409)
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0


def test_idempotency_records_expire_after_24_hours(db, make_key):
    from datetime import timedelta

    from webapp.services import idempotency

    make_key()
    key = db.session.scalar(select(ApiKey))
    claim = idempotency.begin(db.session, key.id, "old", "f" * 64)
    idempotency.finish(db.session, claim, 201, "{}")
    record = db.session.get(IdempotencyRecord, claim.record_id)
    record.created_at -= timedelta(hours=25)
    db.session.commit()
    # A day later the key is new again: even another request may use it.
    assert isinstance(idempotency.begin(db.session, key.id, "old", "e" * 64), idempotency.Claim)


# -- documents: another customer's ids ------------------------------------------------------


def test_another_customers_documents_are_not_found(api, db, make_customer):
    mine = make_customer(name="Mine", email="mine@example.com", country="DE", currency="EUR")
    theirs = make_customer(name="Theirs", email="theirs@example.com", country="DE", currency="EUR")
    invoice = billing.capture_one_time_charge(
        db.session,
        theirs.id,
        amount_minor=2000,
        currency="EUR",
        description="Consulting",
        actor_id=None,
        key="a" * 32,
    ).invoice
    note = billing.capture_one_time_charge(
        db.session,
        theirs.id,
        amount_minor=-300,
        currency="EUR",
        description="Refund",
        actor_id=None,
        key="b" * 32,
    ).credit_note
    base = f"/api/v1/customers/{mine.id}"
    for url in (
        f"{base}/invoices/{invoice.id}",
        f"{base}/invoices/{invoice.id}/pdf",
        f"{base}/credit-notes/{note.id}",
        f"{base}/credit-notes/{note.id}/pdf",
    ):
        body = assert_problem(api.get(url), 404)
        assert "Consulting" not in str(body) and "Refund" not in str(body)
    assert api.get(f"{base}/invoices").get_json() == {"data": [], "next_cursor": None}
    assert api.get(f"{base}/entries").get_json() == {"data": [], "next_cursor": None}

    own = f"/api/v1/customers/{theirs.id}"
    got = api.get(f"{own}/invoices/{invoice.id}").get_json()
    assert got["number"] == invoice.number and got["subtotal"]["amount_minor"] == 2000
    assert got["lines"][0]["description"] == "Consulting"
    pdf = api.get(got["pdf_url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    listed = api.get(f"{own}/credit-notes").get_json()["data"]
    assert [row["number"] for row in listed] == [note.number]
    assert api.get(listed[0]["pdf_url"]).data.startswith(b"%PDF")


# -- payment links ------------------------------------------------------------------------


def test_generate_and_revoke_a_payment_link(api, euro_customer, client):
    url = f"/api/v1/customers/{euro_customer.id}/payment-link"
    made = api.post(url, {"expires": "30"})
    assert made.status_code == 201
    link = made.get_json()["url"]
    assert made.get_json()["expires_at"]
    path = re.sub(r"^https?://[^/]+", "", link)
    assert client.get(path).status_code == 200
    assert_problem(api.post(url, {"expires": "45"}), 422, "expires")
    assert api.delete(url).status_code == 204
    assert client.get(path).status_code == 404
    assert_problem(api.delete(url), 404)


# -- who: History names the key ---------------------------------------------------------------


def test_history_names_the_key(api, db, admin_client):
    customer = api.post("/api/v1/customers", NEW).get_json()
    api.patch(f"/api/v1/customers/{customer['id']}", {"city": "Berlin", "payment_terms_days": 14})
    api.post(f"/api/v1/customers/{customer['id']}/entries", CHARGE)
    api.post(f"/api/v1/customers/{customer['id']}/payment-link", {})
    events = db.session.scalars(
        select(CustomerEvent).where(CustomerEvent.customer_id == customer["id"])
    ).all()
    kinds = {event.kind for event in events}
    assert {"created", "edited", "entry.charge", "payment_link.generated"} <= kinds, kinds
    assert {history.who(event) for event in events} == {'API key "Shop sync"'}
    page = admin_client.get(f"/customers/{customer['id']}/history").get_data(as_text=True)
    assert "API key &#34;Shop sync&#34;" in page
    # The Billing tab's entry (Who) and payment-link log name it too.
    billing_tab = admin_client.get(f"/customers/{customer['id']}/billing").get_data(as_text=True)
    assert billing_tab.count("API key &#34;Shop sync&#34;") >= 2
    entry = db.session.scalar(select(LedgerEntry))
    assert entry.api_key.name == "Shop sync" and entry.staff_id is None


def test_audit_lines_written_under_a_key_name_it(app, db, make_key, admin_client):
    """The Audit page's Who for a line written while a key is at work (the actor comes
    from the request, as for History: no service is told)."""
    from webapp.blueprints.api.auth import authenticate
    from webapp.services import audit

    token = make_key()
    key = db.session.scalar(select(ApiKey))
    headers = {"Authorization": f"Bearer {token}"}
    with app.test_request_context("/api/v1/customers", headers=headers):
        authenticate()  # what the API's before_request does
        audit.record(db.session, "customer.deleted", "C-000009", "Deleted customer C-000009.")
        db.session.commit()
    line = db.session.scalar(select(AuditEvent).where(AuditEvent.subject == "C-000009"))
    assert line.api_key_id == key.id and line.staff_id is None
    assert "API key &#34;Shop sync&#34;" in admin_client.get("/audit").get_data(as_text=True)


def test_a_server_error_is_a_problem_too(api, app, monkeypatch):
    """Outside the tests' exception propagation, a failure is a 500 problem, not a page."""
    from webapp.blueprints.api import customers

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(customers.search, "list_customers", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    body = assert_problem(api.get("/api/v1/customers"), 500)
    assert "boom" not in body["detail"]


def test_a_staff_cookie_beside_a_key_changes_nothing(staff_client, make_key, db):
    """A program that also holds a signed-in member's cookie acts as its key alone: the
    History line names the key, not the member, and the cookie is neither read nor set."""
    token = make_key()
    response = staff_client.client.post(
        "/api/v1/customers", json=NEW, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    created = db.session.scalar(select(CustomerEvent).where(CustomerEvent.kind == "created"))
    assert created.staff_id is None and history.who(created) == 'API key "Shop sync"'
    # The member's session still works in the panel.
    assert staff_client.get("/customers").status_code == 200


def test_capture_a_one_time_charge_and_a_credit(api, euro_customer, db):
    url = f"/api/v1/customers/{euro_customer.id}/charges"
    made = api.post(
        url, {"amount": {"amount_minor": 25000, "currency": "EUR"}, "description": "Workshop"}
    )
    assert made.status_code == 201, made.get_json()
    invoice = made.get_json()["invoice"]
    # Net 250.00 at the customer's 19 %: the invoice and its entry, as in the panel.
    assert invoice["subtotal"]["amount_minor"] == 25000
    assert invoice["total"]["amount_minor"] == 29750 and invoice["status"] == "open"
    assert made.get_json()["entry"]["amount"] == {"amount_minor": -29750, "currency": "EUR"}
    assert made.get_json()["credit_note"] is None
    assert api.get(invoice["pdf_url"]).data.startswith(b"%PDF")
    listed = api.get(f"/api/v1/customers/{euro_customer.id}/invoices").get_json()["data"]
    assert [row["number"] for row in listed] == [invoice["number"]]

    credit = api.post(
        url, {"amount": {"amount_minor": -400, "currency": "EUR"}, "description": "Goodwill"}
    ).get_json()
    assert credit["invoice"] is None and credit["credit_note"]["total"]["amount_minor"] == 400
    assert credit["entry"]["amount"]["amount_minor"] == 400

    zero = {"amount": {"amount_minor": 0, "currency": "EUR"}, "description": "Nothing"}
    assert_problem(api.post(url, zero), 422, "amount.amount_minor", "The amount cannot be zero.")
    again = {"amount": {"amount_minor": 25000, "currency": "EUR"}, "description": "Workshop"}
    assert '"record_again": true' in assert_problem(api.post(url, again), 409)["detail"]


def test_a_charge_in_the_manual_flow_starts_a_draft(api, make_customer):
    customer = make_customer(invoicing_flow="manual")
    made = api.post(
        f"/api/v1/customers/{customer.id}/charges",
        {"amount": {"amount_minor": 1000, "currency": "GBP"}, "description": "Setup"},
    ).get_json()
    assert made["invoice"]["status"] == "draft" and made["invoice"]["number"] is None
    assert made["invoice"]["pdf_url"] is None and made["entry"] is None
    draft_pdf = f"/api/v1/customers/{customer.id}/invoices/{made['invoice']['id']}/pdf"
    assert_problem(api.get(draft_pdf), 404)
