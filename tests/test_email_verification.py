"""Email verification: Actions -> Verify email sends a single-use link (recorded email,
the token kept out of the database); the public /verify-email/<token> page confirms with
a POST; expiry, single use and a changed address; the Profile badge; the list's "Email
not verified" filter; a permanent (5xx) refusal marking the address undeliverable."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import csrf_token_from
from webapp.models.base import utcnow
from webapp.models.customer import Customer
from webapp.models.email import Email, EmailStatus
from webapp.models.email_verification import EmailVerificationToken
from webapp.models.history import CustomerEvent
from webapp.services import email_verification, onboarding
from webapp.services.customers import update_customer
from webapp.services.email_address_state import token_hash

LINK = re.compile(r"/verify-email/([A-Za-z0-9_-]+)")


@pytest.fixture
def customer(make_customer):
    return make_customer(name="Vera Verify", email="vera@example.com")


def summaries(db, customer_id) -> list[str]:
    return db.session.scalars(
        select(CustomerEvent.summary).where(CustomerEvent.customer_id == customer_id)
    ).all()


def fresh(db, customer_id) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer_id)


def sent_token(smtp, address="vera@example.com") -> str:
    [message] = smtp.to(address)
    return LINK.search(message.get_body(("plain",)).get_content()).group(1)


def confirm_over_http(client, token):
    page = client.get(f"/verify-email/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return client.post(f"/verify-email/{token}", data={"csrf_token": csrf_token_from(html)})


# -- sending the link -----------------------------------------------------------------


def test_verify_email_action_records_an_email_without_the_token(staff_client, db, customer):
    url = f"/customers/{customer.id}/verify-email"
    assert "Send verification email" in staff_client.get(url, htmx_target="modal").get_data(
        as_text=True
    )
    response = staff_client.post(url, htmx_target="form")
    assert response.status_code == 204
    email = db.session.scalars(select(Email).where(Email.customer_id == customer.id)).one()
    assert (email.kind, email.name, email.recipient) == (
        "email_verification",
        "Verify email",
        "vera@example.com",
    )
    row = db.session.scalars(select(EmailVerificationToken)).one()
    assert row.email_id == email.id and row.address == "vera@example.com"
    assert row.expires_at - row.created_at == timedelta(days=7)
    # The stored body holds a placeholder, never a live link.
    assert not LINK.search(email.html_body) and not LINK.search(email.text_body)
    assert "Verification email sent" in summaries(db, customer.id)
    shown = staff_client.get(f"/customers/{customer.id}/emails/{email.id}").get_data(as_text=True)
    assert "[the verification link, filled in when sent]" in shown


def test_verify_email_without_js_and_without_an_address(staff_client, db, make_customer):
    nomail = make_customer(name="No Mail", email="")
    response = staff_client.post(f"/customers/{nomail.id}/verify-email")
    assert response.status_code == 422
    assert "has no email address" in response.get_data(as_text=True)
    assert db.session.scalars(select(EmailVerificationToken)).all() == []
    assert staff_client.post(f"/customers/{nomail.id}/verify-email", csrf=False).status_code == 400


def test_the_link_confirms_once_with_a_post(smtp_app, smtp, db, customer):
    email_verification.send_verification(db.session, customer, actor=None)
    token = sent_token(smtp)
    row = db.session.scalars(select(EmailVerificationToken)).one()
    assert row.token_hash == token_hash(token) and token not in row.nonce
    client = smtp_app.test_client()
    # Opening the link (a scanner, a preview) changes nothing.
    page = client.get(f"/verify-email/{token}")
    assert page.status_code == 200
    assert "Confirm my email address" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert fresh(db, customer.id).email_verified_at is None
    done = confirm_over_http(client, token)
    assert done.status_code == 200
    assert "Address confirmed" in done.get_data(as_text=True)
    assert fresh(db, customer.id).email_verified_at is not None
    assert "Email address verified" in summaries(db, customer.id)
    # Used: the page and a second POST both say so.
    again = client.get(f"/verify-email/{token}")
    assert again.status_code == 404
    assert "expired or was already used" in again.get_data(as_text=True)
    html = client.get("/verify-email/unknown").get_data(as_text=True)
    assert "expired or was already used" in html


def test_an_expired_link_confirms_nothing(db, customer, client):
    email_verification.send_verification(db.session, customer, actor=None)
    db.session.execute(
        update(EmailVerificationToken).values(
            nonce="n", token_hash=token_hash("tok"), expires_at=utcnow() - timedelta(seconds=1)
        )
    )
    db.session.commit()
    page = client.get("/verify-email/tok")
    assert page.status_code == 404
    assert "expired or was already used" in page.get_data(as_text=True)
    assert email_verification.confirm(db.session, "tok") is None
    assert fresh(db, customer.id).email_verified_at is None


def test_a_link_for_an_old_address_confirms_nothing(db, customer):
    email_verification.send_verification(db.session, customer, actor=None)
    db.session.execute(update(EmailVerificationToken).values(token_hash=token_hash("tok")))
    db.session.commit()
    update_customer(db.session, fresh(db, customer.id), {"email": "new@example.com"})
    assert email_verification.confirm(db.session, "tok") is None
    assert fresh(db, customer.id).email_verified_at is None


def test_changing_the_address_clears_verified_and_undeliverable(db, customer):
    email_verification.mark_email_verified(db.session, customer, how="invite")
    db.session.commit()
    assert fresh(db, customer.id).email_verified_at is not None
    db.session.execute(
        update(Customer)
        .where(Customer.id == customer.id)
        .values(email_undeliverable_at=utcnow(), email_undeliverable_reason="550 gone")
    )
    db.session.commit()
    update_customer(db.session, fresh(db, customer.id), {"email": "other@example.com"})
    after = fresh(db, customer.id)
    assert (after.email_verified_at, after.email_undeliverable_at) == (None, None)
    assert after.email_undeliverable_reason == ""
    # Saving the form with the same address keeps what is known.
    email_verification.mark_email_verified(db.session, after, how="link")
    db.session.commit()
    update_customer(db.session, fresh(db, customer.id), {"email": "other@example.com"})
    assert fresh(db, customer.id).email_verified_at is not None


def test_mark_email_verified_says_how_and_is_written_once(db, customer):
    email_verification.mark_email_verified(db.session, customer, how="invite")
    email_verification.mark_email_verified(db.session, customer, how="invite")
    db.session.commit()
    lines = db.session.scalars(
        select(CustomerEvent).where(CustomerEvent.kind == "email.verified")
    ).all()
    assert len(lines) == 1
    assert "accepted an invite" in lines[0].new_value and lines[0].personal


# -- the Profile badge ----------------------------------------------------------------


def test_the_profile_badge(staff_client, db, customer):
    url = f"/customers/{customer.id}"
    assert "Not verified" in staff_client.get(url).get_data(as_text=True)
    email_verification.mark_email_verified(db.session, fresh(db, customer.id), how="link")
    db.session.commit()
    assert ">Verified<" in staff_client.get(url).get_data(as_text=True)
    db.session.execute(
        update(Customer)
        .where(Customer.id == customer.id)
        .values(email_undeliverable_at=utcnow(), email_undeliverable_reason="550 No such user")
    )
    db.session.commit()
    html = staff_client.get(url).get_data(as_text=True)
    assert "Undeliverable" in html and "550 No such user" in html


# -- the list filter ------------------------------------------------------------------


def test_the_email_not_verified_filter(staff_client, db, make_customer):
    verified = make_customer(name="Verified Val", email="val@example.com")
    make_customer(name="Unverified Una", email="una@example.com")
    make_customer(name="Blank Bo", email="")
    email_verification.mark_email_verified(db.session, verified, how="link")
    db.session.commit()
    everyone = staff_client.get("/customers").get_data(as_text=True)
    assert "Verified Val" in everyone and "Unverified Una" in everyone
    page = staff_client.get("/customers?email=unverified")
    html = page.get_data(as_text=True)
    assert "Unverified Una" in html
    assert "Verified Val" not in html and "Blank Bo" not in html
    assert '<option value="unverified" selected>Email not verified</option>' in html
    fragment = staff_client.get("/customers?email=unverified", htmx_target="results")
    assert "<html" not in fragment.get_data(as_text=True)
    assert "Unverified Una" in fragment.get_data(as_text=True)
    # An unknown value is the default view, as other filters do.
    assert "Verified Val" in staff_client.get("/customers?email=bogus").get_data(as_text=True)


# -- permanent refusals ---------------------------------------------------------------


def test_a_550_for_the_customers_address_marks_it_undeliverable(smtp_app, smtp, db, customer):
    email_verification.mark_email_verified(db.session, customer, how="link")
    db.session.commit()
    smtp.refuse_recipients("550 5.1.1 No such user here")
    email = onboarding.send_onboarding(db.session, fresh(db, customer.id), actor=None)
    db.session.expire_all()
    assert db.session.get(Email, email.id).status == EmailStatus.FAILED
    after = fresh(db, customer.id)
    assert after.email_undeliverable_at is not None
    assert "550 5.1.1 No such user here" in after.email_undeliverable_reason
    assert after.email_verified_at is None
    assert "Email address marked undeliverable" in summaries(db, customer.id)
    assert smtp.messages == []


def test_a_temporary_refusal_marks_nothing(smtp_app, smtp, db, customer):
    smtp.refuse_recipients("450 4.2.1 Mailbox busy")
    onboarding.send_onboarding(db.session, customer, actor=None)
    assert fresh(db, customer.id).email_undeliverable_at is None


def test_a_refusal_of_an_old_address_leaves_the_new_one_alone(smtp_app, smtp, db, customer):
    smtp.refuse_recipients("550 No such user")
    email = Email(
        customer_id=customer.id,
        kind="invoice",
        name="Invoice",
        recipient="someone-else@example.com",
        subject="s",
        html_body="<p>x</p>",
        text_body="x",
        status=EmailStatus.QUEUED,
        next_attempt_at=utcnow(),
    )
    db.session.add(email)
    db.session.commit()
    from webapp.services import mailer

    mailer.deliver(db.session, email.id)
    assert fresh(db, customer.id).email_undeliverable_at is None


def test_verifying_again_clears_undeliverable(db, customer):
    db.session.execute(
        update(Customer)
        .where(Customer.id == customer.id)
        .values(email_undeliverable_at=utcnow(), email_undeliverable_reason="550")
    )
    db.session.commit()
    email_verification.mark_email_verified(db.session, fresh(db, customer.id), how="link")
    db.session.commit()
    after = fresh(db, customer.id)
    assert after.email_undeliverable_at is None and after.email_verified_at is not None
    assert email_verification.email_state(after) == "verified"


# -- clearing and deleting the customer ------------------------------------------------


def test_clear_personal_data_drops_the_links_and_the_marks(db, customer):
    from webapp.services.personal_data import clear_personal_data

    email_verification.send_verification(db.session, customer, actor=None)
    db.session.execute(update(EmailVerificationToken).values(token_hash=token_hash("tok")))
    email_verification.mark_email_verified(db.session, fresh(db, customer.id), how="link")
    db.session.commit()
    clear_personal_data(db.session, customer.id)
    after = fresh(db, customer.id)
    assert (after.email, after.email_verified_at, after.email_undeliverable_at) == ("", None, None)
    assert db.session.scalars(select(EmailVerificationToken)).all() == []
    assert email_verification.confirm(db.session, "tok") is None


def test_delete_customer_takes_its_links_too(db, customer):
    from webapp.services.deletion import delete_customer

    email_verification.send_verification(db.session, customer, actor=None)
    delete_customer(db.session, customer.id, customer.customer_id)
    assert db.session.scalars(select(EmailVerificationToken)).all() == []
    assert db.session.get(Customer, customer.id) is None
