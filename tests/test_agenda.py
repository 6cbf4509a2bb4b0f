"""Agenda (/agenda): open activities across customers, filtered by who they are assigned
to (?who= mine, all or a staff member) and when they are due (?when= overdue, today or
upcoming) with a fixed clock; Mark done from the list (with and without htmx) and its
History line; Assigned to on the Activities form; paging, sign-in, CSRF and bad filters."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_from
from webapp.models.crm import Activity
from webapp.models.history import CustomerEvent
from webapp.services import activities, work

NOW = datetime(2030, 6, 15, 12, 0)


@pytest.fixture
def clock(monkeypatch):
    """The Agenda's clock, fixed at NOW."""
    monkeypatch.setattr(work, "current_time", lambda: NOW)
    return NOW


@pytest.fixture
def ada(make_customer):
    return make_customer(name="Ada Ltd", email="ada@example.com")


@pytest.fixture
def bob(make_customer):
    return make_customer(name="Bob Inc", email="bob@example.com")


@pytest.fixture
def sam(make_staff):
    return make_staff(email="sam@example.com", name="Sam Sales")


def add(db, customer, title, due_at, assigned_to, done=False) -> Activity:
    fields = {
        "title": title,
        "kind": "call",
        "due_at": due_at,
        "done": done,
        "notes": "",
        "assigned_to_id": assigned_to.id if assigned_to else None,
    }
    return activities.add(db.session, customer, None, fields)


@pytest.fixture
def agenda(db, staff_client, sam, ada, bob):
    """A week of activities for me (Alex), Sam and nobody, across two customers."""
    me = staff_client.staff
    add(db, ada, "Overdue last week", NOW - timedelta(days=7), me)
    add(db, bob, "Overdue this morning", NOW - timedelta(hours=3), me)
    add(db, ada, "This afternoon", NOW + timedelta(hours=3), me)
    add(db, bob, "Sam at one", NOW + timedelta(hours=1), sam)
    add(db, ada, "Sam last week", NOW - timedelta(days=6), sam)
    add(db, ada, "Tomorrow", NOW + timedelta(days=1), me)
    add(db, bob, "Just before midnight", datetime(2030, 6, 15, 23, 59), me)
    add(db, bob, "Just after midnight", datetime(2030, 6, 16, 0, 0), me)
    add(db, ada, "Done already", NOW + timedelta(hours=2), me, done=True)
    add(db, ada, "Done last week", NOW - timedelta(days=7), me, done=True)
    add(db, bob, "Nobody else", NOW + timedelta(hours=4), None)


def titles(html: str) -> list[str]:
    return re.findall(r'<span class="activity-title">(.*?)</span>', html)


def rows(html: str) -> dict[str, str]:
    """Title -> its row's HTML."""
    body = html.split('<table class="agenda work-table">', 1)[1].split("</table>", 1)[0]
    found = re.findall(r"<tr id=.*?</tr>", body, re.S)
    return {re.search(r'class="activity-title">(.*?)<', row).group(1): row for row in found}


# -- the service, with a fixed clock ---------------------------------------------------


@pytest.mark.parametrize(
    "when, who, expected",
    [
        ("overdue", "me", ["Overdue last week", "Overdue this morning"]),
        ("today", "me", ["Overdue this morning", "This afternoon", "Just before midnight"]),
        ("upcoming", "me", ["Just after midnight", "Tomorrow"]),
        ("overdue", "sam", ["Sam last week"]),
        ("today", "sam", ["Sam at one"]),
        ("upcoming", "sam", []),
        (
            "today",
            "all",
            [
                "Overdue this morning",
                "Sam at one",
                "This afternoon",
                "Nobody else",
                "Just before midnight",
            ],
        ),
        ("overdue", "all", ["Overdue last week", "Sam last week", "Overdue this morning"]),
    ],
)
def test_each_filter_lists_exactly_its_open_activities(
    db, agenda, staff_client, sam, when, who, expected
):
    chosen = {
        "me": work.Who(work.MINE, staff_id=staff_client.staff.id),
        "sam": work.Who(str(sam.id), staff_id=sam.id),
        "all": work.Who(work.ALL, everyone=True),
    }[who]
    page = work.agenda_page(db.session, when, chosen, now=NOW)
    assert [activity.title for activity in page.rows] == expected


def test_today_follows_the_clock(db, staff_client, ada):
    me = staff_client.staff
    add(db, ada, "At noon", NOW, me)
    mine = work.Who(work.MINE, staff_id=me.id)
    assert [a.title for a in work.agenda_page(db.session, "today", mine, now=NOW).rows] == [
        "At noon"
    ]
    # Due at the very moment: not overdue yet; a minute later it is.
    assert work.agenda_page(db.session, "overdue", mine, now=NOW).rows == []
    later = NOW + timedelta(minutes=1)
    assert [a.title for a in work.agenda_page(db.session, "overdue", mine, now=later).rows] == [
        "At noon"
    ]
    next_day = NOW + timedelta(days=1)
    assert work.agenda_page(db.session, "today", mine, now=next_day).rows == []


# -- HTTP ------------------------------------------------------------------------------


def test_the_default_is_my_activities_due_today(staff_client, agenda, clock, ada, bob):
    response = staff_client.get("/agenda")
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    html = response.get_data(as_text=True)
    assert "<h1>Agenda</h1>" in html
    assert titles(html) == ["Overdue this morning", "This afternoon", "Just before midnight"]
    shown = rows(html)
    # Each row links to its customer's Activities tab; the overdue one is marked.
    assert f'href="/customers/{bob.id}/activities">Bob Inc</a>' in shown["Overdue this morning"]
    assert f'href="/customers/{ada.id}/activities">Ada Ltd</a>' in shown["This afternoon"]
    assert "Overdue</span>" in shown["Overdue this morning"]
    assert "Overdue</span>" not in shown["This afternoon"]
    assert 'aria-current="page">Today</a>' in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ("who=mine&when=overdue", ["Overdue last week", "Overdue this morning"]),
        ("who=mine&when=upcoming", ["Just after midnight", "Tomorrow"]),
        (
            "who=all&when=today",
            [
                "Overdue this morning",
                "Sam at one",
                "This afternoon",
                "Nobody else",
                "Just before midnight",
            ],
        ),
        ("who={sam}&when=overdue", ["Sam last week"]),
        ("who={me}&when=upcoming", ["Just after midnight", "Tomorrow"]),
        # Anything else is the default: mine, today.
        (
            "who=nobody&when=someday",
            ["Overdue this morning", "This afternoon", "Just before midnight"],
        ),
        ("who=999999&when=", ["Overdue this morning", "This afternoon", "Just before midnight"]),
        (
            "who=-1&when=today&after=%%%",
            ["Overdue this morning", "This afternoon", "Just before midnight"],
        ),
        (
            "who=99999999999999999999",
            ["Overdue this morning", "This afternoon", "Just before midnight"],
        ),
    ],
)
def test_the_filters_in_the_query_string(staff_client, agenda, clock, sam, query, expected):
    url = "/agenda?" + query.format(sam=sam.id, me=staff_client.staff.id)
    page = staff_client.get(url)
    assert page.status_code == 200
    assert titles(page.get_data(as_text=True)) == expected
    fragment = staff_client.get(url, htmx_target="agenda_results")
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="agenda_results"') and "<html" not in html
    assert titles(html) == expected


def test_the_who_select_names_active_staff(staff_client, agenda, clock, sam, make_staff):
    gone = make_staff(email="gone@example.com", name="Gone Staff")
    gone.active = False
    html = staff_client.get(f"/agenda?who={sam.id}").get_data(as_text=True)
    select_html = html.split('<select id="agenda-who"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r">([^<]+)</option>", select_html) == ["Me", "Everyone", "Sam Sales"]
    assert f'value="{sam.id}" selected' in select_html
    assert "Gone Staff" not in select_html


def test_each_filter_has_its_empty_state(staff_client, clock):
    assert "Nothing due today for you." in staff_client.get("/agenda").get_data(as_text=True)
    html = staff_client.get("/agenda?who=all&when=overdue").get_data(as_text=True)
    assert "Nothing overdue." in html
    html = staff_client.get("/agenda?when=upcoming").get_data(as_text=True)
    assert "Nothing planned after today for you." in html


def test_mark_done_without_js_comes_back_to_the_same_list(db, staff_client, agenda, clock):
    activity = db.session.scalars(select(Activity).filter_by(title="Overdue last week")).one()
    url = f"/agenda/{activity.id}/done?who=mine&when=overdue"
    html = staff_client.get("/agenda?who=mine&when=overdue").get_data(as_text=True)
    assert f'action="{url.replace("&", "&amp;")}"' in html
    response = staff_client.post(url)
    assert response.status_code == 303
    assert response.headers["Location"] == "/agenda?who=mine&when=overdue"
    html = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "“Overdue last week” marked done." in html
    assert titles(html) == ["Overdue this morning"]
    db.session.expire_all()
    assert activity.done is True
    line = db.session.scalars(
        select(CustomerEvent).where(
            CustomerEvent.customer_id == activity.customer_id,
            CustomerEvent.kind == "record.activity.changed",
        )
    ).one()
    assert (line.summary, line.old_value, line.new_value) == ("Activity changed: Done", "No", "Yes")
    assert line.staff_id == staff_client.staff.id


def test_mark_done_with_htmx_refreshes_the_list(db, staff_client, agenda, clock):
    activity = db.session.scalars(select(Activity).filter_by(title="This afternoon")).one()
    response = staff_client.post(f"/agenda/{activity.id}/done?when=today", htmx_target="")
    assert response.status_code == 204
    events = json.loads(response.headers["HX-Trigger"])
    assert events["agendaChanged"] is True
    assert events["showMessage"] == "“This afternoon” marked done."
    # The list reloads itself on agendaChanged: the row is gone.
    html = staff_client.get("/agenda?when=today").get_data(as_text=True)
    assert 'hx-trigger="agendaChanged from:body"' in html
    html = staff_client.get("/agenda?when=today", htmx_target="agenda_results").get_data(
        as_text=True
    )
    assert "This afternoon" not in titles(html)
    db.session.expire_all()
    assert activity.done is True


def test_mark_done_of_an_unknown_activity_is_not_found(staff_client):
    assert staff_client.post("/agenda/999999/done").status_code == 404


def test_the_agenda_needs_a_sign_in_and_mark_done_a_csrf_token(
    app, db, staff_client, agenda, clock
):
    activity = db.session.scalars(select(Activity).filter_by(title="Tomorrow")).one()
    assert staff_client.post(f"/agenda/{activity.id}/done", csrf=False).status_code == 400
    db.session.expire_all()
    assert activity.done is False
    anonymous = app.test_client()
    token = csrf_token_from(anonymous.get("/sign-in").get_data(as_text=True))
    assert anonymous.get("/agenda").status_code == 302
    refused = anonymous.post(f"/agenda/{activity.id}/done", data={"csrf_token": token})
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/sign-in")
    db.session.expire_all()
    assert activity.done is False


def test_an_admin_uses_the_agenda_too(admin_client, clock):
    assert admin_client.get("/agenda").status_code == 200


def test_paging_keeps_the_filters(db, staff_client, ada, clock):
    me = staff_client.staff
    for number in range(55):
        add(db, ada, f"Call {number:02d}", NOW + timedelta(days=2, minutes=number), me)
    first = staff_client.get("/agenda?when=upcoming").get_data(as_text=True)
    assert titles(first) == [f"Call {n:02d}" for n in range(50)]
    after = re.search(r'href="(/agenda\?[^"]*after=[^"]*)"[^>]*rel="next"', first).group(1)
    assert "who=mine" in after and "when=upcoming" in after
    second = staff_client.get(after.replace("&amp;", "&")).get_data(as_text=True)
    assert titles(second) == [f"Call {n:02d}" for n in range(50, 55)]
    assert 'rel="prev"' in second


# -- Assigned to on the Activities form ------------------------------------------------


def test_a_new_activity_is_assigned_to_whoever_plans_it(db, staff_client, sam, ada):
    url = f"/customers/{ada.id}/activities/new"
    form = staff_client.get(url).get_data(as_text=True)
    select_html = form.split('name="assigned_to_id"', 1)[1].split("</select>", 1)[0]
    assert f'selected value="{staff_client.staff.id}"' in select_html or (
        f'value="{staff_client.staff.id}" selected' in select_html
    )
    assert "Sam Sales" in select_html and "Unassigned" in select_html
    data = {"title": "For Sam", "kind": "task", "due_at": "2030-05-06T14:30"}
    staff_client.post(url, {**data, "assigned_to_id": str(sam.id)})
    staff_client.post(url, {**data, "title": "For me"})
    db.session.expire_all()
    assigned = {a.title: a.assigned_to_id for a in db.session.scalars(select(Activity))}
    assert assigned == {"For Sam": sam.id, "For me": staff_client.staff.id}
    tab = staff_client.get(f"/customers/{ada.id}/activities").get_data(as_text=True)
    assert "Assigned to Sam Sales" in tab and "Assigned to Alex Agent" in tab


def test_reassigning_is_a_history_line(db, staff_client, sam, ada):
    activity = add(db, ada, "Renewal", NOW, staff_client.staff)
    url = f"/customers/{ada.id}/activities/{activity.id}/edit"
    data = {"title": "Renewal", "kind": "call", "due_at": "2030-06-15T12:00", "notes": ""}
    assert staff_client.post(url, {**data, "assigned_to_id": str(sam.id)}).status_code == 303
    line = db.session.scalars(
        select(CustomerEvent).where(CustomerEvent.field == "assigned_to_id")
    ).one()
    assert (line.summary, line.old_value, line.new_value) == (
        "Activity changed: Assigned to",
        "Alex Agent",
        "Sam Sales",
    )


@pytest.mark.parametrize("value", ["abc", "999999"])
def test_an_unknown_staff_member_is_refused_beside_the_field(db, staff_client, ada, value):
    url = f"/customers/{ada.id}/activities/new"
    data = {"title": "X", "kind": "call", "due_at": "2030-05-06T14:30", "assigned_to_id": value}
    refused = staff_client.post(url, data)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="assigned_to_id-error"' in html and activities.CHOOSE_STAFF in html
    assert db.session.scalars(select(Activity)).all() == []


def test_a_deactivated_member_cannot_be_given_new_work(db, staff_client, sam, ada):
    sam.active = False
    db.session.commit()
    url = f"/customers/{ada.id}/activities/new"
    data = {"title": "X", "kind": "call", "due_at": "2030-05-06T14:30"}
    refused = staff_client.post(url, {**data, "assigned_to_id": str(sam.id)})
    assert refused.status_code == 422 and activities.CHOOSE_STAFF in refused.get_data(as_text=True)
