"""Sign in, sign out, throttling, and the login wall around every staff route."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.conftest import PASSWORD, csrf_token_from, sign_in
from tests.crawl import is_api, is_customer_area
from webapp.blueprints.api.auth import PUBLIC_API_ENDPOINTS
from webapp.config import load_config
from webapp.models.staff import SignInThrottle
from webapp.services.staff import hash_password


def test_sign_in_page_is_public_and_has_a_visible_form(client):
    page = client.get("/sign-in")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Sign in</h1>" in html
    assert '<label for="email">Email' in html
    assert '<label for="password">Password' in html


def test_staff_signs_in_and_lands_on_the_customer_list(client, make_staff):
    make_staff(email="kim@example.com", name="Kim Doe")
    response = sign_in(client, "Kim@Example.com")
    assert response.status_code == 303
    assert response.headers["Location"] == "/customers"
    page = client.get("/customers").get_data(as_text=True)
    assert "Kim Doe" in page
    assert "Sign out" in page


def test_wrong_password_is_refused_with_a_message(client, make_staff):
    make_staff(email="kim@example.com")
    response = sign_in(client, "kim@example.com", password="not the password")
    assert response.status_code == 422
    assert "Email or password is not right." in response.get_data(as_text=True)
    assert client.get("/customers").status_code == 302


def test_session_cookie_is_httponly_and_samesite_lax(client, make_staff):
    make_staff(email="kim@example.com")
    response = sign_in(client, "kim@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_passwords_are_stored_only_as_hashes(db, make_staff):
    staff = make_staff(password=PASSWORD)
    assert PASSWORD not in staff.password_hash
    assert staff.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_outside_the_tests_passwords_are_hashed_with_scrypt(tmp_path):
    """The tests' cheap hash is their own setting: the app's default stays scrypt."""
    assert load_config(str(tmp_path))["PASSWORD_HASH_METHOD"] is None
    bare = Flask(__name__)
    bare.config["PASSWORD_HASH_METHOD"] = None
    with bare.app_context():
        assert hash_password(PASSWORD).startswith("scrypt:")


def test_next_only_redirects_within_the_site(client, make_staff):
    make_staff(email="kim@example.com")
    token = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    response = client.post(
        "/sign-in",
        data={
            "email": "kim@example.com",
            "password": PASSWORD,
            "next": "https://evil.example/",
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == "/customers"


def test_sign_in_after_redirect_returns_to_the_page_asked_for(client, make_staff):
    make_staff(email="kim@example.com")
    first = client.get("/customers?q=ada")
    assert first.status_code == 302
    assert "/sign-in?next=" in first.headers["Location"]
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    response = client.post(
        "/sign-in",
        data={
            "email": "kim@example.com",
            "password": PASSWORD,
            "next": "/customers?q=ada",
            "csrf_token": csrf_token_from(page),
        },
    )
    assert response.headers["Location"] == "/customers?q=ada"


def test_sign_out_ends_the_session(staff_client):
    response = staff_client.post("/sign-out")
    assert response.status_code == 303
    assert staff_client.client.get("/customers").status_code == 302


def test_sign_out_needs_a_csrf_token(staff_client):
    response = staff_client.post("/sign-out", csrf=False)
    assert response.status_code == 400
    assert staff_client.client.get("/customers").status_code == 200


def test_account_is_locked_after_repeated_failures_even_with_the_right_password(
    client, make_staff, db
):
    make_staff(email="kim@example.com")
    for _ in range(5):
        assert sign_in(client, "kim@example.com", password="wrong").status_code == 422
    response = sign_in(client, "kim@example.com")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in html
    assert db.session.get(SignInThrottle, "account:kim@example.com").locked_until is not None


def test_lock_is_per_account_other_accounts_still_sign_in(client, make_staff, app):
    make_staff(email="kim@example.com")
    make_staff(email="sam@example.com", name="Sam")
    for _ in range(5):
        sign_in(client, "kim@example.com", password="wrong", address="10.0.0.1")
    other = app.test_client()
    assert sign_in(other, "sam@example.com", address="10.0.0.2").status_code == 303


def test_many_failures_from_one_address_lock_that_address(client, make_staff):
    make_staff(email="kim@example.com")
    for attempt in range(20):
        sign_in(client, f"nobody{attempt}@example.com", password="x", address="192.0.2.9")
    response = sign_in(client, "kim@example.com", address="192.0.2.9")
    assert response.status_code == 422
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    assert sign_in(client, "kim@example.com", address="192.0.2.10").status_code == 303


def test_successful_sign_in_resets_the_failure_count(client, make_staff, db):
    make_staff(email="kim@example.com")
    for _ in range(4):
        sign_in(client, "kim@example.com", password="wrong")
    assert sign_in(client, "kim@example.com").status_code == 303
    assert db.session.get(SignInThrottle, "account:kim@example.com") is None


def test_deactivated_staff_cannot_sign_in(client, make_staff, db):
    staff = make_staff(email="kim@example.com")
    staff.active = False
    db.session.commit()
    response = sign_in(client, "kim@example.com")
    assert response.status_code == 422
    assert "deactivated" in response.get_data(as_text=True)


def test_roles_admin_and_agent_exist(make_staff):
    assert make_staff(email="a@example.com", role="admin").is_admin
    assert not make_staff(email="b@example.com", role="agent").is_admin


STAFF_ROUTES = [
    ("GET", "/customers"),
    ("GET", "/customers?q=x"),
    ("GET", "/customers/new"),
    ("POST", "/customers/new"),
    ("GET", "/customers/1"),
    ("GET", "/customers/1/profile"),
    ("GET", "/customers/1/edit"),
    ("POST", "/customers/1/edit"),
    ("GET", "/customers/1/status?to=archived"),
    ("POST", "/customers/1/status"),
    ("GET", "/customers/form/currency?country=DE"),
    ("GET", "/customers/form/duplicates?email=a@b.co"),
]


@pytest.mark.parametrize(("method", "url"), STAFF_ROUTES)
def test_every_staff_route_needs_sign_in(client, make_customer, method, url):
    make_customer()
    # A valid CSRF token (the sign-in page gives one), so only the login wall can refuse.
    token = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    data = {"csrf_token": token} if method == "POST" else None
    response = client.open(url, method=method, data=data)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_every_registered_route_is_behind_sign_in_except_the_public_ones(app, client):
    """Guards future routes too: anything new is staff-only unless listed as public
    (the payment-link page is the customer's, reached only with a valid token)."""
    public = {"auth.sign_in", "static", "health", "public.pay", "email_verification.confirm"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in public:
            continue
        if is_customer_area(rule):
            # The customer area's door: tests/test_customer_routes.py checks each route
            # asks for a customer session (never a staff one) or is its public page.
            continue
        url = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
        token = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            data = {"csrf_token": token} if method != "GET" else None
            response = client.open(url, method=method, data=data)
            if is_api(rule):
                # Programs' door: an API key, never a sign-in page. Only the API's own
                # reference (the OpenAPI document and its docs page) is open to all.
                if rule.endpoint in PUBLIC_API_ENDPOINTS:
                    assert response.status_code == 200, (method, url)
                    continue
                assert response.status_code == 401, (method, url, response.status_code)
                assert response.mimetype == "application/problem+json", (method, url)
                continue
            assert response.status_code == 302, (method, url, response.status_code)
            assert response.headers["Location"].startswith("/sign-in"), (method, url)


def test_expired_session_on_htmx_request_redirects_the_window(client, make_customer):
    make_customer()
    response = client.get(
        "/customers?q=ada",
        headers={
            "HX-Request": "true",
            "HX-Target": "results",
            "HX-Current-URL": "http://localhost/customers/1",
        },
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/sign-in?next=/customers/1"
    assert response.get_data(as_text=True) == ""


def test_health_check_is_public(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_overlong_email_on_sign_in_is_a_message_not_a_crash(client):
    response = sign_in(client, "a" * 300 + "@example.com", password="x")
    assert response.status_code == 422
    assert "Field cannot be longer than 254 characters." in response.get_data(as_text=True)
