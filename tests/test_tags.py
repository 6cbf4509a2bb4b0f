"""Tags: Add tag and remove one on the Profile tab (page or fragment, 422 beside the
field, CSRF, sign-in), one tag per folded name even when two staff create it at once,
and the customer list's Tag filter (round trip in the query string, combined with the
other filters, an unknown tag ignored)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select, text

from tests.conftest import csrf_token_from
from tests.waiting import start_and_wait_for_lock
from webapp.extensions import db as _db
from webapp.models.crm import Tag, customer_tags
from webapp.models.customer import Customer
from webapp.services import tags
from webapp.services.search import CustomerQuery, list_customers


@pytest.fixture
def customer(make_customer):
    return make_customer(name="Acme Ltd", email="accounts@acme.example")


def saved_tags(db) -> dict[str, list[str]]:
    """Customer name -> its tags' names, from the database."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Customer.name, Tag.name)
        .join(customer_tags, customer_tags.c.customer_id == Customer.id)
        .join(Tag, Tag.id == customer_tags.c.tag_id)
        .order_by(Customer.name, Tag.key)
    )
    result: dict[str, list[str]] = {}
    for customer_name, tag_name in rows:
        result.setdefault(customer_name, []).append(tag_name)
    return result


def tag_rows(db) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [tuple(row) for row in db.session.execute(select(Tag.name, Tag.key).order_by(Tag.id))]


def tags_article(html: str) -> str:
    start = html.index('<article id="tags"')
    return html[start : html.index("</article>", start)]


# -- the Profile tab ---------------------------------------------------------------------


def test_the_profile_tab_shows_tags_and_the_add_tag_form(staff_client, db, customer):
    tags.add_tag(db.session, customer, "VIP")
    page = staff_client.get(f"/customers/{customer.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    article = tags_article(html)
    assert '<h2 id="tags-heading">Tags</h2>' in article
    assert "<span>VIP</span>" in article and 'aria-label="Remove tag VIP"' in article
    assert '<label for="tag">New tag</label>' in article and "Add tag</button>" in article
    fragment = staff_client.get(f"/customers/{customer.id}", htmx_target="customer_tab")
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "<span>VIP</span>" in tags_article(body)


def test_suggestions_are_the_tags_the_customer_does_not_have(
    staff_client, db, customer, make_customer
):
    other = make_customer(name="Other", email="other@example.com")
    tags.add_tag(db.session, other, "Key account")
    tags.add_tag(db.session, other, "VIP")
    tags.add_tag(db.session, customer, "VIP")
    html = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    datalist = html[html.index('<datalist id="tag-suggestions">') :]
    datalist = datalist[: datalist.index("</datalist>")]
    assert '<option value="Key account">' in datalist
    assert "VIP" not in datalist
    assert 'list="tag-suggestions"' in html


def test_add_tag_without_js_comes_back_to_the_profile(staff_client, db, customer):
    response = staff_client.post(f"/customers/{customer.id}/tags", {"tag": "  Key   account "})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}"
    html = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "Tag Key account added." in html
    assert "<span>Key account</span>" in tags_article(html)
    assert saved_tags(db) == {"Acme Ltd": ["Key account"]}
    assert tag_rows(db) == [("Key account", "key account")]


def test_add_tag_with_htmx_refreshes_the_customer(staff_client, db, customer):
    response = staff_client.post(
        f"/customers/{customer.id}/tags", {"tag": "VIP"}, htmx_target="tag_form"
    )
    assert response.status_code == 204
    assert json.loads(response.headers["HX-Trigger"]) == {
        "closeModal": True,
        "customerUpdated": customer.id,
        "showMessage": "Tag VIP added.",
    }
    assert saved_tags(db) == {"Acme Ltd": ["VIP"]}


def test_the_same_name_in_any_case_is_one_tag(staff_client, db, customer, make_customer):
    other = make_customer(name="Other", email="other@example.com")
    tags.add_tag(db.session, customer, "VIP")
    response = staff_client.post(f"/customers/{other.id}/tags", {"tag": "vip"})
    assert response.status_code == 303
    assert saved_tags(db) == {"Acme Ltd": ["VIP"], "Other": ["VIP"]}
    assert tag_rows(db) == [("VIP", "vip")]
    accented = make_customer(name="Third", email="third@example.com")
    tags.add_tag(db.session, accented, "Müller-Kunde")
    tags.add_tag(db.session, customer, "MULLER-kunde")
    assert saved_tags(db)["Acme Ltd"] == ["Müller-Kunde", "VIP"]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter a tag."),
        ("   ", "Enter a tag."),
        ("x" * 51, "A tag can be at most 50 characters."),
        ("a/b", "A tag may contain only letters, digits, spaces, - and _."),
        ("<b>bold</b>", "A tag may contain only letters, digits, spaces, - and _."),
        ("vip", "Acme Ltd already has the tag VIP."),
    ],
)
def test_a_refused_tag_comes_back_beside_the_field(staff_client, db, customer, typed, message):
    tags.add_tag(db.session, customer, "VIP")
    url = f"/customers/{customer.id}/tags"
    for target in (None, "tag_form"):
        response = staff_client.post(url, {"tag": typed}, htmx_target=target)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert f'<small id="tag-error" class="field-error">{message}</small>' in html
        assert 'aria-invalid="true"' in html
        if target is None:
            assert "<html" in html and '<article id="tags"' in html
        else:
            assert "<html" not in html and html.lstrip().startswith('<form id="tag_form"')
        assert "HX-Request" in response.headers["Vary"]
    assert saved_tags(db) == {"Acme Ltd": ["VIP"]}
    assert tag_rows(db) == [("VIP", "vip")]


def test_a_tag_longer_once_folded_is_refused(db, customer):
    with pytest.raises(tags.TagError, match="at most 50"):
        tags.add_tag(db.session, customer, "ß" * 30)  # folds to 60 characters
    assert tag_rows(db) == []


def test_remove_takes_the_tag_off_this_customer_only(staff_client, db, customer, make_customer):
    other = make_customer(name="Other", email="other@example.com")
    vip = tags.add_tag(db.session, customer, "VIP")
    tags.add_tag(db.session, customer, "Late payer")
    tags.add_tag(db.session, other, "VIP")
    response = staff_client.post(f"/customers/{customer.id}/tags/{vip.id}/remove")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}"
    html = staff_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "Tag VIP removed." in html
    assert "VIP" not in tags_article(html).split("<datalist")[0]
    assert saved_tags(db) == {"Acme Ltd": ["Late payer"], "Other": ["VIP"]}
    assert [name for name, _ in tag_rows(db)] == ["VIP", "Late payer"]  # the tag stays


def test_remove_with_htmx_and_twice(staff_client, db, customer):
    vip = tags.add_tag(db.session, customer, "VIP")
    url = f"/customers/{customer.id}/tags/{vip.id}/remove"
    response = staff_client.post(url, htmx_target=None, headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert json.loads(response.headers["HX-Trigger"])["showMessage"] == "Tag VIP removed."
    # Someone else removed it first: said so, as an error, nothing else changes.
    again = staff_client.post(url, headers={"HX-Request": "true"})
    assert again.status_code == 204
    assert json.loads(again.headers["HX-Trigger"])["showMessage"] == {
        "text": "Acme Ltd does not have the tag VIP.",
        "level": "error",
    }
    assert saved_tags(db) == {}
    assert staff_client.post(f"/customers/{customer.id}/tags/999999/remove").status_code == 404
    assert staff_client.post(f"/customers/999999/tags/{vip.id}/remove").status_code == 404


def test_tag_routes_need_sign_in(client, db, customer):
    vip = tags.add_tag(db.session, customer, "VIP")
    response = client.post(f"/customers/{customer.id}/tags", data={"tag": "New"})
    assert response.status_code in (302, 400)
    response = client.post(f"/customers/{customer.id}/tags/{vip.id}/remove")
    assert response.status_code in (302, 400)
    # Signed out but with a session and a CSRF token: still sent to Sign in.
    token = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    response = client.post(
        f"/customers/{customer.id}/tags", data={"tag": "New", "csrf_token": token}
    )
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    response = client.post(
        f"/customers/{customer.id}/tags/{vip.id}/remove", data={"csrf_token": token}
    )
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert saved_tags(db) == {"Acme Ltd": ["VIP"]}


def test_tag_changes_need_the_csrf_token(staff_client, db, customer):
    vip = tags.add_tag(db.session, customer, "VIP")
    response = staff_client.post(f"/customers/{customer.id}/tags", {"tag": "New"}, csrf=False)
    assert response.status_code == 400
    response = staff_client.post(f"/customers/{customer.id}/tags/{vip.id}/remove", csrf=False)
    assert response.status_code == 400
    assert saved_tags(db) == {"Acme Ltd": ["VIP"]}
    assert tag_rows(db) == [("VIP", "vip")]


# -- two staff, one new tag ----------------------------------------------------------------


def test_two_staff_creating_the_same_new_tag_get_one_tag(app, db, customer, make_customer):
    """Another request has inserted the tag but not committed yet: this one waits for it,
    then uses that tag instead of failing on the unique key."""
    other = make_customer(name="Other", email="other@example.com")
    customer_id, other_id = customer.id, other.id
    db.session.commit()
    outcome: dict = {}

    def add_in_its_own_request():
        try:
            with app.app_context():
                tag = tags.add_tag(_db.session, _db.session.get(Customer, customer_id), "VIP")
                outcome["tag_id"] = tag.id
        except Exception as error:  # noqa: BLE001 - reported by the test
            outcome["error"] = repr(error)

    with _db.engine.connect() as first:
        first.execute(text("INSERT INTO tags (name, key) VALUES ('Vip', 'vip')"))
        first_id = first.execute(text("SELECT id FROM tags WHERE key = 'vip'")).scalar_one()
        first.execute(
            text("INSERT INTO customer_tags (customer_id, tag_id) VALUES (:c, :t)"),
            {"c": other_id, "t": first_id},
        )
        worker = threading.Thread(target=add_in_its_own_request)
        start_and_wait_for_lock(worker, _db.engine)
        assert worker.is_alive(), "the second request did not wait for the first"
        first.commit()
    worker.join(timeout=30)
    assert outcome == {"tag_id": first_id}
    assert tag_rows(db) == [("Vip", "vip")]
    assert saved_tags(db) == {"Acme Ltd": ["Vip"], "Other": ["Vip"]}


# -- the customer list's Tag filter --------------------------------------------------------


@pytest.fixture
def tagged(db, make_customer):
    """Three customers: Ada (VIP, Key account), Grace (VIP, archived), Alan (no tags)."""
    from webapp.services.customers import change_status

    ada = make_customer(name="Ada Lovelace", email="ada@example.com")
    grace = make_customer(name="Grace Hopper", email="grace@example.com", country="US")
    alan = make_customer(name="Alan Turing", email="alan@example.com")
    tags.add_tag(db.session, ada, "VIP")
    tags.add_tag(db.session, ada, "Key account")
    tags.add_tag(db.session, grace, "VIP")
    change_status(db.session, grace, "archived")
    return {"ada": ada, "grace": grace, "alan": alan}


def names(page) -> list[str]:
    return sorted(customer.name for customer in page.customers)


def test_the_tag_filter_narrows_the_list(db, tagged):
    assert names(list_customers(db.session, CustomerQuery(tag="vip"))) == ["Ada Lovelace"]
    everyone = CustomerQuery(tag="vip", status="all")
    assert names(list_customers(db.session, everyone)) == ["Ada Lovelace", "Grace Hopper"]
    us = CustomerQuery(tag="vip", status="all", country="US")
    assert names(list_customers(db.session, us)) == ["Grace Hopper"]
    searched = CustomerQuery(tag="vip", status="all", q="ada")
    assert names(list_customers(db.session, searched)) == ["Ada Lovelace"]
    assert names(list_customers(db.session, CustomerQuery(tag="key account"))) == ["Ada Lovelace"]
    # A tag nobody has any more lists nobody; an unknown one is ignored.
    key_account = db.session.scalar(select(Tag).where(Tag.key == "key account"))
    tags.remove_tag(db.session, tagged["ada"], key_account)
    assert names(list_customers(db.session, CustomerQuery(tag="key account"))) == []
    unknown = list_customers(db.session, CustomerQuery(tag="no such tag"))
    assert names(unknown) == ["Ada Lovelace", "Alan Turing"]
    assert unknown.query.tag == ""


def test_the_tag_round_trips_through_the_query_string():
    query = CustomerQuery.from_args({"tag": "  Key   ACCOUNT ", "status": "all", "q": "ada"})
    assert query.tag == "key account" and query.is_filtered
    assert query.to_args() == {"q": "ada", "status": "all", "tag": "key account"}
    assert CustomerQuery.from_args(query.to_args()) == query
    assert "tag=key+account" in query.url_query(after="WyJBZGEiLDQyXQ")
    assert CustomerQuery.from_args({"tag": "x" * 51}).tag == ""


def test_the_list_has_a_tag_select_and_shows_tags_in_rows(staff_client, tagged):
    html = staff_client.get("/customers?tag=VIP&status=all").get_data(as_text=True)
    assert '<label for="filter-tag">Tag</label>' in html
    assert '<option value="vip" selected>VIP</option>' in html
    assert '<option value="key account" >Key account</option>' in html
    assert "Ada Lovelace" in html and "Grace Hopper" in html and "Alan Turing" not in html
    assert '<span class="tag">Key account</span>' in html
    # Paging and sorting links keep the tag.
    assert 'href="?status=all&amp;tag=vip&amp;sort=name&amp;dir=asc"' in html
    fragment = staff_client.get("/customers?tag=vip", htmx_target="results")
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "Ada Lovelace" in body and "Grace Hopper" not in body


def test_an_unknown_tag_in_the_address_is_ignored(staff_client, tagged):
    html = staff_client.get("/customers?tag=gone").get_data(as_text=True)
    assert "Ada Lovelace" in html and "Alan Turing" in html
    assert '<option value="">Any tag</option>' in html and " selected>VIP" not in html


def test_the_search_form_pushes_the_tag_in_the_canonical_url(staff_client, tagged):
    response = staff_client.get(
        "/customers?q=&status=&currency=&country=&balance=&tag=VIP",
        htmx_target="results",
        headers={"HX-Trigger": "search"},
    )
    assert response.headers["HX-Push-Url"] == "/customers?tag=vip"
