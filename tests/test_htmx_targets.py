"""An HX-Target never gives a 500: every page, asked by htmx for any block that any
route allows, answers with that block or with the whole page. The block names are
read from the code (every ``blocks=`` and every ``…BLOCKS`` tuple) and the pages from
the URL map, so a new block or page is covered the day it is added."""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import pytest
from jinja2 import ChoiceLoader, DictLoader

from tests.crawl import build_world, error_beside, forms_in, page_urls
from webapp.blueprints.customers.tabs import TABS
from webapp.rendering import render_page

WEBAPP = Path(__file__).resolve().parent.parent / "webapp"


def allowed_block_names() -> set[str]:
    """Every string in a ``blocks=`` argument or in a module-level ``…BLOCKS`` tuple
    anywhere in the application."""

    def strings(node) -> set[str]:
        if isinstance(node, ast.Tuple | ast.List):
            return {elt.value for elt in node.elts if isinstance(elt, ast.Constant)}
        return set()

    names: set[str] = set()
    for path in WEBAPP.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and any(
                    isinstance(target, ast.Name) and target.id.endswith("BLOCKS")
                    for target in node.targets
                )
                or isinstance(node, ast.keyword)
                and node.arg == "blocks"
            ):
                names |= strings(node.value)
    return names


BLOCKS = sorted(allowed_block_names())


def test_the_block_names_are_found_in_the_code():
    assert set(BLOCKS) >= {
        "results",
        "customer_tab",
        "customer",
        "note_form",
        "tag_form",
        "modal",
        "form",
        "currency_field",
        "duplicates",
        "settings_list",
        "staff_list",
        "audit_results",
    }


@pytest.fixture
def world(db, admin_client, make_customer, make_staff):
    return build_world(db, admin_client, make_customer, make_staff)


def whole_page(html: str) -> bool:
    return html.lstrip().lower().startswith("<!doctype html")


def answer_problem(response, target: str):
    """None when the answer is the whole page or the block ``target`` (whose element
    carries the block's name as its id); else what is wrong."""
    html = response.get_data(as_text=True)
    if response.status_code >= 500:
        return response.status_code
    if whole_page(html) or f'id="{target}"' in html:
        return None
    return (response.status_code, html[:120])


# Endpoints that only ever answer one block of the Add customer form.
FRAGMENT_ONLY = {
    "customers.currency_field": "currency_field",
    "customers.duplicates": "duplicates",
    "customers.count": "match-count",  # the list's count, asked for once the list shows
}


def test_every_page_answers_every_allowed_block_with_it_or_the_whole_page(app, admin_client, world):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 is an answer to count
    pages = page_urls(app, world)
    assert {endpoint for endpoint, _ in pages} >= {
        "customers.index",
        "customers.show",
        "customers.tab",
        "settings.tax_classes",
        "settings.legal_entities",
        "staff.index",
        "audit.index",
        "exports.index",
    }
    assert sum(endpoint == "customers.tab" for endpoint, _ in pages) == len(TABS) - 1
    problems = []
    for endpoint, url in pages:
        for target in BLOCKS:
            response = admin_client.get(url, htmx_target=target)
            # The Add customer form's live parts are one block whatever the target.
            problem = answer_problem(response, FRAGMENT_ONLY.get(endpoint, target))
            if problem is not None:
                problems.append((endpoint, url, target, problem))
    assert problems == [], "\n".join(map(repr, problems))


def test_every_refused_form_answers_every_allowed_block_with_it_or_the_whole_page(
    app, admin_client, world
):
    """A refused form is rendered through the same helper (Add tag and New note come
    back as their customer tab): sent empty, with each block name as the target."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    cid = world.customer_id
    refused = [
        (f"/customers/{cid}/tags", {"tag": ""}),
        (f"/customers/{cid}/notes/", {"body": ""}),
        (f"/customers/{cid}/edit", {"name": ""}),
        (f"/customers/{cid}/contacts/new", {}),
        (f"/customers/{cid}/charges/new", {}),
        ("/customers/new", {}),
        ("/settings/tax-classes/new", {}),
        ("/staff/new", {}),
    ]
    problems = []
    for url, data in refused:
        for target in BLOCKS:
            response = admin_client.post(url, data, htmx_target=target)
            if response.status_code != 422:
                problems.append((url, target, response.status_code))
            problem = answer_problem(response, target)
            if problem is not None:
                problems.append((url, target, problem))
    assert problems == [], "\n".join(map(repr, problems))


def test_the_note_form_asked_of_the_billing_tab_is_the_billing_page(admin_client, world, caplog):
    # The migrations' logging config (run once per test session) disables the loggers
    # that existed before it; the app's own logger is wanted here.
    logging.getLogger("webapp").disabled = False
    with caplog.at_level(logging.INFO, logger="webapp"):
        response = admin_client.get(
            f"/customers/{world.customer_id}/billing", htmx_target="note_form"
        )
    assert any(
        "'note_form' cannot be rendered alone" in record.getMessage() for record in caplog.records
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert whole_page(html)
    assert 'aria-current="page">Billing</a>' in html  # the Billing tab is open
    assert "Generate a new link" in html
    assert 'id="note_form"' not in html
    # On the Notes tab the same target is just the form.
    notes = admin_client.get(f"/customers/{world.customer_id}/notes", htmx_target="note_form")
    notes_html = notes.get_data(as_text=True)
    assert notes.status_code == 200 and not whole_page(notes_html)
    assert [form.id for form in forms_in(notes_html)] == ["note_form"]


def test_the_tag_form_asked_of_another_tab_is_that_page(admin_client, world):
    cid = world.customer_id
    for tab in TABS:
        if tab == "profile":
            continue
        response = admin_client.get(f"/customers/{cid}/{tab}", htmx_target="tag_form")
        assert response.status_code == 200, tab
        assert whole_page(response.get_data(as_text=True)), tab
    profile = admin_client.get(f"/customers/{cid}", htmx_target="tag_form")
    html = profile.get_data(as_text=True)
    assert not whole_page(html) and [form.id for form in forms_in(html)] == ["tag_form"]


def test_a_refused_note_with_a_tag_form_target_is_the_notes_page_with_the_message(
    admin_client, world
):
    cid = world.customer_id
    response = admin_client.post(f"/customers/{cid}/notes/", {"body": ""}, htmx_target="tag_form")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert whole_page(html)
    assert error_beside(html, "body") == "Write the note first."
    assert re.search(r'<form id="note_form"', html)


def test_only_a_missing_name_falls_back_other_errors_in_a_block_are_raised(app):
    """The fallback is for a block the page did not prepare, not a cover for bugs."""
    page = (
        "<!doctype html><main>the page</main>{% if false %}"
        "{% block broken %}<p id='broken'>{{ number // zero }}</p>{% endblock %}"
        "{% block unprepared %}<p id='unprepared'>{{ form.hidden_tag() }}</p>{% endblock %}"
        "{% endif %}"
    )
    app.jinja_env.loader = ChoiceLoader(
        [DictLoader({"test/blocks.html": page}), app.jinja_env.loader]
    )
    blocks = ("broken", "unprepared")
    for target in blocks:
        headers = {"HX-Request": "true", "HX-Target": target}
        with app.test_request_context("/", headers=headers):
            if target == "broken":
                with pytest.raises(ZeroDivisionError):
                    render_page("test/blocks.html", blocks=blocks, number=1, zero=0)
            else:
                body = render_page("test/blocks.html", blocks=blocks).get_data(as_text=True)
                assert body == "<!doctype html><main>the page</main>"
