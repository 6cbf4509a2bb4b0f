"""The Staff page: add staff, change a role, deactivate and reactivate, the rules that
keep an admin in charge, and what a change does to the sessions of the person changed."""

from __future__ import annotations

import json
import threading
import traceback

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, StaffClient, csrf_token_from, sign_in
from webapp.extensions import db as _db
from webapp.models.customer import Customer
from webapp.models.history import AuditEvent
from webapp.models.staff import Staff
from webapp.services import staff as staff_service
from webapp.services.staff import StaffError

NEW_STAFF = {
    "name": "Nia New",
    "email": "Nia@Example.com",
    "role": "agent",
    "password": "a long enough password",
}


def signed_in(app, staff) -> StaffClient:
    client = app.test_client()
    assert sign_in(client, staff.email).status_code == 303
    return StaffClient(client, staff)


def audit_lines(db, kind: str | None = None) -> list[AuditEvent]:
    statement = select(AuditEvent).order_by(AuditEvent.id)
    if kind:
        statement = statement.where(AuditEvent.kind == kind)
    return list(db.session.scalars(statement))


def staff_named(db, email: str) -> Staff:
    db.session.expire_all()
    return db.session.scalar(select(Staff).where(Staff.email == email))


def triggers(response) -> dict:
    return json.loads(response.headers["HX-Trigger"])


# -- the page --------------------------------------------------------------------------


def test_staff_page_lists_every_account_with_role_status_and_created(admin_client, make_staff, db):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    gone = make_staff(email="gone@example.com", name="Gus Gone")
    gone.active = False
    db.session.commit()
    page = admin_client.get("/staff")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for text in ("Ada Admin", "admin@example.com", "Alex Agent", "agent@example.com"):
        assert text in html
    assert "Gus Gone" in html and "Deactivated" in html and "Active" in html
    assert agent.created_at.strftime("%Y-%m-%d") in html
    # Each other account has a role form (a real form) and Deactivate or Reactivate.
    assert f'action="/staff/{agent.id}/role"' in html
    assert f'href="/staff/{agent.id}/deactivate"' in html
    assert f'action="/staff/{gone.id}/reactivate"' in html
    # Your own row has neither: you cannot demote or deactivate yourself.
    assert f'action="/staff/{admin_client.staff.id}/role"' not in html
    assert f"/staff/{admin_client.staff.id}/deactivate" not in html


def test_staff_list_block_alone_for_htmx(admin_client):
    response = admin_client.get("/staff", htmx_target="staff_list")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="staff_list"') and "<html" not in html
    assert "HX-Request" in response.headers["Vary"]


# -- Add staff -------------------------------------------------------------------------


def test_add_staff_without_js_creates_the_account_and_an_audit_line(admin_client, client, db):
    form = admin_client.get("/staff/new")
    assert form.status_code == 200 and "<html" in form.get_data(as_text=True)
    response = admin_client.post("/staff/new", NEW_STAFF)
    assert response.status_code == 303 and response.headers["Location"] == "/staff"
    page = admin_client.get("/staff").get_data(as_text=True)
    assert "Nia New (nia@example.com) added as agent." in page
    member = staff_named(db, "nia@example.com")
    assert member.name == "Nia New" and member.role == "agent" and member.active
    assert NEW_STAFF["password"] not in member.password_hash
    [line] = audit_lines(db, "staff.created")[-1:]
    assert line.subject == "nia@example.com"
    assert line.staff_id == admin_client.staff.id
    assert "added as agent" in line.summary
    # The new account signs in with the password it was given.
    assert sign_in(client, "nia@example.com", NEW_STAFF["password"]).status_code == 303


def test_add_staff_in_the_modal_with_htmx(admin_client, db):
    modal = admin_client.get("/staff/new", htmx_target="modal")
    html = modal.get_data(as_text=True)
    assert "<dialog" in html and "<html" not in html and 'name="password"' in html
    response = admin_client.post("/staff/new", {**NEW_STAFF, "role": "admin"}, htmx_target="form")
    assert response.status_code == 204
    events = triggers(response)
    assert events["closeModal"] and events["staffChanged"]
    assert events["showMessage"] == "Nia New (nia@example.com) added as admin."
    assert staff_named(db, "nia@example.com").is_admin


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": "  "}, "name", "Enter the person&#39;s name."),
        ({"email": "not an email"}, "email", "An email address must have an @-sign."),
        ({"email": ""}, "email", "Enter the email they sign in with."),
        ({"password": "short"}, "password", "The password needs at least 10 characters."),
        ({"password": ""}, "password", "Enter a first password."),
        ({"role": "owner"}, "role", "Role must be admin or agent."),
    ],
)
def test_add_staff_refuses_bad_input_beside_the_field(admin_client, db, change, field, message):
    before = db.session.scalar(select(func.count(Staff.id)))
    response = admin_client.post("/staff/new", {**NEW_STAFF, **change}, htmx_target="form")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().startswith('<form id="form"')
    assert f'id="{field}-error"' in html and message in html
    assert NEW_STAFF["password"] not in html  # a password is never sent back
    assert db.session.scalar(select(func.count(Staff.id))) == before
    assert audit_lines(db, "staff.created")[-1].subject == "admin@example.com"


def test_add_staff_refuses_an_email_that_exists_in_any_case(admin_client, make_staff, db):
    make_staff(email="nia@example.com", name="Nia First")
    response = admin_client.post("/staff/new", {**NEW_STAFF, "email": " NIA@example.COM "})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="email-error"' in html
    assert "A staff account for nia@example.com already exists." in html
    assert "<html" in html  # without JS the form is a page of its own
    assert db.session.scalar(select(func.count(Staff.id))) == 2
    assert staff_named(db, "nia@example.com").name == "Nia First"


def test_add_staff_needs_a_csrf_token(admin_client, db):
    response = admin_client.post("/staff/new", NEW_STAFF, csrf=False)
    assert response.status_code == 400
    assert staff_named(db, "nia@example.com") is None


def test_staff_created_on_the_command_line_is_audited_as_the_command_line(app, db):
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--email", "cli@example.com", "--name", "Cli Person"]
        + ["--role", "admin", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    [line] = audit_lines(db, "staff.created")
    assert line.staff_id is None and line.subject == "cli@example.com"
    assert line.summary == "Staff account cli@example.com added as admin (Cli Person)."
    # The Audit page names who did it: the command line.
    admin = staff_named(db, "cli@example.com")
    html = signed_in(app, admin).get("/audit").get_data(as_text=True)
    assert "Command line" in html and "Staff added" in html


def test_create_staff_rules_in_the_service(db, make_staff):
    make_staff(email="one@example.com")
    with pytest.raises(StaffError) as refusal:
        staff_service.create_staff(db.session, "ONE@example.com", "Two", "agent", "x" * 10)
    assert refusal.value.field == "email"
    with pytest.raises(StaffError, match="at most 200"):
        staff_service.create_staff(db.session, "two@example.com", "x" * 201, "agent", "x" * 10)
    assert db.session.scalar(select(func.count(Staff.id))) == 1


# -- Change role -----------------------------------------------------------------------


def test_change_role_from_the_row_without_js(admin_client, make_staff, db):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    response = admin_client.post(f"/staff/{agent.id}/role", {"role": "admin"})
    assert response.status_code == 303 and response.headers["Location"] == "/staff"
    page = admin_client.get("/staff").get_data(as_text=True)
    assert "Alex Agent is now an admin (was agent)." in page
    assert staff_named(db, "agent@example.com").role == "admin"
    [line] = audit_lines(db, "staff.role_changed")
    assert line.summary == "Role of agent@example.com changed from agent to admin."
    assert line.subject == "agent@example.com" and line.staff_id == admin_client.staff.id


def test_change_role_with_htmx_refreshes_the_list(admin_client, make_staff, db):
    other = make_staff(email="other@example.com", name="Otto Other", role="admin")
    response = admin_client.post(f"/staff/{other.id}/role", {"role": "agent"}, htmx_target="modal")
    assert response.status_code == 204
    events = triggers(response)
    assert events["staffChanged"] and events["showMessage"] == (
        "Otto Other is now an agent (was admin)."
    )
    assert staff_named(db, "other@example.com").role == "agent"
    assert "from admin to agent" in audit_lines(db, "staff.role_changed")[0].summary


def test_choosing_the_same_role_changes_nothing(admin_client, make_staff, db):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    response = admin_client.post(f"/staff/{agent.id}/role", {"role": "agent"}, htmx_target="modal")
    assert response.status_code == 204
    assert triggers(response)["showMessage"] == "Alex Agent is already an agent; nothing changed."
    assert audit_lines(db, "staff.role_changed") == []


def test_an_unknown_role_is_refused_beside_the_field(admin_client, make_staff, db):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    response = admin_client.post(f"/staff/{agent.id}/role", {"role": "owner"}, htmx_target="modal")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<dialog" in html
    assert 'id="role-error"' in html and "Choose admin or agent." in html
    assert staff_named(db, "agent@example.com").role == "agent"


def test_an_admin_cannot_demote_themselves(admin_client, make_staff, db):
    make_staff(email="second@example.com", name="Second Admin", role="admin")
    me = admin_client.staff.id
    response = admin_client.post(f"/staff/{me}/role", {"role": "agent"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" in html  # the page without JS
    assert 'id="role-error"' in html
    assert "You cannot change your own role: ask another admin." in html
    assert staff_named(db, "admin@example.com").role == "admin"
    assert audit_lines(db, "staff.role_changed") == []


def test_the_last_active_admin_cannot_be_demoted(db, make_staff):
    only = make_staff(email="only@example.com", name="Only Admin", role="admin")
    resting = make_staff(email="resting@example.com", name="Resting Admin", role="admin")
    staff_service.deactivate(db.session, resting.id, by=only.id)
    with pytest.raises(StaffError, match="Only Admin is the last active admin"):
        staff_service.change_role(db.session, only.id, "agent", by=None)
    db.session.rollback()
    assert staff_named(db, "only@example.com").role == "admin"
    # A deactivated admin is not counted, and may be demoted.
    assert staff_service.change_role(db.session, resting.id, "agent", by=only.id)
    assert audit_lines(db, "staff.role_changed")[-1].summary == (
        "Role of resting@example.com changed from admin to agent."
    )


def test_role_form_page_for_an_unknown_account_is_404(admin_client):
    assert admin_client.get("/staff/999999/role").status_code == 404
    assert admin_client.post("/staff/999999/role", {"role": "admin"}).status_code == 404


# -- Deactivate and reactivate ---------------------------------------------------------


def test_deactivate_is_confirmed_on_the_server(admin_client, make_staff, db):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    page = admin_client.get(f"/staff/{agent.id}/deactivate")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    modal = admin_client.get(f"/staff/{agent.id}/deactivate", htmx_target="modal")
    html = modal.get_data(as_text=True)
    assert "<dialog" in html and "Deactivate Alex Agent" in html
    assert ">Deactivate</button>" in html
    # Opening the confirmation changes nothing.
    assert staff_named(db, "agent@example.com").active
    response = admin_client.post(f"/staff/{agent.id}/deactivate")
    assert response.status_code == 303
    page = admin_client.get("/staff").get_data(as_text=True)
    assert "Alex Agent is deactivated and signed out everywhere." in page
    assert not staff_named(db, "agent@example.com").active
    [line] = audit_lines(db, "staff.deactivated")
    assert line.subject == "agent@example.com" and line.staff_id == admin_client.staff.id


def test_deactivate_with_htmx(admin_client, make_staff, db):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    response = admin_client.post(f"/staff/{agent.id}/deactivate", htmx_target="form")
    assert response.status_code == 204
    assert triggers(response)["staffChanged"]
    assert not staff_named(db, "agent@example.com").active


def test_an_admin_cannot_deactivate_themselves(admin_client, make_staff, db):
    make_staff(email="second@example.com", name="Second Admin", role="admin")
    me = admin_client.staff.id
    confirmation = admin_client.get(f"/staff/{me}/deactivate").get_data(as_text=True)
    assert "You cannot deactivate your own account: ask another admin." in confirmation
    assert ">Deactivate</button>" not in confirmation
    response = admin_client.post(f"/staff/{me}/deactivate", htmx_target="form")
    assert response.status_code == 422
    assert "You cannot deactivate your own account" in response.get_data(as_text=True)
    assert staff_named(db, "admin@example.com").active
    assert audit_lines(db, "staff.deactivated") == []


def test_the_last_active_admin_cannot_be_deactivated(db, make_staff):
    only = make_staff(email="only@example.com", name="Only Admin", role="admin")
    make_staff(email="agent@example.com", name="Alex Agent")
    with pytest.raises(StaffError, match="last active admin and cannot be deactivated"):
        staff_service.deactivate(db.session, only.id, by=None)
    db.session.rollback()
    assert staff_named(db, "only@example.com").active
    assert audit_lines(db, "staff.deactivated") == []


def test_deactivating_twice_is_refused_with_a_message(admin_client, make_staff, db):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    assert admin_client.post(f"/staff/{agent.id}/deactivate").status_code == 303
    again = admin_client.post(f"/staff/{agent.id}/deactivate")
    assert again.status_code == 422
    assert "Alex Agent is already deactivated." in again.get_data(as_text=True)
    assert len(audit_lines(db, "staff.deactivated")) == 1


def test_reactivate_lets_the_account_sign_in_again(admin_client, make_staff, client, db):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    admin_client.post(f"/staff/{agent.id}/deactivate")
    refused = sign_in(client, "agent@example.com")
    assert refused.status_code == 422
    assert "This account has been deactivated. Ask an admin." in refused.get_data(as_text=True)
    page = admin_client.get("/staff").get_data(as_text=True)
    assert ">Reactivate<" in page
    confirmation = admin_client.get(f"/staff/{agent.id}/reactivate", htmx_target="modal")
    assert "<dialog" in confirmation.get_data(as_text=True)
    response = admin_client.post(f"/staff/{agent.id}/reactivate", htmx_target="modal")
    assert response.status_code == 204
    assert triggers(response)["showMessage"] == "Alex Agent is active again and can sign in."
    assert staff_named(db, "agent@example.com").active
    [line] = audit_lines(db, "staff.reactivated")
    assert line.subject == "agent@example.com" and line.staff_id == admin_client.staff.id
    assert sign_in(client, "agent@example.com").status_code == 303
    # An active account is not reactivated twice.
    again = admin_client.post(f"/staff/{agent.id}/reactivate")
    assert again.status_code == 422
    assert "Alex Agent is already active." in again.get_data(as_text=True)
    assert len(audit_lines(db, "staff.reactivated")) == 1


def test_staff_actions_need_a_csrf_token(admin_client, make_staff, db):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    assert admin_client.post(f"/staff/{agent.id}/deactivate", csrf=False).status_code == 400
    assert (
        admin_client.post(f"/staff/{agent.id}/role", {"role": "admin"}, csrf=False).status_code
        == 400
    )
    member = staff_named(db, "agent@example.com")
    assert member.active and member.role == "agent"
    assert audit_lines(db, "staff.deactivated") == audit_lines(db, "staff.role_changed") == []


# -- what a change does to the person's open sessions ----------------------------------


def test_deactivation_ends_the_sessions_of_the_account(
    app, admin_client, make_staff, make_customer, customer_data, db
):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    customer = make_customer()
    agent_client = signed_in(app, agent)
    token = agent_client.token()
    assert agent_client.get("/customers").status_code == 200

    assert admin_client.post(f"/staff/{agent.id}/deactivate").status_code == 303

    # The next page asks them to sign in again.
    page = agent_client.get(f"/customers/{customer.id}")
    assert page.status_code == 302 and page.headers["Location"].startswith("/sign-in")
    # An htmx request sends the whole window to the sign-in page.
    fragment = agent_client.get(
        "/customers?q=ada",
        headers={"HX-Request": "true", "HX-Target": "results", "HX-Current-URL": "/customers"},
    )
    assert fragment.status_code == 401
    assert fragment.headers["HX-Redirect"] == "/sign-in?next=/customers"
    # A form sent with the (still valid) token of the old session does nothing.
    before = db.session.scalar(select(func.count(Customer.id)))
    posted = agent_client.post(
        "/customers/new", {**customer_data, "name": "Late Post", "csrf_token": token}
    )
    assert posted.status_code == 302 and posted.headers["Location"].startswith("/sign-in")
    assert db.session.scalar(select(func.count(Customer.id))) == before
    # The admin is unaffected.
    assert admin_client.get("/staff").status_code == 200


def test_a_reactivation_does_not_bring_back_a_session_from_before(
    app, admin_client, make_staff, db
):
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    old_session = signed_in(app, agent)
    assert old_session.get("/customers").status_code == 200

    assert admin_client.post(f"/staff/{agent.id}/deactivate").status_code == 303
    assert admin_client.post(f"/staff/{agent.id}/reactivate").status_code == 303

    # The cookie from before the deactivation stays signed out …
    page = old_session.get("/customers")
    assert page.status_code == 302 and page.headers["Location"].startswith("/sign-in")
    # … while signing in again works, and that new session lasts.
    fresh = signed_in(app, staff_named(db, "agent@example.com"))
    assert fresh.get("/customers").status_code == 200
    assert fresh.get("/customers").status_code == 200


def test_a_role_change_takes_effect_on_the_next_request(app, admin_client, make_staff):
    second = make_staff(email="second@example.com", name="Second Admin", role="admin")
    second_client = signed_in(app, second)
    before = second_client.get("/staff")
    assert before.status_code == 200
    assert 'href="/audit"' in second_client.get("/customers").get_data(as_text=True)

    assert admin_client.post(f"/staff/{second.id}/role", {"role": "agent"}).status_code == 303

    # The change ends their sessions on the server: they sign in again, as an agent.
    ended = second_client.get("/staff")
    assert ended.status_code == 302 and ended.headers["Location"].startswith("/sign-in")
    second_client = signed_in(app, second)
    assert second_client.get("/staff").status_code == 403
    assert second_client.get("/audit").status_code == 403
    nav = second_client.get("/customers").get_data(as_text=True)
    assert 'href="/staff"' not in nav and 'href="/audit"' not in nav
    assert "Second Admin (agent)" in nav
    # Made an admin again (and signed in again), the Staff page opens.
    assert admin_client.post(f"/staff/{second.id}/role", {"role": "admin"}).status_code == 303
    second_client = signed_in(app, second)
    assert second_client.get("/staff").status_code == 200


# -- two admins at the same moment -----------------------------------------------------


def run_together(app, workers) -> tuple[list[str], list[str]]:
    """Run each worker in its own thread and app context (its own session and
    connection, as concurrent requests would), released together; return the
    refusals and any other failures."""
    barrier = threading.Barrier(len(workers))
    refusals: list[str] = []
    failures: list[str] = []

    def run(worker):
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                try:
                    worker()
                except StaffError as refusal:
                    _db.session.rollback()
                    refusals.append(str(refusal))
        except Exception:  # noqa: BLE001 - every failure is reported by the test
            failures.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return refusals, failures


@pytest.mark.parametrize("action", ["demote", "deactivate"])
def test_two_admins_removing_each_other_at_once_leave_one_admin(app, db, make_staff, action):
    for round_number in range(3):
        first = make_staff(email=f"first{round_number}@example.com", name="First", role="admin")
        second = make_staff(email=f"second{round_number}@example.com", name="Second", role="admin")
        ids = (first.id, second.id)
        db.session.commit()

        def remove(target: int, by: int):
            if action == "demote":
                return lambda: staff_service.change_role(_db.session, target, "agent", by=by)
            return lambda: staff_service.deactivate(_db.session, target, by=by)

        refusals, failures = run_together(app, [remove(ids[1], ids[0]), remove(ids[0], ids[1])])
        assert failures == []
        assert len(refusals) == 1 and "last active admin" in refusals[0]
        db.session.expire_all()
        still_admin = db.session.scalar(
            select(func.count(Staff.id)).where(
                Staff.id.in_(ids), Staff.role == "admin", Staff.active
            )
        )
        assert still_admin == 1
        # Make room for the next round: only this round's pair counts as admins.
        for staff_id in ids:
            db.session.get(Staff, staff_id).active = False
        db.session.commit()


def test_each_role_form_carries_a_csrf_token(admin_client, make_staff):
    """The role form in each row carries its own CSRF token (a plain form needs one)."""
    agent = make_staff(email="agent@example.com", name="Alex Agent")
    html = admin_client.get("/staff").get_data(as_text=True)
    row = html.split(f'id="staff-{agent.id}"')[1].split("</tr>")[0]
    assert csrf_token_from(row)
