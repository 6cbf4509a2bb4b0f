"""Staff accounts: creation, passwords, roles and deactivation.

Every change to an account writes an audit line (services.audit) in the same
transaction, whether it comes from the Staff page or the command line. Two rules keep
the panel manageable: an admin cannot demote or deactivate themselves, and the last
active admin can never be demoted or deactivated. Both are checked under a lock on the
staff table, so two admins demoting each other at the same moment cannot leave none.
A password change, a role change and a deactivation end every session of the account
on the server (services.staff_sessions), in the same transaction as the change.
"""

from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.models.staff import Staff, StaffRole
from webapp.services import audit, staff_sessions
from webapp.services.reference import normalise_email

MIN_PASSWORD_LENGTH = 10
NAME_MAX = 200
EMAIL_MAX = 254

# Roles as the Staff page offers them (the new-account default first).
ROLE_LABELS = {StaffRole.AGENT.value: "Agent", StaffRole.ADMIN.value: "Admin"}
CHOOSE_ROLE = "Choose admin or agent."


class StaffError(Exception):
    """A staff rule refused the change; ``field``: the form field it goes by (None: the form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def create_staff(session: Session, email: str, name: str, role: str, password: str) -> Staff:
    """Add a staff account (password kept as a salted hash) and commit with an audit line."""
    try:
        email = normalise_email(email).lower()
    except ValueError as error:
        raise StaffError(f"Email: {error}", "email") from None
    if len(email) > EMAIL_MAX:
        raise StaffError(f"An email can be at most {EMAIL_MAX} characters.", "email")
    name = name.strip()
    if not name:
        raise StaffError("Name is required.", "name")
    if len(name) > NAME_MAX:
        raise StaffError(f"A name can be at most {NAME_MAX} characters.", "name")
    if role not in ROLE_LABELS:
        raise StaffError("Role must be admin or agent.", "role")
    refusal = password_refusal(password)
    if refusal is not None:
        raise StaffError(refusal, "password")
    if find_staff_by_email(session, email) is not None:
        raise StaffError(_already_exists(email), "email")
    staff = Staff(
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(staff)
    audit.record(
        session, "staff.created", email, f"Staff account {email} added as {role} ({name})."
    )
    try:
        session.commit()
    except IntegrityError:
        # The same email added at the same moment by someone else: the unique
        # constraint decides, and the loser gets the same message as above.
        session.rollback()
        raise StaffError(_already_exists(email), "email") from None
    return staff


def password_refusal(password: str) -> str | None:
    """Why ``password`` cannot be a staff password (None: it can)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    return None


def change_password(
    session: Session, staff_id: int, current_password: str, new_password: str
) -> Staff:
    """The signed-in member changes their password; commits, audits, ends all the account's sessions
    (the caller starts a fresh one). StaffError names the field: wrong current or refused new."""
    staff = session.get(Staff, staff_id)
    if staff is None or not password_matches(staff, current_password):
        raise StaffError("Your current password is not right.", "current_password")
    refusal = password_refusal(new_password)
    if refusal is not None:
        raise StaffError(refusal, "new_password")
    if password_matches(staff, new_password):
        raise StaffError("Choose a password different from the current one.", "new_password")
    _replace_password(session, staff, new_password, by=staff.id)
    return staff


def set_password(session: Session, email: str, new_password: str) -> Staff:
    """Set an account's password from the command line; commits, audits, ends all its sessions."""
    staff = find_staff_by_email(session, email) if email.strip() else None
    if staff is None:
        raise StaffError(f"There is no staff account for {email.strip()}.", "email")
    refusal = password_refusal(new_password)
    if refusal is not None:
        raise StaffError(refusal, "password")
    _replace_password(session, staff, new_password, by=None)
    return staff


def _replace_password(session: Session, staff: Staff, password: str, by: int | None) -> None:
    staff.password_hash = hash_password(password)
    ended = staff_sessions.end_all_sessions(session, staff.id)
    audit.record(
        session,
        "staff.password_changed",
        staff.email,
        f"Password of {staff.email} changed; {ended} open session(s) signed out.",
        staff_id=by,
    )
    session.commit()


def _already_exists(email: str) -> str:
    return f"A staff account for {email} already exists."


def find_staff_by_email(session: Session, email: str) -> Staff | None:
    return session.scalar(select(Staff).where(func.lower(Staff.email) == email.strip().lower()))


def password_hash_method() -> str | None:
    """The config's PASSWORD_HASH_METHOD (tests pick a cheap one); None: werkzeug's default."""
    return current_app.config.get("PASSWORD_HASH_METHOD") if has_app_context() else None


def hash_password(password: str) -> str:
    method = password_hash_method()
    return generate_password_hash(password, method) if method else generate_password_hash(password)


def password_matches(staff: Staff, password: str) -> bool:
    return check_password_hash(staff.password_hash, password)


def staff_count(session: Session) -> int:
    return session.scalar(select(func.count(Staff.id))) or 0


def get_staff(session: Session, staff_id: int) -> Staff | None:
    """The staff account with this id, or None."""
    return session.get(Staff, staff_id)


def staff_list(session: Session) -> list[Staff]:
    """Every staff account for the Staff page: active ones first, then by name."""
    return list(
        session.scalars(
            select(Staff).order_by(Staff.active.desc(), func.lower(Staff.name), Staff.id)
        )
    )


def active_staff(session: Session) -> list[Staff]:
    """The staff members work can be assigned to (Assigned to, Assignee): active ones, by name."""
    return list(
        session.scalars(
            select(Staff).where(Staff.active.is_(True)).order_by(func.lower(Staff.name), Staff.id)
        )
    )


def assignable(session: Session, staff_id: object, current: int | None = None) -> bool:
    """Whether ``staff_id`` may be assigned: an active member, or ``current`` (kept as it
    was, even if that member has since been deactivated)."""
    if staff_id == current:
        return True
    if not isinstance(staff_id, int) or isinstance(staff_id, bool):
        return False
    staff = session.get(Staff, staff_id)
    return staff is not None and staff.active


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


# -- role changes and deactivation ----------------------------------------------------


def _lock_staff(session: Session, staff_id: int) -> Staff:
    """Take the staff-changes lock and re-read the account under it.

    PostgreSQL: a SHARE ROW EXCLUSIVE lock on the table serialises staff changes (it
    conflicts with itself and with writes, not with the reads of sign-in or the login
    check). SQLite: a write first takes the database's write lock (pysqlite begins a
    transaction only at a write). Either way the counts read after it hold at commit.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE staff IN SHARE ROW EXCLUSIVE MODE"))
    else:
        session.execute(update(Staff).where(Staff.id == staff_id).values(id=Staff.id))
    staff = session.scalar(
        select(Staff).where(Staff.id == staff_id).execution_options(populate_existing=True)
    )
    if staff is None:
        raise StaffError("This staff account no longer exists.")
    return staff


def _active_admins(session: Session) -> int:
    return session.scalar(
        select(func.count(Staff.id)).where(Staff.role == StaffRole.ADMIN, Staff.active)
    )


def _is_last_active_admin(session: Session, staff: Staff) -> bool:
    return staff.is_admin and staff.active and _active_admins(session) <= 1


def role_change_refusal(session: Session, staff: Staff, role: str, by: int | None) -> str | None:
    """Why ``staff`` cannot get ``role`` now (None: it can)."""
    if role not in ROLE_LABELS:
        return CHOOSE_ROLE
    if role == staff.role or role == StaffRole.ADMIN:
        return None
    if staff.id == by:
        return "You cannot change your own role: ask another admin."
    if _is_last_active_admin(session, staff):
        return (
            f"{staff.name} is the last active admin and must stay an admin: "
            "make someone else an admin first."
        )
    return None


def change_role(session: Session, staff_id: int, role: str, by: int | None) -> bool:
    """Give the account ``role`` (``by``: the acting admin), commit, audit; False if it had it.
    Raises StaffError when a rule refuses (the caller rolls back)."""
    staff = _lock_staff(session, staff_id)
    refusal = role_change_refusal(session, staff, role, by)
    if refusal is not None:
        raise StaffError(refusal, "role")
    if role == staff.role:
        session.commit()  # ends the transaction that took the lock
        return False
    old_role = staff.role
    staff.role = role
    # They sign in again under the new role: a session (or a copy of its cookie) from
    # before the change does not carry on.
    staff_sessions.end_all_sessions(session, staff.id)
    audit.record(
        session,
        "staff.role_changed",
        staff.email,
        f"Role of {staff.email} changed from {old_role} to {role}.",
        staff_id=by,
    )
    session.commit()
    return True


def deactivation_refusal(session: Session, staff: Staff, by: int | None) -> str | None:
    """Why ``staff`` cannot be deactivated now (None: it can)."""
    if not staff.active:
        return f"{staff.name} is already deactivated."
    if staff.id == by:
        return "You cannot deactivate your own account: ask another admin."
    if _is_last_active_admin(session, staff):
        return (
            f"{staff.name} is the last active admin and cannot be deactivated: "
            "make someone else an admin first."
        )
    return None


def deactivate(session: Session, staff_id: int, by: int | None) -> Staff:
    """Deactivate the account, commit with an audit line, and delete its sessions on the server."""
    staff = _lock_staff(session, staff_id)
    refusal = deactivation_refusal(session, staff, by)
    if refusal is not None:
        raise StaffError(refusal)
    staff.active = False
    staff_sessions.end_all_sessions(session, staff.id)
    audit.record(
        session,
        "staff.deactivated",
        staff.email,
        f"{staff.email} deactivated; they can no longer sign in.",
        staff_id=by,
    )
    session.commit()
    return staff


def reactivation_refusal(staff: Staff) -> str | None:
    """Why ``staff`` cannot be reactivated (None: it can)."""
    if staff.active:
        return f"{staff.name} is already active."
    return None


def reactivate(session: Session, staff_id: int, by: int | None) -> Staff:
    """Let a deactivated account sign in again (old password) and commit with an audit line."""
    staff = _lock_staff(session, staff_id)
    refusal = reactivation_refusal(staff)
    if refusal is not None:
        raise StaffError(refusal)
    staff.active = True
    audit.record(
        session,
        "staff.reactivated",
        staff.email,
        f"{staff.email} reactivated; they can sign in again.",
        staff_id=by,
    )
    session.commit()
    return staff
