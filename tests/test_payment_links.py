"""Payment links over HTTP: Generate, Email, Revoke on the Billing tab, the history, and
the customer's public page /pay/<token> (what it shows and hides, its headers, the
404 cases, the rate limit in-process and in Redis), with the token kept out of the
database and put into the email only when it is sent."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from tests.conftest import PASSWORD, csrf_token_from, make_app, sign_in
from webapp.extensions import db as _db
from webapp.models.base import utcnow
from webapp.models.billing import EntryKind
from webapp.models.customer import Customer
from webapp.models.email import Email, EmailStatus
from webapp.models.history import CustomerEvent
from webapp.models.payment_links import PaymentLink
from webapp.services import mailer, payment_links
from webapp.services.ledger import post_entry

TOKEN_URL = re.compile(r"/pay/([A-Za-z0-9_-]+)")
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}

# -- helpers and fixtures -------------------------------------------------------------


@pytest.fixture
def customer(make_customer):
    """A customer with every personal field filled in, none of which the page may show."""
    return make_customer(
        name="Euro Customer",
        company="Secretive Holdings GmbH",
        email="euro@example.com",
        phone="+49 30 5550 1234",
        mobile="+49 170 5550 9876",
        website="https://secretive.example.org",
        country="DE",
        currency="EUR",
        address_line1="17 Hiddenweg",
        address_line2="Hinterhaus 3",
        city="Quietburg",
        postal_code="10999",
        tax_id="DE999888777",
        footnotes="Internal note: prefers phone calls",
        tax_rate_bp=1900,
        payment_terms_days=14,
    )


def text_of(html: str) -> str:
    """The visible words of a page, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def billing_tab(staff_client, customer_id: int) -> str:
    response = staff_client.get(f"/customers/{customer_id}/billing")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def link_token(staff_client, customer_id: int) -> str:
    """The token of the link the Billing tab shows in its read-only field."""
    html = billing_tab(staff_client, customer_id)
    field = re.search(r'<input id="payment-link-url" type="text" readonly value="([^"]+)"', html)
    assert field, "no read-only link field on the Billing tab"
    match = TOKEN_URL.search(field.group(1))
    assert match
    return match.group(1)


def generate(staff_client, customer_id: int, expiry: str = "90") -> str:
    response = staff_client.post(f"/customers/{customer_id}/payment-link/", {"expiry": expiry})
    assert response.status_code == 303, response.get_data(as_text=True)
    return link_token(staff_client, customer_id)


def pay(client, token: str, address: str = "203.0.113.7"):
    return client.get(f"/pay/{token}", environ_base={"REMOTE_ADDR": address})


def entry(db, customer_id, minor, currency="EUR", description="Workshop"):
    kind = EntryKind.CHARGE if minor < 0 else EntryKind.CREDIT
    post_entry(
        db.session,
        customer_id,
        kind=kind,
        amount_minor=minor,
        currency=currency,
        description=description,
        actor_id=None,
        key=None,
    )


def links(db) -> list[PaymentLink]:
    db.session.expire_all()
    return db.session.scalars(select(PaymentLink).order_by(PaymentLink.id)).all()


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def link_events(db) -> int:
    """Lines in the customers' history about payment links."""
    return db.session.scalar(
        select(func.count())
        .select_from(CustomerEvent)
        .where(CustomerEvent.kind.startswith("payment_link"))
    )


def assert_public_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    policy = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["default-src"] == ["'none'"]  # so no script source at all
    assert "script-src" not in directives
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def other_app(app, database_url, instance_dir, **config):
    """Another app on the same database with the same SECRET_KEY (tokens are HMACs under
    it, so an app with another key could open no link)."""
    return make_app(database_url, instance_dir, SECRET_KEY=app.config["SECRET_KEY"], **config)


# -- the token and what the database keeps ----------------------------------------------


def test_token_is_256_bits_and_only_its_hash_is_stored(staff_client, db, customer):
    token = generate(staff_client, customer.id)
    assert len(token) == 43 and re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert len(base64.urlsafe_b64decode(token + "=")) == 32  # 256 bits, well over 128
    (link,) = links(db)
    assert re.fullmatch(r"[0-9a-f]{64}", link.nonce)  # 256 random bits
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in link.nonce

    staff_client.post(f"/customers/{customer.id}/payment-link/email")
    (email,) = db.session.scalars(select(Email)).all()
    assert payment_links.LINK_PLACEHOLDER in email.html_body
    assert payment_links.LINK_PLACEHOLDER in email.text_body
    # The token is in no column of any row of payment_links, emails or customer_events.
    for table in ("payment_links", "emails", "customer_events"):
        rows = db.session.execute(text(f"SELECT * FROM {table}")).all()
        assert rows
        for row in rows:
            assert all(token not in str(value) for value in row), table
    assert pay(staff_client.client, token).status_code == 200


def test_the_public_page_needs_no_sign_in(app, staff_client, customer):
    token = generate(staff_client, customer.id)
    anonymous = app.test_client()
    response = pay(anonymous, token)
    assert response.status_code == 200
    assert "Euro Customer" in response.get_data(as_text=True)


# -- Generate link ------------------------------------------------------------------------


def test_generate_shows_the_link_on_the_billing_tab(staff_client, db, customer):
    html = billing_tab(staff_client, customer.id)
    assert "No payment link" in html and 'id="payment-link-url"' not in html

    response = staff_client.post(f"/customers/{customer.id}/payment-link/", {"expiry": "90"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}/billing"
    html = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Payment link generated." in html
    field = re.search(r'<input id="payment-link-url" type="text" readonly value="([^"]+)"', html)
    assert field and field.group(1).startswith("http") and "/pay/" in field.group(1)
    (link,) = links(db)
    facts = text_of(html)
    assert f"Created {link.created_at:%Y-%m-%d}" in facts and "by Alex Agent" in facts
    assert f"Expires {link.expires_at:%Y-%m-%d}" in facts
    assert "Views 0" in facts and "Last viewed Not yet" in facts
    assert "Email link to customer" in html and "Generate a new link" in html


def test_generate_with_htmx_answers_204_with_a_message_and_a_refresh(staff_client, db, customer):
    response = staff_client.post(
        f"/customers/{customer.id}/payment-link/", {"expiry": "30"}, htmx_target="payment_link"
    )
    assert response.status_code == 204 and response.get_data() == b""
    events = json.loads(response.headers["HX-Trigger"])
    assert events["customerUpdated"] == customer.id
    assert "Payment link generated" in events["showMessage"]
    assert len(links(db)) == 1


@pytest.mark.parametrize("expiry, days", [("30", 30), ("90", 90), ("never", None)])
def test_expiry_choices_set_when_the_link_ends(staff_client, db, customer, expiry, days):
    generate(staff_client, customer.id, expiry)
    (link,) = links(db)
    if days is None:
        assert link.expires_at is None
        assert "Expires Never" in text_of(billing_tab(staff_client, customer.id))
    else:
        assert link.expires_at - link.created_at == timedelta(days=days)


@pytest.mark.parametrize("expiry", ["7", "", "forever", "90 "])
def test_an_unknown_expiry_is_refused_and_nothing_is_written(staff_client, db, customer, expiry):
    url = f"/customers/{customer.id}/payment-link/"
    response = staff_client.post(url, {"expiry": expiry})
    assert response.status_code == 303
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Choose when the link expires" in page
    fragment = staff_client.post(url, {"expiry": expiry}, htmx_target="payment_link")
    assert fragment.status_code == 204
    message = json.loads(fragment.headers["HX-Trigger"])["showMessage"]
    assert message["level"] == "error" and "Choose when the link expires" in message["text"]
    assert count(db, PaymentLink) == 0 and link_events(db) == 0


def test_generating_again_replaces_the_link(staff_client, db, customer):
    old = generate(staff_client, customer.id)
    new = generate(staff_client, customer.id)
    assert old != new
    assert pay(staff_client.client, old).status_code == 404
    assert pay(staff_client.client, new).status_code == 200
    first, second = links(db)
    assert first.revoked_at is not None and second.revoked_at is None
    assert "the previous link stopped working" in text_of(billing_tab(staff_client, customer.id))


# -- Revoke ---------------------------------------------------------------------------------


def test_revoke_asks_first_then_the_link_stops_working(staff_client, db, customer):
    token = generate(staff_client, customer.id)
    url = f"/customers/{customer.id}/payment-link/revoke"
    page = staff_client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "Revoke payment link" in html and "stops working at once" in html
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<html" not in modal and "stops working at once" in modal
    csrf_token_from(modal)
    assert pay(staff_client.client, token).status_code == 200  # asking revoked nothing

    response = staff_client.post(url)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}/billing"
    after = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Payment link revoked" in after and 'id="payment-link-url"' not in after
    assert pay(staff_client.client, token).status_code == 404
    assert links(db)[0].revoked_at is not None


def test_revoke_with_htmx_answers_204(staff_client, db, customer):
    token = generate(staff_client, customer.id)
    response = staff_client.post(
        f"/customers/{customer.id}/payment-link/revoke", htmx_target="form"
    )
    assert response.status_code == 204
    events = json.loads(response.headers["HX-Trigger"])
    assert events["closeModal"] is True and events["customerUpdated"] == customer.id
    assert pay(staff_client.client, token).status_code == 404


def test_revoke_without_a_link_says_so(staff_client, db, customer):
    response = staff_client.post(f"/customers/{customer.id}/payment-link/revoke")
    assert response.status_code == 303
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Euro Customer has no payment link to revoke." in page
    assert link_events(db) == 0


# -- Email link to customer -----------------------------------------------------------------


def test_email_link_records_an_email_with_the_placeholder(staff_client, db, customer):
    response = staff_client.post(f"/customers/{customer.id}/payment-link/email")
    assert response.status_code == 303
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Generate a link first" in page
    assert count(db, Email) == 0

    generate(staff_client, customer.id)
    response = staff_client.post(
        f"/customers/{customer.id}/payment-link/email", htmx_target="payment_link"
    )
    assert response.status_code == 204
    message = json.loads(response.headers["HX-Trigger"])["showMessage"]
    # No MAIL_SERVER in these tests: the message says the email is recorded, not sent.
    assert "email to euro@example.com is recorded in the Emails tab" in message
    assert "not delivered" in message
    db.session.expire_all()
    (email,) = db.session.scalars(select(Email)).all()
    (link,) = links(db)
    assert (email.kind, email.recipient, email.customer_id) == (
        "payment_link",
        "euro@example.com",
        customer.id,
    )
    assert email.payment_link_id == link.id
    assert payment_links.LINK_PLACEHOLDER in email.html_body
    assert payment_links.LINK_PLACEHOLDER in email.text_body
    assert "/pay/" not in email.html_body + email.text_body
    tab = staff_client.get(f"/customers/{customer.id}/emails").get_data(as_text=True)
    assert "Payment link" in tab and "euro@example.com" in tab


def test_a_customer_without_an_email_address_cannot_be_emailed(staff_client, db, make_customer):
    nomail = make_customer(name="No Mail", email="")
    generate(staff_client, nomail.id)
    response = staff_client.post(
        f"/customers/{nomail.id}/payment-link/email", htmx_target="payment_link"
    )
    message = json.loads(response.headers["HX-Trigger"])["showMessage"]
    assert message["level"] == "error" and "has no email address" in message["text"]
    assert count(db, Email) == 0


@pytest.fixture
def mail_app(app, database_url, instance_dir, smtp):
    """The app delivering to the ``smtp`` fixture (Flask-Mail reads MAIL_SERVER when it is
    initialised, so this is a new app on the same database and SECRET_KEY)."""
    mail_app = other_app(app, database_url, instance_dir, **smtp.config())
    with mail_app.app_context():
        yield mail_app
        _db.session.remove()
        _db.engine.dispose()


def test_the_delivered_email_holds_the_live_link(app, mail_app, db, customer, smtp, make_staff):
    staff = make_staff()
    link = payment_links.generate(db.session, customer, staff.id, "90")
    email = payment_links.email_link(db.session, customer, staff.id)  # sent after the commit
    db.session.expire_all()
    assert db.session.get(Email, email.id).status == EmailStatus.SENT
    (message,) = smtp.to("euro@example.com")
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert payment_links.LINK_PLACEHOLDER not in plain + html
    url = payment_links.link_url(link)
    assert url in plain and f'href="{url}"' in html
    token = TOKEN_URL.search(url).group(1)
    # The stored row still holds only the placeholder.
    stored = db.session.get(Email, email.id)
    assert token not in stored.html_body + stored.text_body
    # The link from the email opens the page (on the staff app too: same SECRET_KEY).
    for web in (mail_app, app):
        response = pay(web.test_client(), token)
        assert response.status_code == 200 and "Euro Customer" in response.get_data(as_text=True)


def test_a_link_revoked_before_sending_fails_the_email(mail_app, db, customer, smtp, make_staff):
    staff = make_staff()
    payment_links.generate(db.session, customer, staff.id, "never")
    smtp.stop()  # the first attempt cannot reach the server: the email waits for a retry
    email = payment_links.email_link(db.session, customer, staff.id)
    db.session.expire_all()
    waiting = db.session.get(Email, email.id)
    assert waiting.status == EmailStatus.QUEUED and waiting.attempts == 1
    payment_links.revoke(db.session, customer, staff.id)
    smtp.start()
    db.session.execute(update(Email).values(retry_at=None))
    db.session.commit()
    assert mailer.deliver(db.session, email.id) == EmailStatus.FAILED
    db.session.expire_all()
    failed = db.session.get(Email, email.id)
    assert failed.status == EmailStatus.FAILED
    assert failed.last_error == "The payment link was revoked or expired before it was sent."
    assert smtp.messages == []


# -- the public page ---------------------------------------------------------------------------


def test_page_shows_seller_name_and_balances_in_words(app, staff_client, db, customer):
    app.config["SELLER_NAME"] = "Acme Billing Co"
    entry(db, customer.id, -15000, description="Consulting")
    entry(db, customer.id, 2500, currency="USD", description="Dollar credit")
    response = pay(app.test_client(), generate(staff_client, customer.id))
    html = response.get_data(as_text=True)
    words = text_of(html)
    assert response.status_code == 200
    assert "Acme Billing Co" in words and "Euro Customer" in words
    assert "You owe €150.00" in words
    assert "You have a credit of $25.00" in words
    assert words.index("You owe €150.00") < words.index("You have a credit of $25.00")
    assert "Consulting" in words and "Dollar credit" in words


def test_page_says_paid_in_full_and_credit(app, staff_client, db, make_customer):
    settled = make_customer(name="Settled", currency="EUR")
    entry(db, settled.id, -1000)
    entry(db, settled.id, 1000, description="Payment")
    ahead = make_customer(name="Ahead", currency="EUR")
    entry(db, ahead.id, 2500, description="Goodwill")
    fresh = make_customer(name="Fresh", currency="EUR")
    words = text_of(pay(app.test_client(), generate(staff_client, settled.id)).get_data(True))
    assert "Paid in full" in words and "You owe" not in words
    words = text_of(pay(app.test_client(), generate(staff_client, ahead.id)).get_data(True))
    assert "You have a credit of €25.00" in words
    words = text_of(pay(app.test_client(), generate(staff_client, fresh.id)).get_data(True))
    assert "Paid in full" in words and "Nothing yet." in words


def test_page_counts_every_currency_and_says_paid_in_full_only_when_all_are_zero(
    app, staff_client, db, customer
):
    """A euro customer settled in euros but owing dollars owes: no "Paid in full"."""
    entry(db, customer.id, -1000)
    entry(db, customer.id, 1000, description="Payment")
    entry(db, customer.id, -146906, currency="USD", description="Dollar invoice")
    words = text_of(pay(app.test_client(), generate(staff_client, customer.id)).get_data(True))
    assert "You owe $1,469.06" in words and "Paid in full" not in words
    assert "€0.00" not in words


def test_page_shows_the_20_newest_entries(app, staff_client, db, customer):
    for number in range(1, 26):
        entry(db, customer.id, -100 * number, description=f"Entry {number:02d}")
    html = pay(app.test_client(), generate(staff_client, customer.id)).get_data(as_text=True)
    shown = re.findall(r"<td>(Entry \d\d)</td>", html)
    assert shown == [f"Entry {number:02d}" for number in range(25, 5, -1)]
    assert html.count("<tr>") == 21  # the header row and 20 entries


def test_page_shows_nothing_personal_and_no_script(app, staff_client, db, customer):
    entry(db, customer.id, -15000)
    token = generate(staff_client, customer.id)
    html = pay(app.test_client(), token).get_data(as_text=True)
    assert "Euro Customer" in html
    (link,) = links(db)
    for private in (
        "euro@example.com",
        "+49 30 5550 1234",
        "+49 170 5550 9876",
        "secretive.example.org",
        "Secretive Holdings",
        "Hiddenweg",
        "Hinterhaus",
        "Quietburg",
        "10999",
        "DE999888777",
        "prefers phone calls",
        customer.customer_id,  # C-000001 …
        "C-0",
        "/customers/",
        link.nonce,
        link.token_hash,
    ):
        assert private not in html, private
    # No internal id of the customer, link or entries in any attribute or cell.
    assert not re.search(rf"\b(?:id|data-[a-z-]+|value)=\"{customer.id}\"", html)
    assert "<script" not in html.lower() and "<form" not in html.lower()
    assert "<iframe" not in html.lower()


def test_page_headers_and_weight(app, staff_client, customer, db):
    for number in range(25):
        entry(db, customer.id, -1234, description=f"A fairly long description number {number}")
    client = app.test_client()
    response = pay(client, generate(staff_client, customer.id))
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert_public_headers(response)
    assert "Set-Cookie" not in response.headers  # nothing to track the customer by
    html = response.get_data(as_text=True)
    # Its own stylesheet (under its fingerprinted name) and nothing else from anywhere.
    (stylesheet,) = re.findall(r'<link[^>]+href="([^"]+)"', html)
    assert re.fullmatch(r"/static/pay\.[0-9a-f]{12}\.css", stylesheet)
    css = client.get(stylesheet)
    assert css.status_code == 200
    assert len(response.get_data()) + len(css.get_data()) < 15 * 1024
    assert "app.css" not in html and "htmx" not in html


def test_views_are_counted_and_shown_on_the_billing_tab(app, staff_client, db, customer):
    token = generate(staff_client, customer.id)
    client = app.test_client()
    assert pay(client, token).status_code == 200
    assert pay(client, token).status_code == 200
    (link,) = links(db)
    assert link.view_count == 2 and link.last_viewed_at is not None
    facts = text_of(billing_tab(staff_client, customer.id))
    assert "Views 2" in facts and "Not yet" not in facts
    assert f"Last viewed {link.last_viewed_at:%Y-%m-%d}" in facts
    pay(client, "x" * 43)  # an unknown token counts nothing
    assert links(db)[0].view_count == 2


# -- the 404 cases: all the same page ------------------------------------------------------


def _not_found(client, token: str):
    response = client.get(f"/pay/{token}", environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert response.status_code == 404
    assert_public_headers(response)
    return response.get_data(as_text=True)


def test_every_invalid_token_gets_the_same_404_page(app, staff_client, db, customer, backend):
    client = app.test_client()
    unknown = _not_found(client, "A" * 43)
    words = text_of(unknown)
    assert "This link is not valid" in words and "Ask Tally for a new one" in words
    assert "<script" not in unknown.lower()
    same = [unknown]

    # Revoked.
    revoked = generate(staff_client, customer.id)
    staff_client.post(f"/customers/{customer.id}/payment-link/revoke")
    same.append(_not_found(client, revoked))

    # Expired (a minute ago) — and one expiring in the future still works.
    expired = generate(staff_client, customer.id, "30")
    assert pay(client, expired).status_code == 200
    db.session.execute(
        update(PaymentLink)
        .where(PaymentLink.revoked_at.is_(None))
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    same.append(_not_found(client, expired))
    assert "No payment link" in billing_tab(staff_client, customer.id)

    # Overlong, odd and near-miss tokens.
    live = generate(staff_client, customer.id, "never")
    same.append(_not_found(client, live + "A" * 80))
    same.append(_not_found(client, live[:-1]))
    same.append(_not_found(client, live.upper() if live.upper() != live else live.lower()))
    same.append(_not_found(client, "%20"))
    same.append(_not_found(client, hashlib.sha256(live.encode()).hexdigest()))  # its hash
    same.append(_not_found(client, links(db)[-1].nonce))  # its nonce
    assert pay(client, live).status_code == 200
    # An empty token is no route at all: the app's plain 404, not a 500.
    assert client.get("/pay/").status_code == 404

    # The customer is gone. The foreign keys keep a link from outliving its customer, so
    # a deletion takes the links with it and the token is simply unknown ...
    gone = make_gone_customer(staff_client, db)
    same.append(_not_found(client, gone))
    # ... and should a link still point at a missing customer (foreign keys off, e.g. a
    # hand-run repair), the page is the same 404.
    orphan = generate(staff_client, customer.id, "never")
    orphan_link_points_nowhere(db, backend)
    same.append(_not_found(client, orphan))

    assert all(page == same[0] for page in same)


def make_gone_customer(staff_client, db) -> str:
    """A customer with entries, an emailed link and history, then deleted the only way
    the schema allows: their rows first, children before parents."""
    from webapp.services.customers import create_customer

    doomed = create_customer(
        db.session,
        {"name": "Doomed", "email": "doomed@example.com", "country": "DE", "currency": "EUR"},
    )
    entry(db, doomed.id, -500)
    token = generate(staff_client, doomed.id)
    staff_client.post(f"/customers/{doomed.id}/payment-link/email")
    assert pay(staff_client.client, token).status_code == 200
    for table in _db.metadata.sorted_tables[::-1]:
        if table.name == "customers":
            continue
        if "customer_id" in table.c:
            db.session.execute(delete(table).where(table.c.customer_id == doomed.id))
    db.session.execute(delete(Customer).where(Customer.id == doomed.id))
    db.session.commit()
    assert db.session.get(Customer, doomed.id) is None
    return token


def orphan_link_points_nowhere(db, backend: str) -> None:
    missing = 987654
    if backend == "sqlite":
        # The pragma is ignored inside a transaction: one autocommit connection of its own.
        engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.execute(
                update(PaymentLink)
                .where(PaymentLink.revoked_at.is_(None))
                .values(customer_id=missing)
            )
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    else:
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(
            update(PaymentLink).where(PaymentLink.revoked_at.is_(None)).values(customer_id=missing)
        )
        db.session.commit()
    assert db.session.scalar(
        select(func.count()).select_from(PaymentLink).where(PaymentLink.customer_id == missing)
    )


# -- the rate limit --------------------------------------------------------------------------


def assert_too_many(response) -> None:
    """The "too many requests" page: 429, the public headers, a Retry-After, no balance."""
    assert response.status_code == 429
    assert_public_headers(response)
    assert 0 < int(response.headers["Retry-After"]) <= 60
    words = text_of(response.get_data(as_text=True))
    assert "Too many requests" in words and "Euro Customer" not in words


def test_too_many_requests_from_one_address_get_429(app, staff_client, customer):
    token = generate(staff_client, customer.id)
    app.config["PAYMENT_LINK_RATE_LIMIT"] = 3
    client = app.test_client()
    for _ in range(3):
        assert pay(client, token, "192.0.2.10").status_code == 200
    assert_too_many(pay(client, token, "192.0.2.10"))
    # Unknown tokens count too (no guessing around the limit); other addresses are fine.
    assert pay(client, "B" * 43, "192.0.2.10").status_code == 429
    assert pay(client, token, "192.0.2.11").status_code == 200


def test_without_redis_each_process_counts_on_its_own(
    app, database_url, instance_dir, staff_client, customer
):
    """No REDIS_URL: the count lives in the process (which is why scripts/serve runs a
    single process then)."""
    token = generate(staff_client, customer.id)
    first, second = (
        other_app(app, database_url, instance_dir, PAYMENT_LINK_RATE_LIMIT=2).test_client()
        for _ in range(2)
    )
    assert [pay(first, token, "192.0.2.15").status_code for _ in range(3)] == [200, 200, 429]
    assert [pay(second, token, "192.0.2.15").status_code for _ in range(3)] == [200, 200, 429]


@pytest.fixture
def redis_apps(app, database_url, instance_dir, redis_server):
    """Three app instances (three web processes) sharing one Redis."""
    made = [
        other_app(
            app, database_url, instance_dir, REDIS_URL=redis_server.url, PAYMENT_LINK_RATE_LIMIT=3
        )
        for _ in range(3)
    ]
    yield made
    for web in made:
        with web.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_the_limit_is_counted_in_redis_across_processes(
    redis_apps, staff_client, customer, redis_server
):
    token = generate(staff_client, customer.id)
    first, second, third = (web.test_client() for web in redis_apps)
    assert pay(first, token, "192.0.2.20").status_code == 200
    assert pay(second, token, "192.0.2.20").status_code == 200
    assert pay(first, token, "192.0.2.20").status_code == 200
    assert_too_many(pay(second, token, "192.0.2.20"))
    # A process that has not seen this address yet refuses it as well.
    assert_too_many(pay(third, token, "192.0.2.20"))
    assert pay(first, token, "192.0.2.21").status_code == 200
    # The counts are in Redis, one per address.
    connection = redis_apps[0].extensions["tally_jobs"].connection
    keys = [key.decode() for key in connection.keys("*")]
    assert sorted(re.search(r"192\.0\.2\.\d+", key).group() for key in keys) == [
        "192.0.2.20",
        "192.0.2.21",
    ]


def test_with_redis_down_the_page_still_answers(redis_apps, staff_client, customer, redis_server):
    token = generate(staff_client, customer.id)
    client = redis_apps[0].test_client()
    assert pay(client, token, "192.0.2.30").status_code == 200  # counted in Redis
    redis_server.stop()
    answers = [pay(client, token, "192.0.2.30").status_code for _ in range(4)]
    # The process counts in memory meanwhile, so the limit still holds in this process.
    assert answers == [200, 200, 200, 429]
    assert pay(client, "C" * 43, "192.0.2.31").status_code == 404
    assert pay(redis_apps[1].test_client(), token, "192.0.2.32").status_code == 200


# -- sign-in and CSRF on the staff routes ------------------------------------------------------


STAFF_POSTS = ["/", "/email", "/revoke"]


@pytest.mark.parametrize("path", STAFF_POSTS)
def test_staff_actions_need_a_csrf_token(staff_client, db, customer, path):
    payment_links.generate(db.session, customer, None, "90")
    before = (count(db, PaymentLink), count(db, Email), link_events(db))
    url = f"/customers/{customer.id}/payment-link{path}"
    assert staff_client.post(url, {"expiry": "30"}, csrf=False).status_code == 400
    assert (count(db, PaymentLink), count(db, Email), link_events(db)) == before
    assert links(db)[0].revoked_at is None


@pytest.mark.parametrize("method, path", [("post", p) for p in STAFF_POSTS] + [("get", "/revoke")])
def test_staff_actions_need_a_sign_in(app, db, customer, method, path):
    payment_links.generate(db.session, customer, None, "90")
    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    url = f"/customers/{customer.id}/payment-link{path}"
    if method == "post":
        response = anonymous.post(url, data={"csrf_token": token, "expiry": "30"})
    else:
        response = anonymous.get(url)
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/sign-in")
    (link,) = links(db)
    assert link.revoked_at is None and count(db, Email) == 0


def test_an_unknown_customer_is_not_found(staff_client, db):
    assert staff_client.post("/customers/999999/payment-link/", {"expiry": "30"}).status_code == 404
    assert staff_client.get("/customers/999999/payment-link/revoke").status_code == 404


# -- the history ------------------------------------------------------------------------------


def test_history_records_who_did_what_and_shows_it(app, staff_client, db, customer, make_staff):
    generate(staff_client, customer.id, "never")
    staff_client.post(f"/customers/{customer.id}/payment-link/email")
    # Someone else generates a new link, then revokes it.
    other = make_staff(email="sam@example.com", name="Sam Second")
    second = app.test_client()
    assert sign_in(second, other.email, PASSWORD).status_code == 303
    token = csrf_token_from(second.get(f"/customers/{customer.id}/billing").get_data(True))
    second.post(
        f"/customers/{customer.id}/payment-link/", data={"csrf_token": token, "expiry": "30"}
    )
    second.post(f"/customers/{customer.id}/payment-link/revoke", data={"csrf_token": token})

    db.session.expire_all()
    events = db.session.scalars(
        select(CustomerEvent)
        .where(CustomerEvent.kind.startswith("payment_link"))
        .order_by(CustomerEvent.id)
    ).all()
    assert [(e.kind, e.staff_id) for e in events] == [
        ("payment_link.generated", staff_client.staff.id),
        ("payment_link.emailed", staff_client.staff.id),
        ("payment_link.generated", other.id),
        ("payment_link.revoked", other.id),
    ]
    assert all(e.customer_id == customer.id and e.created_at for e in events)
    assert events[0].summary == "Generated a payment link (never expires)."
    assert events[1].summary == "Emailed the payment link."
    assert (events[1].new_value, events[1].personal) == ("euro@example.com", True)
    assert events[2].summary.endswith("; the previous link stopped working.")

    html = billing_tab(staff_client, customer.id)
    history = text_of(html.split('class="link-history"')[1].split("</details>")[0])
    for event in events:
        line = f"{event.created_at:%Y-%m-%d}"
        assert line in history
    assert history.index("Sam Second: Revoked the payment link.") < history.index(
        "Alex Agent: Emailed the payment link. · euro@example.com"
    )
    assert "Alex Agent: Generated a payment link (never expires)." in history
