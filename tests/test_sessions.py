"""Staff sessions on the server: Sign out, a password change, a role change and a
deactivation end them, so a copy of the cookie taken before is signed out and writes
nothing; the idle timeout and the lifetime; the CSRF token made afresh at sign-in; the
Change password page and `staff set-password`."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import PASSWORD, StaffClient, csrf_token_from, sign_in
from webapp.config import ConfigError, load_config
from webapp.models.base import utcnow
from webapp.models.history import AuditEvent
from webapp.models.notes import Note
from webapp.models.staff import Staff, StaffSession

NEW_PASSWORD = "a brand new passphrase"


# -- helpers ---------------------------------------------------------------------------


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def copy_of(app, client) -> StaffClient:
    """A second browser holding a copy of ``client``'s session cookie as it is now."""
    thief = app.test_client()
    thief.set_cookie("session", session_cookie(client))
    return thief


def signed_in(app, staff) -> StaffClient:
    client = app.test_client()
    assert sign_in(client, staff.email).status_code == 303
    return StaffClient(client, staff)


def sessions_of(db, staff_id: int) -> list[StaffSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(StaffSession).where(StaffSession.staff_id == staff_id)))


def note_count(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Note.id)))


def assert_signed_out(client, customer, token: str, db, cleared: bool = False) -> None:
    """What a signed-out cookie gets: the sign-in page for a page, HX-Redirect for an
    htmx request, and a note posted with the session's CSRF token writes nothing (the
    login wall sends it to Sign in; in the browser that signed out, whose cookie was
    ``cleared``, the token is refused first: "Form expired")."""
    page = client.get(f"/customers/{customer.id}")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/sign-in")
    followed = client.get(page.headers["Location"])
    assert "<h1>Sign in</h1>" in followed.get_data(as_text=True)
    fragment = client.get(
        "/customers?q=ada",
        headers={"HX-Request": "true", "HX-Target": "results", "HX-Current-URL": "/customers"},
    )
    assert fragment.status_code == 401
    assert fragment.headers["HX-Redirect"] == "/sign-in?next=/customers"
    before = note_count(db)
    posted = client.post(
        f"/customers/{customer.id}/notes/", data={"body": "Posted late", "csrf_token": token}
    )
    if cleared:
        assert posted.status_code == 400
        assert "Form expired" in posted.get_data(as_text=True)
    else:
        assert posted.status_code == 302
        assert posted.headers["Location"].startswith("/sign-in")
    assert note_count(db) == before


def age_sessions(db, staff_id: int, **ago: timedelta) -> None:
    """Move the account's sessions into the past: created_at / last_seen_at = now - ago."""
    now = utcnow()
    values = {column: now - delta for column, delta in ago.items()}
    db.session.execute(
        update(StaffSession).where(StaffSession.staff_id == staff_id).values(**values)
    )
    db.session.commit()


@pytest.fixture
def customer(make_customer):
    return make_customer()


# -- the session is a row on the server ------------------------------------------------


def test_the_cookie_carries_a_random_session_id_and_the_table_only_its_hash(staff_client, db):
    rows = sessions_of(db, staff_client.staff.id)
    assert len(rows) == 1
    with staff_client.client.session_transaction() as flask_session:
        session_id = flask_session["_user_id"]
    assert len(session_id) >= 43  # 256 bits, url-safe base64
    assert str(staff_client.staff.id) != session_id
    assert rows[0].id_hash == hashlib.sha256(session_id.encode()).hexdigest()


def test_each_sign_in_is_its_own_session(app, db, make_staff):
    staff = make_staff()
    first, second = signed_in(app, staff), signed_in(app, staff)
    assert len(sessions_of(db, staff.id)) == 2
    assert first.post("/sign-out").status_code == 303
    assert first.client.get("/customers").status_code == 302
    assert second.get("/customers").status_code == 200
    assert len(sessions_of(db, staff.id)) == 1


# -- what ends a session, and a copy of its cookie -------------------------------------


def test_sign_out_ends_the_session_for_a_copied_cookie_too(app, db, staff_client, customer):
    token = staff_client.token()
    thief = copy_of(app, staff_client.client)
    assert thief.get("/customers").status_code == 200  # the copy works while signed in

    response = staff_client.post("/sign-out")
    assert response.status_code == 303

    assert sessions_of(db, staff_client.staff.id) == []
    assert_signed_out(thief, customer, token, db)
    assert_signed_out(staff_client.client, customer, token, db, cleared=True)


def test_a_password_change_ends_every_session_and_gives_this_browser_a_new_one(
    app, db, staff_client, customer
):
    token = staff_client.token()
    old_cookie = copy_of(app, staff_client.client)
    other_browser = signed_in(app, staff_client.staff)
    other_token = other_browser.token()
    with staff_client.client.session_transaction() as flask_session:
        old_id = flask_session["_user_id"]

    response = staff_client.post(
        "/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/customers"

    # This browser carries on, in a new session.
    page = staff_client.get("/customers")
    assert page.status_code == 200
    assert "Your password is changed." in page.get_data(as_text=True)
    with staff_client.client.session_transaction() as flask_session:
        assert flask_session["_user_id"] != old_id
    assert len(sessions_of(db, staff_client.staff.id)) == 1
    assert (
        staff_client.post(f"/customers/{customer.id}/notes/", {"body": "Still here"}).status_code
        == 303
    )
    # The copied cookie of the old session and the other browser are signed out.
    assert_signed_out(old_cookie, customer, token, db)
    assert_signed_out(other_browser.client, customer, other_token, db)
    # The new password signs in, the old one no more.
    assert sign_in(app.test_client(), staff_client.staff.email, PASSWORD).status_code == 422
    assert sign_in(app.test_client(), staff_client.staff.email, NEW_PASSWORD).status_code == 303
    line = db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "staff.password_changed"))
    assert line.staff_id == staff_client.staff.id
    assert line.summary == "Password of agent@example.com changed; 2 open session(s) signed out."


def test_set_password_on_the_command_line_ends_every_session(app, db, staff_client, customer):
    token = staff_client.token()
    old_cookie = copy_of(app, staff_client.client)
    result = app.test_cli_runner().invoke(
        args=["staff", "set-password", "--email", "Agent@Example.com"],
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password of agent@example.com changed; its sessions are signed out." in result.output
    assert sessions_of(db, staff_client.staff.id) == []
    assert_signed_out(old_cookie, customer, token, db)
    assert_signed_out(staff_client.client, customer, token, db)
    assert sign_in(app.test_client(), "agent@example.com", NEW_PASSWORD).status_code == 303
    line = db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "staff.password_changed"))
    assert line.staff_id is None  # the command line


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("agent@example.com", "too short", "The password needs at least 10 characters."),
        ("nobody@example.com", NEW_PASSWORD, "There is no staff account for nobody@example.com."),
    ],
)
def test_set_password_refuses_without_changing_anything(
    app, db, staff_client, email, password, message
):
    before = db.session.get(Staff, staff_client.staff.id).password_hash
    result = app.test_cli_runner().invoke(
        args=["staff", "set-password", "--email", email], input=f"{password}\n{password}\n"
    )
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    db.session.expire_all()
    assert db.session.get(Staff, staff_client.staff.id).password_hash == before
    assert len(sessions_of(db, staff_client.staff.id)) == 1


def test_a_role_change_ends_the_sessions_of_the_person_changed(
    app, db, admin_client, make_staff, customer
):
    agent = make_staff()
    agent_client = signed_in(app, agent)
    token = agent_client.token()
    copied = copy_of(app, agent_client.client)

    assert admin_client.post(f"/staff/{agent.id}/role", {"role": "admin"}).status_code == 303

    assert sessions_of(db, agent.id) == []
    assert_signed_out(copied, customer, token, db)
    assert_signed_out(agent_client.client, customer, token, db)
    # The admin who made the change carries on.
    assert admin_client.get("/staff").status_code == 200
    # Signed in again, the person has the new role.
    assert signed_in(app, agent).get("/staff").status_code == 200


def test_choosing_the_same_role_ends_no_session(app, db, admin_client, make_staff):
    agent = make_staff()
    agent_client = signed_in(app, agent)
    assert admin_client.post(f"/staff/{agent.id}/role", {"role": "agent"}).status_code == 303
    assert agent_client.get("/customers").status_code == 200


def test_a_deactivation_ends_the_sessions_on_the_server(
    app, db, admin_client, make_staff, customer
):
    agent = make_staff()
    agent_client = signed_in(app, agent)
    token = agent_client.token()
    copied = copy_of(app, agent_client.client)

    assert admin_client.post(f"/staff/{agent.id}/deactivate").status_code == 303

    assert sessions_of(db, agent.id) == []
    assert_signed_out(copied, customer, token, db)


# -- idle timeout and lifetime ---------------------------------------------------------


def test_a_session_idle_for_longer_than_the_timeout_ends(app, db, staff_client, customer):
    token = staff_client.token()
    age_sessions(db, staff_client.staff.id, last_seen_at=timedelta(hours=7, minutes=59))
    assert staff_client.get("/customers").status_code == 200
    # That request counted as activity: the idle clock starts again.
    (row,) = sessions_of(db, staff_client.staff.id)
    assert utcnow() - row.last_seen_at < timedelta(minutes=1)

    age_sessions(db, staff_client.staff.id, last_seen_at=timedelta(hours=8, seconds=1))
    assert_signed_out(staff_client.client, customer, token, db)
    assert sessions_of(db, staff_client.staff.id) == []  # the expired row is gone


def test_a_session_ends_at_its_lifetime_however_active(app, db, staff_client, customer):
    token = staff_client.token()
    age_sessions(db, staff_client.staff.id, created_at=timedelta(hours=23, minutes=59))
    assert staff_client.get("/customers").status_code == 200
    age_sessions(db, staff_client.staff.id, created_at=timedelta(hours=24, seconds=1))
    assert_signed_out(staff_client.client, customer, token, db)


def test_timeouts_come_from_the_settings(app, db, make_staff):
    app.config.update(SESSION_IDLE_MINUTES=5, SESSION_LIFETIME_HOURS=1)
    staff = make_staff()
    client = signed_in(app, staff)
    age_sessions(db, staff.id, last_seen_at=timedelta(minutes=4))
    assert client.get("/customers").status_code == 200
    age_sessions(db, staff.id, last_seen_at=timedelta(minutes=5, seconds=1))
    assert client.get("/customers").status_code == 302

    client = signed_in(app, staff)
    age_sessions(db, staff.id, created_at=timedelta(minutes=61))
    assert client.get("/customers").status_code == 302


def test_page_views_write_the_last_seen_time_at_most_once_a_minute(app, db, staff_client):
    seen = utcnow() - timedelta(seconds=50)
    age_sessions(db, staff_client.staff.id, last_seen_at=timedelta(seconds=50))
    for _ in range(3):
        assert staff_client.get("/customers").status_code == 200
    (row,) = sessions_of(db, staff_client.staff.id)
    assert abs(row.last_seen_at - seen) < timedelta(seconds=1)  # not written

    age_sessions(db, staff_client.staff.id, last_seen_at=timedelta(seconds=61))
    assert staff_client.get("/customers").status_code == 200
    (row,) = sessions_of(db, staff_client.staff.id)
    assert utcnow() - row.last_seen_at < timedelta(seconds=5)  # written once


def test_expired_sessions_are_removed_at_sign_in_and_by_the_sweeper(app, db, make_staff):
    idle, old, live = (
        make_staff(email=f"{name}@example.com", name=name) for name in ("idle", "old", "live")
    )
    for staff in (idle, old, live):
        signed_in(app, staff)
    age_sessions(db, idle.id, last_seen_at=timedelta(hours=9))
    age_sessions(db, old.id, created_at=timedelta(hours=25))

    signed_in(app, live)  # a sign-in clears what has expired
    assert sessions_of(db, idle.id) == [] and sessions_of(db, old.id) == []
    assert len(sessions_of(db, live.id)) == 2

    signed_in(app, idle)
    age_sessions(db, idle.id, last_seen_at=timedelta(hours=9))
    result = app.test_cli_runner().invoke(args=["jobs", "sweep"])
    assert result.exit_code == 0, result.output
    assert "and 1 expired staff session(s)." in result.output
    assert sessions_of(db, idle.id) == []
    assert len(sessions_of(db, live.id)) == 2


def test_a_cookie_from_before_server_sessions_is_signed_out(app, db, staff_client):
    """Cookies made before the migration carried the account id ("5" or "5.1")."""
    staff_id = staff_client.staff.id
    for old_value in (str(staff_id), f"{staff_id}.1"):
        with staff_client.client.session_transaction() as flask_session:
            flask_session["_user_id"] = old_value
        assert staff_client.client.get("/customers").status_code == 302


# -- the CSRF token is made afresh at sign-in ------------------------------------------


def test_a_csrf_token_from_before_sign_in_is_refused_afterwards(client, db, make_staff, customer):
    staff = make_staff()
    before = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    response = client.post(
        "/sign-in", data={"email": staff.email, "password": PASSWORD, "csrf_token": before}
    )
    assert response.status_code == 303

    refused = client.post(
        f"/customers/{customer.id}/notes/", data={"body": "Planted", "csrf_token": before}
    )
    assert refused.status_code == 400
    assert "Form expired" in refused.get_data(as_text=True)
    assert note_count(db) == 0
    # A page opened after the sign-in gives a token that works.
    after = csrf_token_from(client.get(f"/customers/{customer.id}/notes").get_data(as_text=True))
    assert after != before
    posted = client.post(
        f"/customers/{customer.id}/notes/", data={"body": "Mine", "csrf_token": after}
    )
    assert posted.status_code == 303 and note_count(db) == 1


def test_signing_in_again_in_the_same_browser_ends_the_previous_session(app, db, staff_client):
    copied = copy_of(app, staff_client.client)
    # GET /sign-in redirects a signed-in browser, but a form posted to it signs in again.
    response = staff_client.post(
        "/sign-in", {"email": staff_client.staff.email, "password": PASSWORD}
    )
    assert response.status_code == 303
    assert len(sessions_of(db, staff_client.staff.id)) == 1
    assert copied.get("/customers").status_code == 302
    assert staff_client.client.get("/customers").status_code == 200


# -- the Change password page ----------------------------------------------------------


def test_change_password_is_a_page_linked_from_the_top_bar(staff_client):
    nav = staff_client.get("/customers").get_data(as_text=True)
    assert '<a href="/password">Change password</a>' in nav
    page = staff_client.get("/password")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Change password</h1>" in html
    for field, label in (
        ("current_password", "Current password"),
        ("new_password", "New password"),
        ("confirm_password", "New password again"),
    ):
        assert f'<label for="{field}">{label}' in html
    assert csrf_token_from(html)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {"current_password": "not it", "new_password": NEW_PASSWORD},
            "current_password",
            "Your current password is not right.",
        ),
        ({"new_password": "too short"}, "new_password", "at least 10 characters."),
        (
            {"new_password": PASSWORD},
            "new_password",
            "Choose a password different from the current one.",
        ),
        (
            {"confirm_password": NEW_PASSWORD + "!"},
            "confirm_password",
            "The two new passwords are not the same.",
        ),
        ({"current_password": ""}, "current_password", "Enter your current password."),
        ({"new_password": "", "confirm_password": ""}, "new_password", "Enter a new password."),
        ({"confirm_password": ""}, "confirm_password", "Enter the new password again."),
    ],
)
def test_change_password_refuses_bad_input_beside_the_field(
    app, db, staff_client, form, field, message
):
    other_browser = signed_in(app, staff_client.staff)
    before = db.session.get(Staff, staff_client.staff.id).password_hash
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    data["confirm_password"] = form.get("new_password", NEW_PASSWORD)
    data.update(form)

    response = staff_client.post("/password", data)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html.split(f'id="{field}-error"')[1].split("</small>")[0]
    assert message in error
    (tag,) = re.findall(rf'<input[^>]* id="{field}"[^>]*>', html)
    assert 'aria-invalid="true"' in tag
    db.session.expire_all()
    assert db.session.get(Staff, staff_client.staff.id).password_hash == before
    assert len(sessions_of(db, staff_client.staff.id)) == 2
    assert other_browser.get("/customers").status_code == 200
    assert staff_client.get("/customers").status_code == 200


def test_change_password_needs_a_csrf_token(db, staff_client):
    before = db.session.get(Staff, staff_client.staff.id).password_hash
    response = staff_client.post(
        "/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
        csrf=False,
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Staff, staff_client.staff.id).password_hash == before


def test_change_password_needs_sign_in(client):
    response = client.get("/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


# -- settings --------------------------------------------------------------------------


def test_session_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "30")
    monkeypatch.setenv("SESSION_LIFETIME_HOURS", "12")
    config = load_config(str(tmp_path))
    assert (config["SESSION_IDLE_MINUTES"], config["SESSION_LIFETIME_HOURS"]) == (30, 12)
    monkeypatch.delenv("SESSION_IDLE_MINUTES")
    monkeypatch.delenv("SESSION_LIFETIME_HOURS")
    config = load_config(str(tmp_path))
    assert (config["SESSION_IDLE_MINUTES"], config["SESSION_LIFETIME_HOURS"]) == (480, 24)
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "soon")
    with pytest.raises(ConfigError, match="SESSION_IDLE_MINUTES must be a whole number"):
        load_config(str(tmp_path))
