"""A NUL character, which PostgreSQL text cannot hold, never gives a 500: in any field of
any form it is refused beside that field (422, nothing written), and in an address
(path, search, filters, ``next``) it is a 422 page saying so. The forms and pages are
found from the URL map and the pages' own HTML, not listed by hand, so a new form is
covered the day it is added."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import PASSWORD, csrf_token_from
from tests.crawl import (
    REQUIRED_TEXT,
    build_world,
    endpoint_key,
    error_beside,
    forms_in,
    page_urls,
    urls_of,
)
from tests.test_roles import snapshot
from webapp import forms
from webapp.blueprints.customers.forms import CustomerForm
from webapp.blueprints.notes.forms import NoteForm
from webapp.models.customer import Customer
from webapp.services import subscriptions
from webapp.services.reference import UNSTORABLE_IN_ADDRESS, UNSTORABLE_IN_FIELD

NUL = "\x00"

# Forms with text fields there are today; the discovered set must include them.
KNOWN_TEXT_FORMS = {
    "auth.sign_in",
    "auth.change_password",
    "customers.new",
    "customers.edit",
    "billing.new_entry",
    "billing.new_charge",
    "notes.create",
    "tags.create",
    "deletion.confirm",
    "settings.new_tax_class",
    "settings.edit_tax_class",
    "settings.new_legal_entity",
    "settings.edit_legal_entity",
    "staff.new",
    "account_access.set_password",
    *(f"records.new:{kind}" for kind in ("contacts", "addresses", "aliases", "subscriptions")),
    *(f"records.new:{kind}" for kind in ("activities", "tickets", "sales")),
    *(f"records.edit:{kind}" for kind in ("contacts", "addresses", "aliases")),
    *(f"records.edit:{kind}" for kind in ("activities", "tickets", "sales")),
}

# Sent last: a successful Delete customer takes every customer page with it.
# Changing the password replaces the session the other forms are sent with.
LAST = ("auth.change_password", "deletion.confirm")


def with_nul(value: str) -> str:
    return value[:1] + NUL + value[1:] if value else NUL


@pytest.fixture
def world(db, admin_client, make_customer, make_staff):
    return build_world(db, admin_client, make_customer, make_staff)


def test_every_form_derives_from_the_base_form():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    from flask_wtf import FlaskForm

    # The base in webapp.forms, each feature's forms in its blueprint package.
    made_here = {cls for cls in subclasses(FlaskForm) if cls.__module__.startswith("webapp.")}
    assert {forms.Form, CustomerForm, NoteForm} <= made_here
    assert {cls for cls in made_here if not issubclass(cls, forms.Form)} == set()


def find_post_forms(app, client, anonymous, world):
    """(key, page, form) for every URL that takes a POST, its form found on its own
    page or on any page of the panel (the notes and tag forms live on customer tabs)."""
    by_action = {}
    # The status confirmation is opened with the status to change to.
    extra = [f"/customers/{world.customer_id}/status?to=suspended"]
    for url in [url for _endpoint, url in page_urls(app, world)] + extra:
        for form in forms_in(client.get(url).get_data(as_text=True)):
            if form.method == "post":
                # The status confirmation posts to ?to=<status>: the route is the path.
                by_action.setdefault(form.action.partition("?")[0], (url, form))
    for form in forms_in(anonymous.get("/sign-in").get_data(as_text=True)):
        by_action.setdefault(form.action, ("/sign-in", form))
    found, missing = [], []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        for url in urls_of(app, rule, world, "POST"):
            if url in by_action:
                page, form = by_action[url]
                found.append((endpoint_key(rule, url), page, form))
            else:
                missing.append(url)
    return found, missing


def test_a_nul_in_any_text_field_of_any_form_is_refused_beside_it(
    app, db, admin_client, admin, world
):
    anonymous = app.test_client()
    found, missing = find_post_forms(app, admin_client, anonymous, world)
    # Resend is a button shown for a failed email only; Disable and Enable access, for a
    # customer with an account or a disabled one; an import's Import and Cancel, after its
    # dry run and while it runs (the world's waits for its mapping); the Agenda's Mark done,
    # for an open activity in the filter shown (the world's is not due today). None has a field.
    base = f"/customers/{world.customer_id}"
    assert sorted(missing) == sorted(
        [
            f"/agenda/{world.ids['activity_id']}/done",
            f"{base}/emails/{world.ids['email_id']}/resend",
            f"{base}/account-access/disable",
            f"{base}/account-access/enable",
            f"/customers/import/{world.ids['import_id']}/start",
            f"/customers/import/{world.ids['import_id']}/cancel",
        ]
    )
    with_text = {key: (page, form) for key, page, form in found if form.text_fields}
    assert set(with_text) >= KNOWN_TEXT_FORMS, KNOWN_TEXT_FORMS - set(with_text)

    # Values the world does not have yet, so each valid form goes through on its own
    # (a tag or external ID already there, a charge that asks "Record it again?").
    typed_in = {
        "deletion.confirm": {"typed_id": world.visible_id},
        "auth.sign_in": {"email": admin.email, "password": PASSWORD},
        "auth.change_password": {
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
        },
        "account_access.set_password": {
            "password": "a customer passphrase",
            "confirm_password": "a customer passphrase",
        },
        "billing.new_charge": {"amount": "30.00", "description": "Consulting"},
        "records.new:aliases": {"value": "cus_0002"},
        "tags.create": {"tag": "key account"},
    }
    problems = []
    for key in sorted(with_text, key=lambda key: (key in LAST, key)):
        page, form = with_text[key]
        if key == "deletion.confirm":
            # The valid Add subscription above left an active one, which stops a delete.
            customer = db.session.get(Customer, world.customer_id)
            for subscription in subscriptions.subscriptions_of(db.session, customer.id):
                if subscriptions.cancel_refusal(subscription) is None:
                    subscriptions.cancel(db.session, customer, subscription.id)
        client = anonymous if key == "auth.sign_in" else admin_client.client
        # The form as it is shown now (the forms sent before may have changed its row).
        html = client.get(page).get_data(as_text=True)
        url = form.action
        form = next(shown for shown in forms_in(html) if shown.action == url)
        token = csrf_token_from(html)
        valid = form.data(**{**REQUIRED_TEXT.get(key, {}), **typed_in.get(key, {})})
        valid["csrf_token"] = token
        for field in form.text_fields:
            before = snapshot(db)
            sent = {**valid, field.name: with_nul(valid.get(field.name, ""))}
            answers = [client.post(url, data=sent)]
            if form.hx_target:
                target = form.id if form.hx_target == "this" else form.hx_target.lstrip("#")
                headers = {"HX-Request": "true", "HX-Target": target}
                answers.append(client.post(url, data=sent, headers=headers))
            for answer in answers:
                html = answer.get_data(as_text=True)
                beside = error_beside(html, field.id) or ""
                if answer.status_code != 422 or UNSTORABLE_IN_FIELD not in beside:
                    problems.append((key, field.name, answer.status_code, beside))
            if snapshot(db) != before:
                problems.append((key, field.name, "database changed"))
        # The same form without the NUL goes through: the field alone was the reason.
        answer = client.post(url, data=valid)
        # Create API key answers with the page showing the new key once (201): a redirect
        # would have to carry the secret in a cookie or the URL.
        done = (204, 303, 201) if key == "api_keys.create" else (204, 303)
        if answer.status_code not in done:
            problems.append((key, "valid form refused", answer.status_code))
    assert problems == [], "\n".join(map(repr, problems))


# Query-string parameters the panel reads (search, filters, paging, sign-in's next,
# the Add customer form's live checks, the status confirmation).
PARAMETERS = (
    "q",
    "status",
    "currency",
    "country",
    "balance",
    "tag",
    "sort",
    "direction",
    "page",
    "kind",
    "next",
    "email",
    "tax_id",
    "exclude",
    "to",
)


def test_a_nul_in_any_query_parameter_of_any_page_is_a_422_saying_so(app, db, admin_client, world):
    problems = []
    pages = page_urls(app, world) + [("auth.sign_in", "/sign-in")]
    assert {endpoint for endpoint, _ in pages} >= {
        "customers.index",
        "customers.tab",
        "customers.duplicates",
        "audit.index",
        "auth.sign_in",
    }
    before = snapshot(db)
    for index, (endpoint, url) in enumerate(pages):
        # Each page gets every parameter in turn on the list, one each elsewhere.
        names = PARAMETERS if endpoint == "customers.index" else [PARAMETERS[index % 15]]
        for name in names:
            nul_url = f"{url}?{name}={quote('a' + NUL + 'b')}"
            for headers in ({}, {"HX-Request": "true", "HX-Target": "results"}):
                answer = admin_client.client.get(nul_url, headers=headers)
                if answer.status_code != 422 or UNSTORABLE_IN_ADDRESS not in answer.get_data(
                    as_text=True
                ):
                    problems.append((nul_url, headers, answer.status_code))
    assert snapshot(db) == before
    assert problems == [], "\n".join(map(repr, problems))


def test_the_search_box_with_a_nul_says_what_to_do_and_lists_nothing(app, admin_client, world):
    """The search as typed with htmx: the message takes the place of the results."""
    answer = admin_client.get("/customers?q=Ada%00", htmx_target="results")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert html.strip() == f"<p>{UNSTORABLE_IN_ADDRESS}</p>"
    assert "HX-Request" in answer.headers["Vary"]
    page = admin_client.get("/customers?q=Ada%00")
    assert page.status_code == 422
    assert "<h1>Invisible character in the address</h1>" in page.get_data(as_text=True)
    # Without the NUL the same search finds the customer.
    assert "Ada Lovelace" in admin_client.get("/customers?q=Ada").get_data(as_text=True)


def test_a_nul_in_the_path_or_the_client_address_is_not_a_500(app, db, admin_client, world):
    before = snapshot(db)
    for url in (
        "/customers/%00",
        f"/customers/{world.customer_id}/%00",
        f"/customers/{world.customer_id}/contacts%00/new",
    ):
        assert admin_client.get(url).status_code == 422, url
    anonymous = app.test_client()
    assert anonymous.get("/customers/%00").status_code == 422
    # Sign-in throttling stores the client's address (behind a proxy, what it says).
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    refused = anonymous.post(
        "/sign-in",
        data={"email": "nobody@example.com", "password": "wrong", "csrf_token": token},
        environ_base={"REMOTE_ADDR": "203.0.113.7" + NUL},
    )
    assert refused.status_code == 422
    assert snapshot(db) == before
    # The payment page hashes its token: a NUL is just a link that does not open.
    assert anonymous.get("/pay/abc%00def").status_code == 404
