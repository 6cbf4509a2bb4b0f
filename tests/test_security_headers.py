"""Security headers over HTTP: every GET route in the URL map (found there, not listed by
hand, so a new route is covered the day it is added), signed in and signed out, htmx
fragments, redirects, the 400/403/404 error pages and a static file all carry the
panel's policy; the payment page and the email body carry the policies they declare;
HSTS only in production."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.conftest import StaffClient, _fresh_request_globals, make_app, sign_in
from tests.crawl import is_customer_area
from webapp.blueprints.api.auth import PUBLIC_API_ENDPOINTS
from webapp.blueprints.customers.tabs import TABS
from webapp.models.bulk import BulkAction
from webapp.models.email import Email
from webapp.models.staff import Staff
from webapp.services import (
    api_keys,
    contacts,
    exports,
    notes,
    payment_links,
    sales,
    settings,
    subscriptions,
    tickets,
)
from webapp.services import imports as import_service
from webapp.services.billing import capture_one_time_charge

# Every GET endpoint there is today: the URL map must hold at least these (so the test
# cannot pass by finding nothing), and any new one must be given real rows below.
KNOWN_GET_ENDPOINTS = {
    "index",
    "health",
    "static",
    "auth.sign_in",
    "public.pay",
    "email_verification.confirm",
    "onboarding.send_onboarding",
    "onboarding.verify_email",
    "settings.onboarding_email",
    "audit.index",
    "billing.credit_note",
    "billing.invoice",
    "billing.invoice_action",
    "billing.invoice_pdf",
    "billing.credit_note_pdf",
    "billing.new_charge",
    "billing.new_entry",
    "customers.index",
    "customers.show",
    "customers.tab",
    "customers.edit",
    "customers.new",
    "customers.status",
    "customers.currency_field",
    "customers.duplicates",
    "deletion.confirm",
    "emails.show",
    "emails.body",
    "exports.index",
    "exports.show",
    "exports.download",
    "payment_links.revoke",
    "notes.delete",
    "personal_data.confirm",
    "records.new",
    "records.edit",
    "records.delete",
    "sales.invoice",
    "settings.index",
    "settings.tax_classes",
    "settings.new_tax_class",
    "settings.edit_tax_class",
    "settings.delete_tax_class",
    "settings.legal_entities",
    "settings.new_legal_entity",
    "settings.edit_legal_entity",
    "settings.delete_legal_entity",
    "staff.index",
    "staff.new",
    "staff.deactivate",
    "staff.reactivate",
    "staff.change_role",
    "subscriptions.cancel",
    "tickets.change_status",
}
# Reachable signed out (README: Sign in, /health, static files, the payment page).
PUBLIC_ENDPOINTS = {
    "auth.sign_in",
    "health",
    "static",
    "public.pay",
    "email_verification.confirm",
}
# Query strings a route needs to answer its own page rather than a 404.
QUERY = {"customers.status": "?to=suspended"}


def directives(response) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: [sources]}."""
    policy = response.headers.get("Content-Security-Policy")
    assert policy, "no Content-Security-Policy"
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_panel_headers(response, what: str = "") -> None:
    """The panel's policy: scripts from self only, no inline script or eval, no framing."""
    csp = directives(response)
    assert csp["default-src"] == ["'self'"], what
    assert csp["script-src"] == ["'self'"], what
    assert csp["style-src"] == ["'self'"], what
    assert csp["img-src"] == ["'self'", "data:"], what
    assert csp["object-src"] == ["'none'"], what
    assert csp["base-uri"] == ["'none'"], what
    assert csp["form-action"] == ["'self'"], what
    assert csp["frame-ancestors"] == ["'none'"], what
    for loose in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"):
        assert loose not in response.headers["Content-Security-Policy"], what
    assert response.headers["X-Frame-Options"] == "DENY", what
    assert response.headers["X-Content-Type-Options"] == "nosniff", what
    assert response.headers["Referrer-Policy"] == "same-origin", what
    assert "Strict-Transport-Security" not in response.headers, what


def assert_payment_page_headers(response) -> None:
    """No script at all, no framing, and no referrer: the URL holds the token."""
    csp = directives(response)
    assert csp["default-src"] == ["'none'"] and "script-src" not in csp
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in response.headers


def assert_verify_page_headers(response) -> None:
    """As the payment page, but its one form may post back to itself."""
    csp = directives(response)
    assert csp["default-src"] == ["'none'"] and "script-src" not in csp
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def assert_email_body_headers(response) -> None:
    """Sandboxed, inline styles only, no script, framed by the panel itself only."""
    csp = directives(response)
    assert csp["sandbox"] == []  # no allow-scripts, no allow-same-origin
    assert csp["default-src"] == ["'none'"] and "script-src" not in csp
    assert csp["style-src"] == ["'unsafe-inline'"]
    assert csp["img-src"] == ["data:"]
    assert csp["frame-ancestors"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def assert_headers_for(endpoint: str, response, what: str) -> None:
    if endpoint == "public.pay":
        assert_payment_page_headers(response)
    elif endpoint == "email_verification.confirm":
        assert_verify_page_headers(response)
    elif endpoint == "emails.body":
        assert_email_body_headers(response)
    else:
        assert_panel_headers(response, what)


def live_verification_token(db, customer) -> str:
    """A live Verify email link's token for ``customer`` (its stored hash set to a known one)."""
    from webapp.models.email_verification import EmailVerificationToken
    from webapp.services import email_verification
    from webapp.services.email_address_state import token_hash

    email_verification.send_verification(db.session, customer, actor=None)
    row = db.session.scalars(
        select(EmailVerificationToken).where(EmailVerificationToken.customer_id == customer.id)
    ).first()
    row.token_hash = token_hash("live-verification-token")
    db.session.commit()
    return "live-verification-token"


@pytest.fixture
def world(db, admin, make_staff, make_customer) -> dict:
    """A real row for every id a GET route takes, so each route answers its own page
    (an unknown id would only show the 404 page)."""
    customer = make_customer(name="Ada Lovelace", email="ada@example.com", currency="GBP")
    target = make_staff(email="tess@example.com", name="Tess Target")
    charge = capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=12000,
        currency="GBP",
        description="Consulting",
        actor_id=admin.id,
        key=None,
    )
    credit = capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=-2000,
        currency="GBP",
        description="Goodwill credit",
        actor_id=admin.id,
        key=None,
    )
    contact = contacts.add(db.session, customer, admin.id, {"name": "Pat", "email": "p@x.org"})
    note = notes.add_note(db.session, customer.id, admin.id, "Called about VAT")
    ticket = tickets.add(db.session, customer, admin.id, {"subject": "VAT", "description": ""})
    sale = sales.add(
        db.session,
        customer,
        admin.id,
        {
            "sold_on": date(2026, 11, 1),
            "description": "Consulting package",
            "amount_minor": 50000,
            "currency": "GBP",
            "status": "open",
        },
    )
    subscription = subscriptions.add(
        db.session,
        customer,
        admin.id,
        {
            "plan_name": "Pro",
            "amount_minor": 4900,
            "currency": "GBP",
            "interval": "monthly",
            "starts_on": date(2026, 12, 1),
        },
    )
    link = payment_links.generate(db.session, customer, admin.id, "90")
    token = urlsplit(payment_links.link_url(link)).path.rsplit("/", 1)[1]
    export, _ = exports.start_export(db.session, db.session.get(Staff, admin.id))
    customer_import = import_service.upload(
        db.session,
        db.session.get(Staff, admin.id),
        "customers.csv",
        b"Name,Email,Country\nAcme,acme@example.com,DE\n",
    )
    email = db.session.scalars(select(Email).where(Email.customer_id == customer.id)).first()
    verification_token = live_verification_token(db, customer)
    new_key = api_keys.create_key(db.session, "Shop sync", "read", admin.id)
    bulk_job = BulkAction(
        staff_id=admin.id, action="tag_add", tag_name="vip", customer_ids=f"[{customer.id}]"
    )
    db.session.add(bulk_job)
    db.session.commit()
    return {
        "key_id": new_key.key.id,
        "api_token": new_key.token,  # not a URL argument: the API routes' Authorization
        "customer_id": customer.id,
        "staff_id": target.id,
        "invoice_id": charge.invoice.id,
        "draft_id": charge.invoice.id,  # an issued invoice: Edit draft answers it too
        "action": "pay",
        "credit_note_id": credit.credit_note.id,
        "email_id": email.id,
        "kind": "contacts",
        "record_id": contact.id,
        "note_id": note.id,
        "ticket_id": ticket.id,
        "sale_id": sale.id,
        "subscription_id": subscription.id,
        "export_id": export.id,
        "import_id": customer_import.id,
        "bulk_id": bulk_job.id,
        "tax_class_id": settings.tax_class_for_rate(db.session, 2000).id,
        "entity_id": settings.default_legal_entity(db.session).id,
        "token": token,
        "verification_token": verification_token,
        "filename": "app.js",
        "tab": "billing",
    }


def is_api_url(url: str) -> bool:
    return url.startswith("/api/")


def get_urls(app, ids: dict) -> list[tuple[str, str]]:
    """(endpoint, url) for every GET rule, built with real ids, and every tab of the
    customer page."""
    found = set()
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or is_customer_area(rule):
            # The customer area's routes: tests/test_customer_routes.py.
            continue
        unknown = rule.arguments - ids.keys()
        if unknown:
            pytest.fail(f"{rule.endpoint} takes {sorted(unknown)}: add a real row for it")
        values = {name: ids[name] for name in rule.arguments}
        # Profile is the customer page itself (customers.show).
        tabs = [tab for tab in TABS if tab != "profile"] if "tab" in values else [None]
        for tab in tabs:
            if "tab" in values:
                values["tab"] = tab
            url = adapter.build(rule.endpoint, values) + QUERY.get(rule.endpoint, "")
            found.add((rule.endpoint, url))
    endpoints = {endpoint for endpoint, _ in found}
    assert endpoints >= KNOWN_GET_ENDPOINTS, KNOWN_GET_ENDPOINTS - endpoints
    return sorted(found)


def test_every_get_route_signed_in_answers_with_the_security_headers(app, admin, world):
    """Signed in as an admin, so admin pages answer their own page, not a 403."""
    client = app.test_client()
    assert sign_in(client, admin.email).status_code == 303
    for endpoint, url in get_urls(app, world):
        # The API's routes answer a key, not the session: they get the world's key.
        key = {"Authorization": f"Bearer {world['api_token']}"} if is_api_url(url) else {}
        response = client.get(url, environ_base={"REMOTE_ADDR": "203.0.113.9"}, headers=key)
        # The route's own answer (a page, a file, a redirect), never the 404 page.
        assert response.status_code in (200, 302, 303), (url, response.status_code)
        assert_headers_for(endpoint, response, url)
        if endpoint == "exports.download":
            assert response.headers["Content-Type"].startswith("text/csv")
        if endpoint == "static":
            assert "javascript" in response.headers["Content-Type"]


def test_every_get_route_signed_out_answers_with_the_security_headers(app, world):
    """Public routes answer their page; every other one the redirect to Sign in, and
    both carry the headers."""
    client = app.test_client()
    for endpoint, url in get_urls(app, world):
        response = client.get(url, environ_base={"REMOTE_ADDR": "203.0.113.10"})
        if endpoint in PUBLIC_ENDPOINTS or endpoint in PUBLIC_API_ENDPOINTS:
            assert response.status_code == 200, url
        elif is_api_url(url):
            # Programs' door: no key is a 401 problem, never the sign-in page.
            assert response.status_code == 401, url
            assert response.mimetype == "application/problem+json", url
        else:
            assert response.status_code == 302, url
            assert urlsplit(response.headers["Location"]).path == "/sign-in", url
        assert_headers_for(endpoint, response, url)


def test_htmx_fragments_and_the_session_expired_answer_carry_the_headers(
    staff_client, app, make_customer
):
    customer = make_customer()
    fragment = staff_client.get("/customers?q=Ada", htmx_target="results")
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    assert "Ada Lovelace" in html and "<html" not in html  # just the table
    assert_panel_headers(fragment)

    tab = staff_client.get(f"/customers/{customer.id}/billing", htmx_target="customer_tab")
    assert tab.status_code == 200 and "<html" not in tab.get_data(as_text=True)
    assert_panel_headers(tab)

    # An htmx request without a session: 401 with HX-Redirect to Sign in.
    expired = app.test_client().get(
        "/customers", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert expired.status_code == 401 and expired.headers["HX-Redirect"].startswith("/sign-in")
    assert_panel_headers(expired)


def test_error_pages_carry_the_headers(staff_client, make_customer, app):
    missing = staff_client.get("/no-such-page")
    assert missing.status_code == 404
    assert "There is nothing at this address." in missing.get_data(as_text=True)
    assert_panel_headers(missing)

    unknown_customer = staff_client.get("/customers/999999")
    assert unknown_customer.status_code == 404
    assert_panel_headers(unknown_customer)

    # An agent on an admin page.
    forbidden = staff_client.get("/staff")
    assert forbidden.status_code == 403
    assert "Only an admin can do this." in forbidden.get_data(as_text=True)
    assert_panel_headers(forbidden)

    # A form sent without its CSRF token.
    customer = make_customer()
    expired = staff_client.post(f"/customers/{customer.id}/notes/", {"body": "x"}, csrf=False)
    assert expired.status_code == 400
    assert "This form has expired" in expired.get_data(as_text=True)
    assert_panel_headers(expired)

    # Wrong method, and a 404 under the payment page's path (no route matched).
    not_allowed = staff_client.client.put("/customers")
    assert not_allowed.status_code == 405
    assert_panel_headers(not_allowed)
    anonymous = app.test_client().get("/sign-in/nowhere")
    assert anonymous.status_code == 404
    assert_panel_headers(anonymous)


def test_the_payment_page_keeps_its_own_stricter_policy_on_every_answer(app, world):
    client = app.test_client()
    for token in (world["token"], "not-a-token"):
        response = client.get(f"/pay/{token}", environ_base={"REMOTE_ADDR": "203.0.113.11"})
        assert response.status_code == (200 if token == world["token"] else 404)
        assert_payment_page_headers(response)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Robots-Tag"] == "noindex"


def test_the_email_body_alone_may_be_framed_by_the_panel(admin_client, world):
    page = admin_client.get(f"/customers/{world['customer_id']}/emails/{world['email_id']}")
    assert page.status_code == 200
    assert_panel_headers(page)
    body = admin_client.get(f"/customers/{world['customer_id']}/emails/{world['email_id']}/body")
    assert body.status_code == 200
    assert "Consulting" in body.get_data(as_text=True)
    assert_email_body_headers(body)
    # The panel's own policy lets it frame its own origin (default-src 'self').
    assert directives(page)["default-src"] == ["'self'"] and "frame-src" not in directives(page)


@pytest.fixture
def production_app(database_url, instance_dir):
    """The app as TALLY_ENV=production configures it (the rest of the config as in the
    other tests)."""
    app = make_app(database_url, instance_dir, TALLY_ENV="production")
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_request_globals)
    with app.app_context():
        yield app


def test_hsts_is_sent_in_production_only(app, production_app, make_staff):
    make_staff()
    client = production_app.test_client()
    for url, status in (("/sign-in", 200), ("/static/app.css", 200), ("/nowhere", 404)):
        response = client.get(url)
        assert response.status_code == status, url
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000", url
    assert sign_in(client, "agent@example.com").status_code == 303
    signed_in = StaffClient(client, None).get("/customers", htmx_target="results")
    assert signed_in.status_code == 200
    assert "Strict-Transport-Security" in signed_in.headers
    assert "Strict-Transport-Security" in client.get("/pay/not-a-token").headers

    development = app.test_client()
    for url in ("/sign-in", "/static/app.css", "/nowhere"):
        assert "Strict-Transport-Security" not in development.get(url).headers, url
