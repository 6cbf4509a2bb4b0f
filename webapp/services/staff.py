"""Staff accounts: creation and password checks."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.models.staff import Staff, StaffRole
from webapp.services.reference import normalise_email

MIN_PASSWORD_LENGTH = 10


class StaffError(Exception):
    """A staff account rule refused the change."""


def create_staff(session: Session, email: str, name: str, role: str, password: str) -> Staff:
    """Add a staff account; the password is stored only as a salted hash."""
    try:
        email = normalise_email(email).lower()
    except ValueError as error:
        raise StaffError(f"Email: {error}") from None
    if not name.strip():
        raise StaffError("Name is required.")
    if role not in {r.value for r in StaffRole}:
        raise StaffError("Role must be admin or agent.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if find_staff_by_email(session, email) is not None:
        raise StaffError(f"A staff account for {email} already exists.")
    staff = Staff(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=generate_password_hash(password),
    )
    session.add(staff)
    session.commit()
    return staff


def find_staff_by_email(session: Session, email: str) -> Staff | None:
    return session.scalar(select(Staff).where(func.lower(Staff.email) == email.strip().lower()))


def password_matches(staff: Staff, password: str) -> bool:
    return check_password_hash(staff.password_hash, password)


def staff_count(session: Session) -> int:
    return session.scalar(select(func.count(Staff.id))) or 0
