"""Notes tab: adding (422 beside the field), listing newest first, deleting after a
server-side confirmation, escaping, and the sign-in and CSRF every route needs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_from
from webapp.models.notes import Note
from webapp.services import notes as notes_service


def note_count(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Note))


@pytest.fixture
def customer(make_customer):
    return make_customer()


def test_the_tab_is_a_page_and_a_fragment(staff_client, customer):
    page = staff_client.get(f"/customers/{customer.id}/notes")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "No notes yet." in html and 'id="note_form"' in html
    fragment = staff_client.get(f"/customers/{customer.id}/notes", htmx_target="customer_tab")
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write the note first."),
        ("   \n ", "Write the note first."),
        ("x" * 5001, "A note can be at most 5,000 characters."),
    ],
)
def test_a_bad_note_is_refused_beside_the_field(staff_client, db, customer, body, message):
    url = f"/customers/{customer.id}/notes/"
    plain = staff_client.post(url, {"body": body})
    assert plain.status_code == 422
    html = plain.get_data(as_text=True)
    assert message in html and "<html" in html  # the whole page, Notes tab open
    swapped = staff_client.post(url, {"body": body}, htmx_target="note_form")
    assert swapped.status_code == 422
    fragment = swapped.get_data(as_text=True)
    assert fragment.lstrip().startswith('<form id="note_form"')
    assert message in fragment and 'aria-invalid="true"' in fragment
    assert note_count(db) == 0


def test_notes_are_added_escaped_and_listed_newest_first(staff_client, db, customer):
    url = f"/customers/{customer.id}/notes/"
    first = staff_client.post(url, {"body": "<script>alert(1)</script>\nCalled about the bill"})
    assert first.status_code == 303
    assert first.headers["Location"] == f"/customers/{customer.id}/notes"
    second = staff_client.post(url, {"body": "Second note"}, htmx_target="note_form")
    assert second.status_code == 204
    events = json.loads(second.headers["HX-Trigger"])
    assert events["customerUpdated"] == customer.id and events["showMessage"] == "Note added."

    html = staff_client.get(f"/customers/{customer.id}/notes").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert html.index("Second note") < html.index("Called about the bill")
    assert html.count(staff_client.staff.name) >= 2
    notes = db.session.scalars(select(Note).order_by(Note.id)).all()
    assert [note.body for note in notes] == [
        "<script>alert(1)</script>\nCalled about the bill",
        "Second note",
    ]
    assert {note.staff_id for note in notes} == {staff_client.staff.id}


def test_delete_asks_first_and_cancel_keeps_the_note(staff_client, db, customer):
    note = notes_service.add_note(db.session, customer.id, staff_client.staff.id, "Keep me?")
    url = f"/customers/{customer.id}/notes/{note.id}/delete"
    confirm = staff_client.get(url)
    assert confirm.status_code == 200
    html = confirm.get_data(as_text=True)
    assert "Keep me?" in html and "Confirm" in html and "Cancel" in html
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal
    assert note_count(db) == 1  # looking at the confirmation deletes nothing

    done = staff_client.post(url, htmx_target="form")
    assert done.status_code == 204
    assert json.loads(done.headers["HX-Trigger"])["showMessage"] == "Note deleted."
    assert note_count(db) == 0
    assert staff_client.post(url).status_code == 404  # already gone


def test_a_note_of_another_customer_is_not_found(staff_client, db, make_customer):
    ada = make_customer()
    bob = make_customer(name="Bob", email="bob@example.com")
    note = notes_service.add_note(db.session, ada.id, staff_client.staff.id, "Ada's")
    assert staff_client.get(f"/customers/{bob.id}/notes/{note.id}/delete").status_code == 404
    assert staff_client.post(f"/customers/{bob.id}/notes/{note.id}/delete").status_code == 404
    assert note_count(db) == 1


def test_notes_need_a_sign_in_and_a_csrf_token(app, client, staff_client, db, customer):
    note = notes_service.add_note(db.session, customer.id, staff_client.staff.id, "Private")
    no_token = staff_client.post(f"/customers/{customer.id}/notes/", {"body": "x"}, csrf=False)
    assert no_token.status_code == 400
    deleted = staff_client.post(f"/customers/{customer.id}/notes/{note.id}/delete", csrf=False)
    assert deleted.status_code == 400
    assert note_count(db) == 1

    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    for method, url in [
        ("GET", f"/customers/{customer.id}/notes"),
        ("POST", f"/customers/{customer.id}/notes/"),
        ("GET", f"/customers/{customer.id}/notes/{note.id}/delete"),
        ("POST", f"/customers/{customer.id}/notes/{note.id}/delete"),
    ]:
        response = anonymous.open(url, method=method, data={"csrf_token": token, "body": "x"})
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/sign-in")
    assert note_count(db) == 1


def test_line_breaks_are_stored_alike_with_and_without_js(db, customer, make_staff):
    staff = make_staff()
    plain = notes_service.add_note(db.session, customer.id, staff.id, "one\r\ntwo\r\n")
    assert plain.body == "one\ntwo"
    # 5,000 characters with CRLF breaks is within the limit once normalised.
    within = notes_service.add_note(db.session, customer.id, staff.id, "a\r\n" * 2500)
    assert len(within.body) == 4999
