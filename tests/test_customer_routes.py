"""Every route of the customer area's two blueprints (customer_auth, customer_area), found
from the URL map so a new route is covered without a list: each is either one of the
public pages a signed-out customer needs (sign in, Forgot password, the invite and reset
links) or needs a customer session, which a staff session never is; every POST needs the
CSRF token; every page carries the panel's security headers. (The panel's own routes:
tests/test_auth.py; the area's pages with another customer's ids:
tests/test_customer_area_http.py.)"""

from __future__ import annotations

import re

from tests.conftest import csrf_token_from
from tests.crawl import is_customer_area
from tests.test_security_headers import assert_panel_headers

# Open to a visitor without a customer session: what signing in needs.
PUBLIC = {
    "customer_auth.sign_in",
    "customer_auth.sign_out",
    "customer_auth.forgot",
    "customer_auth.invite",
    "customer_auth.reset",
}


def area_rules(app):
    rules = [rule for rule in app.url_map.iter_rules() if is_customer_area(rule)]
    assert {rule.endpoint.partition(".")[0] for rule in rules} == {
        "customer_auth",
        "customer_area",
    }
    return rules


def example_url(rule) -> str:
    return re.sub(r"<(?:int:)?([^>]+)>", lambda m: "1" if "id" in m.group(1) else "x", rule.rule)


def test_each_route_is_public_or_needs_a_customer_session(app):
    for rule in area_rules(app):
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in PUBLIC:
            assert not getattr(view, "customer_required", False), rule.endpoint
        else:
            assert getattr(view, "customer_required", False), rule.endpoint


def test_without_a_customer_session_every_guarded_route_goes_to_sign_in(app, client, staff_client):
    for who in (client, staff_client.client):  # nobody; a member of staff
        token = csrf_token_from(who.get("/account/sign-in").get_data(as_text=True))
        for rule in area_rules(app):
            if rule.endpoint in PUBLIC:
                continue
            url = example_url(rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                data = {"csrf_token": token} if method == "POST" else None
                response = who.open(url, method=method, data=data)
                assert response.status_code == 303, (method, url, response.status_code)
                assert response.headers["Location"].startswith("/account/sign-in"), url


def test_every_post_needs_the_csrf_token(app, customer_client):
    for rule in area_rules(app):
        if "POST" not in rule.methods:
            continue
        response = customer_client.post(example_url(rule), csrf=False)
        assert response.status_code == 400, (rule.endpoint, response.status_code)


def test_the_public_pages_carry_the_security_headers(app, client):
    for url in ("/account/sign-in", "/account/forgot", "/account/invite/x", "/account/reset/x"):
        response = client.get(url)
        assert response.status_code in (200, 404), url
        assert_panel_headers(response)


def test_a_missing_page_in_the_area_keeps_the_areas_layout(client, customer_client):
    for who, url in (
        (client, "/account/no-such-page"),
        (customer_client.client, "/account/no-such-page"),
        (customer_client.client, "/account/invoices/999999"),
    ):
        response = who.get(url)
        assert response.status_code == 404, url
        html = response.get_data(as_text=True)
        assert "<h1>Not found</h1>" in html
        assert "Back to your account" in html and 'class="customer-area"' in html
        assert "Back to customers" not in html and "/customers" not in html
    # The panel keeps its own.
    html = client.get("/no-such-page").get_data(as_text=True)
    assert "Back to customers" in html and 'class="customer-area"' not in html
