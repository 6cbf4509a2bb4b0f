"""Settings → API keys: an admin creates a key (shown once, on that page only), sees the
list (name, access, created by and when, last used, state) and revokes a key after a
confirmation; agents are refused; the Audit page records both; the OpenAPI document
and its docs page."""

from __future__ import annotations

import re

from sqlalchemy import select

from webapp.models.api_keys import ApiKey
from webapp.models.history import AuditEvent

TOKEN = re.compile(r'value="(tally_[a-z0-9]{8}_[A-Za-z0-9_-]{43})"')


def create(admin_client, name="Shop sync", scope="read_write"):
    return admin_client.post("/settings/api-keys", {"name": name, "scope": scope})


def test_a_new_key_is_shown_once_and_works(admin_client, client, db):
    response = create(admin_client)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    token = TOKEN.search(html).group(1)
    assert "it will not be shown again" in html
    assert 'data-copy="#new-api-key"' in html
    # Only its fingerprint is kept; the list shows the prefix, never the key.
    listed = admin_client.get("/settings/api-keys").get_data(as_text=True)
    assert token not in listed and TOKEN.search(listed) is None
    key = db.session.scalar(select(ApiKey))
    assert f"tally_{key.prefix}_…" in listed
    assert "Shop sync" in listed and "Read and write" in listed and "Never" in listed
    assert "Ada Admin" in listed  # created by
    used = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
    assert used.status_code == 200
    assert "Never" not in admin_client.get("/settings/api-keys").get_data(as_text=True)


def test_a_refused_name_is_shown_beside_the_field(admin_client, db):
    response = create(admin_client, name="  ")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a name that says which program uses the key." in html
    assert TOKEN.search(html) is None
    assert db.session.scalar(select(ApiKey)) is None


def test_revoke_asks_first_then_the_key_is_refused(admin_client, client, db):
    token = TOKEN.search(create(admin_client).get_data(as_text=True)).group(1)
    key = db.session.scalar(select(ApiKey))
    url = f"/settings/api-keys/{key.id}/revoke"
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert "Every program using it is refused from now on" in confirm.get_data(as_text=True)
    assert (
        client.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    done = admin_client.post(url)
    assert done.status_code == 303 and done.headers["Location"] == "/settings/api-keys"
    response = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    listed = admin_client.get("/settings/api-keys").get_data(as_text=True)
    assert "Revoked" in listed and f"/settings/api-keys/{key.id}/revoke" not in listed
    again = admin_client.post(url)
    assert again.status_code == 422 and "already revoked" in again.get_data(as_text=True)
    # With htmx: 204 and the list refreshes itself.
    other = TOKEN.search(create(admin_client, "Other").get_data(as_text=True))
    assert other
    second = db.session.scalar(select(ApiKey).where(ApiKey.name == "Other"))
    htmx = admin_client.post(f"/settings/api-keys/{second.id}/revoke", htmx_target="form")
    assert htmx.status_code == 204 and "apiKeysChanged" in htmx.headers["HX-Trigger"]


def test_the_audit_page_records_who_created_and_revoked_a_key(admin_client, db):
    create(admin_client)
    key = db.session.scalar(select(ApiKey))
    admin_client.post(f"/settings/api-keys/{key.id}/revoke")
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.kind.startswith("api_key.")).order_by(AuditEvent.id)
    ).all()
    assert [event.kind for event in events] == ["api_key.created", "api_key.revoked"]
    assert {event.staff.name for event in events} == {"Ada Admin"}
    page = admin_client.get("/audit").get_data(as_text=True)
    assert "Created API key" in page and "Revoked API key" in page


def test_agents_may_not_see_or_make_keys(staff_client, admin_client, db):
    create(admin_client)
    key = db.session.scalar(select(ApiKey))
    assert staff_client.get("/settings/api-keys").status_code == 403
    assert (
        staff_client.post("/settings/api-keys", {"name": "Mine", "scope": "read"}).status_code
        == 403
    )
    assert staff_client.post(f"/settings/api-keys/{key.id}/revoke").status_code == 403
    db.session.refresh(key)
    assert key.revoked_at is None and db.session.query(ApiKey).count() == 1


def test_creating_a_key_needs_the_csrf_token(admin_client, db):
    response = admin_client.post("/settings/api-keys", {"name": "X", "scope": "read"}, csrf=False)
    assert response.status_code == 400
    assert db.session.scalar(select(ApiKey)) is None


def test_the_openapi_document_lists_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in (
            "api.openapi_document",
            "api.docs",
        ):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routes
    money = document["components"]["schemas"]["Money"]["properties"]
    assert money["amount_minor"]["type"] == "integer"


def test_the_docs_page_is_served_from_vendored_files(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts and all(src.startswith("/static/") for src in scripts)
    assert "<script>" not in html  # no inline script: the CSP forbids it
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for src in scripts + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html):
        assert client.get(src).status_code == 200, src
    assert client.get("/static/vendor/swagger-ui-5.35.0/LICENSE").status_code == 200
    # A problem's type leads to its line on this page.
    problem_type = client.get("/api/v1/customers").get_json()["type"]
    path, _, anchor = problem_type.partition("#")
    assert path == "/api/v1/docs" and f'id="{anchor}"' in html
