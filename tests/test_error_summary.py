"""The error summary of a refused form: above the fields, it says how many to correct and
links each one to its field (``href="#<field id>"``, the field's label and message), in
the order the page shows the fields; it carries ``tabindex="-1"`` and is the page's first
``autofocus``, so a page load (no JavaScript) puts the focus on it, as htmx does after a
swap. Every form of the panel with fields is found from the URL map and the pages' HTML
(tests/crawl.py) and checked, not only the customer form."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.conftest import PASSWORD, csrf_token_from
from tests.crawl import REQUIRED_TEXT, build_world, error_beside, forms_in
from tests.test_unstorable_input import find_post_forms, with_nul
from webapp.models.customer import Customer
from webapp.services.reference import UNSTORABLE_IN_FIELD

# Forms that sit inside a page (a tab) with one field, the message right beside it:
# they have no summary.
INLINE_FORMS = {"notes.create", "tags.create"}


@dataclass(frozen=True)
class Summary:
    title: str
    links: list[tuple[str, str]]  # (href, text) as HTML
    tag: str  # the summary's own opening tag


def summary_in(html: str) -> Summary | None:
    found = re.search(r'(<div class="error-summary"[^>]*>)(.*?)</div>', html, re.S)
    if found is None:
        return None
    tag, body = found.groups()
    title = re.search(r'<p class="error-summary-title">([^<]*)</p>', body)
    links = re.findall(r'<li><a href="([^"]*)">([^<]*)</a></li>', body)
    return Summary(title.group(1) if title else "", links, tag)


def test_the_customer_form_links_each_mistake_to_its_field_in_page_order(
    staff_client, db, customer_data
):
    # Declared in the form: name, email, phone, website, tax_id. Shown on the page:
    # name, email, website, phone, ... tax ID (Contact details, then Tax and payment).
    customer_data.update(
        name="", email="not-an-email", phone="12", website="ftp://example.com", country="DE"
    )
    customer_data["tax_id"] = "DE 123"
    for htmx_target in ("form", None):
        response = staff_client.post("/customers/new", customer_data, htmx_target=htmx_target)
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        summary = summary_in(html)
        assert summary is not None
        assert summary.title == "Please correct the 5 fields marked below."
        labels = {
            "name": "Name",
            "email": "Email",
            "website": "Website",
            "phone": "Phone",
            "tax_id": "Tax ID / VAT number",
        }
        assert summary.links == [
            (f"#{field}", f"{label}: {error_beside(html, field)}")
            for field, label in labels.items()
        ]
        assert "Enter the customer&#39;s name." in summary.links[0][1]
        # Each link leads to an element that is there, with that id.
        for href, _text in summary.links:
            assert html.count(f'id="{href[1:]}"') == 1, href
        # It takes the focus: focusable by script, and the first autofocus of the answer
        # (the Name field keeps its own autofocus for a form shown without mistakes).
        assert 'tabindex="-1"' in summary.tag and "autofocus" in summary.tag
        first_autofocus = re.search(r"<[^>]*\bautofocus\b", html).group(0)
        assert first_autofocus.startswith('<div class="error-summary"')
    assert db.session.query(Customer).count() == 0


def test_a_form_shown_without_mistakes_has_no_summary(staff_client, db, customer_data):
    for htmx_target in ("modal", None):
        html = staff_client.get("/customers/new", htmx_target=htmx_target).get_data(as_text=True)
        assert 'class="error-summary"' not in html
        assert re.search(r'<input(?=[^>]*\bid="name")[^>]*\bautofocus', html)


def test_a_radio_group_is_linked_by_its_first_option(staff_client, db, make_customer):
    customer = make_customer()
    response = staff_client.post(
        f"/customers/{customer.id}/entries/new",
        {"kind": "bogus", "amount": "10.00", "currency": "GBP", "description": "Paid"},
        htmx_target="form",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    summary = summary_in(html)
    assert summary is not None and summary.title == "Please correct the 1 field marked below."
    [(href, text)] = summary.links
    assert href == "#kind-0" and re.search(r'<input[^>]*\bid="kind-0"', html)
    assert text == f"Type: {error_beside(html, 'kind')}"


def test_a_hidden_field_refusal_is_the_form_message_not_a_summary_line(
    staff_client, db, make_customer
):
    """The charge form's hidden key (against a double submit) is not a field to correct."""
    customer = make_customer()
    url = f"/customers/{customer.id}/charges/new"
    response = staff_client.post(
        url,
        {"amount": "", "currency": "GBP", "description": "Workshop", "key": "x"},
        htmx_target="form",
    )
    summary = summary_in(response.get_data(as_text=True))
    assert response.status_code == 422 and summary is not None
    assert [href for href, _ in summary.links] == ["#amount"]


@pytest.fixture
def world(db, admin_client, make_customer, make_staff):
    return build_world(db, admin_client, make_customer, make_staff)


def test_every_form_with_fields_has_the_summary_linking_to_the_refused_field(
    app, db, admin_client, world
):
    """A NUL (refused in any text field, before the field's own rules) in the first text
    field of each form: the answer, a page and the htmx fragment alike, has the summary
    with one link to that field, saying what the field says."""
    anonymous = app.test_client()
    found, _missing = find_post_forms(app, admin_client, anonymous, world)
    with_text = {key: (page, form) for key, page, form in found if form.text_fields}
    assert len(with_text) >= 25
    # The other fields of the sign-in and password forms filled in, so the NUL is the
    # one mistake.
    typed_in = {
        "auth.sign_in": {"password": PASSWORD},
        "auth.change_password": {
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
        },
        "account_access.set_password": {
            "password": "a customer passphrase",
            "confirm_password": "a customer passphrase",
        },
    }
    problems = []
    for key, (page, form) in sorted(with_text.items()):
        client = anonymous if key == "auth.sign_in" else admin_client.client
        html = client.get(page).get_data(as_text=True)
        url = form.action
        form = next(shown for shown in forms_in(html) if shown.action == url)
        valid = form.data(**{**REQUIRED_TEXT.get(key, {}), **typed_in.get(key, {})})
        valid["csrf_token"] = csrf_token_from(html)
        field = form.text_fields[0]
        sent = {**valid, field.name: with_nul(valid.get(field.name, ""))}
        answers = [("page", client.post(url, data=sent))]
        if form.hx_target:
            target = form.id if form.hx_target == "this" else form.hx_target.lstrip("#")
            headers = {"HX-Request": "true", "HX-Target": target}
            answers.append(("htmx", client.post(url, data=sent, headers=headers)))
        for how, answer in answers:
            html = answer.get_data(as_text=True)
            beside = error_beside(html, field.id)
            summary = summary_in(html)
            if answer.status_code != 422 or beside is None or UNSTORABLE_IN_FIELD not in beside:
                problems.append((key, how, "not refused beside the field", answer.status_code))
            elif key in INLINE_FORMS:
                if summary is not None:
                    problems.append((key, how, "an inline form has a summary"))
            elif summary is None:
                problems.append((key, how, "no summary"))
            elif [(href, text.endswith(": " + beside)) for href, text in summary.links] != [
                (f"#{field.id}", True)
            ]:
                problems.append((key, how, summary.links))
    assert problems == [], "\n".join(map(repr, problems))
