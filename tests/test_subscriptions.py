"""Subscriptions tab (issue 7's first part): Add subscription with 422 beside the
field, Cancel subscription confirmed on the server, records kept (no edit, no
delete), and the sign-in and CSRF every route needs."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from webapp.models.subscriptions import Subscription
from webapp.services import subscriptions
from webapp.services.records import RecordError

FORM = {
    "plan_name": "Pro",
    "amount": "49.00",
    "currency": "EUR",
    "interval": "monthly",
    "starts_on": "2026-12-01",
}


@pytest.fixture
def customer(make_customer):
    return make_customer(name="Acme Ltd", currency="EUR", country="DE")


def saved(db) -> list[tuple]:
    db.session.expire_all()
    rows = db.session.execute(
        select(
            Subscription.plan_name,
            Subscription.amount_minor,
            Subscription.currency,
            Subscription.interval,
            Subscription.starts_on,
            Subscription.status,
        ).order_by(Subscription.id)
    )
    return [tuple(row) for row in rows]


def add(db, customer, **fields) -> Subscription:
    values = {
        "plan_name": "Pro",
        "amount_minor": 4900,
        "currency": "EUR",
        "interval": "monthly",
        "starts_on": date(2026, 12, 1),
        **fields,
    }
    return subscriptions.add(db.session, customer, None, values)


def test_the_tab_is_a_page_and_a_fragment(staff_client, customer):
    url = f"/customers/{customer.id}/subscriptions"
    page = staff_client.get(url).get_data(as_text=True)
    assert "<html" in page and "No subscriptions yet." in page and "Add subscription" in page
    fragment = staff_client.get(url, htmx_target="customer_tab")
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]


def test_add_subscription_is_a_modal_and_a_page(staff_client, customer):
    url = f"/customers/{customer.id}/subscriptions/new"
    page = staff_client.get(url).get_data(as_text=True)
    assert "<h1>New subscription</h1>" in page
    assert '<option selected value="EUR">' in page  # the customer's billing currency
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "New subscription" in modal
    for label in ("Plan", "Amount", "Currency", "Interval", "Monthly", "Yearly", "Start date"):
        assert label in modal


def test_adding_a_subscription_lists_it_as_active(staff_client, db, customer):
    response = staff_client.post(f"/customers/{customer.id}/subscriptions/new", FORM)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}/subscriptions"
    html = staff_client.get(f"/customers/{customer.id}/subscriptions").get_data(as_text=True)
    assert "Subscription added." in html
    assert "Pro" in html and "€49.00" in html and "Monthly" in html and "2026-12-01" in html
    assert "Active" in html and "Cancel subscription" in html
    assert saved(db) == [("Pro", 4900, "EUR", "monthly", date(2026, 12, 1), "active")]
    htmx = staff_client.post(
        f"/customers/{customer.id}/subscriptions/new",
        {**FORM, "plan_name": "Storage", "interval": "yearly"},
        htmx_target="form",
    )
    assert htmx.status_code == 204
    assert json.loads(htmx.headers["HX-Trigger"])["showMessage"] == "Subscription added."


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"plan_name": ""}, "plan_name", "Enter the plan&#39;s name."),
        ({"plan_name": "x" * 201}, "plan_name", "200 characters"),
        ({"amount": ""}, "amount", "Enter an amount."),
        ({"amount": "abc"}, "amount", ""),
        ({"amount": "0"}, "amount", ""),
        ({"amount": "-5"}, "amount", ""),
        ({"currency": "ZZZ"}, "currency", "Choose a currency from the list."),
        ({"interval": "weekly"}, "interval", "Choose monthly or yearly."),
        ({"starts_on": "2026-13-45"}, "starts_on", ""),
        ({"starts_on": ""}, "starts_on", "Enter the start date."),
    ],
)
def test_a_bad_subscription_is_refused_beside_the_field(
    staff_client, db, customer, changes, field, message
):
    response = staff_client.post(
        f"/customers/{customer.id}/subscriptions/new", {**FORM, **changes}, htmx_target="form"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html
    assert saved(db) == []


def test_cancel_asks_first_then_cancels_once(staff_client, db, customer):
    subscription = add(db, customer)
    url = f"/customers/{customer.id}/subscriptions/{subscription.id}/cancel"
    confirm = staff_client.get(url).get_data(as_text=True)
    assert "Cancel this subscription of Acme Ltd" in confirm and "Pro · €49.00 monthly" in confirm
    assert ">Confirm</button>" in confirm and "Keep it" in confirm
    assert "<dialog" in staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert saved(db)[0][-1] == "active"

    response = staff_client.post(url, {})
    assert response.status_code == 303
    assert saved(db)[0][-1] == "cancelled"
    stored = db.session.scalars(select(Subscription)).one()
    assert stored.cancelled_at is not None
    html = staff_client.get(f"/customers/{customer.id}/subscriptions").get_data(as_text=True)
    assert "Subscription Pro cancelled." in html and "Cancelled" in html
    assert "Cancel subscription</a>" not in html

    again = staff_client.post(url, {})
    assert again.status_code == 422
    assert subscriptions.ALREADY_CANCELLED in again.get_data(as_text=True)
    assert ">Confirm</button>" not in staff_client.get(url).get_data(as_text=True)


def test_subscriptions_are_not_edited_or_deleted(staff_client, db, customer):
    subscription = add(db, customer)
    base = f"/customers/{customer.id}/subscriptions/{subscription.id}"
    assert staff_client.get(f"{base}/edit").status_code == 404
    assert staff_client.post(f"{base}/edit", FORM).status_code == 404
    assert staff_client.get(f"{base}/delete").status_code == 404
    assert staff_client.post(f"{base}/delete", {}).status_code == 404
    with pytest.raises(RecordError):
        subscriptions.remove(db.session, customer, subscription)
    assert len(saved(db)) == 1


def test_another_customers_subscription_is_not_found(staff_client, db, customer, make_customer):
    other = make_customer(name="Other", email="other@example.com")
    subscription = add(db, other)
    url = f"/customers/{customer.id}/subscriptions/{subscription.id}/cancel"
    assert staff_client.get(url).status_code == 404
    assert staff_client.post(url, {}).status_code == 404
    assert saved(db)[0][-1] == "active"


def test_sign_in_and_csrf_are_needed(app, staff_client, db, customer):
    subscription = add(db, customer)
    cancel = f"/customers/{customer.id}/subscriptions/{subscription.id}/cancel"
    new = f"/customers/{customer.id}/subscriptions/new"
    assert staff_client.post(cancel, {}, csrf=False).status_code == 400
    assert staff_client.post(new, FORM, csrf=False).status_code == 400
    signed_out = app.test_client()
    for url in (cancel, new, f"/customers/{customer.id}/subscriptions"):
        response = signed_out.get(url)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert saved(db)[0][-1] == "active" and len(saved(db)) == 1


def test_has_active_follows_cancel(db, customer):
    assert not subscriptions.has_active(db.session, customer.id)
    first = add(db, customer)
    add(db, customer, plan_name="Storage", interval="yearly")
    assert subscriptions.has_active(db.session, customer.id)
    listed = subscriptions.subscriptions_of(db.session, customer.id)
    assert [s.plan_name for s in listed] == ["Storage", "Pro"]  # newest id first on the same day
    subscriptions.cancel(db.session, customer, first.id)
    assert [s.plan_name for s in subscriptions.subscriptions_of(db.session, customer.id)] == [
        "Storage",
        "Pro",
    ]
    subscriptions.cancel(db.session, customer, listed[0].id)
    assert not subscriptions.has_active(db.session, customer.id)
    with pytest.raises(RecordError):
        subscriptions.cancel(db.session, customer, first.id)
