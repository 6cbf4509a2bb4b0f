"""Rotating SECRET_KEY: with the old key in SECRET_KEY_FALLBACKS, session cookies, forms
opened before and payment links made under it keep working; once it is dropped from
the fallbacks they stop."""

from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import select

from tests.conftest import make_app, sign_in
from webapp.config import load_config
from webapp.extensions import db as _db
from webapp.models.customer import Customer
from webapp.models.notes import Note
from webapp.services import payment_links

TOKEN_URL = re.compile(r'id="payment-link-url" type="text" readonly value="[^"]*/pay/([\w-]+)"')
NEW_KEY = "new-" + secrets.token_hex(16)


@pytest.fixture
def rotated(app, database_url, instance_dir):
    """Make an app on the same database with other keys; each is cleaned up after."""
    made = []

    def _make(secret_key: str, fallbacks: list[str]):
        other = make_app(
            database_url, instance_dir, SECRET_KEY=secret_key, SECRET_KEY_FALLBACKS=fallbacks
        )
        made.append(other)
        return other

    yield _make
    for other in made:
        with other.app_context():
            _db.session.remove()
            _db.engine.dispose()


def browser_with_cookie(app, cookie: str):
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def shown_link_token(client, customer_id: int) -> str | None:
    """The token of the link the Billing tab offers to copy, or None (no live link)."""
    html = client.get(f"/customers/{customer_id}/billing").get_data(as_text=True)
    match = TOKEN_URL.search(html)
    return match.group(1) if match else None


def notes(db) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(Note.body).order_by(Note.id)))


def test_a_session_made_under_the_old_key_lasts_while_the_key_is_a_fallback(
    app, db, staff_client, make_customer, rotated
):
    customer = make_customer()
    old_key = app.config["SECRET_KEY"]
    form_token = staff_client.token()  # a form opened before the rotation
    cookie = staff_client.client.get_cookie("session").value

    during = browser_with_cookie(rotated(NEW_KEY, [old_key]), cookie)
    page = during.get("/customers")
    assert page.status_code == 200
    assert staff_client.staff.name in page.get_data(as_text=True)
    # The form opened before the rotation still submits.
    posted = during.post(
        f"/customers/{customer.id}/notes/", data={"body": "Sent after", "csrf_token": form_token}
    )
    assert posted.status_code == 303
    assert notes(db) == ["Sent after"]

    after = browser_with_cookie(rotated(NEW_KEY, []), cookie)
    page = after.get("/customers")
    assert page.status_code == 302 and page.headers["Location"].startswith("/sign-in")
    refused = after.post(
        f"/customers/{customer.id}/notes/", data={"body": "Too late", "csrf_token": form_token}
    )
    assert refused.status_code == 400  # Form expired: the cookie, and its CSRF secret, are gone
    assert notes(db) == ["Sent after"]


def test_a_payment_link_made_under_the_old_key_opens_while_the_key_is_a_fallback(
    app, db, staff_client, make_customer, rotated, make_staff
):
    customer = make_customer(name="Euro Customer", currency="EUR", country="DE")
    response = staff_client.post(f"/customers/{customer.id}/payment-link/", {"expiry": "90"})
    assert response.status_code == 303
    token = shown_link_token(staff_client, customer.id)
    assert token
    old_key = app.config["SECRET_KEY"]

    during = rotated(NEW_KEY, [old_key])
    opened = during.test_client().get(f"/pay/{token}")
    assert opened.status_code == 200
    assert "Euro Customer" in opened.get_data(as_text=True)
    # Staff signed in under the new key see (and copy) the same link.
    staff_during = during.test_client()
    assert sign_in(staff_during, staff_client.staff.email).status_code == 303
    assert shown_link_token(staff_during, customer.id) == token

    after = rotated(NEW_KEY, [])
    assert after.test_client().get(f"/pay/{token}").status_code == 404
    staff_after = after.test_client()
    assert sign_in(staff_after, staff_client.staff.email).status_code == 303
    # The panel no longer offers the dead link: Generate link makes one under the new key.
    assert shown_link_token(staff_after, customer.id) is None
    html = staff_after.get(f"/customers/{customer.id}/billing").get_data(as_text=True)
    assert "Generate link" in html


def test_a_link_made_under_the_new_key_does_not_open_under_the_old_one(
    app, db, staff_client, make_customer, rotated
):
    customer_id = make_customer().id
    new_app = rotated(NEW_KEY, [app.config["SECRET_KEY"]])
    with new_app.app_context():
        customer = _db.session.get(Customer, customer_id)
        link = payment_links.generate(_db.session, customer, None, "90")
        token = payment_links.link_url(link).rsplit("/", 1)[1]
        _db.session.remove()
    assert new_app.test_client().get(f"/pay/{token}").status_code == 200
    # The old key never signed it: an app still on the old key opens nothing.
    assert app.test_client().get(f"/pay/{token}").status_code == 404


def test_fallback_keys_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "current")
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", " previous , older ,")
    assert load_config(str(tmp_path))["SECRET_KEY_FALLBACKS"] == ["previous", "older"]
    monkeypatch.delenv("SECRET_KEY_FALLBACKS")
    assert load_config(str(tmp_path))["SECRET_KEY_FALLBACKS"] == []
