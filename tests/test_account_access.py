"""Staff give and take customer-area access: Add customer's choice (No account, Send
invite, Set password) and Actions -> Account access (Send/Resend invite, Set password,
Disable and Enable access). The invite is the onboarding email with a single-use link;
accepting it verifies the address. History and audit record each change, never a
password or a link. Delete customer and Clear personal data take the account too."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, csrf_token_from, sign_in_customer
from tests.test_history import tab
from webapp.models.customer import Customer
from webapp.models.customer_account import CustomerAccount, CustomerAccountToken, CustomerSession
from webapp.models.email import Email
from webapp.models.history import AuditEvent, CustomerEvent

INVITE_LINK = re.compile(r"/account/invite/([A-Za-z0-9_-]+)")
STAFF_SET = "a staff chosen password"


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def summaries(db, customer_id) -> list[str]:
    return db.session.scalars(
        select(CustomerEvent.summary)
        .where(CustomerEvent.customer_id == customer_id)
        .order_by(CustomerEvent.id)
    ).all()


def every_recorded_text(db) -> str:
    """All that history, audit and the stored emails hold, as one string."""
    parts = []
    for event in db.session.scalars(select(CustomerEvent)):
        parts += [event.summary, event.old_value or "", event.new_value or ""]
    for line in db.session.scalars(select(AuditEvent)):
        parts += [line.summary]
    for email in db.session.scalars(select(Email)):
        parts += [email.html_body, email.text_body, email.subject]
    return "\n".join(parts)


def add_customer(staff_client, customer_data, **typed):
    return staff_client.post("/customers/new", data={**customer_data, **typed})


def account_of(db, customer_id) -> CustomerAccount | None:
    db.session.expire_all()
    return db.session.scalar(
        select(CustomerAccount).where(CustomerAccount.customer_id == customer_id)
    )


# -- Add customer ------------------------------------------------------------------------


def test_add_customer_offers_the_three_kinds_of_access(staff_client, make_customer):
    html = staff_client.get("/customers/new").get_data(as_text=True)
    for label in ("No account", "Send invite", "Set password"):
        assert f"> {label}</label>" in html
    assert re.search(r'<input checked id="access-0" name="access" type="radio" value="none">', html)
    # Edit customer offers none of it: access is managed under Account access.
    customer = make_customer()
    edit = staff_client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert 'name="access"' not in edit and 'name="access_password"' not in edit


def test_no_account_adds_the_customer_without_one(db, staff_client, customer_data):
    response = add_customer(staff_client, customer_data, access="none")
    assert response.status_code == 303
    assert count(db, Customer) == 1 and count(db, CustomerAccount) == 0


def test_send_invite_sends_the_onboarding_email_with_a_link(
    smtp_app, smtp, db, customer_data, make_staff
):
    from tests.conftest import StaffClient, sign_in

    staff = make_staff()
    client = smtp_app.test_client()
    assert sign_in(client, staff.email).status_code == 303
    staff_client = StaffClient(client, staff)
    response = add_customer(staff_client, customer_data, access="invite")
    assert response.status_code == 303
    customer = db.session.scalars(select(Customer)).one()
    account = account_of(db, customer.id)
    assert account.email == "ada@example.com" and account.password_hash is None
    flashed = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Customer C-" in flashed and "invite" in flashed
    # One email: the entity's onboarding text with the invite link, recorded as sent.
    email = db.session.scalars(select(Email).where(Email.customer_id == customer.id)).one()
    assert email.name == "Invite and onboarding email"
    assert email.status == "sent" and email.account_token_id is not None
    assert not INVITE_LINK.search(email.text_body + email.html_body)
    [message] = smtp.to("ada@example.com")
    text = message.get_body(("plain",)).get_content()
    assert "Choose your password" in text and "72 hours" in text
    token = INVITE_LINK.search(text).group(1)
    db.session.scalars(select(CustomerAccountToken)).one()
    assert {"Onboarding email sent", "Invite to the customer area sent"} <= set(
        summaries(db, customer.id)
    )
    # The customer follows the link, chooses a password and is signed in; the invite
    # confirmed the address.
    visitor = smtp_app.test_client()
    page = visitor.get(f"/account/invite/{token}")
    assert page.status_code == 200
    chosen = "my very own password"
    answer = visitor.post(
        f"/account/invite/{token}",
        data={
            "password": chosen,
            "confirm_password": chosen,
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/account/"
    assert "Ada Lovelace" in visitor.get("/account/").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).email_verified_at is not None
    assert "Email address verified" in summaries(db, customer.id)
    # Used once: the link no longer opens.
    assert visitor.get(f"/account/invite/{token}").status_code == 410
    # History, filtered to Customer area access: staff's invite, then the customer's own.
    shown = [(line.who, line.what) for line in tab(staff_client, customer.id, "?kind=account")]
    assert shown == [
        ("The customer", "Invite accepted: the customer set a password"),
        (staff.name, "Invite to the customer area sent"),
    ]
    recorded = every_recorded_text(db)
    assert token not in recorded and chosen not in recorded


def test_set_password_on_add_follows_the_staff_rules(db, staff_client, customer_data):
    response = add_customer(staff_client, customer_data, access="password", access_password="short")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="access_password-error"' in html and "at least" in html.lower()
    assert count(db, Customer) == 0 and count(db, CustomerAccount) == 0

    response = add_customer(staff_client, customer_data, access="password", access_password="")
    assert response.status_code == 422
    assert "Enter a password, or choose another kind of access." in response.get_data(as_text=True)


def test_set_password_on_add_makes_the_customer_change_it(app, db, staff_client, customer_data):
    response = add_customer(
        staff_client, customer_data, access="password", access_password=STAFF_SET
    )
    assert response.status_code == 303
    customer = db.session.scalars(select(Customer)).one()
    account = account_of(db, customer.id)
    assert account.must_change_password and account.password_hash != STAFF_SET
    assert "Customer area password set by staff" in summaries(db, customer.id)
    audit = db.session.scalars(select(AuditEvent.kind)).all()
    assert "customer_account.password_set" in audit
    assert STAFF_SET not in every_recorded_text(db)
    # First sign-in goes to the password page, and nothing else opens until it is changed.
    visitor = app.test_client()
    signed = sign_in_customer(visitor, "ada@example.com", STAFF_SET)
    assert signed.headers["Location"] == "/account/password"
    assert visitor.get("/account/invoices").headers["Location"] == "/account/password"


def test_access_needs_an_email_address(db, staff_client, customer_data):
    response = add_customer(staff_client, customer_data, email="", access="invite")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="access-error"' in html and "signs in with their email" in html
    assert count(db, Customer) == 0


def test_an_address_another_account_uses_is_refused_beside_the_email(
    db, staff_client, customer_data, make_customer, customer_account
):
    other = make_customer(name="Other Ada", email="ada@example.com")
    customer_account(other.id)
    response = add_customer(staff_client, customer_data, access="invite")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="email-error"' in html, re.findall(r'class="(?:field|form)-error"[^<]*', html)
    assert "Another customer&#39;s account already signs in with this email." in html
    # Nothing half-written: no second customer, no email, no history.
    assert count(db, Customer) == 1 and count(db, Email) == 0


# -- Actions -> Account access ---------------------------------------------------------


@pytest.fixture
def customer(make_customer):
    return make_customer(name="Ada Lovelace", email="ada@example.com")


def access_url(customer) -> str:
    return f"/customers/{customer.id}/account-access/"


def test_account_access_is_in_the_actions_menu_and_opens_as_a_modal(staff_client, customer):
    page = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert f'href="{access_url(customer)}"' in page
    modal = staff_client.get(access_url(customer), htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "No account" in modal and "Send invite" in modal
    assert "Disable access" not in modal  # no account yet
    whole = staff_client.get(access_url(customer)).get_data(as_text=True)
    assert "<h1>Account access</h1>" in whole


def test_resend_invite_retires_the_earlier_link(db, staff_client, customer):
    for _ in range(2):
        response = staff_client.post(access_url(customer) + "invite", htmx_target="account_access")
        assert response.status_code == 204
    tokens = db.session.scalars(
        select(CustomerAccountToken).order_by(CustomerAccountToken.id)
    ).all()
    assert len(tokens) == 2
    assert tokens[0].used_at is not None and tokens[1].used_at is None
    modal = staff_client.get(access_url(customer), htmx_target="modal").get_data(as_text=True)
    assert "Invited" in modal and "Resend invite" in modal and "Last invite" in modal
    profile = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert '<span class="badge account-invited">Invited</span>' in profile
    assert summaries(db, customer.id).count("Invite to the customer area sent") == 2


def test_set_password_from_account_access(app, db, staff_client, customer):
    url = access_url(customer) + "password"
    refused = staff_client.post(
        url,
        data={"password": STAFF_SET, "confirm_password": "something else"},
        htmx_target="account_access",
    )
    assert refused.status_code == 422
    assert "The two passwords are not the same." in refused.get_data(as_text=True)
    assert account_of(db, customer.id) is None
    response = staff_client.post(url, data={"password": STAFF_SET, "confirm_password": STAFF_SET})
    assert response.status_code == 303
    assert account_of(db, customer.id).must_change_password
    shown = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Password set." in shown


def test_disable_signs_the_customer_out_and_enable_lets_them_back(
    app, db, staff_client, customer, customer_account
):
    customer_account(customer.id)
    visitor = app.test_client()
    assert sign_in_customer(visitor, "ada@example.com").status_code == 303
    assert visitor.get("/account/").status_code == 200
    response = staff_client.post(access_url(customer) + "disable")
    assert response.status_code == 303
    assert count(db, CustomerSession) == 0
    assert visitor.get("/account/").status_code == 303
    refused = sign_in_customer(app.test_client(), "ada@example.com")
    assert "Access to your account is disabled" in refused.get_data(as_text=True)
    page = staff_client.get(access_url(customer)).get_data(as_text=True)
    assert "Disabled" in page and "Enable access" in page and "Send invite" not in page
    profile = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert '<span class="badge account-disabled">Disabled</span>' in profile
    assert staff_client.post(access_url(customer) + "enable").status_code == 303
    assert sign_in_customer(app.test_client(), "ada@example.com").status_code == 303
    assert summaries(db, customer.id)[-2:] == [
        "Customer area access disabled",
        "Customer area access enabled",
    ]
    kinds = db.session.scalars(select(AuditEvent.kind)).all()
    assert {"customer_account.disabled", "customer_account.enabled"} <= set(kinds)


def test_inviting_a_customer_who_set_a_password_is_refused(
    db, staff_client, customer, customer_account
):
    customer_account(customer.id)
    response = staff_client.post(access_url(customer) + "invite", htmx_target="account_access")
    assert response.status_code == 422
    assert "already set a password" in response.get_data(as_text=True)
    assert count(db, Email) == 0


def test_every_account_access_post_needs_a_csrf_token(db, staff_client, customer, customer_account):
    customer_account(customer.id)
    for action in ("invite", "password", "disable", "enable"):
        response = staff_client.post(
            access_url(customer) + action,
            data={"password": STAFF_SET, "confirm_password": STAFF_SET},
            csrf=False,
        )
        assert response.status_code == 400, action
        assert "Form expired" in response.get_data(as_text=True)
    account = account_of(db, customer.id)
    assert account.disabled_at is None and not account.must_change_password
    assert count(db, Email) == 0


def test_account_access_needs_a_staff_sign_in(client, customer):
    response = client.get(access_url(customer))
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# -- the account goes with the customer's data ------------------------------------------


def invited_and_signed_in(app, db, staff_client, customer, customer_account):
    """The customer signed in (a session) and invited again meanwhile (a link and the
    email that carries it): every kind of row an account has."""
    account = customer_account(customer.id)
    assert sign_in_customer(app.test_client(), "ada@example.com").status_code == 303
    account.password_hash = None  # as if staff had never set one: an invite is allowed
    db.session.commit()
    assert staff_client.post(access_url(customer) + "invite").status_code == 303
    assert count(db, CustomerSession) == 1 and count(db, CustomerAccountToken) == 1
    email = db.session.scalars(select(Email).where(Email.account_token_id.is_not(None))).one()
    return email.id


def test_delete_customer_takes_the_account_its_sessions_and_links(
    app, db, admin_client, customer, customer_account
):
    invited_and_signed_in(app, db, admin_client, customer, customer_account)
    confirm = admin_client.get(f"/customers/{customer.id}/delete").get_data(as_text=True)
    assert "1 customer area account" in confirm
    response = admin_client.post(
        f"/customers/{customer.id}/delete", data={"typed_id": customer.customer_id}
    )
    assert response.status_code == 303
    for model in (CustomerAccount, CustomerSession, CustomerAccountToken, Customer, Email):
        assert count(db, model) == 0


def test_clear_personal_data_removes_the_account(app, db, admin_client, customer, customer_account):
    email_id = invited_and_signed_in(app, db, admin_client, customer, customer_account)
    preview = admin_client.get(f"/customers/{customer.id}/clear-personal-data").get_data(
        as_text=True
    )
    assert "1 customer area account" in preview
    response = admin_client.post(f"/customers/{customer.id}/clear-personal-data")
    assert response.status_code == 303
    for model in (CustomerAccount, CustomerSession, CustomerAccountToken):
        assert count(db, model) == 0
    # The email that carried the link stays, without it and without the address.
    db.session.expire_all()
    email = db.session.get(Email, email_id)
    assert email.account_token_id is None and email.recipient == ""
    assert sign_in_customer(app.test_client(), "ada@example.com", PASSWORD).status_code == 422


def test_a_cleared_customer_cannot_be_given_access(db, admin_client, customer):
    assert admin_client.post(f"/customers/{customer.id}/clear-personal-data").status_code == 303
    for action, data in (
        ("invite", {}),
        ("password", {"password": STAFF_SET, "confirm_password": STAFF_SET}),
    ):
        response = admin_client.post(access_url(customer) + action, data=data)
        assert response.status_code == 409, action
    assert count(db, CustomerAccount) == 0 and count(db, Email) == 0
