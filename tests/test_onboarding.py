"""The onboarding email: each legal entity's template in Settings (placeholders checked,
values escaped, a preview), Actions -> Send onboarding email over HTTP, and what it
records: the email (delivered to a real SMTP server), its Emails-tab row and the history."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_from
from webapp.models.email import Email, EmailStatus
from webapp.models.history import CustomerEvent
from webapp.models.settings import DEFAULT_ONBOARDING_BODY, LegalEntity
from webapp.services import onboarding
from webapp.services.onboarding import OnboardingError


@pytest.fixture
def customer(make_customer):
    return make_customer(
        name='Zoë <script>alert("x")</script>',
        company="Fish & Chips Ltd",
        email="zoe@example.com",
        country="GB",
        currency="GBP",
    )


def entity_of(db, customer) -> LegalEntity:
    return db.session.get(LegalEntity, customer.legal_entity_id)


# -- the template: placeholders and safety --------------------------------------------


def test_every_placeholder_is_filled_in_and_literal_braces_stay(db, customer):
    entity = entity_of(db, customer)
    values = onboarding.placeholder_values(customer, entity)
    text = onboarding.render_text(
        "{customer_name}|{company}|{customer_id}|{legal_entity}|{sign_in_url}|{{x}}", values
    )
    base = onboarding.sign_in_url().removesuffix("/account/sign-in")
    assert text == (
        f'Zoë <script>alert("x")</script>|Fish & Chips Ltd|{customer.customer_id}|'
        f"{entity.name}|{base}/account/sign-in|{{x}}"
    )


@pytest.mark.parametrize(
    "template",
    [
        "{customer.__class__}",
        "{customer_name.__class__.__init__}",
        "{customer_name[0]}",
        "{customer_name!r}",
        "{customer_name:>99999}",
        "{0}",
        "{}",
        "{password}",
    ],
)
def test_anything_but_a_known_placeholder_is_refused(template):
    with pytest.raises(OnboardingError) as refused:
        onboarding.parse_template(f"Hello {template}")
    assert "Unknown placeholder" in str(refused.value)
    assert "{customer_name}" in str(refused.value)


@pytest.mark.parametrize("template", ["Hello {customer_name", "Hello }", "{ {"])
def test_an_unbalanced_brace_is_refused(template):
    with pytest.raises(OnboardingError, match="brace"):
        onboarding.parse_template(template)


def test_the_html_part_escapes_the_customer_and_the_text(db, customer):
    entity = entity_of(db, customer)
    rendered = onboarding.render_onboarding(
        customer,
        entity,
        subject="Hi {customer_name}",
        body="<b>Bold?</b> {customer_name}\n\n{sign_in_url}",
    )
    html = "".join(rendered.paragraphs)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;Bold?&lt;/b&gt;" in html
    assert '<a href="http://' in html and '/account/sign-in">' in html
    # The plain-text part and subject keep the value as typed (a text part is not HTML).
    assert rendered.subject == 'Hi Zoë <script>alert("x")</script>'


def test_a_new_entity_has_the_default_template(db, customer):
    assert entity_of(db, customer).onboarding_body == DEFAULT_ONBOARDING_BODY


# -- Settings -------------------------------------------------------------------------


def test_settings_page_shows_the_template_placeholders_and_a_preview(admin_client, db, customer):
    entity = entity_of(db, customer)
    page = admin_client.get(f"/settings/legal-entities/{entity.id}/onboarding-email")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Onboarding email of" in html
    assert "{customer_name}" in html and "{sign_in_url}" in html
    assert "Preview" in html and "Hello Ada Lovelace," in html
    listing = admin_client.get("/settings/legal-entities").get_data(as_text=True)
    assert f"/settings/legal-entities/{entity.id}/onboarding-email" in listing


def test_settings_saves_the_template(admin_client, db, customer):
    entity = entity_of(db, customer)
    url = f"/settings/legal-entities/{entity.id}/onboarding-email"
    response = admin_client.post(
        url,
        {"onboarding_subject": "Hello {customer_name}", "onboarding_body": "Dear {company},\r\nhi"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    entity = db.session.get(LegalEntity, entity.id)
    assert (entity.onboarding_subject, entity.onboarding_body) == (
        "Hello {customer_name}",
        "Dear {company},\nhi",
    )


def test_an_unknown_placeholder_is_a_422_beside_its_field(admin_client, db, customer):
    entity = entity_of(db, customer)
    url = f"/settings/legal-entities/{entity.id}/onboarding-email"
    response = admin_client.post(
        url,
        {"onboarding_subject": "Hi", "onboarding_body": "Hello {customer.__class__}"},
        htmx_target="form",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="onboarding_body-error"' in html
    assert "Unknown placeholder {customer.__class__}" in html
    db.session.expire_all()
    assert db.session.get(LegalEntity, entity.id).onboarding_body == DEFAULT_ONBOARDING_BODY


def test_preview_shows_the_typed_text_without_saving(admin_client, db, customer):
    entity = entity_of(db, customer)
    url = f"/settings/legal-entities/{entity.id}/onboarding-email"
    response = admin_client.post(
        url,
        {
            "onboarding_subject": "Hi",
            "onboarding_body": "Typed <i>{customer_name}</i>",
            "preview": "1",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Typed &lt;i&gt;Ada Lovelace&lt;/i&gt;" in html
    db.session.expire_all()
    assert db.session.get(LegalEntity, entity.id).onboarding_body == DEFAULT_ONBOARDING_BODY


def test_agents_cannot_edit_the_template(staff_client, db, customer):
    entity = entity_of(db, customer)
    response = staff_client.get(f"/settings/legal-entities/{entity.id}/onboarding-email")
    assert response.status_code == 403


# -- Send onboarding email ------------------------------------------------------------


def test_send_onboarding_records_the_email_and_a_history_line(staff_client, db, customer):
    url = f"/customers/{customer.id}/onboarding-email"
    modal = staff_client.get(url, htmx_target="modal")
    assert modal.status_code == 200
    assert "Send onboarding email" in modal.get_data(as_text=True)
    response = staff_client.post(url, htmx_target="form")
    assert response.status_code == 204
    assert "customerUpdated" in response.headers["HX-Trigger"]
    email = db.session.scalars(select(Email).where(Email.customer_id == customer.id)).one()
    assert (email.kind, email.name, email.recipient) == (
        "onboarding",
        "Onboarding email",
        "zoe@example.com",
    )
    assert email.status == EmailStatus.NOT_SENT  # no mail server in this test
    assert "&lt;script&gt;" in email.html_body and "<script>" not in email.html_body
    events = db.session.scalars(
        select(CustomerEvent.summary).where(CustomerEvent.customer_id == customer.id)
    ).all()
    assert "Onboarding email sent" in events
    tab = staff_client.get(f"/customers/{customer.id}/emails").get_data(as_text=True)
    assert "Onboarding email" in tab


def test_send_onboarding_without_js_is_a_page_and_a_303(staff_client, db, customer):
    url = f"/customers/{customer.id}/onboarding-email"
    page = staff_client.get(url).get_data(as_text=True)
    assert "<html" in page and csrf_token_from(page)
    response = staff_client.post(url)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/customers/{customer.id}")


def test_send_onboarding_needs_the_csrf_token(staff_client, customer):
    url = f"/customers/{customer.id}/onboarding-email"
    assert staff_client.post(url, csrf=False).status_code == 400


def test_a_customer_without_an_email_address_is_a_422(staff_client, db, make_customer):
    nomail = make_customer(name="No Mail", email="")
    response = staff_client.post(f"/customers/{nomail.id}/onboarding-email", htmx_target="form")
    assert response.status_code == 422
    assert "has no email address" in response.get_data(as_text=True)
    assert db.session.scalars(select(Email)).all() == []


def test_the_onboarding_email_is_delivered(smtp_app, smtp, db, customer):
    email = onboarding.send_onboarding(db.session, customer, actor=None)
    db.session.expire_all()
    assert db.session.get(Email, email.id).status == EmailStatus.SENT
    [message] = smtp.to("zoe@example.com")
    assert message["Subject"].startswith("Welcome to ")
    text = message.get_body(("plain",)).get_content()
    assert 'Hello Zoë <script>alert("x")</script>,' in text
    assert "/account/sign-in" in text
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html


def test_an_extra_link_goes_below_the_text(db, customer):
    email = onboarding.send_onboarding(
        db.session,
        customer,
        actor=None,
        extra_link="https://tally.example/x",
        extra_link_label="Set your password",
    )
    assert "Set your password: https://tally.example/x" in email.text_body
    assert 'href="https://tally.example/x"' in email.html_body


def test_without_commit_it_joins_the_callers_transaction(db, customer):
    email = onboarding.send_onboarding(db.session, customer, actor=None, commit=False)
    assert email.id is not None
    db.session.rollback()
    assert db.session.scalars(select(Email)).all() == []
    db.session.expire_all()
    assert "Onboarding email sent" not in db.session.scalars(select(CustomerEvent.summary)).all()
