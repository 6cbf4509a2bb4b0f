"""Roles: every admin-only route answers 403 to an agent and changes nothing, and an
agent is not shown the admin actions. The routes are found in the URL map, not listed
by hand, so a new admin route is covered the day it is added."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import StaffClient, sign_in
from webapp.blueprints.access import require_admin
from webapp.services import api_keys, settings
from webapp.services import imports as import_service

# Every admin-only route there is today; the discovered set must include them (so the
# test cannot pass with nothing found), and may hold more.
KNOWN_ADMIN_ENDPOINTS = {
    "deletion.confirm",
    "personal_data.confirm",
    "staff.index",
    "staff.new",
    "staff.change_role",
    "staff.deactivate",
    "staff.reactivate",
    "audit.index",
    "settings.index",
    "settings.tax_classes",
    "settings.new_tax_class",
    "settings.edit_tax_class",
    "settings.delete_tax_class",
    "settings.legal_entities",
    "settings.new_legal_entity",
    "settings.edit_legal_entity",
    "settings.delete_legal_entity",
    "api_keys.index",
    "api_keys.create",
    "api_keys.revoke",
}


def admin_only_rules(app) -> list:
    """Rules whose view is wrapped in ``admin_only`` or whose blueprint runs
    ``require_admin`` before every request."""
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        blueprint = rule.endpoint.rpartition(".")[0]
        guards = app.before_request_funcs.get(blueprint, []) if blueprint else []
        if getattr(view, "admin_only", False) or require_admin in guards:
            found.append(rule)
    return sorted(found, key=lambda rule: rule.endpoint)


@pytest.fixture
def world(app, db, staff_client, make_staff, make_customer):
    """An agent and an admin signed in, and real rows for every id a route takes (an
    unknown id must not answer before the role check does)."""
    admin = make_staff(email="admin@example.com", name="Ada Admin", role="admin")
    admin_client = app.test_client()
    assert sign_in(admin_client, admin.email).status_code == 303
    target = make_staff(email="tess@example.com", name="Tess Target")
    customer = make_customer()
    tax_class = settings.create_tax_class(db.session, "Reduced", 700)
    entity = settings.create_legal_entity(
        db.session, {"name": "Other Ltd", "default_currency": "GBP", "number_prefix": "OTH"}
    )
    ids = {
        "customer_id": customer.id,
        "staff_id": target.id,
        "tax_class_id": tax_class.id,
        "entity_id": entity.id,
        "step_id": entity.reminder_steps[0].id,
        "key_id": api_keys.create_key(db.session, "Shop sync", "read", admin.id).key.id,
        "import_id": import_service.upload(
            db.session, admin, "customers.csv", b"Name,Email,Country\nAcme,acme@example.com,DE\n"
        ).id,
    }
    return staff_client, StaffClient(admin_client, admin), ids, customer


def requests_for(app, rules, ids) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for each method of each rule, built with real ids."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in rules:
        unknown = rule.arguments - ids.keys()
        if unknown:
            pytest.fail(f"{rule.endpoint} takes {sorted(unknown)}: add a real row for it")
        values = {name: ids[name] for name in rule.arguments}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append(
                (rule.endpoint, method, adapter.build(rule.endpoint, values, method=method))
            )
    return found


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table, for "nothing changed"."""
    db.session.expire_all()
    rows = {}
    for table in db.metadata.sorted_tables:
        rows[table.name] = sorted(
            (tuple(row) for row in db.session.execute(select(table))), key=repr
        )
    db.session.commit()
    return rows


def test_the_admin_only_routes_are_found(app):
    endpoints = {rule.endpoint for rule in admin_only_rules(app)}
    assert endpoints >= KNOWN_ADMIN_ENDPOINTS
    # What agents may use is not caught up in it.
    assert not endpoints & {"customers.index", "customers.show", "exports.index", "auth.sign_in"}


def test_an_agent_gets_403_from_every_admin_route_and_nothing_changes(app, db, world):
    agent, _admin, ids, customer = world
    requests = requests_for(app, admin_only_rules(app), ids)
    assert {"POST", "GET"} <= {method for _, method, _ in requests}
    # A valid CSRF token (StaffClient adds it) and the fields each form wants (the
    # customer's ID typed to confirm, a new account, a role), so only the role check
    # can refuse.
    data = {
        "typed_id": customer.customer_id,
        "name": "Eve Extra",
        "email": "eve@example.com",
        "role": "admin",
        "password": "a long enough password",
    }
    before = snapshot(db)
    answered = []
    for endpoint, method, url in requests:
        if method == "GET":
            responses = [agent.get(url), agent.get(url, htmx_target="modal")]
        else:
            responses = [agent.post(url, data), agent.post(url, data, htmx_target="form")]
        for response in responses:
            says = "Only an admin can do this." in response.get_data(as_text=True)
            answered.append((endpoint, method, response.status_code, says))
    assert snapshot(db) == before
    assert [answer for answer in answered if answer[2:] != (403, True)] == []


def test_an_admin_is_let_through_every_admin_route(app, db, world):
    _agent, admin, ids, _customer = world
    requests = requests_for(app, admin_only_rules(app), ids)
    # Pages first: the forms sent afterwards may change the rows the pages show.
    for endpoint, method, url in sorted(requests, key=lambda request: request[1]):
        response = admin.get(url) if method == "GET" else admin.post(url)
        assert response.status_code != 403, (endpoint, method, url)
        assert response.status_code < 500, (endpoint, method, url, response.status_code)


def test_an_agent_is_not_shown_the_admin_actions(world):
    agent, admin, _ids, customer = world
    customer_page = agent.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "Delete customer" not in customer_page
    assert "Clear personal data" not in customer_page
    assert f"/customers/{customer.id}/delete" not in customer_page
    assert 'href="/staff"' not in customer_page and 'href="/audit"' not in customer_page
    assert ">Staff<" not in customer_page and ">Audit<" not in customer_page
    assert 'href="/settings' not in customer_page and ">Settings<" not in customer_page

    admin_page = admin.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "Delete customer" in admin_page and "Clear personal data" in admin_page
    assert 'href="/staff"' in admin_page and 'href="/audit"' in admin_page
    assert 'href="/settings/tax-classes"' in admin_page
