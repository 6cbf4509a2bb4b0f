"""Tickets tab: the shared record routes for add and edit (page or modal, 422 beside the
field, sign-in and CSRF), no delete, the status filter (?status=) with an empty state
per filter, and the quick status Change on each row with and without htmx."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_from
from webapp.models.crm import Ticket
from webapp.services import tickets
from webapp.services.records import RecordError

CHOOSE_STATUS = "Choose new, in progress, solved or cancelled."


@pytest.fixture
def customer(make_customer):
    return make_customer(name="Acme Ltd", email="accounts@acme.example")


def ticket_count(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Ticket))


def add(db, customer, subject, status="new", description="") -> Ticket:
    ticket = tickets.add(
        db.session, customer, None, {"subject": subject, "description": description}
    )
    if status != "new":
        tickets.change_status(db.session, customer, ticket, status)
    return ticket


def subjects(html: str) -> list[str]:
    """The subjects listed on the tab, top to bottom."""
    return re.findall(r'<span class="ticket-subject">(.*?)</span>', html)


def filter_links(html: str) -> dict[str, str]:
    """Filter link label -> its href, and which one is current ("*" after the label)."""
    nav = html.split('<nav aria-label="Ticket status"', 1)[1].split("</nav>", 1)[0]
    links = {}
    for attrs, label in re.findall(r"<a ([^>]*)>(.*?)</a>", nav):
        href = re.search(r'href="([^"]*)"', attrs).group(1)
        current = 'aria-current="page"' in attrs
        assert f'hx-get="{href}"' in attrs and 'hx-push-url="true"' in attrs
        links[label + ("*" if current else "")] = href.replace("&amp;", "&")
    return links


# -- HTTP: the tab ---------------------------------------------------------------------------


def test_the_tab_is_a_page_and_a_fragment(staff_client, customer):
    url = f"/customers/{customer.id}/tickets"
    page = staff_client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "No tickets yet." in html and "+ New ticket" in html
    assert filter_links(html) == {
        "Show all*": url,
        "New": f"{url}?status=new",
        "In progress": f"{url}?status=in_progress",
        "Solved": f"{url}?status=solved",
        "Cancelled": f"{url}?status=cancelled",
    }
    fragment = staff_client.get(url, htmx_target="customer_tab")
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and "+ New ticket" in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_the_status_filter_shows_only_that_status(staff_client, db, customer):
    add(db, customer, "Where is my invoice?")
    add(db, customer, "Wrong address", "in_progress")
    add(db, customer, "Printer broken", "solved")
    add(db, customer, "Duplicate", "cancelled")
    add(db, customer, "Card declined")
    url = f"/customers/{customer.id}/tickets"
    everything = staff_client.get(url).get_data(as_text=True)
    assert subjects(everything) == [
        "Card declined",
        "Duplicate",
        "Printer broken",
        "Wrong address",
        "Where is my invoice?",
    ]
    for status, label, expected in [
        ("new", "New", ["Card declined", "Where is my invoice?"]),
        ("in_progress", "In progress", ["Wrong address"]),
        ("solved", "Solved", ["Printer broken"]),
        ("cancelled", "Cancelled", ["Duplicate"]),
    ]:
        for htmx_target in (None, "customer_tab"):
            html = staff_client.get(f"{url}?status={status}", htmx_target).get_data(as_text=True)
            assert subjects(html) == expected, status
            assert f"{label}*" in filter_links(html)
            assert f'<span class="status status-ticket-{status}">{label}</span>' in html
    # An unknown status is no filter.
    html = staff_client.get(f"{url}?status=lost").get_data(as_text=True)
    assert len(subjects(html)) == 5 and "Show all*" in filter_links(html)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("new", "No tickets are new."),
        ("in_progress", "No tickets are in progress."),
        ("solved", "No tickets are solved."),
        ("cancelled", "No tickets are cancelled."),
    ],
)
def test_each_filter_has_its_empty_state(staff_client, db, customer, status, message):
    other = "solved" if status == "new" else "new"
    add(db, customer, "Something else", other)
    url = f"/customers/{customer.id}/tickets"
    html = staff_client.get(f"{url}?status={status}").get_data(as_text=True)
    assert subjects(html) == [] and message in html and "No tickets yet." not in html
    assert f'<a href="{url}" hx-get="{url}"' in html.split(message, 1)[1]  # Show all


def test_there_is_no_delete(staff_client, db, customer):
    ticket = add(db, customer, "Keep me")
    html = staff_client.get(f"/customers/{customer.id}/tickets").get_data(as_text=True)
    assert "Edit</a>" in html and "Delete" not in html and "/delete" not in html
    url = f"/customers/{customer.id}/tickets/{ticket.id}/delete"
    assert staff_client.get(url).status_code == 404
    assert staff_client.post(url).status_code == 404
    assert ticket_count(db) == 1
    with pytest.raises(RecordError, match="Cancelled instead"):
        tickets.remove(db.session, customer, ticket)
    assert ticket_count(db) == 1


# -- HTTP: add and edit -----------------------------------------------------------------------


def test_new_ticket_is_a_modal_with_htmx_and_a_page_without(staff_client, customer):
    url = f"/customers/{customer.id}/tickets/new"
    page = staff_client.get(url).get_data(as_text=True)
    assert "<html" in page and "<h1>New ticket</h1>" in page
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal
    assert 'name="subject"' in modal and 'name="description"' in modal
    assert 'name="status"' not in modal  # a new ticket is New


def test_add_then_edit_a_ticket(staff_client, db, customer):
    added = staff_client.post(
        f"/customers/{customer.id}/tickets/new",
        {"subject": "  Invoice address wrong ", "description": "<b>Says</b> the street\r\nis old"},
    )
    assert added.status_code == 303
    assert added.headers["Location"] == f"/customers/{customer.id}/tickets"
    ticket = db.session.scalars(select(Ticket)).one()
    assert (ticket.subject, ticket.description, ticket.status, ticket.staff_id) == (
        "Invoice address wrong",
        "<b>Says</b> the street\nis old",
        "new",
        staff_client.staff.id,
    )
    html = staff_client.get(added.headers["Location"]).get_data(as_text=True)
    assert "Ticket added." in html and subjects(html) == ["Invoice address wrong"]
    assert "&lt;b&gt;Says&lt;/b&gt;" in html and "<b>Says" not in html
    assert '<span class="status status-ticket-new">New</span>' in html
    assert f"by {staff_client.staff.name}" in html

    url = f"/customers/{customer.id}/tickets/{ticket.id}/edit"
    form = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert re.search(r'<option selected value="new">New</option>', form)
    assert '<option value="in_progress">In progress</option>' in form
    saved = staff_client.post(
        url,
        {"subject": "Invoice address", "description": "", "status": "in_progress"},
        htmx_target="form",
    )
    assert saved.status_code == 204
    assert json.loads(saved.headers["HX-Trigger"])["showMessage"] == "Ticket saved."
    db.session.expire_all()
    assert (ticket.subject, ticket.description, ticket.status) == (
        "Invoice address",
        "",
        "in_progress",
    )


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"subject": " "}, "subject", "Enter a subject."),
        ({"subject": "s" * 201}, "subject", "A subject can be at most 200 characters."),
        ({"description": "d" * 5001}, "description", "at most 5,000 characters."),
        ({"status": "closed"}, "status", CHOOSE_STATUS),
        ({"status": ""}, "status", CHOOSE_STATUS),
    ],
)
def test_a_bad_edit_is_refused_beside_the_field(staff_client, db, customer, fields, field, message):
    ticket = add(db, customer, "Original", description="As raised")
    url = f"/customers/{customer.id}/tickets/{ticket.id}/edit"
    data = {"subject": "Changed", "description": "Changed too", "status": "solved", **fields}
    plain = staff_client.post(url, data)
    assert plain.status_code == 422
    assert "<html" in plain.get_data(as_text=True)
    swapped = staff_client.post(url, data, htmx_target="form")
    assert swapped.status_code == 422
    fragment = swapped.get_data(as_text=True)
    assert fragment.lstrip().startswith('<form id="form"')
    error = re.search(rf'<small id="{field}-error" class="field-error">(.*?)</small>', fragment)
    assert error and message in error.group(1)
    db.session.expire_all()
    assert (ticket.subject, ticket.description, ticket.status) == ("Original", "As raised", "new")


def test_a_new_ticket_without_a_subject_is_refused(staff_client, db, customer):
    url = f"/customers/{customer.id}/tickets/new"
    refused = staff_client.post(url, {"subject": "", "description": "x"}, htmx_target="form")
    assert refused.status_code == 422
    assert '<small id="subject-error" class="field-error">Enter a subject.</small>' in (
        refused.get_data(as_text=True)
    )
    assert ticket_count(db) == 0


# -- HTTP: the quick status Change ------------------------------------------------------------


def test_each_row_changes_its_status_without_js(staff_client, db, customer):
    ticket = add(db, customer, "Card declined")
    add(db, customer, "Other one")
    tab = f"/customers/{customer.id}/tickets"
    html = staff_client.get(f"{tab}?status=new").get_data(as_text=True)
    action = f"/customers/{customer.id}/tickets/{ticket.id}/status?status=new"
    row_form = html.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    assert f'<select id="ticket-{ticket.id}-status" name="status">' in row_form
    assert 'name="csrf_token"' in row_form and ">Change</button>" in row_form
    assert f'<label for="ticket-{ticket.id}-status" class="visually-hidden">' in row_form

    changed = staff_client.post(action, {"status": "solved"})
    assert changed.status_code == 303
    assert changed.headers["Location"] == f"{tab}?status=new"  # back to the same filter
    db.session.expire_all()
    assert ticket.status == "solved"
    back = staff_client.get(changed.headers["Location"]).get_data(as_text=True)
    assert "Ticket “Card declined” is now solved." in back
    assert subjects(back) == ["Other one"]

    # Without a filter the answer is the whole list.
    unfiltered = f"/customers/{customer.id}/tickets/{ticket.id}/status"
    again = staff_client.post(unfiltered, {"status": "in_progress"})
    assert again.headers["Location"] == tab
    db.session.expire_all()
    assert ticket.status == "in_progress"


def test_each_row_changes_its_status_with_htmx(staff_client, db, customer):
    ticket = add(db, customer, "Card declined")
    url = f"/customers/{customer.id}/tickets/{ticket.id}/status?status=new"
    changed = staff_client.post(url, {"status": "cancelled"}, htmx_target="modal")
    assert changed.status_code == 204
    events = json.loads(changed.headers["HX-Trigger"])
    assert events["customerUpdated"] == customer.id
    assert events["showMessage"] == "Ticket “Card declined” is now cancelled."
    db.session.expire_all()
    assert ticket.status == "cancelled"


@pytest.mark.parametrize("data", [{"status": "closed"}, {"status": ""}, {}])
def test_a_bad_status_is_refused_beside_the_field(staff_client, db, customer, data):
    ticket = add(db, customer, "Card declined", "in_progress")
    url = f"/customers/{customer.id}/tickets/{ticket.id}/status?status=in_progress"
    plain = staff_client.post(url, data)
    assert plain.status_code == 422
    html = plain.get_data(as_text=True)
    assert "<html" in html and "<h1>Change ticket status</h1>" in html and "Card declined" in html
    assert f'<small id="status-error" class="field-error">{CHOOSE_STATUS}</small>' in html
    assert f'href="/customers/{customer.id}/tickets?status=in_progress"' in html  # Cancel
    modal = staff_client.post(url, data, htmx_target="modal")
    assert modal.status_code == 422
    body = modal.get_data(as_text=True)
    assert "<dialog" in body and "<html" not in body and CHOOSE_STATUS in body
    assert '<h2 id="modal-title">Change ticket status</h2>' in body
    assert f'hx-post="{url}"' in body  # the form keeps the filter
    again = staff_client.post(url, data, htmx_target="form")
    assert again.status_code == 422
    assert again.get_data(as_text=True).lstrip().startswith('<form id="form"')
    db.session.expire_all()
    assert ticket.status == "in_progress"


def test_the_status_form_is_also_a_page(staff_client, db, customer):
    ticket = add(db, customer, "Card declined", "solved")
    url = f"/customers/{customer.id}/tickets/{ticket.id}/status"
    html = staff_client.get(url).get_data(as_text=True)
    assert "<h1>Change ticket status</h1>" in html
    assert '<option selected value="solved">Solved</option>' in html


def test_a_ticket_of_another_customer_is_not_found(staff_client, db, make_customer):
    ada = make_customer()
    bob = make_customer(name="Bob", email="bob@example.com")
    ticket = add(db, ada, "Ada's question")
    for url, data in [
        (f"/customers/{bob.id}/tickets/{ticket.id}/status", {"status": "solved"}),
        (f"/customers/{bob.id}/tickets/{ticket.id}/edit", {"subject": "Bob's now"}),
    ]:
        assert staff_client.get(url).status_code == 404
        assert staff_client.post(url, data).status_code == 404
    db.session.expire_all()
    assert (ticket.subject, ticket.status) == ("Ada's question", "new")


def test_tickets_need_a_sign_in_and_a_csrf_token(app, staff_client, db, customer):
    ticket = add(db, customer, "Private")
    base = f"/customers/{customer.id}/tickets"
    data = {"subject": "Changed", "description": "", "status": "solved"}
    for url in (f"{base}/new", f"{base}/{ticket.id}/edit", f"{base}/{ticket.id}/status"):
        assert staff_client.post(url, data, csrf=False).status_code == 400, url
    assert ticket_count(db) == 1
    db.session.expire_all()
    assert (ticket.subject, ticket.status) == ("Private", "new")

    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    for method, url in [
        ("GET", base),
        ("GET", f"{base}?status=new"),
        ("GET", f"{base}/new"),
        ("POST", f"{base}/new"),
        ("POST", f"{base}/{ticket.id}/edit"),
        ("GET", f"{base}/{ticket.id}/status"),
        ("POST", f"{base}/{ticket.id}/status"),
    ]:
        response = anonymous.open(url, method=method, data={"csrf_token": token, **data})
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/sign-in")
    assert ticket_count(db) == 1
    db.session.expire_all()
    assert ticket.status == "new"


# -- the service -----------------------------------------------------------------------------


def test_tickets_start_new_and_move_between_statuses(db, customer):
    ticket = tickets.add(db.session, customer, None, {"subject": "Q", "status": "solved"})
    assert ticket.status == "new"  # whatever the fields say
    for status in ("in_progress", "solved", "cancelled", "new"):
        tickets.change_status(db.session, customer, ticket, status)
        db.session.expire_all()
        assert ticket.status == status
    with pytest.raises(RecordError, match=CHOOSE_STATUS) as refused:
        tickets.change_status(db.session, customer, ticket, "done")
    assert refused.value.field == "status"
    db.session.rollback()
    assert ticket.status == "new"


def test_the_list_filters_by_status_newest_first(db, customer, make_customer):
    other = make_customer(name="Other", email="other@example.com")
    add(db, other, "Not ours")
    add(db, customer, "First", "solved")
    add(db, customer, "Second")
    add(db, customer, "Third", "solved")

    def listed(status: str) -> list[str]:
        return [t.subject for t in tickets.tickets_page(db.session, customer.id, status).rows]

    assert listed("") == ["Third", "Second", "First"]
    assert listed("solved") == ["Third", "First"]
    assert listed("new") == ["Second"]
    assert listed("cancelled") == []
    assert tickets.status_filter("in_progress") == "in_progress"
    assert tickets.status_filter("In progress") == ""
    assert tickets.status_filter(None) == ""
    assert tickets.status_label("in_progress") == "In progress"
