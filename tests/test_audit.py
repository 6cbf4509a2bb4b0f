"""The Audit page: the admins' trail of deleted customers, cleared personal data and
staff changes, newest first, paged, filtered by kind."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.conftest import sign_in
from tests.pages import follow, link
from webapp.models.base import utcnow
from webapp.models.history import AuditEvent
from webapp.models.staff import Staff
from webapp.paging import PER_PAGE
from webapp.services import audit


def rows_of(html: str) -> list[list[str]]:
    """The Audit table's cells, row by row, as text."""
    body = html.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in html else ""
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        rows.append([re.sub(r"<[^>]+>", "", cell).strip() for cell in cells])
    return rows


def test_lines_newest_first_with_who_what_subject_and_details(admin_client, admin, db):
    # make_staff wrote "Staff added" for the admin (no request: the command line).
    audit.record(
        db.session, "customer.deleted", "C-000042", "Customer C-000042 deleted.", staff_id=admin.id
    )
    audit.record(
        db.session,
        "customer.personal_data_cleared",
        "C-000043",
        "Personal data of C-000043 cleared.",
        staff_id=None,
    )
    db.session.commit()
    response = admin_client.get("/audit")
    assert response.status_code == 200
    rows = rows_of(response.get_data(as_text=True))
    assert [row[1:] for row in rows] == [
        ["System", "Personal data cleared", "C-000043", "Personal data of C-000043 cleared."],
        ["Ada Admin", "Customer deleted", "C-000042", "Customer C-000042 deleted."],
        [
            "Command line",
            "Staff added",
            "admin@example.com",
            "Staff account admin@example.com added as admin (Ada Admin).",
        ],
    ]
    assert all(row[0].endswith(" UTC") for row in rows)


def test_staff_changes_made_on_the_staff_page_are_listed(admin_client, make_staff, db):
    admin_client.post(
        "/staff/new",
        {"name": "Nia New", "email": "nia@example.com", "role": "agent", "password": "x" * 12},
    )
    nia = "nia@example.com"
    member_id = db.session.scalar(select(Staff.id).where(Staff.email == nia))
    admin_client.post(f"/staff/{member_id}/role", {"role": "admin"})
    admin_client.post(f"/staff/{member_id}/deactivate")
    admin_client.post(f"/staff/{member_id}/reactivate")
    rows = rows_of(admin_client.get("/audit").get_data(as_text=True))
    assert [row[1:4] for row in rows[:4]] == [
        ["Ada Admin", "Staff reactivated", nia],
        ["Ada Admin", "Staff deactivated", nia],
        ["Ada Admin", "Role changed", nia],
        ["Ada Admin", "Staff added", nia],
    ]
    assert rows[2][4] == "Role of nia@example.com changed from agent to admin."


def test_filter_by_kind_with_real_links(admin_client, admin, db):
    for number in range(3):
        audit.record(db.session, "customer.deleted", f"C-00000{number}", "Customer deleted.")
    db.session.commit()
    page = admin_client.get("/audit").get_data(as_text=True)
    # Every kind is a real link, enhanced with htmx, that puts the kind in the address.
    for kind in audit.KINDS:
        assert f'href="/audit?kind={kind}"' in page
        assert f'hx-get="/audit?kind={kind}" hx-target="#audit_results" hx-push-url="true"' in page
    filtered = admin_client.get("/audit?kind=customer.deleted").get_data(as_text=True)
    rows = rows_of(filtered)
    assert len(rows) == 3 and {row[2] for row in rows} == {"Customer deleted"}
    assert 'href="/audit?kind=customer.deleted" hx-get' in filtered
    assert re.search(r'href="/audit\?kind=customer.deleted"[^>]*aria-current="page"', filtered)
    staff_only = rows_of(admin_client.get("/audit?kind=staff.created").get_data(as_text=True))
    assert [row[3] for row in staff_only] == ["admin@example.com"]
    none = admin_client.get("/audit?kind=staff.deactivated").get_data(as_text=True)
    assert rows_of(none) == [] and "Nothing of this kind yet." in none


def test_an_unknown_kind_shows_everything(admin_client, db):
    audit.record(db.session, "customer.deleted", "C-000001", "Customer deleted.")
    db.session.commit()
    html = admin_client.get("/audit?kind=nonsense&page=abc").get_data(as_text=True)
    assert len(rows_of(html)) == 2
    assert re.search(r'href="/audit"[^>]*aria-current="page"', html)


def test_htmx_filter_swaps_only_the_results(admin_client):
    response = admin_client.get("/audit?kind=staff.created", htmx_target="audit_results")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="audit_results"') and "<html" not in html
    assert "HX-Request" in response.headers["Vary"]
    assert len(rows_of(html)) == 1
    # Any other target gets the whole page.
    whole = admin_client.get("/audit", htmx_target="main").get_data(as_text=True)
    assert "<html" in whole


def test_pages_of_lines_keep_the_filter(admin_client, db):
    start = utcnow() - timedelta(days=1)
    for number in range(PER_PAGE + 5):
        line = audit.record(
            db.session, "customer.deleted", f"C-{number:06d}", f"Customer {number} deleted."
        )
        line.created_at = start + timedelta(minutes=number)
    db.session.commit()
    first = admin_client.get("/audit?kind=customer.deleted").get_data(as_text=True)
    rows = rows_of(first)
    assert len(rows) == PER_PAGE
    assert rows[0][3] == f"C-{PER_PAGE + 4:06d}"  # newest first
    assert link(first, "next").startswith("/audit?kind=customer.deleted&after=")
    second = follow(admin_client, first, "next")
    subjects = [row[3] for row in rows_of(second)]
    assert subjects == [f"C-{number:06d}" for number in range(4, -1, -1)]
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_empty_audit_page_says_what_will_appear(app, make_staff, db):
    admin = make_staff(email="admin@example.com", name="Ada Admin", role="admin")
    db.session.execute(AuditEvent.__table__.delete())
    db.session.commit()
    client = app.test_client()
    sign_in(client, admin.email)
    html = client.get("/audit").get_data(as_text=True)
    assert "Nothing recorded yet." in html and rows_of(html) == []
