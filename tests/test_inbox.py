"""Inbox (/inbox): tickets across customers, filtered by status (?status= open, one status
or all) and assignee (?who= anyone, mine, unassigned or a staff member); Assign on each
row with and without htmx, refused choices beside the field, History; Assigned to on the
ticket form; paging, sign-in, CSRF and bad filters."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_from
from webapp.models.crm import Ticket
from webapp.models.history import CustomerEvent
from webapp.services import tickets


@pytest.fixture
def ada(make_customer):
    return make_customer(name="Ada Ltd", email="ada@example.com")


@pytest.fixture
def bob(make_customer):
    return make_customer(name="Bob Inc", email="bob@example.com")


@pytest.fixture
def sam(make_staff):
    return make_staff(email="sam@example.com", name="Sam Sales")


def add(db, customer, subject, status="new", assignee=None) -> Ticket:
    fields = {"subject": subject, "description": "", "assignee_id": assignee and assignee.id}
    ticket = tickets.add(db.session, customer, None, fields)
    if status != "new":
        tickets.change_status(db.session, customer, ticket, status)
    return ticket


@pytest.fixture
def inbox(db, staff_client, sam, ada, bob):
    """Tickets in every status, mine, Sam's and nobody's, oldest first."""
    me = staff_client.staff
    add(db, ada, "New mine", "new", me)
    add(db, bob, "New Sam", "new", sam)
    add(db, ada, "New nobody", "new", None)
    add(db, bob, "Working mine", "in_progress", me)
    add(db, ada, "Working nobody", "in_progress", None)
    add(db, bob, "Solved mine", "solved", me)
    add(db, ada, "Solved Sam", "solved", sam)
    add(db, bob, "Cancelled nobody", "cancelled", None)


def subjects(html: str) -> list[str]:
    return re.findall(r'<span class="ticket-subject">(.*?)</span>', html)


@pytest.mark.parametrize(
    "query, expected",
    [
        # The default: open tickets (New and In progress), anyone's, newest first.
        ("", ["Working nobody", "Working mine", "New nobody", "New Sam", "New mine"]),
        ("status=new", ["New nobody", "New Sam", "New mine"]),
        ("status=in_progress", ["Working nobody", "Working mine"]),
        ("status=solved", ["Solved Sam", "Solved mine"]),
        ("status=cancelled", ["Cancelled nobody"]),
        (
            "status=all",
            [
                "Cancelled nobody",
                "Solved Sam",
                "Solved mine",
                "Working nobody",
                "Working mine",
                "New nobody",
                "New Sam",
                "New mine",
            ],
        ),
        ("who=mine", ["Working mine", "New mine"]),
        ("who=unassigned", ["Working nobody", "New nobody"]),
        ("who=unassigned&status=all", ["Cancelled nobody", "Working nobody", "New nobody"]),
        ("who={sam}&status=all", ["Solved Sam", "New Sam"]),
        ("who={me}&status=solved", ["Solved mine"]),
        ("who=mine&status=cancelled", []),
        # Anything else is the default.
        (
            "status=bogus&who=bogus",
            ["Working nobody", "Working mine", "New nobody", "New Sam", "New mine"],
        ),
        ("who=999999", ["Working nobody", "Working mine", "New nobody", "New Sam", "New mine"]),
        (
            "after=!!!&before=@@@",
            ["Working nobody", "Working mine", "New nobody", "New Sam", "New mine"],
        ),
    ],
)
def test_the_status_and_assignee_filters(staff_client, inbox, sam, query, expected):
    url = "/inbox?" + query.format(sam=sam.id, me=staff_client.staff.id)
    page = staff_client.get(url)
    assert page.status_code == 200 and "HX-Request" in page.headers["Vary"]
    assert subjects(page.get_data(as_text=True)) == expected
    fragment = staff_client.get(url, htmx_target="inbox_results").get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="inbox_results"') and "<html" not in fragment
    assert subjects(fragment) == expected


def test_each_row_links_to_its_customers_tickets_tab(staff_client, inbox, ada, bob):
    html = staff_client.get("/inbox?status=cancelled").get_data(as_text=True)
    row = html.split('<tr id="inbox-ticket-', 1)[1].split("</tr>", 1)[0]
    assert f'href="/customers/{bob.id}/tickets">Bob Inc</a>' in row
    assert "Cancelled</span>" in row


def test_the_filter_links_keep_the_assignee(staff_client, inbox):
    html = staff_client.get("/inbox?who=mine&status=solved").get_data(as_text=True)
    nav = html.split('<nav aria-label="Ticket status"', 1)[1].split("</nav>", 1)[0]
    labels = re.findall(r">([^<]+)</a>", nav)
    assert labels == ["Open", "New", "In progress", "Solved", "Cancelled", "All"]
    assert 'href="/inbox?who=mine&amp;status=solved" hx-get' in nav
    assert 'aria-current="page">Solved</a>' in nav
    assert "Nothing" not in html and subjects(html) == ["Solved mine"]


def test_an_empty_filter_says_so(staff_client, inbox):
    html = staff_client.get("/inbox?who=mine&status=cancelled").get_data(as_text=True)
    assert "No tickets match: cancelled, assigned to you." in html


def test_assign_without_js_comes_back_to_the_same_list(db, staff_client, inbox, sam):
    ticket = db.session.scalars(select(Ticket).filter_by(subject="New nobody")).one()
    url = f"/inbox/{ticket.id}/assign?who=unassigned&status=new"
    response = staff_client.post(url, {"assignee_id": str(sam.id)})
    assert response.status_code == 303
    assert response.headers["Location"] == "/inbox?who=unassigned&status=new"
    html = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "“New nobody” is assigned to Sam Sales." in html
    assert subjects(html) == []
    db.session.expire_all()
    assert ticket.assignee_id == sam.id
    line = db.session.scalars(
        select(CustomerEvent).where(CustomerEvent.field == "assignee_id")
    ).one()
    assert (line.summary, line.old_value, line.new_value) == (
        "Ticket changed: Assigned to",
        "",
        "Sam Sales",
    )
    assert line.staff_id == staff_client.staff.id
    # And back to nobody.
    staff_client.post(f"/inbox/{ticket.id}/assign", {"assignee_id": ""})
    db.session.expire_all()
    assert ticket.assignee_id is None


def test_assign_with_htmx_refreshes_the_list(db, staff_client, inbox):
    ticket = db.session.scalars(select(Ticket).filter_by(subject="Working nobody")).one()
    me = staff_client.staff
    response = staff_client.post(
        f"/inbox/{ticket.id}/assign?who=mine", {"assignee_id": str(me.id)}, htmx_target="modal"
    )
    assert response.status_code == 204
    events = json.loads(response.headers["HX-Trigger"])
    assert events["inboxChanged"] is True and events["closeModal"] is True
    assert events["showMessage"] == "“Working nobody” is assigned to Alex Agent."
    html = staff_client.get("/inbox?who=mine", htmx_target="inbox_results").get_data(as_text=True)
    assert subjects(html) == ["Working nobody", "Working mine", "New mine"]


@pytest.mark.parametrize("value", ["abc", "999999"])
def test_a_bad_assignee_is_refused_beside_the_field(db, staff_client, inbox, value):
    ticket = db.session.scalars(select(Ticket).filter_by(subject="New mine")).one()
    url = f"/inbox/{ticket.id}/assign"
    refused = staff_client.post(url, {"assignee_id": value})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "<html" in html and 'id="assignee_id-error"' in html
    assert tickets.CHOOSE_ASSIGNEE in html
    modal = staff_client.post(url, {"assignee_id": value}, htmx_target="modal")
    assert modal.status_code == 422 and "<dialog" in modal.get_data(as_text=True)
    db.session.expire_all()
    assert ticket.assignee_id == staff_client.staff.id


def test_a_ticket_kept_with_a_deactivated_assignee_can_stay_so(db, staff_client, sam, ada):
    ticket = add(db, ada, "Old", "new", sam)
    sam.active = False
    db.session.commit()
    form = staff_client.get(f"/inbox/{ticket.id}/assign").get_data(as_text=True)
    assert "Sam Sales (deactivated)" in form
    same = staff_client.post(f"/inbox/{ticket.id}/assign", {"assignee_id": str(sam.id)})
    assert same.status_code == 303
    other = add(db, ada, "Other", "new", None)
    refused = staff_client.post(f"/inbox/{other.id}/assign", {"assignee_id": str(sam.id)})
    assert refused.status_code == 422


def test_the_inbox_needs_a_sign_in_and_assign_a_csrf_token(app, db, staff_client, inbox, sam):
    ticket = db.session.scalars(select(Ticket).filter_by(subject="New nobody")).one()
    url = f"/inbox/{ticket.id}/assign"
    assert staff_client.post(url, {"assignee_id": str(sam.id)}, csrf=False).status_code == 400
    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    assert anonymous.get("/inbox").status_code == 302
    refused = anonymous.post(url, data={"csrf_token": token, "assignee_id": str(sam.id)})
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/sign-in")
    db.session.expire_all()
    assert ticket.assignee_id is None
    assert staff_client.post("/inbox/999999/assign", {"assignee_id": ""}).status_code == 404


def test_an_admin_uses_the_inbox_too(admin_client):
    assert admin_client.get("/inbox").status_code == 200


def test_paging_keeps_the_filters(db, staff_client, ada):
    for number in range(53):
        add(db, ada, f"Question {number:02d}", "in_progress")
    first = staff_client.get("/inbox?status=in_progress&who=unassigned").get_data(as_text=True)
    assert subjects(first) == [f"Question {n:02d}" for n in range(52, 2, -1)]
    older = re.search(r'href="(/inbox\?[^"]*after=[^"]*)"[^>]*rel="next"', first).group(1)
    older = older.replace("&amp;", "&")
    assert "status=in_progress" in older and "who=unassigned" in older
    second = staff_client.get(older).get_data(as_text=True)
    assert subjects(second) == ["Question 02", "Question 01", "Question 00"]


# -- Assigned to on the ticket form and tab ----------------------------------------------


def test_the_ticket_form_has_assigned_to(db, staff_client, sam, ada):
    url = f"/customers/{ada.id}/tickets/new"
    form = staff_client.get(url).get_data(as_text=True)
    select_html = form.split('name="assignee_id"', 1)[1].split("</select>", 1)[0]
    assert re.search(r'<option selected value="">Unassigned|<option value="" selected', select_html)
    staff_client.post(url, {"subject": "Help", "description": "", "assignee_id": str(sam.id)})
    ticket = db.session.scalars(select(Ticket)).one()
    assert ticket.assignee_id == sam.id
    tab = staff_client.get(f"/customers/{ada.id}/tickets").get_data(as_text=True)
    assert "Assigned to Sam Sales" in tab
    edit = f"/customers/{ada.id}/tickets/{ticket.id}/edit"
    data = {"subject": "Help", "description": "", "status": "new", "assignee_id": ""}
    assert staff_client.post(edit, data).status_code == 303
    db.session.expire_all()
    assert ticket.assignee_id is None
    assert "Unassigned" in staff_client.get(f"/customers/{ada.id}/tickets").get_data(as_text=True)
