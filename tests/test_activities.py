"""Activities tab: the shared record routes (page or modal, 422 beside the field, delete
confirmed on the server, sign-in and CSRF), times typed and shown in UTC, notes shown
as plain text, and the "upcoming first" order with overdue ones marked."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_from
from webapp.models.base import utcnow
from webapp.models.crm import Activity
from webapp.services import activities
from webapp.services.records import RecordError

NOW = datetime(2030, 6, 15, 12, 0)


@pytest.fixture
def customer(make_customer):
    return make_customer(name="Acme Ltd", email="accounts@acme.example")


def activity_count(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Activity))


def add(db, customer, title, due_at, kind="call", done=False, notes="") -> Activity:
    fields = {"title": title, "kind": kind, "due_at": due_at, "done": done, "notes": notes}
    return activities.add(db.session, customer, None, fields)


def form_data(**fields) -> dict:
    return {"title": "Renewal call", "kind": "call", "due_at": "2030-05-06T14:30", **fields}


def rows(html: str) -> list[str]:
    """The tab's table rows as text, tags and extra spaces removed."""
    body = html.split('<table class="activities">', 1)[1].split("</table>", 1)[0]
    found = re.findall(r"<tr.*?</tr>", body.split("<tbody>", 1)[1], re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in found]


# -- HTTP ------------------------------------------------------------------------------


def test_the_tab_is_a_page_and_a_fragment(staff_client, customer):
    page = staff_client.get(f"/customers/{customer.id}/activities")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "No activities yet." in html and "+ New activity" in html
    fragment = staff_client.get(f"/customers/{customer.id}/activities", htmx_target="customer_tab")
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and "+ New activity" in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_new_activity_is_a_modal_with_htmx_and_a_page_without(staff_client, customer):
    url = f"/customers/{customer.id}/activities/new"
    page = staff_client.get(url).get_data(as_text=True)
    assert "<html" in page and "<h1>New activity</h1>" in page
    modal = staff_client.get(url, htmx_target="modal").get_data(as_text=True)
    assert "<dialog" in modal and "<html" not in modal
    assert "<legend>Kind</legend>" in modal
    for kind in ("meeting", "call", "task"):
        assert f'value="{kind}"' in modal
    assert re.search(r'<input[^>]*checked[^>]*value="meeting"', modal)  # the default
    assert re.search(r'<input[^>]*name="due_at"[^>]*type="datetime-local"', modal)
    assert "When (UTC)" in modal and ">Done" in modal.replace("\n", "").replace("  ", "")


def test_add_edit_and_delete_an_activity(staff_client, db, customer):
    new_url = f"/customers/{customer.id}/activities/new"
    added = staff_client.post(new_url, form_data(notes="Ask about\r\nthe new plan"))
    assert added.status_code == 303
    assert added.headers["Location"] == f"/customers/{customer.id}/activities"
    activity = db.session.scalars(select(Activity)).one()
    assert (activity.title, activity.kind, activity.due_at, activity.done) == (
        "Renewal call",
        "call",
        datetime(2030, 5, 6, 14, 30),
        False,
    )
    assert activity.notes == "Ask about\nthe new plan"
    assert activity.staff_id == staff_client.staff.id
    html = staff_client.get(f"/customers/{customer.id}/activities").get_data(as_text=True)
    assert "Activity added." in html
    assert rows(html) == [
        "2030-05-06 14:30 UTC Call Renewal call Assigned to Alex Agent Ask about the new plan "
        "Planned Edit Delete"
    ]

    # The edit form shows the stored time the way the field takes it.
    edit_url = f"/customers/{customer.id}/activities/{activity.id}/edit"
    form = staff_client.get(edit_url, htmx_target="modal").get_data(as_text=True)
    assert 'value="2030-05-06T14:30"' in form and "Save changes" in form
    saved = staff_client.post(
        edit_url,
        form_data(
            title="Renewal meeting", kind="meeting", due_at="2030-05-07 09:00", notes="", done="y"
        ),
        htmx_target="form",
    )
    assert saved.status_code == 204
    events = json.loads(saved.headers["HX-Trigger"])
    assert events["showMessage"] == "Activity saved." and events["customerUpdated"] == customer.id
    db.session.expire_all()
    assert (activity.title, activity.kind, activity.due_at, activity.done, activity.notes) == (
        "Renewal meeting",
        "meeting",
        datetime(2030, 5, 7, 9, 0),
        True,
        "",
    )

    delete_url = f"/customers/{customer.id}/activities/{activity.id}/delete"
    confirm = staff_client.get(delete_url).get_data(as_text=True)
    assert "Meeting: Renewal meeting, 2030-05-07 09:00 UTC" in confirm and "Confirm" in confirm
    assert activity_count(db) == 1  # looking at the confirmation deletes nothing
    deleted = staff_client.post(delete_url)
    assert deleted.status_code == 303
    assert activity_count(db) == 0
    assert "Activity deleted." in staff_client.get(deleted.headers["Location"]).get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": "  "}, "title", "Enter a title."),
        ({"title": "x" * 201}, "title", "A title can be at most 200 characters."),
        ({"due_at": ""}, "due_at", "Enter the date and time it is planned for."),
        ({"due_at": "2030-13-40T10:00"}, "due_at", activities.BAD_WHEN),
        ({"due_at": "next Tuesday"}, "due_at", activities.BAD_WHEN),
        ({"kind": "party"}, "kind", "Choose meeting, call or task."),
        ({"kind": ""}, "kind", "Choose meeting, call or task."),
        ({"notes": "n" * 5001}, "notes", "Notes can be at most 5,000 characters."),
    ],
)
def test_a_bad_activity_is_refused_beside_the_field(
    staff_client, db, customer, fields, field, message
):
    url = f"/customers/{customer.id}/activities/new"
    plain = staff_client.post(url, form_data(**fields))
    assert plain.status_code == 422
    html = plain.get_data(as_text=True)
    assert "<html" in html and f'id="{field}-error"' in html and message in html
    swapped = staff_client.post(url, form_data(**fields), htmx_target="form")
    assert swapped.status_code == 422
    fragment = swapped.get_data(as_text=True)
    assert fragment.lstrip().startswith('<form id="form"')
    error = re.search(rf'<small id="{field}-error" class="field-error">(.*?)</small>', fragment)
    assert error and error.group(1) == message.replace("'", "&#39;")
    assert activity_count(db) == 0


def test_a_bad_edit_changes_nothing(staff_client, db, customer):
    activity = add(db, customer, "Kick-off", datetime(2030, 1, 2, 10, 0))
    url = f"/customers/{customer.id}/activities/{activity.id}/edit"
    refused = staff_client.post(url, form_data(title="Changed", due_at="2030-02-30T10:00"))
    assert refused.status_code == 422 and activities.BAD_WHEN in refused.get_data(as_text=True)
    db.session.expire_all()
    assert (activity.title, activity.due_at) == ("Kick-off", datetime(2030, 1, 2, 10, 0))


def test_notes_are_shown_as_plain_text(staff_client, db, customer):
    add(db, customer, "<b>Call</b>", utcnow() + timedelta(days=1), notes="<script>x()</script>")
    html = staff_client.get(f"/customers/{customer.id}/activities").get_data(as_text=True)
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<script>x()" not in html
    assert "&lt;b&gt;Call&lt;/b&gt;" in html


def test_the_tab_lists_upcoming_first_and_marks_overdue_ones(staff_client, db, customer):
    now = utcnow()
    add(db, customer, "Done last week", now - timedelta(days=7), done=True)
    add(db, customer, "Overdue three days", now - timedelta(days=3))
    add(db, customer, "Next week", now + timedelta(days=7))
    add(db, customer, "Done tomorrow", now + timedelta(days=1), done=True)
    add(db, customer, "Overdue yesterday", now - timedelta(days=1))
    add(db, customer, "Tomorrow", now + timedelta(days=1))
    html = staff_client.get(f"/customers/{customer.id}/activities").get_data(as_text=True)
    shown = [(row.split(" Call ", 1)[1].rsplit(" Edit", 1)[0]) for row in rows(html)]
    assert shown == [
        "Tomorrow Unassigned Planned",
        "Next week Unassigned Planned",
        "Overdue yesterday Unassigned Overdue",
        "Overdue three days Unassigned Overdue",
        "Done tomorrow Unassigned Done",
        "Done last week Unassigned Done",
    ]


def test_an_activity_of_another_customer_is_not_found(staff_client, db, make_customer):
    ada = make_customer()
    bob = make_customer(name="Bob", email="bob@example.com")
    activity = add(db, ada, "Ada's call", datetime(2030, 1, 1, 9, 0))
    for action in ("edit", "delete"):
        url = f"/customers/{bob.id}/activities/{activity.id}/{action}"
        assert staff_client.get(url).status_code == 404
        assert staff_client.post(url, form_data()).status_code == 404
    assert activity_count(db) == 1
    db.session.expire_all()
    assert activity.title == "Ada's call"


def test_activities_need_a_sign_in_and_a_csrf_token(app, staff_client, db, customer):
    activity = add(db, customer, "Private", datetime(2030, 1, 1, 9, 0))
    base = f"/customers/{customer.id}/activities"
    for url in (f"{base}/new", f"{base}/{activity.id}/edit", f"{base}/{activity.id}/delete"):
        assert staff_client.post(url, form_data(), csrf=False).status_code == 400, url
    assert activity_count(db) == 1
    db.session.expire_all()
    assert activity.title == "Private"

    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    for method, url in [
        ("GET", base),
        ("GET", f"{base}/new"),
        ("POST", f"{base}/new"),
        ("GET", f"{base}/{activity.id}/edit"),
        ("POST", f"{base}/{activity.id}/edit"),
        ("POST", f"{base}/{activity.id}/delete"),
    ]:
        response = anonymous.open(url, method=method, data={"csrf_token": token, **form_data()})
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/sign-in")
    assert activity_count(db) == 1


# -- the service -----------------------------------------------------------------------------


def test_upcoming_first_then_overdue_then_done(db, customer):
    def at(**delta) -> datetime:
        return NOW + timedelta(**delta)

    add(db, customer, "done last week", at(days=-7), done=True)
    add(db, customer, "overdue 3 days", at(days=-3))
    add(db, customer, "in 2 days", at(days=2))
    add(db, customer, "done tomorrow", at(days=1), done=True)
    add(db, customer, "due right now", NOW)
    add(db, customer, "overdue 1 minute", at(minutes=-1))
    add(db, customer, "in 1 hour", at(hours=1))
    page = activities.activities_page(db.session, customer.id, now=NOW)
    assert [a.title for a in page.rows] == [
        "due right now",
        "in 1 hour",
        "in 2 days",
        "overdue 1 minute",
        "overdue 3 days",
        "done tomorrow",
        "done last week",
    ]
    overdue = activities.overdue_ids(page.rows, NOW)
    assert {a.title for a in page.rows if a.id in overdue} == {"overdue 1 minute", "overdue 3 days"}


def test_activities_of_other_customers_are_not_listed(db, customer, make_customer):
    other = make_customer(name="Other", email="other@example.com")
    add(db, other, "Theirs", NOW)
    add(db, customer, "Ours", NOW)
    titles = [a.title for a in activities.activities_page(db.session, customer.id, now=NOW).rows]
    assert titles == ["Ours"]


def test_the_service_checks_what_the_form_does_not(db, customer):
    with pytest.raises(RecordError) as refused:
        add(db, customer, "Call", "2030-01-01 10:00")  # a string is not a time
    assert refused.value.field == "due_at"
    with pytest.raises(RecordError) as refused:
        add(db, customer, "Call", NOW, kind="lunch")
    assert refused.value.field == "kind"
    db.session.rollback()
    assert activity_count(db) == 0
    # Seconds are dropped: people plan to the minute.
    kept = add(db, customer, "  Trimmed  ", NOW.replace(second=42, microsecond=7))
    assert (kept.title, kept.due_at) == ("Trimmed", NOW)
