"""Customer sessions: own cookie, own table; the panel and the customer area never open
for the other's session."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.conftest import PASSWORD, customer_client_for, sign_in, sign_in_customer
from webapp.customer_auth import COOKIE_NAME
from webapp.models.customer_account import CustomerSession
from webapp.services import customer_sessions


def _cookie_header(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE_NAME))


def test_sign_in_sets_own_cookie_and_a_hashed_session_row(
    client, db, make_customer, customer_account
):
    customer = make_customer()
    account = customer_account(customer.id)
    response = sign_in_customer(client, "ADA@example.com")
    assert response.status_code == 303
    header = _cookie_header(response)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/account" in header
    token = header.split(";")[0].split("=", 1)[1]
    row = db.session.scalar(select(CustomerSession))
    assert row.account_id == account.id and row.id_hash != token and len(row.id_hash) == 64
    # Flask's (staff) session cookie holds no sign-in.
    with client.session_transaction() as flask_session:
        assert "_user_id" not in flask_session
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "ada@example.com" in page.get_data(as_text=True)


def test_secure_cookie_follows_the_staff_setting(app, make_customer, customer_account):
    app.config["SESSION_COOKIE_SECURE"] = True
    customer = make_customer()
    customer_account(customer.id)
    response = sign_in_customer(app.test_client(), "ada@example.com")
    assert "Secure" in _cookie_header(response)


def test_wrong_password_is_refused_and_throttled_like_staff(
    client, db, make_customer, customer_account
):
    customer = make_customer()
    customer_account(customer.id)
    for _ in range(5):
        response = sign_in_customer(client, "ada@example.com", "wrong password!")
        assert response.status_code == 422
        assert "Email or password is not right." in response.get_data(as_text=True)
    locked = sign_in_customer(client, "ada@example.com", PASSWORD)
    assert locked.status_code == 422
    assert "Too many failed sign-in attempts" in locked.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CustomerSession)) == 0


def test_unknown_email_reads_like_a_wrong_password(client, make_customer, customer_account):
    response = sign_in_customer(client, "nobody@example.com")
    assert response.status_code == 422
    assert "Email or password is not right." in response.get_data(as_text=True)


def test_customer_session_never_opens_the_panel(app, make_customer, customer_account):
    customer = make_customer()
    account = customer_account(customer.id)
    signed_in = customer_client_for(app, account)
    token = customer_sessions.start_session(
        app.extensions["sqlalchemy"].session, account, _policy(app)
    )
    # Even sent on every path (not only /account), the customer cookie is no staff sign-in.
    signed_in.client.set_cookie(COOKIE_NAME, token, path="/")
    for url in ("/customers", f"/customers/{customer.id}", "/exports/", "/staff", "/audit"):
        response = signed_in.client.get(url)
        assert response.status_code == 302
        assert "/sign-in" in response.headers["Location"]
        assert "Ada Lovelace" not in response.get_data(as_text=True)
    page = signed_in.client.get("/customers", follow_redirects=True).get_data(as_text=True)
    assert "<h1>Sign in</h1>" in page


def test_staff_session_never_opens_the_customer_area(staff_client):
    for url in ("/account/password", "/account/", "/account/invoices", "/account/statement"):
        response = staff_client.get(url)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/account/sign-in")


def test_htmx_without_a_customer_session_redirects_the_window(client):
    response = client.get(
        "/account/password",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/account/password"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/account/sign-in?next=")


def test_sign_out_ends_the_session_on_the_server(db, customer_client):
    response = customer_client.post("/account/sign-out")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/sign-in"
    assert db.session.scalar(select(func.count()).select_from(CustomerSession)) == 0
    assert customer_client.get("/account/password").status_code == 303


def test_sign_out_needs_csrf(customer_client):
    assert customer_client.post("/account/sign-out", csrf=False).status_code == 400


def test_disabled_account_is_signed_out_and_cannot_sign_in(app, db, customer_client):
    from webapp.models.base import utcnow

    customer_client.account.disabled_at = utcnow()
    db.session.commit()
    assert customer_client.get("/account/password").status_code == 303
    response = sign_in_customer(app.test_client(), "ada@example.com")
    assert response.status_code == 422
    assert "Access to your account is disabled" in response.get_data(as_text=True)


def test_next_stays_inside_the_customer_area(client, make_customer, customer_account):
    customer = make_customer()
    customer_account(customer.id)
    page = client.get("/account/sign-in?next=/customers").get_data(as_text=True)
    from tests.conftest import csrf_token_from

    response = client.post(
        "/account/sign-in",
        data={
            "email": "ada@example.com",
            "password": PASSWORD,
            "next": "https://evil.example/account/x",
            "csrf_token": csrf_token_from(page),
        },
    )
    assert response.headers["Location"].startswith("/account/")


def test_staff_and_customer_sessions_live_side_by_side(
    app, make_staff, make_customer, customer_account
):
    staff = make_staff()
    customer = make_customer()
    customer_account(customer.id)
    client = app.test_client()
    assert sign_in(client, staff.email).status_code == 303
    assert sign_in_customer(client, "ada@example.com").status_code == 303
    assert client.get("/customers").status_code == 200
    assert client.get("/account/password").status_code == 200


def _policy(app):
    from webapp.services.staff_sessions import policy_from_config

    return policy_from_config(app.config)
